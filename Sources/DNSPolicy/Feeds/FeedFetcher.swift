#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Fetches the current text of a policy source. The file implementation lives here; the HTTP(S) one is
/// supplied by the runtime, which owns the network stack.
public protocol FeedFetcher: Sendable {
    /// Returns the whole body at `location` (a path or URL).
    /// - Throws: any error; the source keeps its last good copy and records the error's description.
    func fetch(_ location: String) async throws -> [UInt8]
}

/// Why a fetch failed, for fetchers in this module.
public struct FeedFetchError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Human-readable reason naming the location.
    public var message: String

    /// Creates an error.
    public init(_ message: String) {
        self.message = message
    }

    /// The message.
    public var description: String { self.message }
}

/// Reads a local file: a plain path or a `file://` URL. Other schemes are refused.
public struct FileFeedFetcher: FeedFetcher {
    /// The largest file accepted (a guard against reading a device or a runaway file). Default: 2 GiB.
    public var maxBytes: Int

    /// Creates a fetcher.
    public init(maxBytes: Int = 2 << 30) {
        self.maxBytes = maxBytes
    }

    /// The path a location names, or nil for a URL scheme this fetcher does not handle.
    public static func path(of location: String) -> String? {
        if location.hasPrefix("file://") { return String(location.dropFirst("file://".count)) }
        if location.contains("://") { return nil }
        return location
    }

    /// Reads the whole file.
    /// - Throws: ``FeedFetchError`` naming the path and the system error.
    public func fetch(_ location: String) async throws -> [UInt8] {
        guard let path = Self.path(of: location) else {
            throw FeedFetchError("cannot fetch \(location): only local files are supported by this fetcher")
        }
        return try Self.readFile(path, maxBytes: self.maxBytes)
    }

    static func readFile(_ path: String, maxBytes: Int) throws(FeedFetchError) -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw FeedFetchError("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FeedFetchError("cannot stat \(path): \(String(cString: strerror(errno)))") }
        guard Int(st.st_size) <= maxBytes else { throw FeedFetchError("\(path) is larger than \(maxBytes) bytes") }
        var out: [UInt8] = []
        out.reserveCapacity(Int(st.st_size))
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let got = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if got < 0 {
                if errno == EINTR { continue }
                throw FeedFetchError("cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if got == 0 { break }
            guard out.count + got <= maxBytes else { throw FeedFetchError("\(path) is larger than \(maxBytes) bytes") }
            out.append(contentsOf: buffer[0..<got])
        }
        return out
    }
}

/// Sends `http://` and `https://` locations to a remote fetcher and everything else to a ``FileFeedFetcher``,
/// so one fetcher serves a mixed source list.
public struct RoutingFeedFetcher: FeedFetcher {
    /// Fetches HTTP(S) locations (the runtime's HTTP client).
    public var remote: any FeedFetcher
    /// Fetches paths and `file://` URLs.
    public var local: FileFeedFetcher

    /// Creates a routing fetcher.
    public init(remote: any FeedFetcher, local: FileFeedFetcher = FileFeedFetcher()) {
        self.remote = remote
        self.local = local
    }

    /// Fetches from the fetcher that handles the location's scheme.
    /// - Throws: whatever that fetcher throws.
    public func fetch(_ location: String) async throws -> [UInt8] {
        let lower = location.lowercased()
        if lower.hasPrefix("http://") || lower.hasPrefix("https://") { return try await self.remote.fetch(location) }
        return try await self.local.fetch(location)
    }
}
