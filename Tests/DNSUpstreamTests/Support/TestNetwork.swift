import NIOCore
import NIOPosix
import TestSupport

extension TestNetwork {
    /// The event loop group the NIO-based fake servers use (the process-wide singleton: no threads per test).
    static var group: any EventLoopGroup { MultiThreadedEventLoopGroup.singleton }
}
