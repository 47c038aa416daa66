/// Splits a byte stream into lines (LF, optional CR), for the Docker event stream and the Kubernetes
/// watch stream (one JSON object per line, arriving in arbitrary chunks).
///
/// A line longer than `maxLineLength` is skipped up to its end and reported once, so a hostile or broken
/// server cannot make Palisade buffer without bound; the lines after it are still read.
public struct LineSplitter: Sendable {
    /// One piece of output.
    public enum Output: Sendable, Equatable {
        /// A complete line without its terminator (empty lines are dropped).
        case line([UInt8])
        /// A line longer than the limit was dropped; `length` is how much of it was seen.
        case tooLong(length: Int)
    }

    /// The longest line kept.
    public let maxLineLength: Int
    private var buffer: [UInt8] = []
    private var discarding = false
    private var discarded = 0

    /// Creates a splitter.
    public init(maxLineLength: Int = 4 << 20) {
        self.maxLineLength = maxLineLength
    }

    /// Feeds `bytes` and returns the lines they complete.
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [Output] {
        var out: [Output] = []
        for b in bytes {
            if b == 0x0A {
                if self.discarding {
                    out.append(.tooLong(length: self.discarded))
                    self.discarding = false
                    self.discarded = 0
                } else {
                    if self.buffer.last == 0x0D { self.buffer.removeLast() }
                    if !self.buffer.isEmpty { out.append(.line(self.buffer)) }
                }
                self.buffer.removeAll(keepingCapacity: true)
                continue
            }
            if self.discarding {
                self.discarded += 1
                continue
            }
            self.buffer.append(b)
            if self.buffer.count > self.maxLineLength {
                self.discarding = true
                self.discarded = self.buffer.count
                self.buffer.removeAll()
            }
        }
        return out
    }

    /// What is left when the stream ends: a last line without a terminator.
    public mutating func finish() -> [Output] {
        defer {
            self.buffer = []
            self.discarding = false
            self.discarded = 0
        }
        if self.discarding { return [.tooLong(length: self.discarded)] }
        if self.buffer.last == 0x0D { self.buffer.removeLast() }
        return self.buffer.isEmpty ? [] : [.line(self.buffer)]
    }
}
