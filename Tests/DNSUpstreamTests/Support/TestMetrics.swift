import CoreMetrics
import Synchronization

/// An in-memory metrics backend: tests read counters, gauges and timers by label and dimensions.
final class TestMetrics: MetricsFactory, Sendable {
    private let handlers = Mutex<[String: Handler]>([:])

    final class Handler: CounterHandler, FloatingPointCounterHandler, RecorderHandler, TimerHandler, MeterHandler,
        Sendable
    {
        private let values = Mutex<(count: Int64, last: Double, samples: Int)>((0, 0, 0))
        func increment(by amount: Int64) { self.values.withLock { $0.count += amount } }
        func increment(by amount: Double) { self.values.withLock { $0.last += amount } }
        func decrement(by amount: Double) { self.values.withLock { $0.last -= amount } }
        func reset() { self.values.withLock { $0 = (0, 0, 0) } }
        func record(_ value: Int64) { self.record(Double(value)) }
        func record(_ value: Double) {
            self.values.withLock {
                $0.last = value
                $0.samples += 1
            }
        }
        func set(_ value: Int64) { self.record(value) }
        func set(_ value: Double) { self.record(value) }
        func recordNanoseconds(_ duration: Int64) { self.record(duration) }
        var count: Int64 { self.values.withLock { $0.count } }
        var last: Double { self.values.withLock { $0.last } }
        var samples: Int { self.values.withLock { $0.samples } }
    }

    private static func key(_ label: String, _ dimensions: [(String, String)]) -> String {
        label + "{" + dimensions.sorted { $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" }.joined(separator: ",") + "}"
    }

    private func handler(_ label: String, _ dimensions: [(String, String)]) -> Handler {
        self.handlers.withLock { h in
            let k = Self.key(label, dimensions)
            if let existing = h[k] { return existing }
            let n = Handler()
            h[k] = n
            return n
        }
    }

    /// A counter's value (0 when never created).
    func counter(_ label: String, _ dimensions: [(String, String)]) -> Int64 {
        self.handlers.withLock { $0[Self.key(label, dimensions)]?.count ?? 0 }
    }

    /// A gauge's last value (nil when never created).
    func gauge(_ label: String, _ dimensions: [(String, String)]) -> Double? {
        self.handlers.withLock { $0[Self.key(label, dimensions)]?.last }
    }

    /// How many samples a timer recorded.
    func timerSamples(_ label: String, _ dimensions: [(String, String)]) -> Int {
        self.handlers.withLock { $0[Self.key(label, dimensions)]?.samples ?? 0 }
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler { self.handler(label, dimensions) }
    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        self.handler(label, dimensions)
    }
    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler { self.handler(label, dimensions) }
    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        self.handler(label, dimensions)
    }
    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler { self.handler(label, dimensions) }
    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {}
    func destroyMeter(_ handler: any MeterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}
}
