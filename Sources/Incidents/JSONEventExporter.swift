public import DNSPipeline
public import Logging
import Metrics
import NIOPosix
public import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes one JSON Event object (the API contract's shape) per line to stdout or a file, for log shippers.
///
/// `emit` only appends to a bounded queue under a lock; a background service writes the lines in large
/// `write(2)` calls on NIO's blocking-I/O thread pool (a full pipe on stdout may block that thread, never the
/// DNS path nor the other sinks). A full queue drops the event and counts it. Each line's `id` is a
/// sequence number assigned when the event was offered, dropped or not, so a gap in the ids shows a loss.
/// ``reopen()`` (called on SIGHUP) closes and reopens the file at the next flush, for log rotation.
///
/// Metrics: `palisade_export_json_written_total`, `palisade_export_json_dropped_total` (queue full or failed
/// write), `palisade_export_json_write_errors_total`, `palisade_export_json_queue_depth`.
public final class JSONEventExporter: QueryEventSink, Service {
    /// Where the lines go.
    public enum Destination: Sendable, Equatable, CustomStringConvertible {
        /// The process's standard output (`path: "-"`).
        case standardOutput
        /// A file, created if missing, appended to, reopened on SIGHUP.
        case file(String)

        /// `-` means standard output; anything else is a file path.
        public init(path: String) {
            self = path == "-" ? .standardOutput : .file(path)
        }

        public var description: String {
            switch self {
            case .standardOutput: "-"
            case .file(let p): p
            }
        }
    }

    /// Counters since the exporter was created.
    public struct Statistics: Sendable, Hashable {
        /// Lines written.
        public var written: Int
        /// Events lost: queue full, or in a write that failed.
        public var dropped: Int
        /// Failed writes or reopens.
        public var writeErrors: Int
        /// Events waiting now.
        public var queued: Int
    }

    /// Why the exporter could not start.
    public struct OpenError: Error, CustomStringConvertible, Sendable {
        /// The file and the system's reason.
        public var description: String
    }

    private struct State {
        var pending: [(id: Int64, event: QueryEvent)] = []
        var nextID: Int64 = 1
        var written = 0
        var dropped = 0
        var writeErrors = 0
        var reopenRequested = false
    }

    private struct Output {
        var fd: Int32
    }

    /// The destination.
    public let destination: Destination
    private let capacity: Int
    private let flushInterval: Duration
    private let logger: Logger
    private let state = Mutex(State())
    /// Held while writing, so two flushes never interleave their lines.
    private let output: Mutex<Output>

    private let writtenCounter = Counter(label: "palisade_export_json_written_total")
    private let droppedCounter = Counter(label: "palisade_export_json_dropped_total")
    private let errorCounter = Counter(label: "palisade_export_json_write_errors_total")
    private let depthGauge = Gauge(label: "palisade_export_json_queue_depth")

    /// Opens the destination (so a bad path fails at startup, not at the first query).
    /// - Parameters:
    ///   - destination: stdout or a file.
    ///   - queueCapacity: events held before new ones are dropped (at least 1).
    ///   - flushInterval: time between writes in ``run()``.
    ///   - logger: for write failures.
    /// - Throws: ``OpenError`` naming the file when it cannot be opened for appending.
    public init(destination: Destination, queueCapacity: Int = 10_000, flushInterval: Duration = .milliseconds(100),
        logger: Logger = Logger(label: "palisade.export")) throws(OpenError)
    {
        self.destination = destination
        self.capacity = max(1, queueCapacity)
        self.flushInterval = flushInterval
        self.logger = logger
        // A reader that goes away (a log shipper on the other end of stdout or of a named pipe) must cost dropped,
        // counted lines, not the process: without this, the next write(2) raises SIGPIPE, whose default action
        // terminates. Process-wide, as servers usually do; NIO's sockets already avoid the signal themselves.
        signal(SIGPIPE, SIG_IGN)
        switch destination {
        case .standardOutput:
            self.output = Mutex(Output(fd: STDOUT_FILENO))
        case .file(let path):
            let fd = Self.openForAppend(path)
            guard fd >= 0 else {
                throw OpenError(description: "cannot open JSON export file \(path) for appending: \(Self.errorText())")
            }
            self.output = Mutex(Output(fd: fd))
        }
    }

    deinit {
        let fd = self.output.withLock { $0.fd }
        if case .file = self.destination, fd >= 0 { _ = close(fd) }
    }

    /// Room left in the queue: the buffer in front hands over no more than this per drain.
    public var spareCapacity: Int {
        self.state.withLock { self.capacity - $0.pending.count }
    }

    /// Queues `event`; never blocks. Returns false when the queue was full (the event is dropped and counted).
    @discardableResult
    public func emit(_ event: QueryEvent) -> Bool {
        let accepted = self.state.withLock { s -> Bool in
            let id = s.nextID
            s.nextID += 1
            guard s.pending.count < self.capacity else {
                s.dropped += 1
                return false
            }
            s.pending.append((id, event))
            return true
        }
        if !accepted { self.droppedCounter.increment() }
        return accepted
    }

    /// Asks for the file to be closed and reopened before the next write (log rotation; SIGHUP).
    public func reopen() {
        self.state.withLock { $0.reopenRequested = true }
    }

    /// Counters and the queue depth.
    public var statistics: Statistics {
        self.state.withLock {
            Statistics(written: $0.written, dropped: $0.dropped, writeErrors: $0.writeErrors, queued: $0.pending.count)
        }
    }

    /// Writes everything queued now. Blocking I/O: ``run()`` calls it on NIO's thread pool.
    public func flush() {
        let (batch, reopen) = self.state.withLock { s -> ([(id: Int64, event: QueryEvent)], Bool) in
            let taken = s.pending
            s.pending = []
            s.pending.reserveCapacity(min(self.capacity, 4096))
            let r = s.reopenRequested
            s.reopenRequested = false
            return (taken, r)
        }
        self.depthGauge.record(batch.count)
        self.output.withLock { out in
            if reopen, case .file(let path) = self.destination {
                let fd = Self.openForAppend(path)
                if fd >= 0 {
                    _ = close(out.fd)
                    out.fd = fd
                    self.logger.info("JSON export file reopened", metadata: ["file": "\(path)"])
                } else {
                    self.state.withLock { $0.writeErrors += 1 }
                    self.errorCounter.increment()
                    self.logger.warning("cannot reopen the JSON export file; still writing to the old one",
                        metadata: ["file": "\(path)", "error": "\(Self.errorText())"])
                }
            }
            guard !batch.isEmpty else { return }
            // About 64 KiB per write(2): few system calls, bounded memory.
            var chunk: [UInt8] = []
            chunk.reserveCapacity(80 * 1024)
            var inChunk = 0
            var written = 0
            var lost = 0
            for (i, item) in batch.enumerated() {
                EventJSON.appendLine(item.event, id: item.id, to: &chunk)
                inChunk += 1
                if chunk.count >= 64 * 1024 || i == batch.count - 1 {
                    if Self.writeAll(out.fd, chunk) {
                        written += inChunk
                    } else {
                        lost += inChunk
                    }
                    chunk.removeAll(keepingCapacity: true)
                    inChunk = 0
                }
            }
            self.state.withLock {
                $0.written += written
                $0.dropped += lost
                if lost > 0 { $0.writeErrors += 1 }
            }
            self.writtenCounter.increment(by: written)
            if lost > 0 {
                self.droppedCounter.increment(by: lost)
                self.errorCounter.increment()
                self.logger.warning("JSON export write failed; events dropped",
                    metadata: ["file": "\(self.destination)", "error": "\(Self.errorText())", "export.events": "\(lost)"])
            }
        }
    }

    /// Writes every flush interval until graceful shutdown or cancellation, then writes what is left.
    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: self.flushInterval)
                await self.flushOffThread()
            }
        }
        await self.flushOffThread()
    }

    private func flushOffThread() async {
        do {
            try await NIOThreadPool.singleton.runIfActive { self.flush() }
        } catch {
            // The pool is shut down only at process exit; write here rather than lose the events.
            self.flush()
        }
    }

    private static func openForAppend(_ path: String) -> Int32 {
        open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                // Invariant: offset < raw.count, so the base address is non-nil and the range is in bounds.
                let n = write(fd, raw.baseAddress.map { $0 + offset }, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += n
            }
            return true
        }
    }

    private static func errorText() -> String {
        String(cString: strerror(errno))
    }
}
