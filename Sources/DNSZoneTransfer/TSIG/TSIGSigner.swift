import DNSWire

/// Signs outgoing messages with TSIG (RFC 8945 §5.1 requests, §5.3 responses).
public struct TSIGSigner: Sendable {
    /// The key signing.
    public let key: TSIGKey
    /// "Permitted error in Time Signed" advertised in every signature (RFC 8945 recommends 300 s).
    public let fudge: UInt16

    /// Creates a signer.
    public init(key: TSIGKey, fudge: UInt16 = 300) {
        self.key = key
        self.fudge = fudge
    }

    /// Appends a TSIG record to an encoded message (ARCOUNT is incremented).
    /// - Parameters:
    ///   - message: the encoded message, without a TSIG record.
    ///   - time: seconds since the epoch to put in Time Signed.
    ///   - requestMAC: when signing a response, the MAC of the request it answers (RFC 8945 §5.3).
    ///   - error: the TSIG error to report (BADTIME replies are signed).
    ///   - otherData: Other Data (the server time on BADTIME).
    /// - Returns: the signed message and its MAC (needed to verify the reply).
    public func sign(_ message: [UInt8], time: UInt64, requestMAC: [UInt8]? = nil, error: TSIGErrorCode = .noError,
        otherData: [UInt8] = []) -> (message: [UInt8], mac: [UInt8])
    {
        var h = TSIGHMAC(key: self.key)
        if let requestMAC { h.update(TSIGCodec.prefixedMAC(requestMAC)) }
        h.update(message)
        h.update(TSIGCodec.variables(keyName: self.key.name, algorithm: self.key.algorithm.name, timeSigned: time,
            fudge: self.fudge, error: error, otherData: otherData))
        let mac = h.finalize()
        let id = message.count >= 2 ? UInt16(message[0]) << 8 | UInt16(message[1]) : 0
        let record = TSIGRecord(keyName: self.key.name, algorithm: self.key.algorithm.name, timeSigned: time,
            fudge: self.fudge, mac: mac, originalID: id, error: error, otherData: otherData)
        return (Self.append(record, to: message), mac)
    }

    /// Appends an unsigned TSIG error record (empty MAC), as RFC 8945 §5.3.2 requires for BADKEY and
    /// BADSIG replies.
    static func appendUnsignedError(_ error: TSIGErrorCode, keyName: DomainName, algorithm: DomainName,
        to message: [UInt8], time: UInt64, fudge: UInt16) -> [UInt8]
    {
        let id = message.count >= 2 ? UInt16(message[0]) << 8 | UInt16(message[1]) : 0
        let record = TSIGRecord(keyName: keyName, algorithm: algorithm, timeSigned: time, fudge: fudge, mac: [],
            originalID: id, error: error)
        return Self.append(record, to: message)
    }

    private static func append(_ record: TSIGRecord, to message: [UInt8]) -> [UInt8] {
        var w = WireWriter(capacity: message.count + 128, compression: false)
        w.writeBytes(message)
        record.encode(into: &w)
        if w.bytes.count >= 12 {
            let ar = (UInt16(w.bytes[10]) << 8 | UInt16(w.bytes[11])) &+ 1
            w.patchUInt16(ar, at: 10)
        }
        return w.bytes
    }
}

/// Verifies the replies to one signed request, message by message (RFC 8945 §5.3 and §5.3.1).
///
/// The first reply is verified against the request MAC with the full TSIG variables. Every later
/// message of a multi-message reply (AXFR, IXFR) is covered by a running MAC: the prior MAC, every
/// unsigned message since it, this message, and this message's timers. Up to 99 unsigned messages may
/// follow each other; the 100th must be signed, and so must the last (``finish()``).
struct TSIGVerifier: Sendable {
    /// RFC 8945 §5.3.1: "a client... MUST accept up to 99 intermediary messages without a TSIG".
    static let maxUnsignedRun = 99

    private let key: TSIGKey
    private let now: @Sendable () -> UInt64
    private var requestMAC: [UInt8]
    private var verifiedAny = false
    /// MAC over the prior MAC and the unsigned messages received since it.
    private var running: TSIGHMAC?
    private var unsignedRun = 0

    /// Starts verifying the replies to a request signed with `key` whose MAC was `requestMAC`.
    init(key: TSIGKey, requestMAC: [UInt8], now: @escaping @Sendable () -> UInt64) {
        self.key = key
        self.requestMAC = requestMAC
        self.now = now
    }

    /// Checks one reply message.
    /// - Parameters:
    ///   - message: the split message.
    ///   - received: the bytes as received (unsigned messages enter the running MAC as they are).
    /// - Throws: ``ZoneTransferError`` with a TSIG code: `.tsigMissing` for an unsigned first message or
    ///   too long an unsigned run, `.tsigBadKey`/`.tsigBadSig`/`.tsigBadTime`/`.tsigBadTrunc` for the
    ///   error the primary reported or the check that failed here.
    mutating func verify(_ message: SignedMessage, received: [UInt8]) throws(ZoneTransferError) {
        guard let tsig = message.tsig else {
            guard self.verifiedAny else {
                throw ZoneTransferError(.tsigMissing, "the reply is not signed, but the request was signed with \(self.key.name)")
            }
            self.unsignedRun += 1
            guard self.unsignedRun <= Self.maxUnsignedRun else {
                throw ZoneTransferError(.tsigMissing,
                    "more than \(Self.maxUnsignedRun) consecutive unsigned messages (RFC 8945 §5.3.1)")
            }
            self.running?.update(received)
            return
        }
        guard tsig.keyName == self.key.name else {
            throw ZoneTransferError(.tsigBadKey, "the reply is signed with key \(tsig.keyName), not \(self.key.name)")
        }
        guard tsig.algorithm == self.key.algorithm.name else {
            throw ZoneTransferError(.tsigBadKey,
                "the reply is signed with algorithm \(tsig.algorithm), not \(self.key.algorithm.name)")
        }
        switch tsig.error {
        case .noError, .badTime:
            break
        case .badSig:
            throw ZoneTransferError(.tsigBadSig,
                "the primary rejected our signature (BADSIG): the secret of key \(self.key.name) differs", rcode: .notAuth)
        case .badKey:
            throw ZoneTransferError(.tsigBadKey,
                "the primary does not know key \(self.key.name) with \(self.key.algorithm) (BADKEY)", rcode: .notAuth)
        case .badTrunc:
            throw ZoneTransferError(.tsigBadTrunc, "the primary rejected our MAC length (BADTRUNC)", rcode: .notAuth)
        default:
            throw ZoneTransferError(.tsigBadSig, "the primary reported \(tsig.error) for key \(self.key.name)", rcode: .notAuth)
        }
        guard tsig.mac.count == self.key.algorithm.macLength else {
            if tsig.mac.count < self.key.algorithm.macLength {
                throw ZoneTransferError(.tsigBadTrunc,
                    "the reply's MAC is \(tsig.mac.count) octets; truncated MACs are not accepted (BADTRUNC)")
            }
            throw ZoneTransferError(.tsigBadSig, "the reply's MAC is \(tsig.mac.count) octets, expected \(self.key.algorithm.macLength)")
        }
        var h: TSIGHMAC
        if self.verifiedAny, let running = self.running {
            h = running
            h.update(message.macInput)
            h.update(TSIGCodec.timers(timeSigned: tsig.timeSigned, fudge: tsig.fudge))
        } else {
            h = TSIGHMAC(key: self.key)
            h.update(TSIGCodec.prefixedMAC(self.requestMAC))
            h.update(message.macInput)
            h.update(TSIGCodec.variables(keyName: tsig.keyName, algorithm: tsig.algorithm, timeSigned: tsig.timeSigned,
                fudge: tsig.fudge, error: tsig.error, otherData: tsig.otherData))
        }
        guard TSIGCodec.constantTimeEqual(h.finalize(), tsig.mac) else {
            throw ZoneTransferError(.tsigBadSig,
                "the reply's MAC does not verify with key \(self.key.name) (BADSIG): wrong secret or altered message")
        }
        if tsig.error == .badTime {
            throw ZoneTransferError(.tsigBadTime,
                "the primary rejected our signing time (BADTIME): the clocks differ by more than \(tsig.fudge) s",
                rcode: .notAuth)
        }
        let now = self.now()
        let skew = now > tsig.timeSigned ? now - tsig.timeSigned : tsig.timeSigned - now
        guard skew <= UInt64(tsig.fudge) else {
            throw ZoneTransferError(.tsigBadTime,
                "the reply was signed \(skew) s from our clock, more than its fudge of \(tsig.fudge) s (BADTIME)")
        }
        self.verifiedAny = true
        self.unsignedRun = 0
        self.requestMAC = tsig.mac
        var next = TSIGHMAC(key: self.key)
        next.update(TSIGCodec.prefixedMAC(tsig.mac))
        self.running = next
    }

    /// Checks that the last message was signed (RFC 8945 §5.3.1: "the last message MUST be signed").
    func finish() throws(ZoneTransferError) {
        guard self.verifiedAny, self.unsignedRun == 0 else {
            throw ZoneTransferError(.tsigMissing, "the last message of the reply is not signed")
        }
    }
}

/// Verifies a signed request at a server (the NOTIFY listener) and signs its reply (RFC 8945 §5.2).
struct TSIGRequestCheck: Sendable {
    /// What to answer.
    enum Outcome: Sendable {
        /// The request verified; sign the reply with this request MAC.
        case verified(requestMAC: [UInt8])
        /// The key name or algorithm is not the expected one: unsigned NOTAUTH + BADKEY.
        case badKey(TSIGRecord)
        /// The MAC does not verify: unsigned NOTAUTH + BADSIG.
        case badSig(TSIGRecord)
        /// The time is outside the fudge window: NOTAUTH + BADTIME, signed, with our time.
        case badTime(requestMAC: [UInt8])
    }

    /// Checks `message`'s TSIG (which must be present) against `key`.
    static func check(_ message: SignedMessage, key: TSIGKey, now: UInt64) -> Outcome {
        guard let tsig = message.tsig else { return .badKey(TSIGRecord(keyName: key.name,
            algorithm: key.algorithm.name, timeSigned: now, fudge: 300, mac: [], originalID: 0)) }
        guard tsig.keyName == key.name, tsig.algorithm == key.algorithm.name else { return .badKey(tsig) }
        guard tsig.mac.count == key.algorithm.macLength else { return .badSig(tsig) }
        var h = TSIGHMAC(key: key)
        h.update(message.macInput)
        h.update(TSIGCodec.variables(keyName: tsig.keyName, algorithm: tsig.algorithm, timeSigned: tsig.timeSigned,
            fudge: tsig.fudge, error: tsig.error, otherData: tsig.otherData))
        guard TSIGCodec.constantTimeEqual(h.finalize(), tsig.mac) else { return .badSig(tsig) }
        let skew = now > tsig.timeSigned ? now - tsig.timeSigned : tsig.timeSigned - now
        guard skew <= UInt64(tsig.fudge) else { return .badTime(requestMAC: tsig.mac) }
        return .verified(requestMAC: tsig.mac)
    }
}
