/// The queries outstanding on one TCP/TLS connection, keyed by message ID (RFC 7766 §7: replies may
/// come back in any order and are matched by ID).
///
/// A plain value so the ID bookkeeping is unit-tested without a channel.
package struct StreamInFlight<Entry> {
    private var entries: [UInt16: Entry] = [:]

    /// Creates an empty table.
    package init() {}

    /// Number of outstanding queries.
    package var count: Int { self.entries.count }

    /// Whether nothing is outstanding.
    package var isEmpty: Bool { self.entries.isEmpty }

    /// A random ID not used by any outstanding query; nil when all 65536 are in use.
    ///
    /// IDs stay unpredictable on a stream too: a TCP connection to a forwarder can be long-lived and
    /// shared, and a guessable ID is the first step of every cache-poisoning recipe.
    package func unusedID<G: RandomNumberGenerator>(using generator: inout G) -> UInt16? {
        guard self.entries.count < 65536 else { return nil }
        // With at most a few hundred entries a random probe almost always hits a free ID at once;
        // the linear walk after 16 misses keeps the worst case bounded.
        for _ in 0..<16 {
            let id = UInt16.random(in: .min ... .max, using: &generator)
            if self.entries[id] == nil { return id }
        }
        var id = UInt16.random(in: .min ... .max, using: &generator)
        while self.entries[id] != nil { id &+= 1 }
        return id
    }

    /// Registers an outstanding query.
    package mutating func insert(_ entry: Entry, id: UInt16) {
        self.entries[id] = entry
    }

    /// The entry for `id`, if any, without removing it.
    package func peek(_ id: UInt16) -> Entry? { self.entries[id] }

    /// Removes and returns the entry for `id`.
    package mutating func remove(_ id: UInt16) -> Entry? {
        self.entries.removeValue(forKey: id)
    }

    /// Removes and returns every entry (the connection is going away).
    package mutating func removeAll() -> [Entry] {
        defer { self.entries = [:] }
        return Array(self.entries.values)
    }
}
