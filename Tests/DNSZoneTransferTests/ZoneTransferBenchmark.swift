import DNSWire
import Foundation
import Testing
import TestSupport

@testable import DNSZoneTransfer

/// Times a signed AXFR of a large RPZ zone from Knot, the zone text rendering, and an IXFR of a small
/// change applied to it; prints the figures to standard error.
///
/// Disabled unless `PALISADE_BENCH_XFR_RECORDS` is set (the number of rules), e.g.
/// `PALISADE_BENCH_XFR_RECORDS=200000 PALISADE_TARGETS=DNSZoneTransfer swift test --filter ZoneTransferBenchmark`.
@Suite(.tags(.integration), .enabled(if: ProcessInfo.processInfo.environment["PALISADE_BENCH_XFR_RECORDS"] != nil
    && KnotPrimary.available))
struct ZoneTransferBenchmark {
    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    @Test("Signed AXFR, text rendering and IXFR of a large zone from Knot")
    func largeZone() async throws {
        let n = Int(ProcessInfo.processInfo.environment["PALISADE_BENCH_XFR_RECORDS"] ?? "") ?? 100_000
        try await KnotPrimary.with(extraRecords: n) { knot in
            let location = try ZoneTransferLocation(parsing: "ixfr://127.0.0.1:\(knot.port)/rpz.test?tsig=xfr.key")
            let source = try ZoneTransferSource(location: location, key: Build.key)
            let clock = ContinuousClock()
            var start = clock.now
            let text = try await source.fetch()
            let axfr = clock.now - start
            let status = await source.status()
            let records = try #require(await source.records())
            start = clock.now
            let rendered = records.zoneText()
            let render = clock.now - start
            try await knot.change(add: ["bench-new.example 300 CNAME ."], remove: ["d7.example CNAME"])
            start = clock.now
            _ = try await source.fetch()
            let ixfr = clock.now - start
            let after = await source.status()
            #expect(after.lastKind == .ixfr)
            #expect(records.count == n + 6)
            let line = String(format: "xfr-bench records=%d axfr=%.3fs (%d msgs, %d bytes, %.0f rr/s) text=%d bytes render=%.3fs "
                + "ixfr+apply+render=%.3fs changes=%d\n", records.count, Self.seconds(axfr), status.lastTransferMessages,
                status.lastTransferBytes, Double(records.count) / Self.seconds(axfr), text.count, Self.seconds(render),
                Self.seconds(ixfr), after.lastChangeCount)
            FileHandle.standardError.write(Data(line.utf8))
            #expect(rendered.utf8.count == text.count)
        }
    }
}
