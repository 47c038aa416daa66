import DNSWire

/// Builds raw (possibly hostile) DNS packets byte by byte for tests.
final class PacketBuilder {
    var bytes: [UInt8] = []

    /// Offset of the next byte.
    var offset: Int { self.bytes.count }

    init() {}

    /// A 12-byte header.
    init(id: UInt16 = 0x1234, flags: UInt16 = 0x0100, qd: UInt16 = 0, an: UInt16 = 0, ns: UInt16 = 0, ar: UInt16 = 0) {
        self.u16(id)
        self.u16(flags)
        self.u16(qd)
        self.u16(an)
        self.u16(ns)
        self.u16(ar)
    }

    @discardableResult
    func u8(_ v: UInt8) -> PacketBuilder {
        self.bytes.append(v)
        return self
    }

    @discardableResult
    func u16(_ v: UInt16) -> PacketBuilder {
        self.bytes += [UInt8(v >> 8), UInt8(v & 0xFF)]
        return self
    }

    @discardableResult
    func u32(_ v: UInt32) -> PacketBuilder {
        self.bytes += [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
        return self
    }

    @discardableResult
    func raw(_ v: [UInt8]) -> PacketBuilder {
        self.bytes += v
        return self
    }

    /// Uncompressed labels then the root label.
    @discardableResult
    func name(_ labels: String...) -> PacketBuilder {
        for l in labels {
            self.bytes.append(UInt8(l.utf8.count))
            self.bytes += Array(l.utf8)
        }
        self.bytes.append(0)
        return self
    }

    /// Labels followed by a compression pointer to `target`.
    @discardableResult
    func name(_ labels: [String], pointer target: Int) -> PacketBuilder {
        for l in labels {
            self.bytes.append(UInt8(l.utf8.count))
            self.bytes += Array(l.utf8)
        }
        self.u16(0xC000 | UInt16(target))
        return self
    }

    /// QTYPE and QCLASS after a name.
    @discardableResult
    func question(type: RecordType = .a, class c: DNSClass = .in) -> PacketBuilder {
        self.u16(type.rawValue)
        self.u16(c.rawValue)
        return self
    }

    /// TYPE, CLASS, TTL and RDLENGTH after an owner name; `rdlength` defaults to `rdata.count`.
    @discardableResult
    func record(type: RecordType, class c: UInt16 = 1, ttl: UInt32 = 300, rdlength: Int? = nil, rdata: [UInt8]) -> PacketBuilder {
        self.u16(type.rawValue)
        self.u16(c)
        self.u32(ttl)
        self.u16(UInt16(rdlength ?? rdata.count))
        self.bytes += rdata
        return self
    }

    /// A root-owned OPT record with the given options (`code`, `data`).
    @discardableResult
    func opt(udp: UInt16 = 1232, ttl: UInt32 = 0, options: [(UInt16, [UInt8])] = []) -> PacketBuilder {
        self.u8(0)
        var rdata: [UInt8] = []
        for (code, data) in options {
            rdata += [UInt8(code >> 8), UInt8(code & 0xFF), UInt8(data.count >> 8), UInt8(data.count & 0xFF)] + data
        }
        return self.record(type: .opt, class: udp, ttl: ttl, rdata: rdata)
    }
}

/// Decodes, or returns the typed error.
func decodeError(_ bytes: [UInt8]) -> DecodeError? {
    do {
        _ = try DNSMessage.decode(bytes)
        return nil
    } catch {
        return error
    }
}
