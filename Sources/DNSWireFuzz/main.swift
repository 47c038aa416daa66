import DNSWire

/// libFuzzer entry point: decode arbitrary bytes; when they decode, re-encode and decode again.
///
/// Build: swift build --product DNSWireFuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let m = try? DNSMessage.decode(bytes) else { return 0 }
    let again = m.encode()
    guard let m2 = try? DNSMessage.decode(again) else {
        fatalError("re-encoded message does not decode")
    }
    // Invariant: a decoded message re-encodes to an equal message.
    precondition(m2.questions == m.questions && m2.answers.count == m.answers.count, "round trip changed the message")
    return 0
}
