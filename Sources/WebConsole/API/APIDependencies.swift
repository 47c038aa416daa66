public import DNSPolicy
import Foundation
public import Logging
public import QueryStore

/// One address a workload held, and when (from the identity module's history).
public struct WorkloadAddress: Sendable, Hashable {
    /// The address text.
    public var ip: String
    /// When the workload got it, microseconds since the Unix epoch.
    public var fromMicros: Int64
    /// When it lost it; nil while it still holds it.
    public var untilMicros: Int64?

    /// Creates an address record.
    public init(ip: String, fromMicros: Int64, untilMicros: Int64?) {
        self.ip = ip
        self.fromMicros = fromMicros
        self.untilMicros = untilMicros
    }
}

/// The addresses of a workload over time. Implemented over the identity module's history; the API shows
/// none until the runtime provides one.
public protocol WorkloadAddressHistory: Sendable {
    /// Every address `workloadKey` held, oldest first.
    func addresses(ofWorkload workloadKey: String) async -> [WorkloadAddress]
}

/// What the `/api/v1` routes read and change. Every part is optional so that the API runs (and says what
/// is unavailable) whatever the configuration turns off.
public struct APIDependencies: Sendable {
    /// The query log; nil when `queryLog.store` is false (reads answer 503, actions are only logged).
    public var store: (any EventStore)?
    /// The policy sources' status (`palisade lists status`); nil lists none.
    public var feeds: (@Sendable () async -> [PolicySourceStatus])?
    /// The quarantine registry; nil refuses quarantine changes with 503.
    public var quarantine: QuarantineRegistry?
    /// The operator's allow/deny entries; nil refuses rule changes with 503.
    public var operatorRules: OperatorRules?
    /// The identity history; nil shows no addresses.
    public var addresses: (any WorkloadAddressHistory)?
    /// Pauses/stops containers on quarantine; nil refuses container actions.
    public var actuator: (any WorkloadActuator)?
    /// The strongest container action a quarantine may take (`quarantine.containerAction`).
    public var containerActionLimit: ContainerAction
    /// The answer a quarantine gets when the request names none.
    public var defaultQuarantineAnswer: QuarantineEntry.Answer
    /// The bearer tokens that may change state; empty disables mutations (403).
    public var tokens: [APIToken]
    /// The wall clock, microseconds since the Unix epoch (injectable for tests).
    public var now: @Sendable () -> Int64
    /// Where actions are logged.
    public var logger: Logger

    /// Creates the dependencies.
    public init(
        store: (any EventStore)?, feeds: (@Sendable () async -> [PolicySourceStatus])? = nil,
        quarantine: QuarantineRegistry? = nil, operatorRules: OperatorRules? = nil,
        addresses: (any WorkloadAddressHistory)? = nil, actuator: (any WorkloadActuator)? = nil,
        containerActionLimit: ContainerAction = .none, defaultQuarantineAnswer: QuarantineEntry.Answer = .refused,
        tokens: [APIToken] = [],
        now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1_000_000) },
        logger: Logger = Logger(label: "palisade.api")
    ) {
        self.store = store
        self.feeds = feeds
        self.quarantine = quarantine
        self.operatorRules = operatorRules
        self.addresses = addresses
        self.actuator = actuator
        self.containerActionLimit = containerActionLimit
        self.defaultQuarantineAnswer = defaultQuarantineAnswer
        self.tokens = tokens
        self.now = now
        self.logger = logger
    }

    /// The store, or 503 when the query log is off.
    func requireStore() throws(APIError) -> any EventStore {
        guard let store = self.store else { throw APIError.noStore }
        return store
    }
}
