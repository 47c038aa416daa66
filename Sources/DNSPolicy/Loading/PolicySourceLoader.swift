internal import DNSWire

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Compiles a source's text, from memory or streamed from a file, into a ``CompiledPolicySource``.
///
/// Compiling runs on the caller's task, never on the query path; the result is swapped in afterwards.
package enum PolicySourceLoader {
    /// Detects the format of a list from its first lines.
    ///
    /// RPZ: a `$ORIGIN`/`$TTL` directive, a `;` comment, or an SOA/CNAME record. Adblock: a `!` comment, an
    /// `[Adblock…]` header, `||` or `@@` rules. Hosts: an IP address followed by a name. Otherwise domains.
    package static func detectFormat(_ bytes: UnsafeBufferPointer<UInt8>) -> PolicySourceConfig.Kind {
        var pos = 0
        var examined = 0
        let n = Swift.min(bytes.count, 1 << 16)
        while pos < n && examined < 200 {
            var end = pos
            while end < n && bytes[end] != UInt8(ascii: "\n") { end += 1 }
            let line = String(decoding: UnsafeBufferPointer(rebasing: bytes[pos..<end]), as: UTF8.self)
            pos = end + 1
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            guard let first = trimmed.first, first != "\r" else { continue }
            examined += 1
            if first == "$" || first == ";" { return .rpz }
            if first == "!" || first == "[" || trimmed.hasPrefix("||") || trimmed.hasPrefix("@@") { return .adblock }
            if first == "#" { continue }
            let tokens = trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            let upper = tokens.map { $0.uppercased() }
            if upper.contains("SOA") || upper.contains("CNAME") { return .rpz }
            if tokens.count >= 2, IPAddress(tokens[0]) != nil { return .hosts }
            if tokens.count == 1 { return .domains }
        }
        return .domains
    }

    /// Streams chunks into the right compiler.
    package struct Session: Sendable {
        private let config: PolicySourceConfig
        private let fileName: String
        private let expectedBytes: Int
        private var rpz: RPZCompiler?
        private var list: ListCompiler?
        private var pending: [UInt8] = []

        /// Starts a session; `expectedBytes` (the file size, if known) sizes the index.
        package init(config: PolicySourceConfig, fileName: String, expectedBytes: Int) {
            self.config = config
            self.fileName = fileName
            self.expectedBytes = expectedBytes
        }

        private mutating func start(_ first: UnsafeBufferPointer<UInt8>) {
            var newlines = 0
            for b in first where b == UInt8(ascii: "\n") { newlines += 1 }
            // Estimate the entry count from the first chunk's line density.
            let perLine = first.isEmpty ? 32 : Swift.max(8, first.count / Swift.max(1, newlines))
            let bytes = Swift.max(self.expectedBytes, first.count)
            let expected = bytes / perLine + 16
            let format = self.config.kind == .auto ? PolicySourceLoader.detectFormat(first) : self.config.kind
            if format == .rpz {
                self.rpz = RPZCompiler(config: self.config, fileName: self.fileName, expectedRecords: expected,
                    expectedBytes: bytes)
            } else {
                self.list = ListCompiler(config: self.config, format: format, fileName: self.fileName,
                    expectedLines: expected, expectedBytes: bytes)
            }
        }

        /// Feeds the next chunk of the text.
        /// - Throws: ``PolicyLoadError`` on a bad line in reject mode or a full index.
        package mutating func feed(_ chunk: UnsafeBufferPointer<UInt8>, isFinal: Bool) throws(PolicyLoadError) {
            if self.pending.isEmpty {
                let used = try self.run(chunk, isFinal: isFinal)
                if used < chunk.count { self.pending.append(contentsOf: UnsafeBufferPointer(rebasing: chunk[used...])) }
            } else {
                self.pending.append(contentsOf: chunk)
                let buffer = self.pending
                self.pending = []
                let used = try buffer.withUnsafeBufferPointer { (b) throws(PolicyLoadError) -> Int in
                    try self.run(b, isFinal: isFinal)
                }
                if used < buffer.count { self.pending = Array(buffer[used...]) }
            }
        }

        private mutating func run(_ chunk: UnsafeBufferPointer<UInt8>, isFinal: Bool) throws(PolicyLoadError) -> Int {
            if self.rpz == nil && self.list == nil { self.start(chunk) }
            // Each compiler is taken out of `self` while it works, so it is mutated in place, not copied.
            if var c = self.rpz {
                self.rpz = nil
                defer { self.rpz = c }
                return try c.consume(chunk, isFinal: isFinal)
            }
            if var c = self.list {
                self.list = nil
                defer { self.list = c }
                return try c.consume(chunk, isFinal: isFinal)
            }
            return chunk.count
        }

        /// Compiles all of `text` (which starts with `first`) in one go, reading it on a second thread when it
        /// is an RPZ zone; returns false, having consumed nothing, for a list (feed it instead).
        /// - Throws: ``PolicyLoadError`` on a bad line in reject mode, a full index or an unreadable file.
        package mutating func compileWhileReading(_ text: ZoneText, first: UnsafeBufferPointer<UInt8>, window: Int)
            throws(PolicyLoadError) -> Bool
        {
            guard self.pending.isEmpty else { return false }
            if self.rpz == nil && self.list == nil { self.start(first) }
            guard var c = self.rpz else { return false }
            self.rpz = nil
            defer { self.rpz = c }
            try c.consumeWhileReading(text, window: window)
            return true
        }

        /// Finishes the session.
        /// - Throws: ``PolicyLoadError`` when the result is not plausible.
        package mutating func finish() throws(PolicyLoadError) -> CompiledPolicySource {
            let rest = self.pending
            self.pending = []
            try rest.withUnsafeBufferPointer { (b) throws(PolicyLoadError) in _ = try self.run(b, isFinal: true) }
            if var c = self.rpz { return try c.finish() }
            if var c = self.list { return try c.finish() }
            var c = ListCompiler(config: self.config, format: .domains, fileName: self.fileName, expectedLines: 0,
                expectedBytes: 0)
            return try c.finish()
        }
    }

    /// When an RPZ zone is read on a second thread while this one compiles.
    package struct ParallelReading: Sendable {
        /// Texts from this size up are read on a second thread: below it the thread costs more than it saves.
        package var from: Int
        /// Bytes given to the reader at a time (the reading thread checks for cancellation between windows).
        package var window: Int

        /// From 1 MiB, in 1 MiB windows.
        package static let standard = ParallelReading(from: 1 << 20, window: 1 << 20)
        /// Always on one thread.
        package static let never = ParallelReading(from: .max, window: 1 << 20)

        package init(from: Int, window: Int) {
            self.from = from
            self.window = Swift.max(1, window)
        }
    }

    /// Compiles text held in memory.
    /// - Parameter parallel: when an RPZ zone is read on a second thread.
    /// - Throws: ``PolicyLoadError``.
    package static func compile(_ config: PolicySourceConfig, bytes: [UInt8], fileName: String,
        parallel: ParallelReading = .standard) throws(PolicyLoadError) -> CompiledPolicySource
    {
        var session = Session(config: config, fileName: fileName, expectedBytes: bytes.count)
        try bytes.withUnsafeBufferPointer { (b) throws(PolicyLoadError) in
            if b.count >= parallel.from, try session.compileWhileReading(.memory(b),
                first: UnsafeBufferPointer(rebasing: b.prefix(1 << 20)), window: parallel.window)
            {
                return
            }
            try session.feed(b, isFinal: true)
        }
        return try session.finish()
    }

    /// Compiles a file, reading it in 1 MiB chunks so a large feed never sits in memory twice.
    /// - Throws: ``PolicyLoadError`` `.unreadable` when the file cannot be read, or a compile error.
    package static func compile(_ config: PolicySourceConfig, path: String, fileName: String? = nil,
        parallel: ParallelReading = .standard) throws(PolicyLoadError) -> CompiledPolicySource
    {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw PolicyLoadError(.unreadable, source: config.name,
                "source '\(config.name)': cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var st = stat()
        let size = fstat(fd, &st) == 0 ? Int(st.st_size) : 0
        var session = Session(config: config, fileName: fileName ?? path, expectedBytes: size)
        let chunkSize = 1 << 20
        var buffer = [UInt8](repeating: 0, count: chunkSize)
        var first = true
        while true {
            let got = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, chunkSize) }
            if got < 0 {
                if errno == EINTR { continue }
                throw PolicyLoadError(.unreadable, source: config.name,
                    "source '\(config.name)': cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if got == 0 { break }
            if first && size >= parallel.from {
                let prefix = Array(buffer[0..<got])
                let done = try prefix.withUnsafeBufferPointer { (b) throws(PolicyLoadError) -> Bool in
                    try session.compileWhileReading(.file(descriptor: fd, path: path, prefix: prefix), first: b,
                        window: parallel.window)
                }
                if done { break }
            }
            first = false
            try buffer.withUnsafeBufferPointer { (b) throws(PolicyLoadError) in
                try session.feed(UnsafeBufferPointer(rebasing: b[0..<got]), isFinal: false)
            }
        }
        return try session.finish()
    }
}
