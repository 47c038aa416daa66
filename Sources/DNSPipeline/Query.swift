public import DNSWire

/// How a query reached Palisade.
public enum Transport: String, Sendable, Hashable, CaseIterable {
    case udp, tcp, dot, doh, `internal`
}

/// Who asked: the socket source (never ECS: that is attacker-chosen).
public struct ClientInfo: Sendable, Hashable {
    /// Source address of the packet or connection.
    public var address: IPAddress
    /// Source port.
    public var port: UInt16
    /// Transport the query came over.
    public var transport: Transport

    /// Creates client information.
    public init(address: IPAddress, port: UInt16 = 0, transport: Transport) {
        self.address = address
        self.port = port
        self.transport = transport
    }
}

/// One DNS question travelling down the pipeline.
public struct Query: Sendable {
    /// The request as received (after sanitize: exactly one question).
    public var message: DNSMessage
    /// The client.
    public var client: ClientInfo
    /// The largest response the client accepts on this transport (UDP: EDNS size clamped; TCP: 65535).
    public var maxResponseSize: Int

    /// Creates a query.
    public init(message: DNSMessage, client: ClientInfo, maxResponseSize: Int = 65535) {
        self.message = message
        self.client = client
        self.maxResponseSize = maxResponseSize
    }

    /// The first question. Sanitize guarantees it exists before any later stage runs.
    public var question: Question {
        self.message.questions.first ?? Question(name: .root, type: RecordType(0))
    }

    /// DNSSEC OK from the client's OPT.
    public var dnssecOK: Bool { self.message.edns?.dnssecOK ?? false }
    /// Checking Disabled from the client's header.
    public var checkingDisabled: Bool { self.message.header.checkingDisabled }
}

/// The workload (container, pod, static entry) behind a client address.
public struct Workload: Sendable, Hashable, Codable {
    /// What kind of source identified it.
    public enum Kind: String, Sendable, Hashable, Codable {
        case container, pod, `static`, unknown
    }
    /// Kind of workload.
    public var kind: Kind
    /// Stable id (container id, pod uid, or the static entry's name).
    public var id: String
    /// Human name (container name, `namespace/pod`).
    public var name: String
    /// Image reference, when known.
    public var image: String?
    /// Labels.
    public var labels: [String: String]

    /// Creates a workload.
    public init(kind: Kind, id: String, name: String, image: String? = nil, labels: [String: String] = [:]) {
        self.kind = kind
        self.id = id
        self.name = name
        self.image = image
        self.labels = labels
    }
}

/// Per-query facts that stages add on the way down (a value: each stage passes an amended copy).
public struct QueryContext: Sendable {
    /// The workload behind the client address, set by the identify stage.
    public var workload: Workload?
    /// Set when the query is traced (`palisade query --trace`): every stage records its decision.
    public var trace: TraceRecorder?
    /// Set when an earlier pass (the synchronous fast path) already ran the ingress guard.
    public var ingressChecked: Bool
    /// Set when the server can run the terminal stage's I/O on its event loop and replay the synchronous
    /// chain with the result (see ``Deferral``); nil on every other path.
    public var deferral: Deferral?

    /// Creates an empty context.
    public init(workload: Workload? = nil, trace: TraceRecorder? = nil, ingressChecked: Bool = false,
        deferral: Deferral? = nil)
    {
        self.workload = workload
        self.trace = trace
        self.ingressChecked = ingressChecked
        self.deferral = deferral
    }

    /// When timing of this query starts: the first pass's arrival for a replayed query, else now.
    public var startInstant: ContinuousClock.Instant { self.deferral?.arrival ?? .now }

    /// Records a stage decision when tracing.
    public func note(_ stage: StageID, _ decision: @autoclosure () -> String) {
        self.trace?.record(stage: stage, decision: decision())
    }
}
