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

/// A failure to read or write operator state (the quarantine registry, the operator rules) in the data
/// directory, or a request that the state refuses.
public struct OperatorStateError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case loadFailed, writeFailed, invalidArgument, conflict, limitReached
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The state file exists but cannot be read or parsed.
        public static let loadFailed = Code(.loadFailed)
        /// The state could not be saved; the change was not applied.
        public static let writeFailed = Code(.writeFailed)
        /// A value (domain, workload key) is malformed.
        public static let invalidArgument = Code(.invalidArgument)
        /// The change contradicts the current state (a domain already on the other list).
        public static let conflict = Code(.conflict)
        /// The state holds as many entries as it may.
        public static let limitReached = Code(.limitReached)

        /// Stable lower-case name of the code.
        public var description: String {
            switch self.base {
            case .loadFailed: "load-failed"
            case .writeFailed: "write-failed"
            case .invalidArgument: "invalid-argument"
            case .conflict: "conflict"
            case .limitReached: "limit-reached"
            }
        }
    }

    /// What kind of failure this is.
    public var code: Code
    /// What failed and where (file, field, value).
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `code: message`.
    public var description: String { "\(self.code): \(self.message)" }
}

/// Reads and atomically replaces one JSON state file (temporary file, fsync, rename), so a crash leaves
/// either the old or the new state, never half of one.
struct StateFile<Value: Codable & Sendable>: Sendable {
    let path: String

    /// The stored value, or nil when the file does not exist.
    func load() throws(OperatorStateError) -> Value? {
        guard FileManager.default.fileExists(atPath: self.path) else { return nil }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: self.path))
        } catch {
            throw OperatorStateError(.loadFailed, "cannot read \(self.path): \(error)")
        }
        do {
            return try JSONDecoder().decode(Value.self, from: data)
        } catch {
            throw OperatorStateError(
                .loadFailed, "\(self.path) is not valid state (\(error)); fix or remove the file and restart")
        }
    }

    /// Writes `value` to a temporary file next to the target and renames it into place.
    func save(_ value: Value) throws(OperatorStateError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let bytes: [UInt8]
        do {
            bytes = Array(try encoder.encode(value))
        } catch {
            throw OperatorStateError(.writeFailed, "cannot encode the state for \(self.path): \(error)")
        }
        let directory = self.path.lastIndex(of: "/").map { String(self.path[..<$0]) } ?? ""
        if !directory.isEmpty {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw OperatorStateError(.writeFailed, "cannot create \(directory): \(error)")
            }
        }
        let tmp = self.path + ".tmp"
        // Owner-only: the state names workloads and who acted on them.
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw OperatorStateError(.writeFailed, "cannot create \(tmp) (errno \(errno))") }
        var written = 0
        let ok = bytes.withUnsafeBytes { raw -> Bool in
            while written < raw.count {
                let n = write(fd, raw.baseAddress.map { $0 + written }, raw.count - written)
                if n <= 0 { return false }
                written += n
            }
            return fsync(fd) == 0
        }
        close(fd)
        guard ok else {
            unlink(tmp)
            throw OperatorStateError(.writeFailed, "cannot write \(tmp) (errno \(errno))")
        }
        guard rename(tmp, self.path) == 0 else {
            unlink(tmp)
            throw OperatorStateError(.writeFailed, "cannot rename \(tmp) to \(self.path) (errno \(errno))")
        }
    }
}
