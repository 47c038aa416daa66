public import DNSWire

/// What the NOTIFY listener may accept for a zone from an address.
public enum NotifyAuthorization: Sendable, Hashable {
    /// Accept; when a key is given, the NOTIFY must be signed with it (RFC 8945).
    case accept(key: TSIGKey?)
    /// The zone is not one of ours: answered NOTAUTH.
    case unknownZone
    /// The zone is ours but the address is not one of its primaries: answered REFUSED.
    case refusedSource
}

/// Decides which NOTIFY messages are acted on, and receives the accepted ones (RFC 1996).
///
/// Both methods are called on the listener's event loop: they must return quickly and never block.
public protocol NotifyAuthorizer: Sendable {
    /// Whether a NOTIFY for `zone` from `source` is allowed, and with which key.
    func authorize(zone: DomainName, source: IPAddress) -> NotifyAuthorization
    /// A NOTIFY passed every check; `serial` is the SOA serial it carried, if any (a hint only: RFC 1996
    /// §3.7 says the secondary checks the primary's SOA itself).
    func notified(zone: DomainName, serial: UInt32?, source: IPAddress)
}

/// A fixed list of zones with their primaries and keys, calling a closure for accepted NOTIFY messages.
public struct StaticNotifyAuthorizer: NotifyAuthorizer {
    /// One zone's NOTIFY policy.
    public struct Zone: Sendable, Hashable {
        /// The zone apex.
        public var name: DomainName
        /// Addresses allowed to send NOTIFY for it (its primaries).
        public var primaries: [IPAddress]
        /// The key NOTIFY messages must be signed with; nil accepts unsigned ones.
        public var key: TSIGKey?

        /// Creates an entry.
        public init(name: DomainName, primaries: [IPAddress], key: TSIGKey? = nil) {
            self.name = name
            self.primaries = primaries
            self.key = key
        }
    }

    private let zones: [DomainName: Zone]
    private let onNotify: @Sendable (DomainName, UInt32?) -> Void

    /// Creates an authorizer.
    /// - Parameters:
    ///   - zones: the zones accepted; a later entry for the same zone replaces an earlier one.
    ///   - onNotify: called with the zone (and serial hint) of every accepted NOTIFY; must not block.
    public init(zones: [Zone], onNotify: @escaping @Sendable (DomainName, UInt32?) -> Void) {
        var byName: [DomainName: Zone] = [:]
        for z in zones { byName[z.name] = z }
        self.zones = byName
        self.onNotify = onNotify
    }

    /// Accepts the zone's primaries, with its key; NOTAUTH for other zones, REFUSED for other sources.
    public func authorize(zone: DomainName, source: IPAddress) -> NotifyAuthorization {
        guard let z = self.zones[zone] else { return .unknownZone }
        guard z.primaries.contains(where: { $0.unmapped == source.unmapped }) else { return .refusedSource }
        return .accept(key: z.key)
    }

    /// Calls the `onNotify` closure.
    public func notified(zone: DomainName, serial: UInt32?, source: IPAddress) {
        self.onNotify(zone, serial)
    }
}
