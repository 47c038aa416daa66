/// Reads master files (RFC 1035 §5) from UTF-8 bytes, one entry at a time.
///
/// Supported: `$ORIGIN`, `$TTL` (RFC 2308 §4), relative names, `@`, a blank owner meaning the previous
/// owner, optional TTL and class in either order, parentheses spanning lines, `;` comments, quoted
/// strings with escapes, `\X` and `\DDD` escapes, `TYPEnnn` and the generic `\# len hex` RDATA
/// (RFC 3597 §5). `$INCLUDE` and `$GENERATE` are refused with a clear error: DNSWire does no file I/O.
///
/// The reader works on bytes, not `String`s, because policy feeds of millions of records must load in
/// well under a second. It can be fed in chunks (``read(_:isFinal:onRecord:)`` returns how much it
/// consumed), so a caller can stream a large file without holding all of it in memory.
///
/// Every error names the file, line and column. In ``ErrorMode/collect`` mode a bad entry is recorded in
/// ``errors`` and skipped; in ``ErrorMode/stop`` mode the first error is thrown.
public struct ZoneFileReader: Sendable {
    /// What to do when an entry is malformed.
    public enum ErrorMode: Sendable, Hashable {
        /// Throw the first error.
        case stop
        /// Record the error, skip the entry and go on (for "load the rest and report the bad lines").
        case collect
    }

    /// Reader settings.
    public struct Options: Sendable {
        /// The initial `$ORIGIN`. Default: the root.
        public var origin: DomainName
        /// TTL for records that give none, when there is no `$TTL` and no earlier explicit TTL.
        /// Default: 3600.
        public var defaultTTL: UInt32
        /// Class for records that give none before any record did. Default: IN.
        public var defaultClass: DNSClass
        /// The name used in errors. Default: `<zone>`.
        public var fileName: String
        /// Stop at the first error or collect them. Default: stop.
        public var errorMode: ErrorMode
        /// How many errors ``errors`` keeps in collect mode (``errorCount`` keeps counting). Default: 1000.
        public var maxStoredErrors: Int
        /// Reads the commonest shape of policy-zone line, `name CNAME target` on one line with plain names,
        /// straight from its bytes without the general tokenizer. Anything else, and any such line the fast
        /// path is unsure of, goes through the general reader, so records, state and errors are the same
        /// either way (tests turn it off to compare). Default: on.
        public var fastPath: Bool = true

        /// Creates options.
        public init(origin: DomainName = .root, defaultTTL: UInt32 = 3600, defaultClass: DNSClass = .in,
            fileName: String = "<zone>", errorMode: ErrorMode = .stop, maxStoredErrors: Int = 1000)
        {
            self.origin = origin
            self.defaultTTL = defaultTTL
            self.defaultClass = defaultClass
            self.fileName = fileName
            self.errorMode = errorMode
            self.maxStoredErrors = maxStoredErrors
        }
    }

    /// One token of the current entry: a byte range of the input.
    struct Token {
        var start: Int
        var end: Int
        var line: Int
        var column: Int
        var quoted: Bool
    }

    /// The settings this reader was made with.
    public let options: Options
    /// The current `$ORIGIN`.
    public private(set) var origin: DomainName
    /// The current `$TTL`, once one was given.
    public private(set) var ttlDirective: UInt32?
    /// The line number of the next byte to be read (1-based).
    public private(set) var line: Int = 1
    /// Errors recorded in collect mode (at most ``Options/maxStoredErrors``).
    public private(set) var errors: [ZoneFileError] = []
    /// All errors seen, including those not stored.
    public private(set) var errorCount: Int = 0
    /// Records produced so far.
    public private(set) var recordCount: Int = 0

    private var lastOwner: DomainName?
    private var lastTTL: UInt32?
    private var lastClass: DNSClass
    private var tokens: [Token] = []
    private var scratch: [UInt8] = []

    /// Creates a reader.
    public init(options: Options = Options()) {
        self.options = options
        self.origin = options.origin
        self.lastClass = options.defaultClass
        self.tokens.reserveCapacity(16)
        self.scratch.reserveCapacity(256)
    }

    // MARK: - Convenience

    /// Parses a whole master file held in a string.
    /// - Throws: the first ``ZoneFileError`` when `options.errorMode` is `.stop`.
    public static func records(in text: String, options: Options = Options()) throws(ZoneFileError) -> [ResourceRecord] {
        try Self.records(in: Array(text.utf8), options: options)
    }

    /// Parses a whole master file held in bytes.
    /// - Throws: the first ``ZoneFileError`` when `options.errorMode` is `.stop`.
    public static func records(in bytes: [UInt8], options: Options = Options()) throws(ZoneFileError) -> [ResourceRecord] {
        var reader = ZoneFileReader(options: options)
        var out: [ResourceRecord] = []
        try reader.read(bytes) { rr, _ in out.append(rr) }
        return out
    }

    /// Parses a whole master file, keeping every good record and every error.
    public static func recordsCollectingErrors(in text: String, options: Options = Options())
        -> (records: [ResourceRecord], errors: [ZoneFileError])
    {
        var o = options
        o.errorMode = .collect
        var reader = ZoneFileReader(options: o)
        var out: [ResourceRecord] = []
        // Invariant: collect mode records errors instead of throwing, and the body never throws.
        try? reader.read(Array(text.utf8)) { rr, _ in out.append(rr) }
        return (out, reader.errors)
    }

    /// Reads all of `bytes` as the final chunk.
    /// - Parameter onRecord: called with each record and the line its entry starts on; it may throw a
    ///   ``ZoneFileError`` to refuse the record, which is then handled like a syntax error.
    /// - Throws: the first ``ZoneFileError`` when `options.errorMode` is `.stop`.
    public mutating func read(_ bytes: [UInt8], onRecord: (ResourceRecord, Int) throws(ZoneFileError) -> Void)
        throws(ZoneFileError)
    {
        _ = try bytes.withUnsafeBufferPointer { (buf) throws(ZoneFileError) -> Int in
            try self.read(buf, isFinal: true, onRecord: onRecord)
        }
    }

    // MARK: - Streaming

    /// Reads complete entries from `chunk` and returns how many bytes were consumed.
    ///
    /// When `isFinal` is false, an entry that is not finished by the end of the chunk (no newline yet, or
    /// an open parenthesis) is left unconsumed: pass its bytes again, followed by more input, in the next
    /// call. When `isFinal` is true everything is consumed.
    /// - Throws: the first ``ZoneFileError`` when `options.errorMode` is `.stop`.
    public mutating func read(_ chunk: UnsafeBufferPointer<UInt8>, isFinal: Bool,
        onRecord: (ResourceRecord, Int) throws(ZoneFileError) -> Void) throws(ZoneFileError) -> Int
    {
        var pos = 0
        let fastPath = self.options.fastPath
        while pos < chunk.count {
            if fastPath, let fast = self.fastEntry(chunk, from: pos) {
                pos = fast.end
                self.recordCount += 1
                do {
                    try onRecord(fast.record, fast.line)
                } catch {
                    try self.report(error)
                }
                continue
            }
            let startLine = self.line
            let scan = self.scanEntry(chunk, from: pos, isFinal: isFinal)
            guard let end = scan.end else {
                self.line = startLine
                return pos
            }
            pos = end
            if let e = scan.error {
                try self.report(e)
                continue
            }
            guard !self.tokens.isEmpty else { continue }
            do {
                if let entry = try self.process(chunk, blankOwner: scan.blankOwner) {
                    self.recordCount += 1
                    try onRecord(entry.record, entry.line)
                }
            } catch {
                try self.report(error)
            }
        }
        return pos
    }

    private mutating func report(_ e: ZoneFileError) throws(ZoneFileError) {
        self.errorCount += 1
        if self.options.errorMode == .stop { throw e }
        if self.errors.count < self.options.maxStoredErrors { self.errors.append(e) }
    }

    // MARK: - Tokenizer

    private struct Scan {
        /// Index just past the entry; nil when more input is needed.
        var end: Int?
        var blankOwner: Bool = false
        var error: ZoneFileError?
    }

    private static let space = UInt8(ascii: " ")
    private static let tab = UInt8(ascii: "\t")
    private static let cr = UInt8(ascii: "\r")
    private static let newline = UInt8(ascii: "\n")
    private static let semicolon = UInt8(ascii: ";")
    private static let openParen = UInt8(ascii: "(")
    private static let closeParen = UInt8(ascii: ")")
    private static let quote = UInt8(ascii: "\"")
    private static let backslash = UInt8(ascii: "\\")

    /// Splits one entry (a line, or several joined by parentheses) into tokens.
    private mutating func scanEntry(_ b: UnsafeBufferPointer<UInt8>, from start: Int, isFinal: Bool) -> Scan {
        self.tokens.removeAll(keepingCapacity: true)
        let n = b.count
        var i = start
        var lineStart = start
        var depth = 0
        var parenLine = 0
        var parenColumn = 0
        var error: ZoneFileError? = nil
        let blankOwner = b[start] == Self.space || b[start] == Self.tab
        func fail(_ code: ZoneFileError.Code, _ message: String, _ line: Int, _ column: Int) {
            if error == nil {
                error = ZoneFileError(code, message, file: self.options.fileName, line: line, column: column)
            }
        }
        while true {
            if i >= n {
                guard isFinal else { return Scan(end: nil) }
                if depth > 0 {
                    fail(.unterminated, "'(' opened here is never closed", parenLine, parenColumn)
                }
                return Scan(end: n, blankOwner: blankOwner, error: error)
            }
            let c = b[i]
            switch c {
            case Self.space, Self.tab, Self.cr:
                i += 1
            case Self.newline:
                self.line += 1
                i += 1
                lineStart = i
                if depth == 0 { return Scan(end: i, blankOwner: blankOwner, error: error) }
            case Self.semicolon:
                while i < n && b[i] != Self.newline { i += 1 }
                if i >= n && !isFinal { return Scan(end: nil) }
            case Self.openParen:
                if depth == 0 {
                    parenLine = self.line
                    parenColumn = i - lineStart + 1
                }
                depth += 1
                i += 1
            case Self.closeParen:
                if depth == 0 {
                    fail(.syntax, "')' without a matching '('", self.line, i - lineStart + 1)
                } else {
                    depth -= 1
                }
                i += 1
            case Self.quote:
                let tokStart = i
                let column = i - lineStart + 1
                i += 1
                var closed = false
                while i < n {
                    let q = b[i]
                    if q == Self.backslash && i + 1 < n && b[i + 1] != Self.newline {
                        i += 2
                        continue
                    }
                    if q == Self.quote {
                        closed = true
                        i += 1
                        break
                    }
                    if q == Self.newline { break }
                    i += 1
                }
                if !closed {
                    if i >= n && !isFinal { return Scan(end: nil) }
                    fail(.unterminated, "quoted string is not closed on this line", self.line, column)
                }
                self.tokens.append(Token(start: tokStart, end: i, line: self.line, column: column, quoted: true))
            default:
                let tokStart = i
                let column = i - lineStart + 1
                while i < n {
                    let t = b[i]
                    if t == Self.backslash {
                        if i + 1 < n && b[i + 1] != Self.newline {
                            i += 2
                            continue
                        }
                        if i + 1 >= n && !isFinal { return Scan(end: nil) }
                        i += 1
                        continue
                    }
                    if t == Self.space || t == Self.tab || t == Self.newline || t == Self.semicolon
                        || t == Self.openParen || t == Self.closeParen || t == Self.cr
                    {
                        break
                    }
                    i += 1
                }
                if i >= n && !isFinal { return Scan(end: nil) }
                self.tokens.append(Token(start: tokStart, end: i, line: self.line, column: column, quoted: false))
            }
        }
    }

    // MARK: - Fast path

    /// A byte that may appear in a name token the fast path reads: letters, digits, `-`, `_`, `*`, `.`, `@`.
    /// Anything else (escapes, quotes, parentheses, `;`, `$`, non-ASCII) sends the line to the general reader.
    @inline(__always)
    private static func isPlainNameByte(_ c: UInt8) -> Bool {
        (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39) || c == 0x2D || c == 0x5F
            || c == 0x2A || c == 0x2E || c == 0x40
    }

    /// Reads `owner CNAME target` (one line, plain names, no TTL, class or comment) at `start`; nil for any
    /// other entry, which the general reader then handles from the same position. The effects are those of
    /// the general reader for the same line: the owner becomes the owner repeated by blank-owner lines, the
    /// TTL is `$TTL`, else the last explicit TTL, else the default, and the class is the last one used.
    private mutating func fastEntry(_ b: UnsafeBufferPointer<UInt8>, from start: Int)
        -> (record: ResourceRecord, line: Int, end: Int)?
    {
        let n = b.count
        // The owner: a plain token starting the line (a blank owner, directive or comment is not for us).
        var i = start
        while i < n && Self.isPlainNameByte(b[i]) { i += 1 }
        let ownerEnd = i
        guard ownerEnd > start, i < n, b[i] == Self.space || b[i] == Self.tab else { return nil }
        while i < n && (b[i] == Self.space || b[i] == Self.tab) { i += 1 }
        // The type: exactly CNAME, any case (a TTL or class here takes the general path).
        guard i + 5 < n, Self.upper(b[i]) == UInt8(ascii: "C"), Self.upper(b[i + 1]) == UInt8(ascii: "N"),
            Self.upper(b[i + 2]) == UInt8(ascii: "A"), Self.upper(b[i + 3]) == UInt8(ascii: "M"),
            Self.upper(b[i + 4]) == UInt8(ascii: "E"), b[i + 5] == Self.space || b[i + 5] == Self.tab
        else { return nil }
        i += 5
        while i < n && (b[i] == Self.space || b[i] == Self.tab) { i += 1 }
        let targetStart = i
        while i < n && Self.isPlainNameByte(b[i]) { i += 1 }
        let targetEnd = i
        guard targetEnd > targetStart else { return nil }
        // Then only blanks to the end of the line, and the newline must be in this chunk.
        while i < n && (b[i] == Self.space || b[i] == Self.tab || b[i] == Self.cr) { i += 1 }
        guard i < n, b[i] == Self.newline else { return nil }
        let line = self.line
        // A bad name (empty label, too long) is left to the general reader, which reports it.
        let ownerToken = Token(start: start, end: ownerEnd, line: line, column: 1, quoted: false)
        let targetToken = Token(start: targetStart, end: targetEnd, line: line,
            column: targetStart - start + 1, quoted: false)
        guard let owner = try? self.name(b, ownerToken), let target = try? self.name(b, targetToken) else {
            return nil
        }
        self.lastOwner = owner
        self.line += 1
        let ttl = self.ttlDirective ?? self.lastTTL ?? self.options.defaultTTL
        let record = ResourceRecord(name: owner, dnsClass: self.lastClass, ttl: ttl,
            rdata: .cname(RData.NameTarget(target: target)))
        return (record, line, i + 1)
    }

    // MARK: - Entries

    private func fail(_ code: ZoneFileError.Code, _ message: String, at token: Token, underlying: DecodeError? = nil)
        -> ZoneFileError
    {
        ZoneFileError(code, message, file: self.options.fileName, line: token.line, column: token.column,
            underlying: underlying)
    }

    /// Turns the tokens of one entry into a record (nil for a directive).
    private mutating func process(_ b: UnsafeBufferPointer<UInt8>, blankOwner: Bool)
        throws(ZoneFileError) -> (record: ResourceRecord, line: Int)?
    {
        let toks = self.tokens
        var t = 0
        let owner: DomainName
        let entryLine = toks[0].line
        if blankOwner {
            guard let last = self.lastOwner else {
                throw self.fail(.missingOwner, "blank owner but no previous owner to repeat", at: toks[0])
            }
            owner = last
        } else {
            let first = toks[0]
            if !first.quoted && b[first.start] == UInt8(ascii: "$") {
                try self.directive(b, toks)
                return nil
            }
            owner = try self.name(b, first)
            self.lastOwner = owner
            t = 1
        }
        var ttl: UInt32? = nil
        var cls: DNSClass? = nil
        while t < toks.count {
            let tok = toks[t]
            if ttl == nil, !tok.quoted, Self.isDigit(b[tok.start]) {
                ttl = try self.ttl(b, tok)
                t += 1
                continue
            }
            if cls == nil, !tok.quoted, let c = Self.dnsClass(b, tok) {
                cls = c
                t += 1
                continue
            }
            break
        }
        guard t < toks.count else {
            throw self.fail(.missingType, "missing record type", at: toks[toks.count - 1])
        }
        let typeToken = toks[t]
        guard let type = Self.recordType(b, typeToken) else {
            throw self.fail(.unknownType, "unknown record type '\(Self.shown(b, typeToken))'", at: typeToken)
        }
        t += 1
        let rdata = try self.rdata(b, type: type, typeToken: typeToken, from: t)
        let effectiveTTL: UInt32
        if let ttl = ttl {
            effectiveTTL = ttl
            self.lastTTL = ttl
        } else {
            effectiveTTL = self.ttlDirective ?? self.lastTTL ?? self.options.defaultTTL
        }
        let effectiveClass = cls ?? self.lastClass
        self.lastClass = effectiveClass
        return (ResourceRecord(name: owner, dnsClass: effectiveClass, ttl: effectiveTTL, rdata: rdata), entryLine)
    }

    private mutating func directive(_ b: UnsafeBufferPointer<UInt8>, _ toks: [Token]) throws(ZoneFileError) {
        let word = Self.text(b, toks[0]).uppercased()
        switch word {
        case "$ORIGIN":
            guard toks.count == 2 else {
                throw self.fail(.badDirective, "$ORIGIN takes exactly one name", at: toks[0])
            }
            self.origin = try self.name(b, toks[1])
        case "$TTL":
            guard toks.count == 2 else {
                throw self.fail(.badDirective, "$TTL takes exactly one TTL", at: toks[0])
            }
            self.ttlDirective = try self.ttl(b, toks[1])
        case "$INCLUDE":
            throw self.fail(.unsupportedDirective,
                "$INCLUDE is not supported: the zone reader reads no files; inline the included file", at: toks[0])
        case "$GENERATE":
            throw self.fail(.unsupportedDirective, "$GENERATE is not supported; expand the records", at: toks[0])
        default:
            throw self.fail(.badDirective, "unknown directive \(Self.shown(b, toks[0]))", at: toks[0])
        }
    }

    // MARK: - Fields

    @inline(__always)
    private static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

    @inline(__always)
    private static func upper(_ c: UInt8) -> UInt8 { (c >= 0x61 && c <= 0x7A) ? c - 0x20 : c }

    private static func text(_ b: UnsafeBufferPointer<UInt8>, _ tok: Token) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: b[tok.start..<tok.end]), as: UTF8.self)
    }

    /// A token for an error message, cut short so a hostile megabyte-long token cannot flood the log.
    private static func shown(_ b: UnsafeBufferPointer<UInt8>, _ tok: Token) -> String {
        guard tok.end - tok.start > 80 else { return Self.text(b, tok) }
        let head = String(decoding: UnsafeBufferPointer(rebasing: b[tok.start..<(tok.start + 72)]), as: UTF8.self)
        return "\(head)… (\(tok.end - tok.start) bytes)"
    }

    /// Case-insensitive comparison of a token with an upper-case ASCII word.
    private static func equals(_ b: UnsafeBufferPointer<UInt8>, _ tok: Token, _ word: StaticString) -> Bool {
        let len = tok.end - tok.start
        guard len == word.utf8CodeUnitCount else { return false }
        let w = word.utf8Start
        for k in 0..<len where Self.upper(b[tok.start + k]) != w[k] {
            return false
        }
        return true
    }

    /// Parses a name token with `\X` and `\DDD` escapes straight into wire form.
    private mutating func name(_ b: UnsafeBufferPointer<UInt8>, _ tok: Token) throws(ZoneFileError) -> DomainName {
        var s = tok.start
        var e = tok.end
        if tok.quoted {
            s += 1
            if e - s >= 1 && b[e - 1] == Self.quote { e -= 1 }
        }
        guard s < e else { throw self.fail(.badName, "empty name", at: tok) }
        if e - s == 1 {
            if b[s] == UInt8(ascii: "@") { return self.origin }
            if b[s] == UInt8(ascii: ".") { return .root }
        }
        self.scratch.removeAll(keepingCapacity: true)
        self.scratch.append(0)
        var labelAt = 0
        var labelLen = 0
        var absolute = false
        var i = s
        while i < e {
            var c = b[i]
            if c == UInt8(ascii: ".") {
                guard labelLen > 0 else {
                    throw self.fail(.badName, "empty label in '\(Self.shown(b, tok))'", at: tok)
                }
                self.scratch[labelAt] = UInt8(labelLen)
                i += 1
                if i == e {
                    absolute = true
                    break
                }
                labelAt = self.scratch.count
                self.scratch.append(0)
                labelLen = 0
                continue
            }
            if c == Self.backslash {
                guard i + 1 < e else {
                    throw self.fail(.badName, "dangling '\\' in '\(Self.shown(b, tok))'", at: tok)
                }
                let n = b[i + 1]
                if Self.isDigit(n) {
                    guard i + 3 < e, Self.isDigit(b[i + 2]), Self.isDigit(b[i + 3]) else {
                        throw self.fail(.badName, "\\DDD needs three digits in '\(Self.shown(b, tok))'", at: tok)
                    }
                    let v = Int(n - 0x30) * 100 + Int(b[i + 2] - 0x30) * 10 + Int(b[i + 3] - 0x30)
                    guard v <= 255 else {
                        throw self.fail(.badName, "\\DDD above 255 in '\(Self.shown(b, tok))'", at: tok)
                    }
                    c = UInt8(v)
                    i += 4
                } else {
                    c = n
                    i += 2
                }
            } else {
                i += 1
            }
            labelLen += 1
            guard labelLen <= DomainName.maxLabelLength else {
                throw self.fail(.badName, "label longer than 63 octets in '\(Self.shown(b, tok))'", at: tok)
            }
            self.scratch.append(c)
        }
        if !absolute {
            self.scratch[labelAt] = UInt8(labelLen)
            self.scratch.append(contentsOf: self.origin.wire)
        } else {
            self.scratch.append(0)
        }
        guard self.scratch.count <= DomainName.maxWireLength else {
            throw self.fail(.badName, "name longer than 255 octets: '\(Self.shown(b, tok))'", at: tok)
        }
        return DomainName(uncheckedWire: self.scratch)
    }

    private func ttl(_ b: UnsafeBufferPointer<UInt8>, _ tok: Token) throws(ZoneFileError) -> UInt32 {
        var v: UInt64 = 0
        var allDigits = true
        for i in tok.start..<tok.end {
            let c = b[i]
            guard Self.isDigit(c) else {
                allDigits = false
                break
            }
            v = v * 10 + UInt64(c - 0x30)
            if v > UInt64(UInt32.max) {
                throw self.fail(.badTTL, "TTL does not fit in 32 bits: \(Self.shown(b, tok))", at: tok)
            }
        }
        if allDigits && tok.end > tok.start { return UInt32(v) }
        // A unit TTL (`1w2d3h`) longer than this is nonsense, and summing thousands of units could overflow.
        guard tok.end - tok.start <= 32 else {
            throw self.fail(.badTTL, "TTL is too long: \(Self.shown(b, tok))", at: tok)
        }
        do {
            return try TTLText.parse(Self.text(b, tok), "TTL")
        } catch {
            throw self.fail(.badTTL, "bad TTL '\(Self.shown(b, tok))'", at: tok, underlying: error)
        }
    }

    private static func dnsClass(_ b: UnsafeBufferPointer<UInt8>, _ tok: Token) -> DNSClass? {
        if Self.equals(b, tok, "IN") { return .in }
        if Self.equals(b, tok, "CH") { return .chaos }
        if Self.equals(b, tok, "HS") { return .hesiod }
        let len = tok.end - tok.start
        guard len > 5, Self.upper(b[tok.start]) == UInt8(ascii: "C"),
            Self.equals(b, Token(start: tok.start, end: tok.start + 5, line: 0, column: 0, quoted: false), "CLASS")
        else { return nil }
        var v: UInt32 = 0
        for i in (tok.start + 5)..<tok.end {
            guard Self.isDigit(b[i]) else { return nil }
            v = v * 10 + UInt32(b[i] - 0x30)
            guard v <= UInt32(UInt16.max) else { return nil }
        }
        return DNSClass(UInt16(v))
    }

    /// Meta-types (RFC 6895 §3.1) and OPT have no place in a master file.
    private static func isMetaType(_ t: RecordType) -> Bool {
        t == .opt || t == .tsig || t == .ixfr || t == .axfr || t == .any || (t.rawValue >= 128 && t.rawValue <= 255)
    }

    private static func recordType(_ b: UnsafeBufferPointer<UInt8>, _ tok: Token) -> RecordType? {
        guard !tok.quoted else { return nil }
        // The common types of policy zones without building a String.
        if Self.equals(b, tok, "A") { return .a }
        if Self.equals(b, tok, "CNAME") { return .cname }
        if Self.equals(b, tok, "AAAA") { return .aaaa }
        if Self.equals(b, tok, "TXT") { return .txt }
        if Self.equals(b, tok, "NS") { return .ns }
        if Self.equals(b, tok, "SOA") { return .soa }
        guard let t = RecordType(mnemonic: Self.text(b, tok)), !Self.isMetaType(t) else { return nil }
        return t
    }

    private mutating func rdata(_ b: UnsafeBufferPointer<UInt8>, type: RecordType, typeToken: Token, from first: Int)
        throws(ZoneFileError) -> RData
    {
        let toks = self.tokens
        let count = toks.count - first
        let generic = count > 0 && !toks[first].quoted && toks[first].end - toks[first].start == 2
            && b[toks[first].start] == Self.backslash && b[toks[first].start + 1] == UInt8(ascii: "#")
        if !generic {
            switch type {
            case .a:
                guard count == 1 else { throw self.countError(type, 1, count, typeToken) }
                guard let a = Self.ipv4(b, toks[first]) else {
                    throw self.fail(.badRData, "A: not an IPv4 address: \(Self.shown(b, toks[first]))", at: toks[first])
                }
                return .a(RData.A(address: a))
            case .cname, .ns, .ptr, .dname:
                guard count == 1 else { throw self.countError(type, 1, count, typeToken) }
                let target: DomainName
                do {
                    target = try self.name(b, toks[first])
                } catch {
                    var e = error
                    e.message = "\(type): \(e.message)"
                    throw e
                }
                let nt = RData.NameTarget(target: target)
                switch type {
                case .cname: return .cname(nt)
                case .ns: return .ns(nt)
                case .ptr: return .ptr(nt)
                default: return .dname(nt)
                }
            default:
                break
            }
        }
        var strings: [String] = []
        strings.reserveCapacity(count)
        for k in first..<toks.count { strings.append(Self.text(b, toks[k])) }
        do {
            return try RData.parse(type: type, tokens: strings, origin: self.origin)
        } catch {
            let at = count > 0 ? toks[first] : typeToken
            let why = error.detail ?? error.reason.rawValue
            throw self.fail(.badRData, "\(type): \(why) (\(error.field))", at: at, underlying: error)
        }
    }

    private func countError(_ type: RecordType, _ want: Int, _ got: Int, _ at: Token) -> ZoneFileError {
        self.fail(.badRData, "\(type): expected \(want) field(s), got \(got)", at: at)
    }

    private static func ipv4(_ b: UnsafeBufferPointer<UInt8>, _ tok: Token) -> IPv4Address? {
        var value: UInt32 = 0
        var octet: UInt32 = 0
        var digits = 0
        var dots = 0
        for i in tok.start..<tok.end {
            let c = b[i]
            if Self.isDigit(c) {
                octet = octet * 10 + UInt32(c - 0x30)
                digits += 1
                guard digits <= 3, octet <= 255 else { return nil }
            } else if c == UInt8(ascii: ".") {
                guard digits > 0, dots < 3 else { return nil }
                value = value << 8 | octet
                octet = 0
                digits = 0
                dots += 1
            } else {
                return nil
            }
        }
        guard dots == 3, digits > 0 else { return nil }
        return IPv4Address(value << 8 | octet)
    }
}
