#if canImport(FoundationEssentials)
internal import FoundationEssentials
#else
internal import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Keeps each source's last good copy in the data directory, so it is served at start-up before any
/// refresh and survives a feed outage.
///
/// Per source, `<name>.feed` holds the text exactly as fetched and `<name>.meta.json` its metadata. Both
/// are written to a temporary file and renamed into place, so a crash never leaves a half-written copy.
public struct FeedStore: Sendable {
    /// What is known about a stored copy.
    public struct Metadata: Sendable, Hashable, Codable {
        /// The source's name.
        public var name: String
        /// Where the copy was fetched from.
        public var location: String
        /// The detected format (`rpz`, `domains`, `hosts`, `adblock`).
        public var format: String
        /// Content hash of the text (``FeedStore/contentHash(_:)``).
        public var contentHash: String
        /// The RPZ SOA serial, when the source is a zone.
        public var serial: UInt32?
        /// Rules compiled from it.
        public var ruleCount: Int
        /// When this content was first loaded (seconds since 1970).
        public var loadedAt: Double
        /// When a fetch last confirmed this content was current (seconds since 1970).
        public var fetchedAt: Double

        /// Creates metadata.
        public init(name: String, location: String, format: String, contentHash: String, serial: UInt32?,
            ruleCount: Int, loadedAt: Double, fetchedAt: Double)
        {
            self.name = name
            self.location = location
            self.format = format
            self.contentHash = contentHash
            self.serial = serial
            self.ruleCount = ruleCount
            self.loadedAt = loadedAt
            self.fetchedAt = fetchedAt
        }
    }

    /// The directory holding the copies.
    public let directory: String

    /// A store in `directory` (created on the first save).
    public init(directory: String) {
        self.directory = directory
    }

    /// A file-name-safe form of a source name: other characters become `_`, and a hash keeps names that
    /// differ only in those characters apart.
    static func fileStem(_ name: String) -> String {
        var safe = ""
        var changed = false
        for c in name.unicodeScalars {
            if (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "-" || c == "_" {
                safe.unicodeScalars.append(c)
            } else {
                safe += "_"
                changed = true
            }
        }
        if changed || safe.isEmpty { safe += "-" + String(Self.fnv1a(Array(name.utf8)), radix: 16) }
        return safe
    }

    /// Path of a source's stored text.
    public func feedPath(for name: String) -> String { "\(self.directory)/\(Self.fileStem(name)).feed" }

    /// Path of a source's metadata.
    public func metadataPath(for name: String) -> String { "\(self.directory)/\(Self.fileStem(name)).meta.json" }

    /// The stored metadata, when there is a readable copy.
    public func metadata(for name: String) -> Metadata? {
        let path = self.metadataPath(for: name)
        guard access(self.feedPath(for: name), R_OK) == 0,
            let data = try? FileFeedFetcher.readFile(path, maxBytes: 1 << 20),
            let meta = try? JSONDecoder().decode(Metadata.self, from: Data(data))
        else { return nil }
        return meta
    }

    /// Saves a source's text and metadata, replacing the previous copy atomically.
    /// - Throws: ``PolicyLoadError`` `.storeFailed` naming the path and the system error.
    public func save(_ body: [UInt8], metadata: Metadata) throws(PolicyLoadError) {
        try self.makeDirectory(source: metadata.name)
        try self.writeAtomically(body, to: self.feedPath(for: metadata.name), source: metadata.name)
        try self.saveMetadata(metadata)
    }

    /// A source's text written and synced to a temporary file, not yet in place (``prepare(_:source:)``).
    public struct PreparedCopy: Sendable {
        /// The source's name.
        public let name: String
        /// Content hash of the text written (``FeedStore/contentHash(_:)``).
        public let contentHash: String
        fileprivate let temporaryPath: String
    }

    /// Writes and syncs `body` to a temporary file beside the source's copy, and hashes it, without replacing
    /// anything: ``commit(_:metadata:)`` puts it in place once the text has compiled, ``discard(_:)`` drops it.
    /// This lets the slow part of a save (the sync) run while the text compiles on the other core.
    /// - Throws: ``PolicyLoadError`` `.storeFailed` naming the path and the system error.
    public func prepare(_ body: [UInt8], source: String) throws(PolicyLoadError) -> PreparedCopy {
        try self.makeDirectory(source: source)
        let tmp = self.feedPath(for: source) + ".prepared"
        try self.writeSynced(body, to: tmp, source: source)
        return PreparedCopy(name: source, contentHash: Self.contentHash(body), temporaryPath: tmp)
    }

    /// Puts a prepared copy in place (an atomic rename) and writes its metadata.
    /// - Throws: ``PolicyLoadError`` `.storeFailed`.
    public func commit(_ prepared: PreparedCopy, metadata: Metadata) throws(PolicyLoadError) {
        try self.moveInPlace(prepared.temporaryPath, to: self.feedPath(for: prepared.name), source: prepared.name)
        try self.saveMetadata(metadata)
    }

    /// Deletes a prepared copy that will not be used (its text did not compile).
    public func discard(_ prepared: PreparedCopy) {
        unlink(prepared.temporaryPath)
    }

    /// Rewrites only the metadata (a refresh that found the same content).
    /// - Throws: ``PolicyLoadError`` `.storeFailed`.
    public func saveMetadata(_ metadata: Metadata) throws(PolicyLoadError) {
        try self.makeDirectory(source: metadata.name)
        let json: [UInt8]
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            json = Array(try encoder.encode(metadata))
        } catch {
            throw PolicyLoadError(.storeFailed, source: metadata.name, "cannot encode metadata: \(error)")
        }
        try self.writeAtomically(json, to: self.metadataPath(for: metadata.name), source: metadata.name)
    }

    /// Deletes a source's stored copy (a source removed from the configuration).
    public func remove(_ name: String) {
        unlink(self.feedPath(for: name))
        unlink(self.metadataPath(for: name))
    }

    private func makeDirectory(source: String) throws(PolicyLoadError) {
        var path = self.directory.hasPrefix("/") ? "" : "."
        for part in self.directory.split(separator: "/") {
            path += "/" + part
            if mkdir(path, 0o755) != 0 && errno != EEXIST {
                throw PolicyLoadError(.storeFailed, source: source,
                    "cannot create data directory \(path): \(String(cString: strerror(errno)))")
            }
        }
    }

    private func writeAtomically(_ bytes: [UInt8], to path: String, source: String) throws(PolicyLoadError) {
        let tmp = "\(path).tmp"
        try self.writeSynced(bytes, to: tmp, source: source)
        try self.moveInPlace(tmp, to: path, source: source)
    }

    /// Renames a synced temporary file over `path` (atomic); on failure the temporary file is removed.
    private func moveInPlace(_ tmp: String, to path: String, source: String) throws(PolicyLoadError) {
        guard rename(tmp, path) == 0 else {
            let e = PolicyLoadError(.storeFailed, source: source,
                "cannot rename \(tmp): \(String(cString: strerror(errno)))")
            unlink(tmp)
            throw e
        }
    }

    /// Writes `bytes` to `tmp` and syncs it (a copy must be on disk before it replaces the previous one).
    private func writeSynced(_ bytes: [UInt8], to tmp: String, source: String) throws(PolicyLoadError) {
        func failure(_ what: String) -> PolicyLoadError {
            PolicyLoadError(.storeFailed, source: source, "cannot \(what) \(tmp): \(String(cString: strerror(errno)))")
        }
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw failure("create") }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { raw -> Int in
                // Invariant: the loop only runs while bytes remain, so the buffer has a base address.
                guard let base = raw.baseAddress else { return 0 }
                return write(fd, base + written, raw.count - written)
            }
            if n < 0 {
                if errno == EINTR { continue }
                let e = failure("write")
                close(fd)
                unlink(tmp)
                throw e
            }
            written += n
        }
        // The copy must be on disk before it replaces the previous one.
        if fsync(fd) != 0 {
            let e = failure("sync")
            close(fd)
            unlink(tmp)
            throw e
        }
        close(fd)
    }

    /// FNV-1a 64-bit hash: fast change detection, not a security check.
    static func fnv1a(_ bytes: [UInt8]) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01B3
        }
        return h
    }

    /// The content hash recorded for a copy: `fnv1a64:` and 16 hex digits.
    public static func contentHash(_ bytes: [UInt8]) -> String {
        let hex = String(Self.fnv1a(bytes), radix: 16)
        return "fnv1a64:" + String(repeating: "0", count: 16 - hex.count) + hex
    }
}
