public import DNSWire
import Metrics

/// `ingress-guard`: ACL keyed on the socket source address (never ECS: attacker-chosen).
///
/// By default only loopback and private/container ranges are answered; anything else gets
/// REFUSED, so Palisade is never an open resolver by accident.
public struct IngressGuardStage: Stage {
    public let id: StageID = "ingress-guard"
    /// Prefixes allowed to query.
    public let allowed: [IPNetwork]
    private let refusedCounter = Counter(label: "palisade_ingress_refused_total")

    private let v4: [(net: UInt32, mask: UInt32)]
    private let v6: [IPNetwork]

    /// Creates the guard.
    public init(allowed: [IPNetwork]) {
        self.allowed = allowed
        var v4: [(UInt32, UInt32)] = []
        var v6: [IPNetwork] = []
        for n in allowed {
            if case .v4(let a) = n.address {
                let m: UInt32 = n.prefixLength == 0 ? 0 : ~UInt32(0) << UInt32(32 - n.prefixLength)
                v4.append((a.value, m))
            } else {
                v6.append(n)
            }
        }
        self.v4 = v4
        self.v6 = v6
    }

    private func permitted(_ q: Query) -> Bool {
        if q.client.transport == .internal { return true }
        // IPv4 is checked with precomputed masks: this runs for every query.
        if case .v4(let a) = q.client.address {
            for n in self.v4 where a.value & n.mask == n.net { return true }
            return false
        }
        for n in self.v6 where n.contains(q.client.address) { return true }
        return false
    }

    private func refuse(_ q: Query, _ c: QueryContext) -> Resolution {
        self.refusedCounter.increment()
        c.note(self.id, "client \(q.client.address) not in allow list: REFUSED")
        return Resolution(reply: .message(q.message.makeResponse(rcode: .refused)), source: .synthesized,
            extendedErrors: [.extendedError(.prohibited, text: "palisade: client not allowed")])
    }

    public func resolveNow(_ query: Query, in context: QueryContext, next: NextNow) throws -> Resolution? {
        guard self.permitted(query) else { return self.refuse(query, context) }
        return try next(query, context)
    }

    public func resolve(_ query: Query, in context: QueryContext, next: @escaping Next) async throws -> Resolution {
        guard self.permitted(query) else { return self.refuse(query, context) }
        context.note(self.id, "client \(query.client.address) allowed")
        return try await next(query, context)
    }
}
