import DNSWire
@testable import DNSZoneTransfer

/// Builders for records, zones and DNS messages used across the suites.
enum Build {
    static let zone = name("rpz.test.")

    static func name(_ text: String) -> DomainName {
        // Invariant: test literals are valid names.
        guard let n = try? DomainName(text) else { preconditionFailure("bad test name \(text)") }
        return n
    }

    static func ip(_ text: String) -> IPAddress {
        // Invariant: test literals are valid addresses.
        guard let a = IPAddress(text) else { preconditionFailure("bad test address \(text)") }
        return a
    }

    /// One record from zone-file text (relative names are below rpz.test.).
    static func rr(_ line: String) -> ResourceRecord {
        let records = try? ZoneFileReader.records(in: line + "\n", options: .init(origin: Self.zone))
        guard let r = records?.first else { preconditionFailure("bad test record \(line)") }
        return r
    }

    static func soa(_ serial: UInt32, zone: String = "rpz.test.") -> ResourceRecord {
        rr("\(zone) 300 IN SOA ns.\(zone) admin.\(zone) \(serial) 3600 600 86400 300")
    }

    /// A reply to a query with `id`: QR, AA, the question (unless nil) and the answer records.
    static func reply(id: UInt16, question: Question?, answers: [ResourceRecord], rcode: ResponseCode = .noError,
        opcode: OpCode = .query) -> [UInt8]
    {
        var h = Header(id: id, isResponse: true, opcode: opcode, authoritative: true, recursionDesired: false)
        h.rcodeLow = UInt8(rcode.rawValue)
        return DNSMessage(header: h, questions: question.map { [$0] } ?? [], answers: answers).encode()
    }

    static func hex(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = s.startIndex
        while i < s.endIndex, let j = s.index(i, offsetBy: 2, limitedBy: s.endIndex), let b = UInt8(s[i..<j], radix: 16) {
            out.append(b)
            i = j
        }
        return out
    }

    static let secret = "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI="
    static var key: TSIGKey {
        // Invariant: fixed valid key text.
        guard let k = try? TSIGKey(name: "xfr.key", algorithm: "hmac-sha256", base64Secret: Self.secret) else {
            preconditionFailure("bad test key")
        }
        return k
    }
    static var wrongKey: TSIGKey {
        guard let k = try? TSIGKey(name: "xfr.key", algorithm: "hmac-sha256", base64Secret: "d3JvbmdzZWNyZXR3cm9uZ3NlY3JldA==") else {
            preconditionFailure("bad test key")
        }
        return k
    }
}

/// Signs the messages of a multi-message reply as a primary does (RFC 8945 §5.3.1), optionally leaving
/// some unsigned, to feed the client under test.
struct StreamSigner {
    let key: TSIGKey
    var priorMAC: [UInt8]
    var pending: [[UInt8]] = []
    var first = true
    var time: UInt64

    init(key: TSIGKey, requestMAC: [UInt8], time: UInt64) {
        self.key = key
        self.priorMAC = requestMAC
        self.time = time
    }

    /// Signs `message` covering the unsigned ones since the last signature.
    mutating func sign(_ message: [UInt8]) -> [UInt8] {
        if self.first {
            self.first = false
            let s = TSIGSigner(key: self.key).sign(message, time: self.time, requestMAC: self.priorMAC)
            self.priorMAC = s.mac
            return s.message
        }
        var h = TSIGHMAC(key: self.key)
        h.update(TSIGCodec.prefixedMAC(self.priorMAC))
        for u in self.pending { h.update(u) }
        h.update(message)
        h.update(TSIGCodec.timers(timeSigned: self.time, fudge: 300))
        let mac = h.finalize()
        self.pending = []
        self.priorMAC = mac
        let id = UInt16(message[0]) << 8 | UInt16(message[1])
        let record = TSIGRecord(keyName: self.key.name, algorithm: self.key.algorithm.name, timeSigned: self.time,
            fudge: 300, mac: mac, originalID: id)
        var w = WireWriter(capacity: message.count + 100, compression: false)
        w.writeBytes(message)
        record.encode(into: &w)
        let ar = (UInt16(w.bytes[10]) << 8 | UInt16(w.bytes[11])) + 1
        w.patchUInt16(ar, at: 10)
        return w.bytes
    }

    /// Passes `message` unsigned (it enters the next signature).
    mutating func unsigned(_ message: [UInt8]) -> [UInt8] {
        self.pending.append(message)
        return message
    }
}
