#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension TSIGKeyRegistry {
    /// Parses BIND `key` statements, as written by `tsig-keygen` and read by `named` and Knot's
    /// `keymgr` import:
    /// ```
    /// key "xfr.example.org" {
    ///     algorithm hmac-sha256;
    ///     secret "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0";
    /// };
    /// ```
    /// Comments (`//`, `#`, `/* … */`) are skipped; statements other than `key` are an error, so a
    /// whole `named.conf` is not silently half-read.
    /// - Parameters:
    ///   - text: the file contents.
    ///   - file: the file name used in error messages.
    /// - Returns: the keys in file order.
    /// - Throws: ``ZoneTransferError`` `.badKey` naming the file, line and problem.
    public static func parseBIND(_ text: String, file: String = "<key file>") throws(ZoneTransferError) -> [TSIGKey] {
        var lexer = BINDLexer(text: Array(text.utf8), file: file)
        var keys: [TSIGKey] = []
        while let tok = try lexer.next() {
            guard case .word(let w) = tok.kind, w.lowercased() == "key" else {
                throw lexer.error("expected a `key` statement, found \(tok.kind)", line: tok.line)
            }
            let nameTok = try lexer.require("a key name after `key`")
            let name: String
            switch nameTok.kind {
            case .word(let s), .string(let s): name = s
            default: throw lexer.error("expected a key name after `key`, found \(nameTok.kind)", line: nameTok.line)
            }
            try lexer.expect(.open, "`{` after the key name")
            var algorithm: String?
            var secret: String?
            while true {
                let t = try lexer.require("`algorithm`, `secret` or `}` in key \"\(name)\"")
                if t.kind == .close { break }
                guard case .word(let field) = t.kind else {
                    throw lexer.error("expected `algorithm` or `secret` in key \"\(name)\", found \(t.kind)", line: t.line)
                }
                let v = try lexer.require("a value for `\(field)`")
                let value: String
                switch v.kind {
                case .word(let s), .string(let s): value = s
                default: throw lexer.error("expected a value for `\(field)`, found \(v.kind)", line: v.line)
                }
                try lexer.expect(.semicolon, "`;` after `\(field) \(value.count > 12 ? "…" : value)`")
                switch field.lowercased() {
                case "algorithm": algorithm = value
                case "secret": secret = value
                default: throw lexer.error("unknown field `\(field)` in key \"\(name)\"", line: t.line)
                }
            }
            // The closing `;` after `}` is required by BIND; accepted as optional here.
            lexer.skip(.semicolon)
            guard let algorithm else { throw lexer.error("key \"\(name)\" has no `algorithm`", line: nameTok.line) }
            guard let secret else { throw lexer.error("key \"\(name)\" has no `secret`", line: nameTok.line) }
            do throws(ZoneTransferError) {
                keys.append(try TSIGKey(name: name, algorithm: algorithm, base64Secret: secret))
            } catch {
                throw ZoneTransferError(.badKey, "\(file):\(nameTok.line): \(error.message)", underlying: error.underlying)
            }
        }
        return keys
    }

    /// Reads a BIND key file (see ``parseBIND(_:file:)``) into a registry.
    /// - Throws: ``ZoneTransferError`` `.badKey` when the file cannot be read or parsed.
    public static func load(bindKeyFile path: String) throws(ZoneTransferError) -> TSIGKeyRegistry {
        let text: String
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            guard data.count <= 1 << 20 else {
                throw ZoneTransferError(.badKey, "\(path): a key file larger than 1 MiB is not plausible")
            }
            text = String(decoding: data, as: UTF8.self)
        } catch let e as ZoneTransferError {
            throw e
        } catch {
            throw ZoneTransferError(.badKey, "\(path): cannot read the key file: \(error)")
        }
        return TSIGKeyRegistry(try Self.parseBIND(text, file: path))
    }
}

/// Splits BIND configuration text into words, quoted strings, braces and semicolons.
private struct BINDLexer {
    enum Kind: Equatable, CustomStringConvertible {
        case word(String)
        case string(String)
        case open
        case close
        case semicolon

        var description: String {
            switch self {
            case .word(let w): "`\(w)`"
            case .string: "a quoted string"
            case .open: "`{`"
            case .close: "`}`"
            case .semicolon: "`;`"
            }
        }
    }

    struct Token {
        var kind: Kind
        var line: Int
    }

    let text: [UInt8]
    let file: String
    var pos = 0
    var line = 1
    var peeked: Token?

    init(text: [UInt8], file: String) {
        self.text = text
        self.file = file
    }

    func error(_ message: String, line: Int) -> ZoneTransferError {
        ZoneTransferError(.badKey, "\(self.file):\(line): \(message)")
    }

    mutating func require(_ what: String) throws(ZoneTransferError) -> Token {
        guard let t = try self.next() else { throw self.error("expected \(what), found the end of the file", line: self.line) }
        return t
    }

    mutating func expect(_ kind: Kind, _ what: String) throws(ZoneTransferError) {
        let t = try self.require(what)
        guard t.kind == kind else { throw self.error("expected \(what), found \(t.kind)", line: t.line) }
    }

    mutating func skip(_ kind: Kind) {
        guard let t = try? self.next() else { return }
        if t.kind != kind { self.peeked = t }
    }

    mutating func next() throws(ZoneTransferError) -> Token? {
        if let p = self.peeked {
            self.peeked = nil
            return p
        }
        while self.pos < self.text.count {
            let c = self.text[self.pos]
            switch c {
            case UInt8(ascii: "\n"):
                self.line += 1
                self.pos += 1
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
                self.pos += 1
            case UInt8(ascii: "#"):
                self.skipLine()
            case UInt8(ascii: "/") where self.at(1) == UInt8(ascii: "/"):
                self.skipLine()
            case UInt8(ascii: "/") where self.at(1) == UInt8(ascii: "*"):
                let start = self.line
                self.pos += 2
                while self.pos < self.text.count, !(self.text[self.pos] == UInt8(ascii: "*") && self.at(1) == UInt8(ascii: "/")) {
                    if self.text[self.pos] == UInt8(ascii: "\n") { self.line += 1 }
                    self.pos += 1
                }
                guard self.pos < self.text.count else { throw self.error("unterminated /* comment", line: start) }
                self.pos += 2
            case UInt8(ascii: "{"):
                self.pos += 1
                return Token(kind: .open, line: self.line)
            case UInt8(ascii: "}"):
                self.pos += 1
                return Token(kind: .close, line: self.line)
            case UInt8(ascii: ";"):
                self.pos += 1
                return Token(kind: .semicolon, line: self.line)
            case UInt8(ascii: "\""):
                let start = self.line
                self.pos += 1
                var bytes: [UInt8] = []
                while self.pos < self.text.count, self.text[self.pos] != UInt8(ascii: "\"") {
                    if self.text[self.pos] == UInt8(ascii: "\n") { self.line += 1 }
                    bytes.append(self.text[self.pos])
                    self.pos += 1
                }
                guard self.pos < self.text.count else { throw self.error("unterminated quoted string", line: start) }
                self.pos += 1
                return Token(kind: .string(String(decoding: bytes, as: UTF8.self)), line: start)
            default:
                var bytes: [UInt8] = []
                while self.pos < self.text.count {
                    let d = self.text[self.pos]
                    if d == UInt8(ascii: " ") || d == UInt8(ascii: "\t") || d == UInt8(ascii: "\r") || d == UInt8(ascii: "\n")
                        || d == UInt8(ascii: "{") || d == UInt8(ascii: "}") || d == UInt8(ascii: ";")
                        || d == UInt8(ascii: "\"")
                    {
                        break
                    }
                    bytes.append(d)
                    self.pos += 1
                }
                return Token(kind: .word(String(decoding: bytes, as: UTF8.self)), line: self.line)
            }
        }
        return nil
    }

    private func at(_ delta: Int) -> UInt8? {
        self.pos + delta < self.text.count ? self.text[self.pos + delta] : nil
    }

    private mutating func skipLine() {
        while self.pos < self.text.count, self.text[self.pos] != UInt8(ascii: "\n") { self.pos += 1 }
    }
}
