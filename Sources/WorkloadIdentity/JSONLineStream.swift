import Foundation
public import NIOCore

/// A stream of newline-delimited JSON objects read from chunks of bytes (the Docker event stream, a
/// Kubernetes watch).
///
/// Each line comes out as a ``Line``; decoding it gives the value or a ``WorkloadIdentityError`` naming
/// the stream and the line number, and the stream goes on: one bad line never ends a watch.
public struct JSONLineStream<Chunks: AsyncSequence & Sendable>: AsyncSequence, Sendable where Chunks.Element == ByteBuffer {
    /// One line of the stream.
    public struct Line: Sendable {
        /// The stream's name, for messages.
        public var source: String
        /// 1-based line number.
        public var number: Int
        /// The bytes, or how long an over-long line was.
        public var content: LineSplitter.Output

        /// Decodes the line as `T`.
        public func decode<T: Decodable>(_ type: T.Type) -> Result<T, WorkloadIdentityError> {
            switch self.content {
            case .tooLong(let length):
                return .failure(WorkloadIdentityError(code: .lineTooLong,
                    message: "\(self.source) line \(self.number): longer than the limit (\(length) bytes), skipped"))
            case .line(let bytes):
                do {
                    return .success(try JSONDecoder().decode(type, from: Data(bytes)))
                } catch {
                    return .failure(WorkloadIdentityError(code: .decode,
                        message: "\(self.source) line \(self.number): not a valid \(type) "
                            + "(\(DockerEngineClient.describe(error))): \(String(decoding: bytes.prefix(120), as: UTF8.self))"))
                }
            }
        }
    }

    /// One line.
    public typealias Element = Line
    let chunks: Chunks
    let source: String
    let maxLineLength: Int

    /// Reads lines from `chunks`.
    /// - Parameters:
    ///   - chunks: the body, in arbitrary pieces.
    ///   - source: the stream's name in messages (`docker events on /run/podman.sock`).
    ///   - maxLineLength: longer lines are skipped and reported.
    public init(body chunks: Chunks, source: String, maxLineLength: Int = 4 << 20) {
        self.chunks = chunks
        self.source = source
        self.maxLineLength = maxLineLength
    }

    /// The iterator.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var chunks: Chunks.AsyncIterator
        var splitter: LineSplitter
        var pending: [LineSplitter.Output] = []
        var number = 0
        var finished = false
        let source: String

        /// The next line; nil at the end of the stream.
        /// - Throws: ``WorkloadIdentityError`` `.connect` when reading the body fails.
        public mutating func next() async throws -> Line? {
            while self.pending.isEmpty {
                if self.finished { return nil }
                let chunk: ByteBuffer?
                do {
                    chunk = try await self.chunks.next()
                } catch {
                    throw WorkloadIdentityError(code: .connect, message: "\(self.source): the stream broke",
                        underlying: UnderlyingError(error))
                }
                if let chunk {
                    self.pending = self.splitter.feed(chunk.readableBytesView)
                } else {
                    self.finished = true
                    self.pending = self.splitter.finish()
                }
            }
            self.number += 1
            return Line(source: self.source, number: self.number, content: self.pending.removeFirst())
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(chunks: self.chunks.makeAsyncIterator(), splitter: LineSplitter(maxLineLength: self.maxLineLength),
            source: self.source)
    }
}

/// An error from another library, kept as text so that ``WorkloadIdentityError`` stays `Sendable`.
struct UnderlyingError: Error, Sendable, CustomStringConvertible {
    var description: String
    init(_ error: any Error) { self.description = "\(error)" }
}
