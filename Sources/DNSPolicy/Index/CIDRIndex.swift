package import DNSWire

/// Longest-prefix matching of IPv4 and IPv6 addresses against a set of networks, each with a value.
///
/// One sorted array of networks per prefix length that occurs, searched from the longest length down
/// with a binary search each: allocation-free, and IP triggers are few compared with name triggers.
package struct CIDRIndex: Sendable {
    /// A match: the stored value and the network that matched.
    package struct Match: Sendable, Hashable {
        /// The value stored with the network.
        package var value: UInt32
        /// Prefix length of the network.
        package var prefixLength: Int
        /// The network address (host bits zero).
        package var network: IPAddress
    }

    private struct V4Bucket: Sendable {
        var length: Int
        var mask: UInt32
        var networks: [UInt32]
        var values: [UInt32]
    }

    private struct V6Bucket: Sendable {
        var length: Int
        var maskHigh: UInt64
        var maskLow: UInt64
        var networks: [IPv6Address]
        var values: [UInt32]
    }

    private var v4: [V4Bucket] = []
    private var v6: [V6Bucket] = []
    /// Number of networks.
    package private(set) var count = 0

    /// An empty index.
    package init() {}

    /// True when no network is stored.
    package var isEmpty: Bool { self.count == 0 }

    static func mask4(_ length: Int) -> UInt32 { length == 0 ? 0 : UInt32.max << UInt32(32 - length) }

    static func mask6(_ length: Int) -> (UInt64, UInt64) {
        if length == 0 { return (0, 0) }
        if length <= 64 { return (UInt64.max << UInt64(64 - length), 0) }
        return (UInt64.max, length == 128 ? UInt64.max : UInt64.max << UInt64(128 - length))
    }

    /// Collects networks, then builds the sorted index.
    package struct Builder: Sendable {
        private var v4: [Int: [UInt32: UInt32]] = [:]
        private var v6: [Int: [IPv6Address: UInt32]] = [:]

        /// An empty builder.
        package init() {}

        /// Adds a network (host bits are cleared).
        /// - Returns: the value already stored for exactly this network, if any (the new one is not stored then).
        package mutating func insert(_ address: IPAddress, prefixLength: Int, value: UInt32) -> UInt32? {
            switch address {
            case .v4(let a):
                let n = a.value & CIDRIndex.mask4(prefixLength)
                if let old = self.v4[prefixLength, default: [:]][n] { return old }
                self.v4[prefixLength, default: [:]][n] = value
            case .v6(let a):
                let (mh, ml) = CIDRIndex.mask6(prefixLength)
                let n = IPv6Address(high: a.high & mh, low: a.low & ml)
                if let old = self.v6[prefixLength, default: [:]][n] { return old }
                self.v6[prefixLength, default: [:]][n] = value
            }
            return nil
        }

        /// A builder holding every network of `index`.
        package init(_ index: CIDRIndex) {
            for e in index.entries { _ = self.insert(e.network, prefixLength: e.prefixLength, value: e.value) }
        }

        /// The value stored for exactly this network, if any.
        package func value(_ address: IPAddress, prefixLength: Int) -> UInt32? {
            switch CIDRIndex.network(address, prefixLength) {
            case .v4(let a): return self.v4[prefixLength]?[a.value]
            case .v6(let a): return self.v6[prefixLength]?[a]
            }
        }

        /// Removes a network; returns its value when it was stored.
        @discardableResult
        package mutating func remove(_ address: IPAddress, prefixLength: Int) -> UInt32? {
            switch CIDRIndex.network(address, prefixLength) {
            case .v4(let a): return self.v4[prefixLength]?.removeValue(forKey: a.value)
            case .v6(let a): return self.v6[prefixLength]?.removeValue(forKey: a)
            }
        }

        /// The finished index.
        package func build() -> CIDRIndex {
            var index = CIDRIndex()
            for (length, entries) in self.v4.sorted(by: { $0.key > $1.key }) where !entries.isEmpty {
                let sorted = entries.sorted { $0.key < $1.key }
                index.v4.append(V4Bucket(length: length, mask: CIDRIndex.mask4(length), networks: sorted.map(\.key),
                    values: sorted.map(\.value)))
                index.count += sorted.count
            }
            for (length, entries) in self.v6.sorted(by: { $0.key > $1.key }) where !entries.isEmpty {
                let sorted = entries.sorted { $0.key < $1.key }
                let (mh, ml) = CIDRIndex.mask6(length)
                index.v6.append(V6Bucket(length: length, maskHigh: mh, maskLow: ml, networks: sorted.map(\.key),
                    values: sorted.map(\.value)))
                index.count += sorted.count
            }
            return index
        }
    }

    /// Every network with its prefix length and value, longest prefixes first (to rebuild the index with a
    /// few changes: IP triggers are few, so an incremental update rebuilds the CIDR indexes it touches).
    package var entries: [(network: IPAddress, prefixLength: Int, value: UInt32)] {
        var out: [(network: IPAddress, prefixLength: Int, value: UInt32)] = []
        out.reserveCapacity(self.count)
        for b in self.v4 {
            for (n, v) in zip(b.networks, b.values) { out.append((.v4(IPv4Address(n)), b.length, v)) }
        }
        for b in self.v6 {
            for (n, v) in zip(b.networks, b.values) { out.append((.v6(n), b.length, v)) }
        }
        return out
    }

    /// `address` with the host bits of a `prefixLength` network cleared.
    package static func network(_ address: IPAddress, _ prefixLength: Int) -> IPAddress {
        switch address {
        case .v4(let a): return .v4(IPv4Address(a.value & Self.mask4(prefixLength)))
        case .v6(let a):
            let (mh, ml) = Self.mask6(prefixLength)
            return .v6(IPv6Address(high: a.high & mh, low: a.low & ml))
        }
    }

    /// The longest-prefix network containing `address` (IPv4-mapped IPv6 addresses are matched as IPv4).
    package func match(_ address: IPAddress) -> Match? {
        switch address.unmapped {
        case .v4(let a):
            for b in self.v4 {
                let key = a.value & b.mask
                if let i = Self.search(b.networks, key) {
                    return Match(value: b.values[i], prefixLength: b.length, network: .v4(IPv4Address(key)))
                }
            }
        case .v6(let a):
            for b in self.v6 {
                let key = IPv6Address(high: a.high & b.maskHigh, low: a.low & b.maskLow)
                if let i = Self.search(b.networks, key) {
                    return Match(value: b.values[i], prefixLength: b.length, network: .v6(key))
                }
            }
        }
        return nil
    }

    private static func search<T: Comparable>(_ sorted: [T], _ key: T) -> Int? {
        var lo = 0
        var hi = sorted.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if sorted[mid] < key { lo = mid + 1 } else { hi = mid }
        }
        return lo < sorted.count && sorted[lo] == key ? lo : nil
    }
}
