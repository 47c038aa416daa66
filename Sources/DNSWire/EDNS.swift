/// An EDNS(0) option code (RFC 6891 §6.1.2; IANA "DNS EDNS0 Option Codes").
public struct EDNSOptionCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// The 16-bit code.
    public var rawValue: UInt16
    /// Wraps a code.
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// RFC 5001 Name Server Identifier.
    public static let nsid = EDNSOptionCode(rawValue: 3)
    /// RFC 7871 Client Subnet.
    public static let clientSubnet = EDNSOptionCode(rawValue: 8)
    /// RFC 7828 edns-tcp-keepalive.
    public static let tcpKeepalive = EDNSOptionCode(rawValue: 11)
    /// RFC 7830 Padding.
    public static let padding = EDNSOptionCode(rawValue: 12)
    /// RFC 7873 Cookie.
    public static let cookie = EDNSOptionCode(rawValue: 10)
    /// RFC 8914 Extended DNS Error.
    public static let extendedError = EDNSOptionCode(rawValue: 15)
    /// The option's mnemonic (`ECS`, `COOKIE`, …) or `OPTnnn`.
    public var description: String {
        switch self.rawValue {
        case 3: "NSID"
        case 8: "ECS"
        case 10: "COOKIE"
        case 11: "TCP-KEEPALIVE"
        case 12: "PADDING"
        case 15: "EDE"
        default: "OPT\(self.rawValue)"
        }
    }
}

/// One EDNS option: code and raw data. Typed views live in `EDNS+Options.swift`.
public struct EDNSOption: Sendable, Hashable {
    /// OPTION-CODE.
    public var code: EDNSOptionCode
    /// OPTION-DATA.
    public var data: [UInt8]
    /// Creates an option.
    public init(code: EDNSOptionCode, data: [UInt8]) {
        self.code = code
        self.data = data
    }
}

/// Extended DNS Error info codes (RFC 8914 §4).
public struct ExtendedErrorCode: RawRepresentable, Sendable, Hashable {
    /// INFO-CODE.
    public var rawValue: UInt16
    /// Wraps an info code.
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// 0 Other Error.
    public static let other = ExtendedErrorCode(rawValue: 0)
    /// 3 Stale Answer.
    public static let staleAnswer = ExtendedErrorCode(rawValue: 3)
    /// 4 Forged Answer.
    public static let forgedAnswer = ExtendedErrorCode(rawValue: 4)
    /// 18 Prohibited.
    public static let prohibited = ExtendedErrorCode(rawValue: 18)
    /// 15 Blocked.
    public static let blocked = ExtendedErrorCode(rawValue: 15)
    /// 16 Censored.
    public static let censored = ExtendedErrorCode(rawValue: 16)
    /// 17 Filtered.
    public static let filtered = ExtendedErrorCode(rawValue: 17)
    /// 14 Not Ready.
    public static let notReady = ExtendedErrorCode(rawValue: 14)
    /// 22 No Reachable Authority.
    public static let noReachableAuthority = ExtendedErrorCode(rawValue: 22)
    /// 23 Network Error.
    public static let networkError = ExtendedErrorCode(rawValue: 23)
    /// 19 Stale NXDomain Answer.
    public static let staleNXDomainAnswer = ExtendedErrorCode(rawValue: 19)
}

/// The OPT pseudo-record's contents (RFC 6891 §6.1).
public struct EDNS: Sendable, Hashable {
    /// "Requestor's UDP payload size".
    public var udpPayloadSize: UInt16
    /// Upper eight bits of the extended 12-bit RCODE.
    public var extendedRCodeHigh: UInt8
    /// EDNS version (0).
    public var version: UInt8
    /// DNSSEC OK bit (RFC 3225).
    public var dnssecOK: Bool
    /// The remaining Z flag bits, kept as received.
    public var zFlags: UInt16
    /// Options in wire order.
    public var options: [EDNSOption]

    /// Creates an EDNS record.
    public init(udpPayloadSize: UInt16 = 1232, extendedRCodeHigh: UInt8 = 0, version: UInt8 = 0,
        dnssecOK: Bool = false, zFlags: UInt16 = 0, options: [EDNSOption] = [])
    {
        self.udpPayloadSize = udpPayloadSize
        self.extendedRCodeHigh = extendedRCodeHigh
        self.version = version
        self.dnssecOK = dnssecOK
        self.zFlags = zFlags
        self.options = options
    }

    /// First option with `code`.
    public func option(_ code: EDNSOptionCode) -> EDNSOption? { self.options.first { $0.code == code } }

    /// Decodes OPT's TTL field and the `length` bytes of RDATA at the reader's offset.
    ///
    /// RFC 6891 §6.1.2: the RDATA is a sequence of `{OPTION-CODE, OPTION-LENGTH, OPTION-DATA}`
    /// triples that must fill RDLENGTH exactly. Options whose RFC asks for FORMERR when malformed
    /// (Client Subnet, Cookie, TCP keepalive) are validated here, so a bad one fails the message.
    /// - Throws: ``DecodeError`` with the absolute offset of the bad option.
    static func decode(ttl: UInt32, udpSize: UInt16, from r: inout WireReader, length: Int) throws(DecodeError) -> EDNS {
        guard r.remaining >= length else {
            throw r.fail(.truncated, "OPT.rdata", detail: "RDLENGTH \(length) but \(r.remaining) byte(s) left")
        }
        let end = r.offset + length
        let savedLimit = r.limit
        let savedPosition = r.position
        r.limit = end
        defer {
            r.limit = savedLimit
            r.position = savedPosition
        }
        var record = 0
        if case .additional(let i) = savedPosition { record = i }
        var opts: [EDNSOption] = []
        while r.remaining > 0 {
            r.position = .option(record: record, index: opts.count)
            let start = r.offset
            let code = EDNSOptionCode(rawValue: try r.readUInt16("code"))
            let len = Int(try r.readUInt16("length"))
            guard r.remaining >= len else {
                throw r.fail(.truncated, "\(code)", at: start, detail: "OPTION-LENGTH \(len) but \(r.remaining) byte(s) left")
            }
            let option = EDNSOption(code: code, data: try r.readBytes(len, "data"))
            if let problem = option.validationProblem {
                throw r.fail(.badValue, "\(code)", at: start, detail: problem)
            }
            opts.append(option)
        }
        return EDNS(udpPayloadSize: udpSize, extendedRCodeHigh: UInt8(ttl >> 24), version: UInt8((ttl >> 16) & 0xFF),
            dnssecOK: ttl & 0x8000 != 0, zFlags: UInt16(ttl & 0x7FFF), options: opts)
    }

    /// Writes the complete OPT record (owner root, TYPE 41).
    public func encode(into w: inout WireWriter) {
        w.writeUInt8(0)
        w.writeUInt16(RecordType.opt.rawValue)
        w.writeUInt16(self.udpPayloadSize)
        var ttl = UInt32(self.extendedRCodeHigh) << 24 | UInt32(self.version) << 16 | UInt32(self.zFlags & 0x7FFF)
        if self.dnssecOK { ttl |= 0x8000 }
        w.writeUInt32(ttl)
        let lenAt = w.bytes.count
        w.writeUInt16(0)
        for o in self.options {
            // An option that would push RDLENGTH past 16 bits is left out rather than written wrong.
            guard w.bytes.count - lenAt - 2 + 4 + o.data.count <= 0xFFFF else { continue }
            w.writeUInt16(o.code.rawValue)
            w.writeUInt16(UInt16(o.data.count))
            w.writeBytes(o.data)
        }
        w.patchUInt16(UInt16(w.bytes.count - lenAt - 2), at: lenAt)
    }

    /// Wire size of the OPT record.
    public var wireSize: Int { 11 + self.options.reduce(0) { $0 + 4 + $1.data.count } }
}

extension EDNSOption {
    /// An Extended DNS Error option (RFC 8914 §2): INFO-CODE then UTF-8 EXTRA-TEXT.
    /// The text is cut at 512 bytes (``ExtendedErrorWriter``).
    public static func extendedError(_ code: ExtendedErrorCode, text: String = "") -> EDNSOption {
        var writer = ExtendedErrorWriter(code, reserving: text.utf8.count)
        writer.append(text)
        return writer.option
    }

    /// Writes an Extended DNS Error option's EXTRA-TEXT piece by piece into the option's own bytes, cut at 512 bytes
    /// as ``extendedError(_:text:)`` cuts it: the same option without a string of its own.
    public struct ExtendedErrorWriter: Sendable {
        private var data: [UInt8]

        /// Starts an option with INFO-CODE `code`, with room for `reserving` bytes of text.
        public init(_ code: ExtendedErrorCode, reserving: Int) {
            self.data = []
            self.data.reserveCapacity(2 + min(reserving, 512))
            self.data.append(UInt8(code.rawValue >> 8))
            self.data.append(UInt8(code.rawValue & 0xFF))
        }

        /// Appends `text` (what fits of it). The whole view is copied in one go; a prefix of it went byte by byte (1 %
        /// of the event loop on the blocked mix, where every answer carries one).
        public mutating func append(_ text: String) {
            let room = 2 + 512 - self.data.count
            guard room > 0 else { return }
            let utf8 = text.utf8
            if utf8.count <= room {
                self.data.append(contentsOf: utf8)
            } else {
                self.data.append(contentsOf: utf8.prefix(room))
            }
        }

        /// The option.
        public var option: EDNSOption { EDNSOption(code: .extendedError, data: self.data) }
    }

    /// The INFO-CODE and EXTRA-TEXT when this is a well-formed EDE option.
    public var extendedErrorValue: (code: ExtendedErrorCode, text: String)? {
        guard self.code == .extendedError, self.data.count >= 2 else { return nil }
        let c = UInt16(self.data[0]) << 8 | UInt16(self.data[1])
        return (ExtendedErrorCode(rawValue: c), String(decoding: self.data[2...], as: UTF8.self))
    }
}
