import CDirectUDP
public import Logging
public import NIOCore

/// Short scheduler time slices for the threads that answer queries.
///
/// Linux's fair scheduler (EEVDF, 6.6 and later) lets a thread that is running keep the CPU until its slice ends
/// (1.4 ms here) before a thread that just woke up gets it. A cache miss wakes two threads of Palisade (the UDP socket
/// thread, then its event loop) while the query log's writer may be busy on the same cores: right after a burst of
/// load, each wake-up then waited up to a slice, and the miss p99 at 2,000 QPS was 0.7–2.4 ms instead of 0.2
/// (BENCHMARKS.md, session 16). With a 0.1 ms slice (the kernel's minimum) a waking query thread gets an early deadline
/// and runs at once; its share of the CPU is unchanged (that is what nice sets). Any user may ask for it
/// (`sched_setattr` with `sched_runtime`, Linux 6.12 and later); on older kernels the request fails and is logged at
/// debug level, nothing else changes.
public enum SchedulerHints {
    /// The slice asked for: the kernel's minimum.
    public static let sliceNanoseconds: UInt64 = 100_000

    /// Asks for the short slice for the calling thread.
    public static func requestShortSlice(logger: Logger) {
        let r = pal_thread_slice(Self.sliceNanoseconds)
        if r < 0 {
            logger.debug("short scheduler slice not available", metadata: ["error": "\(DirectUDPSocket.describe(errno: -r))"])
        }
    }

    /// Asks for the short slice on every thread of `group` (the event loops).
    public static func requestShortSlices(on group: any EventLoopGroup, logger: Logger) {
        for loop in group.makeIterator() {
            loop.execute { Self.requestShortSlice(logger: logger) }
        }
    }
}
