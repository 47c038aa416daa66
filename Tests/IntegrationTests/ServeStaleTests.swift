import Foundation
import Testing
import TestSupport

/// RFC 8767: when every upstream is gone and a cached answer has expired, Palisade still answers with it,
/// marked with EDE 3 (Stale Answer) and a TTL of 30 s.
@Suite("Serve-stale", .tags(.integration), .enabled(if: Requirements.nsdAndDig, Requirements.nsdAndDigMessage))
struct ServeStaleTests {
    @Test("an expired answer is served with EDE 3 and TTL 30 once NSD is stopped")
    func staleAnswerAfterUpstreamStops() async throws {
        // A one-second TTL, so the cached answer expires quickly.
        let zone = exampleZone(["short 1 IN A 192.0.2.77"])
        try await withNSDAndPalisade(zones: [zone]) { nsd, palisade in
            let fresh = try await DigClient.dig("short.example.org", "A", port: palisade.dnsPort)
            #expect(fresh.status == "NOERROR", "\(fresh)\n\(palisade.log)")
            #expect(fresh.answerSet == ["short.example.org. IN A 192.0.2.77"], "\(fresh)")
            #expect(!fresh.hasExtendedError(3))

            await nsd.stop()
            #expect(!nsd.daemon.isRunning)

            // Poll (not sleep) until the TTL has run out and Palisade falls back to the stale copy.
            let stale = await Poll.value(timeout: .seconds(30), every: .milliseconds(200)) { () -> DigAnswer? in
                guard let a = try? await DigClient.dig("short.example.org", "A", port: palisade.dnsPort),
                    a.hasExtendedError(3)
                else { return nil }
                return a
            }
            let answer = try #require(stale, "no stale answer (EDE 3) within 30 s; log:\n\(palisade.log)")
            #expect(answer.status == "NOERROR", "\(answer)")
            #expect(answer.answerSet == ["short.example.org. IN A 192.0.2.77"], "\(answer)")
            #expect(answer.answerTTLs == [30], "RFC 8767 §4 recommends 30 s for stale answers:\n\(answer)")
            #expect(answer.extendedErrors.contains { $0.hasPrefix("EDE: 3 (Stale Answer)") }, "\(answer)")

            // A name that was never cached has nothing stale to give: it fails instead of inventing data.
            let uncached = try await DigClient.dig("www.example.org", "A", port: palisade.dnsPort)
            #expect(uncached.status == "SERVFAIL", "\(uncached)")
            #expect(uncached.answers.isEmpty, "\(uncached)")
        }
    }
}
