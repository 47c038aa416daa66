import DNSWire

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The fuzz oracle: what must hold for any input bytes.
///
/// 1. ``DNSMessage/decode(_:)`` never crashes; it returns a message or throws ``DecodeError``.
/// 2. A decoded message re-encodes to bytes that decode to an equal message, and encoding those
///    again gives the same bytes.
/// 3. Every record's RDATA presentation text parses back to equal RDATA.
/// 4. ``QuickQuery/parse(_:)-([UInt8])`` only accepts what the full decoder accepts, and agrees
///    with it on the id, name and type.
/// 5. A size-capped encoding honours the cap whenever the question and OPT fit.
/// 6. ``ResponseLayout/read(_:)`` only accepts what the full decoder accepts, and agrees with it on the counts, the
///    rcode and each record's TTL.
/// A violated rule stops the process (that is the finding), so these traps are deliberate.
enum FuzzTarget {
    static func run(_ bytes: [UInt8]) {
        let quick = QuickQuery.parse(bytes)
        let message: DNSMessage
        do {
            message = try DNSMessage.decode(bytes)
        } catch {
            if quick != nil { Self.fail("QuickQuery accepted a message the decoder rejects: \(error)") }
            if ResponseLayout.read(bytes) != nil {
                Self.fail("ResponseLayout accepted a message the decoder rejects: \(error)")
            }
            return
        }
        if let q = quick {
            guard let question = message.questions.first, message.questions.count == 1,
                q.id == message.header.id, q.type == question.type,
                q.lowercasedName == DomainName.lowercase(question.name.wire),
                Array(bytes[q.nameRange]) == question.name.wire,
                (q.edns != nil) == (message.edns != nil)
            else { Self.fail("QuickQuery disagrees with the decoder") }
        }
        if let layout = ResponseLayout.read(bytes) {
            var table: [UInt8] = []
            layout.appendTTLOffsets(of: bytes, to: &table)
            let ttls = stride(from: 0, to: table.count, by: 2).map { i -> UInt32 in
                let o = Int(table[i]) << 8 | Int(table[i + 1])
                return UInt32(bytes[o]) << 24 | UInt32(bytes[o + 1]) << 16 | UInt32(bytes[o + 2]) << 8
                    | UInt32(bytes[o + 3])
            }
            guard message.questions.count == 1, layout.answerCount == message.answers.count,
                layout.authorityCount == message.authorities.count,
                layout.additionalCount == message.additionals.count, layout.hasOPT == (message.edns != nil),
                layout.rcode == message.rcode,
                ttls == (message.answers + message.authorities + message.additionals).map(\.ttl)
            else { Self.fail("ResponseLayout disagrees with the decoder") }
        }
        let encoded = message.encode()
        let again: DNSMessage
        do {
            again = try DNSMessage.decode(encoded)
        } catch {
            Self.fail("re-encoded message does not decode: \(error)")
        }
        guard again == message else { Self.fail("round trip changed the message") }
        guard again.encode() == encoded else { Self.fail("second encoding differs") }
        for rr in message.answers + message.authorities + message.additionals {
            let text = rr.rdata.presentation
            do {
                let parsed = try RData.parse(type: rr.type, text: text, origin: .root)
                guard parsed == rr.rdata else { Self.fail("presentation round trip changed \(rr.type): \(text)") }
            } catch {
                Self.fail("presentation of \(rr.type) does not parse: \(text): \(error)")
            }
        }
        let cap = 512
        let capped = message.encode(maxSize: cap)
        if capped.count > cap {
            // Only acceptable when even the bare question and OPT exceed the cap.
            var bare = message
            bare.answers = []
            bare.authorities = []
            bare.additionals = []
            guard bare.encode().count > cap else { Self.fail("encode(maxSize:) exceeded its cap") }
        }
    }

    static func fail(_ why: String) -> Never {
        // Invariant: reaching here is a codec bug the fuzzer must report as a crash.
        fatalError(why)
    }
}

#if DNSWIRE_LIBFUZZER
/// libFuzzer entry point.
///
/// Build (see docs/fuzzing.md): swift build -c release --build-path .build-fuzz --product DNSWireFuzz
///   -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -DDNSWIRE_LIBFUZZER
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else {
        FuzzTarget.run([])
        return 0
    }
    FuzzTarget.run(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

/// libFuzzer's driver (`FuzzerDriver.cpp`): parses the libFuzzer flags and runs the fuzz loop.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// SwiftPM links every executable with `--defsym main=<Target>_main` (so tests can link
/// executables), which hides libFuzzer's own `main`; this stands in for it and starts libFuzzer's
/// driver, the same thing libFuzzer's `main` does.
@_cdecl("DNSWireFuzz_main")
func dnsWireFuzzMain(
    _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
    var count = argc
    var vector = argv
    return LLVMFuzzerRunDriver(&count, &vector, fuzzOne)
}
#else
/// Without libFuzzer: replays the files (crashers, corpus entries) given as arguments through the
/// same oracle, so a finding can be reproduced with a normal build.
@main
struct DNSWireFuzzReplay {
    static func main() {
        var paths = CommandLine.arguments.dropFirst()
        if paths.isEmpty {
            print("usage: DNSWireFuzz FILE...          replays each file through the fuzz oracle")
            print("       DNSWireFuzz --bench FILE...  times decode, QuickQuery.parse and encode per file")
            return
        }
        if paths.first == "--bench" {
            paths.removeFirst()
            Self.bench(paths.compactMap(Self.read))
            return
        }
        for path in paths {
            guard let bytes = Self.read(path) else {
                print("cannot read \(path)")
                exit(2)
            }
            FuzzTarget.run(bytes)
            print("ok \(path) (\(bytes.count) bytes)")
        }
    }

    /// Rough per-operation timings over the given packets (build with `-c release`).
    static func bench(_ packets: [[UInt8]]) {
        let clock = ContinuousClock()
        let rounds = 20_000
        func time(_ label: String, _ body: ([UInt8]) -> Int) {
            var sink = 0
            let elapsed = clock.measure {
                for _ in 0..<rounds {
                    for p in packets { sink &+= body(p) }
                }
            }
            let ns = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
            let per = ns / Double(rounds * packets.count)
            print("\(label): \(Int(per)) ns/packet (checksum \(sink & 0xFF))")
        }
        let messages = packets.compactMap { try? DNSMessage.decode($0) }
        print("\(packets.count) packets, \(messages.count) decode, \(rounds) rounds")
        time("DNSMessage.decode") { p in (try? DNSMessage.decode(p))?.answers.count ?? 0 }
        time("QuickQuery.parse") { p in QuickQuery.parse(p)?.questionEnd ?? 0 }
        var i = 0
        time("DNSMessage.encode") { _ in
            i = (i + 1) % messages.count
            return messages[i].encode().count
        }
    }

    static func read(_ path: String) -> [UInt8]? {
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buffer, 1, buffer.count, f)
            if n > 0 { out.append(contentsOf: buffer[0..<n]) }
            if n < buffer.count { break }
        }
        return out
    }
}
#endif
