internal import DNSWire
import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The text a zone-reading thread parses: bytes already in memory, or a file read from its current offset.
package enum ZoneText: @unchecked Sendable {
    /// Bytes that stay valid until the compile that reads them returns.
    case memory(UnsafeBufferPointer<UInt8>)
    /// An open file, after `prefix` (bytes the caller read already), closed by the caller after the compile returns.
    case file(descriptor: Int32, path: String, prefix: [UInt8])
}

/// Runs an RPZ zone's ``ZoneFileReader`` and ``RPZCompiler/Classifier`` on a second thread and hands the classified
/// records, in order and in batches, to the thread that places them in the index.
///
/// Loading a 1M-rule zone spends about 40 % of its CPU reading and classifying records and the rest placing rules in
/// the index; the two share nothing but the stream of records, so on two cores they overlap. The stream is flat: a
/// special action on a name trigger (nearly every record of a threat feed) crosses as a few bytes, so the records
/// themselves are made and freed on the reading thread (handing them over costs more in reference counting across
/// cores than it saves); local data and IP triggers cross as records.
///
/// The stream ends with the reader and classifier (with the parse errors collected) or with the first error when the
/// reader stops on errors. The consumer must call ``next()`` until it returns an end, even after ``cancel()``: the
/// reading thread may still be using the text.
final class ZoneReadingThread: Sendable {
    /// Classified records in their order.
    struct Batch: Sendable {
        static let recordTag: UInt8 = 0xFF
        /// Name entries (see ``NameEntry``), and ``recordTag`` where the next of ``records`` comes in order.
        var names: [UInt8] = []
        var records: [(ResourceRecord, RPZCompiler.Classified, Int)] = []
        var count = 0

        init() {
            self.names.reserveCapacity(ZoneReadingThread.batchSize * 40)
        }

        /// A special action on a name trigger: special position, kind, slot, labels, line (4 bytes), key length,
        /// key.
        struct NameEntry {
            var special: Int
            var kind: RPZTrigger
            var slot: NameIndex.Slot
            var labels: Int
            var line: Int
            var keyStart: Int
            var end: Int

            init(_ b: UnsafeBufferPointer<UInt8>, at p: Int) {
                self.special = Int(b[p])
                self.kind = b[p + 1] == 1 ? .nsdname : .qname
                self.slot = b[p + 2] == 1 ? .below : .exact
                self.labels = Int(b[p + 3])
                self.line = Int(b[p + 4]) | Int(b[p + 5]) << 8 | Int(b[p + 6]) << 16 | Int(b[p + 7]) << 24
                self.keyStart = p + 9
                self.end = self.keyStart + Int(b[p + 8])
            }
        }

        mutating func append(_ rr: ResourceRecord, _ classified: RPZCompiler.Classified, line: Int) {
            self.count += 1
            if case .special(let special, let t) = classified, t.kind == .qname || t.kind == .nsdname,
                line <= Int(UInt32.max), t.labels < 256
            {
                self.names.append(UInt8(special))
                self.names.append(t.kind == .nsdname ? 1 : 0)
                self.names.append(t.slot == .below ? 1 : 0)
                self.names.append(UInt8(t.labels))
                withUnsafeBytes(of: UInt32(line).littleEndian) { self.names.append(contentsOf: $0) }
                self.names.append(UInt8(t.keyEnd - t.keyStart))
                rr.name.wire.withUnsafeBufferPointer { w in
                    self.names.append(contentsOf: UnsafeBufferPointer(rebasing: w[t.keyStart..<t.keyEnd]))
                }
                return
            }
            self.names.append(Self.recordTag)
            self.records.append((rr, classified, line))
        }
    }

    /// How the reading ended.
    enum Outcome: Sendable {
        /// The whole text was read; the reader holds the errors it collected.
        case finished
        /// The reader stopped on its first error (`.stop` mode), after handing over every record before it.
        case failed(ZoneFileError)
        /// The file could not be read.
        case unreadable(String)
        /// ``cancel()`` was called.
        case cancelled
    }

    /// The end of the stream: how it ended, and the reader and classifier, to be carried on by the compiler.
    struct End: Sendable {
        var outcome: Outcome
        var reader: ZoneFileReader
        var classifier: RPZCompiler.Classifier
    }

    enum Item: Sendable {
        case batch(Batch)
        case end(End)
    }

    /// Records per batch: enough that the hand-over (a lock and two semaphores) is noise. Batches are allocated in
    /// the reading thread's malloc arena, and the top of a thread's arena is not given back once the index's large
    /// arrays have raised glibc's trim threshold: batches of 4,096 records, 8 waiting, left 1 MiB more resident after
    /// loading a 1M-rule zone than one thread did.
    static let batchSize = 1024
    /// How many batches may wait: bounds the records held at once when the reader runs ahead.
    static let depth = 4
    /// Bytes given to the reader at a time; the thread checks for cancellation between windows.
    private let window: Int

    private let queue = Mutex<[Item]>([])
    private let ready = DispatchSemaphore(value: 0)
    private let space = DispatchSemaphore(value: ZoneReadingThread.depth)
    private let cancelled = Atomic<Bool>(false)

    /// Starts reading `text` with `reader` and `classifier` on a new thread.
    init(reader: ZoneFileReader, classifier: RPZCompiler.Classifier, text: ZoneText, window: Int) {
        self.window = Swift.max(1, window)
        let thread = self
        DispatchQueue.global(qos: .userInitiated).async {
            var state = State(reader: reader, classifier: classifier)
            let outcome: Outcome
            switch text {
            case .memory(let bytes): outcome = thread.read(bytes, &state)
            case .file(let fd, let path, let prefix): outcome = thread.read(fd, path: path, prefix: prefix, &state)
            }
            thread.push(.end(End(outcome: outcome, reader: state.reader, classifier: state.classifier)))
        }
    }

    /// The reading thread's state.
    private struct State {
        var reader: ZoneFileReader
        var classifier: RPZCompiler.Classifier
        var batch = Batch()
    }

    /// The next batch or the end, waiting for it.
    func next() -> Item {
        self.ready.wait()
        let item = self.queue.withLock { $0.removeFirst() }
        self.space.signal()
        return item
    }

    /// Asks the reading thread to stop at its next batch; keep calling ``next()`` until the end.
    func cancel() {
        self.cancelled.store(true, ordering: .relaxed)
    }

    private var isCancelled: Bool { self.cancelled.load(ordering: .relaxed) }

    private func push(_ item: Item) {
        self.space.wait()
        self.queue.withLock { $0.append(item) }
        self.ready.signal()
    }

    /// Why the reading thread throws out of the reader after ``cancel()``.
    private static let stop = ZoneFileError(.rejected, "cancelled", file: "", line: 0)

    /// Reads `chunk`, handing over full batches as they fill; returns the bytes consumed.
    private func read(_ chunk: UnsafeBufferPointer<UInt8>, final: Bool, _ state: inout State)
        throws(ZoneFileError) -> Int
    {
        try state.reader.read(chunk, isFinal: final) { (rr, line) throws(ZoneFileError) in
            // A record the classifier refuses is the reader's error, in its place, as when compiling on one thread.
            guard let classified = try state.classifier.classify(rr, line: line) else { return }
            state.batch.append(rr, classified, line: line)
            if state.batch.count == Self.batchSize {
                // In collect mode the reader records this throw as an error and goes on: the window loop stops it.
                if self.isCancelled { throw Self.stop }
                self.push(.batch(state.batch))
                state.batch = Batch()
            }
        }
    }

    private func finish(_ state: inout State, _ outcome: Outcome) -> Outcome {
        if self.isCancelled { return .cancelled }
        if state.batch.count > 0 { self.push(.batch(state.batch)) }
        state.batch = Batch()
        return outcome
    }

    private func read(_ bytes: UnsafeBufferPointer<UInt8>, _ state: inout State) -> Outcome {
        var pos = 0
        var window = self.window
        do {
            while pos < bytes.count && !self.isCancelled {
                let end = Swift.min(bytes.count, pos + window)
                let final = end == bytes.count
                let used = try self.read(UnsafeBufferPointer(rebasing: bytes[pos..<end]), final: final, &state)
                // An entry longer than the window (a huge TXT record, say): retry with a larger one.
                window = used == 0 && !final ? window * 2 : self.window
                pos += used
                if final { break }
            }
        } catch {
            return self.finish(&state, .failed(error))
        }
        return self.finish(&state, .finished)
    }

    private func read(_ fd: Int32, path: String, prefix: [UInt8], _ state: inout State) -> Outcome {
        var buffer = prefix
        var atEnd = false
        do {
            while !self.isCancelled {
                // Add a window of unread text to what the reader left (an entry not finished yet), unless at the end.
                let filled = buffer.count
                let want = self.window
                buffer.append(contentsOf: repeatElement(0, count: want))
                var got = 0
                while !atEnd && got < want {
                    let n = buffer.withUnsafeMutableBytes { readFile(fd, $0.baseAddress! + filled + got, want - got) }
                    if n < 0 {
                        if errno == EINTR { continue }
                        let reason = String(cString: strerror(errno))
                        return self.finish(&state, .unreadable("cannot read \(path): \(reason)"))
                    }
                    if n == 0 { atEnd = true }
                    got += n
                }
                buffer.removeLast(want - got)
                let used = try buffer.withUnsafeBufferPointer { (b) throws(ZoneFileError) -> Int in
                    try self.read(b, final: atEnd, &state)
                }
                if atEnd { break }
                buffer.removeFirst(used)
            }
        } catch {
            return self.finish(&state, .failed(error))
        }
        return self.finish(&state, .finished)
    }
}

/// `read(2)`, out of reach of the methods named `read` above.
private func readFile(_ fd: Int32, _ into: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(fd, into, count)
}
