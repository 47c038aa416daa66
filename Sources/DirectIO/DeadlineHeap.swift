import NIOCore

/// Values ordered by deadline, earliest first (a binary min-heap): for timers that do not arrive in deadline order.
public struct DeadlineHeap<Value> {
    private var items: [(deadline: NIODeadline, value: Value)] = []

    public init() {}

    /// How many values are held.
    public var count: Int { self.items.count }

    /// The earliest deadline held; nil when empty.
    public var earliest: NIODeadline? { self.items.first?.deadline }

    /// Adds `value`, due at `deadline`.
    public mutating func insert(_ value: Value, at deadline: NIODeadline) {
        self.items.append((deadline, value))
        var i = self.items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard self.items[i].deadline < self.items[parent].deadline else { break }
            self.items.swapAt(i, parent)
            i = parent
        }
    }

    /// Removes and returns the earliest value when its deadline is at or before `now`; nil otherwise.
    public mutating func popDue(_ now: NIODeadline) -> Value? {
        guard let first = self.items.first, first.deadline <= now else { return nil }
        let last = self.items.removeLast()
        guard !self.items.isEmpty else { return first.value }
        self.items[0] = last
        var i = 0
        while true {
            let l = 2 * i + 1
            let r = l + 1
            var smallest = i
            if l < self.items.count, self.items[l].deadline < self.items[smallest].deadline { smallest = l }
            if r < self.items.count, self.items[r].deadline < self.items[smallest].deadline { smallest = r }
            guard smallest != i else { break }
            self.items.swapAt(i, smallest)
            i = smallest
        }
        return first.value
    }

    /// Removes every value.
    public mutating func removeAll() { self.items.removeAll() }
}
