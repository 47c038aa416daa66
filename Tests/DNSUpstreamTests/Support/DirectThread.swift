import CDirectUDP
import DirectIO
@testable import DNSUpstream
import DNSWire
import Foundation
import NIOCore
import Synchronization
import TestSupport
import Testing

/// A thread that runs a ``DirectLoop``, as a direct UDP listener's socket thread does (without a listening socket):
/// pool queries are posted to it and run there, on the upstream sockets the loop keeps (``DirectUpstreams``).
final class DirectThread: @unchecked Sendable {
    // @unchecked: the loop's state is used on the thread only (work reaches it through `post`).
    let loop: DirectLoop
    private let wake: Int32
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let thread = Mutex<pthread_t?>(nil)

    init() throws {
        self.wake = pal_wake_create()
        try #require(self.wake >= 0)
        self.loop = try DirectLoop(home: TestNetwork.group.next(), wake: self.wake)
        Thread.detachNewThread { [self] in
            self.thread.withLock { $0 = pthread_self() }
            var tags = [UInt64](repeating: 0, count: 64)
            while !self.stopping.load(ordering: .acquiring) {
                _ = self.loop.runRound(tags: &tags, before: {}, other: { _ in })
            }
            self.loop.close()
            self.finished.signal()
        }
    }

    /// Whether the caller is this thread.
    var isCurrent: Bool { self.thread.withLock { $0.map { pthread_equal($0, pthread_self()) != 0 } ?? false } }

    /// Stops the thread after its current round and waits for it.
    func stop() {
        self.stopping.store(true, ordering: .releasing)
        pal_wake_signal(self.wake)
        self.finished.wait()
        close(self.wake)
    }

    /// The outcome of ``UpstreamPool/query(_:via:completion:)`` started on the thread, and whether the completion ran
    /// there.
    func query(_ pool: UpstreamPool, _ message: DNSMessage) async -> (Result<UpstreamAnswer, UpstreamError>, Bool) {
        let results = await self.queries(pool, [message])
        return results[0]
    }

    /// Several queries started in one round (their datagrams leave together).
    func queries(_ pool: UpstreamPool, _ messages: [DNSMessage]) async
        -> [(Result<UpstreamAnswer, UpstreamError>, Bool)]
    {
        let wires = messages.map { QueryWire($0)! }
        return await withCheckedContinuation { continuation in
            let results = Mutex([Int: (Result<UpstreamAnswer, UpstreamError>, Bool)]())
            self.loop.post {
                for (i, wire) in wires.enumerated() {
                    pool.query(wire, on: self.loop) { result in
                        let all = results.withLock { r -> [(Result<UpstreamAnswer, UpstreamError>, Bool)]? in
                            r[i] = (result, self.isCurrent)
                            return r.count == wires.count ? (0..<wires.count).map { r[$0]! } : nil
                        }
                        if let all { continuation.resume(returning: all) }
                    }
                }
            }
        }
    }

    /// Upstream sockets open on the thread.
    func openSockets() async -> Int {
        await withCheckedContinuation { c in
            self.loop.post { c.resume(returning: DirectUpstreams.on(self.loop).openSockets) }
        }
    }
}

/// The two paths on which the pool runs a query without a task: a SwiftNIO event loop, or a direct UDP listener's
/// thread (``DirectLoop``). The rules they share are tested on both.
enum PoolPath: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case eventLoop = "event loop"
    case direct = "direct thread"

    var testDescription: String { self.rawValue }

    /// The outcome of one query on this path (a direct thread is started for it and stopped after), and whether the
    /// completion ran on the path's thread.
    func query(_ pool: UpstreamPool, _ message: DNSMessage) async throws
        -> (Result<UpstreamAnswer, UpstreamError>, Bool)
    {
        switch self {
        case .eventLoop:
            return await OnLoop.query(pool, message)
        case .direct:
            let thread = try DirectThread()
            defer { thread.stop() }
            return await thread.query(pool, message)
        }
    }

    /// `count` concurrent queries for `name(i)`, all started in one round of the path's thread.
    func queries(_ pool: UpstreamPool, count: Int, name: @escaping @Sendable (Int) -> String) async throws
        -> [Int: Result<UpstreamAnswer, UpstreamError>]
    {
        switch self {
        case .eventLoop:
            return await OnLoop.queries(pool, count: count, name: name)
        case .direct:
            let thread = try DirectThread()
            defer { thread.stop() }
            let results = await thread.queries(pool, try (0..<count).map { try Fixtures.query(name($0)) })
            return Dictionary(uniqueKeysWithValues: results.enumerated().map { ($0.offset, $0.element.0) })
        }
    }
}
