import DNSWire
import Hummingbird
import NIOCore

/// The OpenAPI 3.1 description of `/api/v1`, built in code so that JSON and YAML come from one source and a
/// test can compare its paths with the routes actually registered.
enum OpenAPIDocument {
    // MARK: Schema helpers

    private static func ref(_ name: String) -> JSONValue { ["$ref": .string("#/components/schemas/\(name)")] }
    private static func nullable(_ name: String) -> JSONValue { ["oneOf": [ref(name), ["type": "null"]]] }
    private static func type(_ t: String, _ description: String? = nil, nullable: Bool = false, format: String? = nil,
        enumeration: [String]? = nil) -> JSONValue
    {
        var fields: [(String, JSONValue)] = [("type", nullable ? .array([.string(t), "null"]) : .string(t))]
        if let format { fields.append(("format", .string(format))) }
        if let enumeration {
            fields.append(("enum", .array(enumeration.map { .string($0) } + (nullable ? [.null] : []))))
        }
        if let description { fields.append(("description", .string(description))) }
        return .object(fields)
    }
    private static func time(_ description: String, nullable: Bool = false) -> JSONValue {
        type("string", description + " (RFC 3339, UTC, microseconds)", nullable: nullable, format: "date-time")
    }
    private static func array(_ items: JSONValue, _ description: String? = nil) -> JSONValue {
        var fields: [(String, JSONValue)] = [("type", "array"), ("items", items)]
        if let description { fields.append(("description", .string(description))) }
        return .object(fields)
    }
    private static func object(_ properties: [(String, JSONValue)], required: [String]? = nil,
        additional: Bool = false, description: String? = nil) -> JSONValue
    {
        var fields: [(String, JSONValue)] = [("type", "object")]
        if let description { fields.append(("description", .string(description))) }
        fields.append(("properties", .object(properties)))
        fields.append(("required", .array((required ?? properties.map(\.0)).map { .string($0) })))
        if !additional { fields.append(("additionalProperties", false)) }
        return .object(fields)
    }

    // MARK: Parameter helpers

    private static func query(_ name: String, _ description: String, _ schema: JSONValue) -> JSONValue {
        [
            "name": .string(name), "in": "query", "required": false, "description": .string(description),
            "schema": schema,
        ]
    }
    private static func path(_ name: String, _ description: String, _ schema: JSONValue) -> JSONValue {
        ["name": .string(name), "in": "path", "required": true, "description": .string(description), "schema": schema]
    }
    /// No control characters (what the server refuses in free text).
    static let textPattern = "^[^\\x00-\\x1F\\x7F]*$"
    /// A host name, optionally `*.`-prefixed and with a trailing dot (what operator rules accept).
    static let domainPattern =
        "^(\\*\\.)?[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(\\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\\.?$"
    /// A workload key as quarantine accepts it.
    static let workloadKeyPattern = "^(container|pod|static|unknown|client):[^\\x00-\\x1F\\x7F]+$"
    private static let text: JSONValue = ["type": "string", "maxLength": 512, "pattern": .string(textPattern)]
    private static let queryText: JSONValue = [
        "type": "string", "minLength": 1, "maxLength": 512, "pattern": .string(textPattern),
    ]
    private static let domain: JSONValue = [
        "type": "string", "minLength": 1, "maxLength": 253, "pattern": .string(domainPattern),
    ]
    private static let workloadKey: JSONValue = [
        "type": "string", "minLength": 3, "maxLength": 512, "pattern": .string(workloadKeyPattern),
    ]
    /// Every mnemonic the server knows (in both cases), or the generic `TYPEnnn` form.
    private static let qtypeSchema: JSONValue = {
        let known = (0...UInt16.max).map { RecordType(rawValue: $0).description }.filter { !$0.hasPrefix("TYPE") }
        let generic = "^[Tt][Yy][Pp][Ee]([0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$"
        return [
            "anyOf": [
                ["type": "string", "enum": .array((known + known.map { $0.lowercased() }).map { .string($0) })],
                ["type": "string", "pattern": .string(generic)],
            ]
        ]
    }()
    private static let timeParameterSchema: JSONValue = [
        "type": "string",
        "pattern": .string(
            "^(-[1-9][0-9]?[smhd]|(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])[Tt]([01][0-9]|2[0-3])"
                + ":[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,6})?([Zz]|[+-](0[0-9]|1[0-3]):[0-5][0-9]))$"),
        "description": "RFC 3339 time, or relative to now: -30s, -15m, -1h, -24h, -7d",
        "examples": ["-1h", "2026-11-29T07:00:00Z"],
    ]
    private static func since(_ fallback: String) -> JSONValue {
        query("since", "window start (default \(fallback))", timeParameterSchema)
    }
    private static func limit(_ fallback: Int, _ maximum: Int) -> JSONValue {
        query("limit", "page size (default \(fallback))", ["type": "integer", "minimum": 1, "maximum": .int(maximum)])
    }

    // MARK: Responses

    private static func ok(_ schema: String, _ description: String) -> (String, JSONValue) {
        ("200", ["description": .string(description), "content": ["application/json": ["schema": ref(schema)]]])
    }
    private static func created(_ schema: String, _ description: String) -> (String, JSONValue) {
        ("201", ["description": .string(description), "content": ["application/json": ["schema": ref(schema)]]])
    }
    private static func error(_ code: String, _ description: String) -> (String, JSONValue) {
        (code, ["description": .string(description), "content": ["application/json": ["schema": ref("Error")]]])
    }
    private static let readErrors = [
        error("400", "a parameter is malformed or unknown (the message names it)"),
        error("503", "the query log is disabled"),
    ]
    private static let authErrors = [
        error("401", "no or wrong bearer token"),
        error("403", "no API token is configured (changes are disabled), or the action is not allowed"),
    ]

    private static func operation(_ id: String, _ summary: String, tags: [String], parameters: [JSONValue] = [],
        body: String? = nil, responses: [(String, JSONValue)], secured: Bool = false) -> JSONValue
    {
        var fields: [(String, JSONValue)] = [
            ("operationId", .string(id)), ("summary", .string(summary)), ("tags", .array(tags.map { .string($0) })),
        ]
        if !parameters.isEmpty { fields.append(("parameters", .array(parameters))) }
        if let body {
            fields.append((
                "requestBody",
                ["required": true, "content": ["application/json": ["schema": ref(body)]]]
            ))
        }
        fields.append(("responses", .object(responses)))
        if secured { fields.append(("security", [["bearer": []]])) }
        return .object(fields)
    }

    // MARK: Document

    static let document: JSONValue = {
        let eventsParameters: [JSONValue] = [
            query("workload", "only this workload key (kind:id)", workloadKey),
            query("workload_name", "only workloads whose name contains this text",
                ["type": "string", "minLength": 1, "maxLength": 256, "pattern": .string(textPattern)]),
            query("client_ip", "only this client address",
                ["anyOf": [["type": "string", "format": "ipv4"], ["type": "string", "format": "ipv6"]]]),
            query("name", "this query name, or *.domain for every name below it (any name the log can hold is"
                + " accepted, including escaped bytes; the pattern describes ordinary host names)", domain),
            query("qtype", "record type mnemonic (A, aaaa, TXT, …) or TYPEnnn (RFC 3597)", qtypeSchema),
            query("rcode", "response code",
                ["type": "string", "enum": .array(EventsController.rcodes.map { .string($0) })]),
            query("blocked", "only blocked queries when true", ["type": "boolean"]),
            query("source", "answer source",
                ["type": "string", "enum": .array(EventsController.sources.map { .string($0) })]),
            query("from", "at or after this time", timeParameterSchema),
            query("until", "before this time", timeParameterSchema),
            limit(100, 1000),
            query("before", "the previous page's next cursor", ["type": "string", "pattern": "^[0-9]{1,18}-[0-9]{1,18}$"]),
        ]
        let paths: [(String, JSONValue)] = [
            ("/api/v1/events", ["get": operation("listEvents", "Query log, newest first", tags: ["events"],
                parameters: eventsParameters, responses: [ok("EventPage", "one page of events")] + readErrors)]),
            ("/api/v1/workloads", ["get": operation("listWorkloads", "Workloads (and unidentified clients) active in a window",
                tags: ["workloads"], parameters: [since("-24h"), limit(100, 1000)],
                responses: [ok("WorkloadList", "workloads, most queries first")] + readErrors)]),
            ("/api/v1/workloads/{key}", ["get": operation("getWorkload", "One workload", tags: ["workloads"],
                parameters: [path("key", "workload key kind:id (percent-encoded)", workloadKey)],
                responses: [ok("WorkloadDetail", "the workload"), error("404", "unknown workload")] + readErrors)]),
            ("/api/v1/blocks", ["get": operation("listBlocks", "Who tried to reach blocked names", tags: ["workloads"],
                parameters: [since("-1h"), limit(50, 200)],
                responses: [ok("BlockList", "blocked activity per workload, most blocks first")] + readErrors)]),
            ("/api/v1/stats/timeseries", ["get": operation("timeSeries", "Queries and blocks per time bucket",
                tags: ["stats"], parameters: [since("-24h"), query("until", "window end (default now)", timeParameterSchema),
                    query("bucket", "bucket width (default 5m); at most 10000 buckets per window",
                        ["type": "string", "pattern": "^([1-9][0-9]?m|[1-9][0-9]?h|[1-9]d)$"])],
                responses: [ok("TimeSeries", "buckets, oldest first")] + readErrors)]),
            ("/api/v1/stats/top-blocked", ["get": operation("topBlocked", "Most blocked domains", tags: ["stats"],
                parameters: [since("-24h"), limit(20, 1000)], responses: [ok("TopBlocked", "domains")] + readErrors)]),
            ("/api/v1/stats/top-workloads", ["get": operation("topWorkloads", "Workloads with the most queries",
                tags: ["stats"], parameters: [since("-24h"), limit(20, 1000)],
                responses: [ok("TopWorkloads", "workloads")] + readErrors)]),
            ("/api/v1/feeds", ["get": operation("listFeeds", "Policy source health", tags: ["policy"],
                responses: [ok("FeedList", "every configured source"), error("400", "a parameter was given")])]),
            ("/api/v1/rules", ["get": operation("listRules", "Operator allow and deny entries", tags: ["policy"],
                responses: [ok("RuleLists", "both lists"), error("400", "a parameter was given")])]),
            ("/api/v1/rules/allow", ["post": operation("addAllowRule", "Allow a domain (beats every block list)",
                tags: ["policy"], body: "RuleInput", responses: [created("RuleResult", "added"),
                    ok("RuleResult", "updated"), error("400", "malformed body"), error("409", "on the deny list"),
                    error("422", "not a domain name")] + authErrors, secured: true)]),
            ("/api/v1/rules/allow/{domain}", ["delete": operation("removeAllowRule", "Remove an allow entry",
                tags: ["policy"], parameters: [path("domain", "the domain as listed", domain),
                    query("reason", "why (recorded in the audit trail)", queryText)],
                responses: [ok("RemovedRule", "removed"), error("404", "not on the list"),
                    error("400", "bad parameter"), error("422", "not a domain name")] + authErrors, secured: true)]),
            ("/api/v1/rules/deny", ["post": operation("addDenyRule", "Block a domain (NXDOMAIN, EDE 15, source operator)",
                tags: ["policy"], body: "RuleInput", responses: [created("RuleResult", "added"),
                    ok("RuleResult", "updated"), error("400", "malformed body"), error("409", "on the allow list"),
                    error("422", "not a domain name")] + authErrors, secured: true)]),
            ("/api/v1/rules/deny/{domain}", ["delete": operation("removeDenyRule", "Remove a deny entry",
                tags: ["policy"], parameters: [path("domain", "the domain as listed", domain),
                    query("reason", "why (recorded in the audit trail)", queryText)],
                responses: [ok("RemovedRule", "removed"), error("404", "not on the list"),
                    error("400", "bad parameter"), error("422", "not a domain name")] + authErrors, secured: true)]),
            ("/api/v1/quarantine", [
                "get": operation("listQuarantine", "Quarantined workloads", tags: ["quarantine"],
                    responses: [ok("QuarantineList", "every quarantined workload"), error("400", "a parameter was given")]),
                "post": operation("quarantineWorkload", "Cut a workload's DNS off (optionally pause or stop it)",
                    tags: ["quarantine"], body: "QuarantineInput",
                    responses: [created("QuarantineResult", "quarantined"), ok("QuarantineResult", "updated"),
                        error("400", "malformed body"), error("409", "too many quarantined workloads"),
                        error("422", "bad workload key, answer or action")] + authErrors, secured: true),
            ]),
            ("/api/v1/quarantine/{workload_key}", ["delete": operation("releaseWorkload", "Release a quarantined workload",
                tags: ["quarantine"], parameters: [path("workload_key", "workload key kind:id (percent-encoded)", workloadKey),
                    query("reason", "why (recorded in the audit trail)", queryText)],
                responses: [ok("ReleaseResult", "released"), error("404", "not quarantined"), error("400", "bad parameter")]
                    + authErrors, secured: true)]),
            ("/api/v1/actions", ["get": operation("listActions", "Audit trail of API changes, newest first",
                tags: ["actions"], parameters: [limit(100, 1000),
                    query("before", "the previous page's next id",
                        ["type": "integer", "minimum": 1, "maximum": .int(Int64.max)]),
                    query("target", "only actions on this workload key or domain",
                        ["type": "string", "minLength": 1, "maxLength": 600, "pattern": .string(textPattern)])],
                responses: [ok("ActionPage", "one page of actions")] + readErrors)]),
            ("/api/v1/openapi.json", ["get": operation("openAPIJSON", "This document as JSON", tags: ["meta"],
                responses: [("200", ["description": "OpenAPI 3.1 document", "content": ["application/json": ["schema": ["type": "object"]]]])])]),
            ("/api/v1/openapi.yaml", ["get": operation("openAPIYAML", "This document as YAML", tags: ["meta"],
                responses: [("200", ["description": "OpenAPI 3.1 document", "content": ["application/yaml": ["schema": ["type": "object"]]]])])]),
        ]

        let subject: [(String, JSONValue)] = [
            ("key", type("string", "workload key kind:id, or client:<ip> for an unidentified client")),
            ("workload", nullable("Workload")),
            ("client_ip", type("string", "address of an unidentified client", nullable: true)),
        ]
        let schemas: [(String, JSONValue)] = [
            ("Error", object([("error", type("string", "what was wrong, naming the parameter"))])),
            ("Workload", object([
                ("key", type("string", "kind:id")),
                ("kind", type("string", enumeration: ["container", "pod", "static", "unknown"])),
                ("id", type("string")), ("name", type("string")), ("image", type("string", nullable: true)),
                ("labels", ["type": "object", "additionalProperties": ["type": "string"]]),
            ])),
            ("PolicyHit", object([
                ("source", type("string", "feed, list, RPZ zone, operator or quarantine")), ("rule", type("string")),
                ("action", type("string")), ("trigger", type("string")),
            ])),
            ("Finding", object([
                ("detector", type("string")), ("score", type("number")), ("detail", type("string")),
                ("enforced", type("boolean")),
            ])),
            ("Event", object([
                ("id", type("integer")), ("time", time("arrival time")), ("client_ip", type("string")),
                ("transport", type("string", enumeration: ["udp", "tcp", "dot", "doh", "internal"])),
                ("workload", nullable("Workload")), ("qname", type("string")), ("qtype", type("string")),
                ("rcode", type("string")), ("answers", array(type("string"))), ("source", type("string")),
                ("upstream", type("string", nullable: true)), ("policy", nullable("PolicyHit")),
                ("blocked", type("boolean")), ("findings", array(ref("Finding"))), ("latency_us", type("integer")),
                ("count", type("integer")),
                ("other_names", array(type("string"),
                    "other names the event stands for when a rule covering a subtree blocked them (at most 16)")),
            ])),
            ("EventPage", object([
                ("events", array(ref("Event"))),
                ("next", type("string", "cursor for the next (older) page; null on the last", nullable: true)),
            ])),
            ("WorkloadSummary", object(subject + [
                ("first_seen", time("first query", nullable: true)), ("last_seen", time("latest query", nullable: true)),
                ("queries", type("integer")), ("blocked", type("integer")), ("quarantined", type("boolean")),
            ])),
            ("WorkloadList", object([("workloads", array(ref("WorkloadSummary")))])),
            ("Address", object([
                ("ip", type("string")), ("from", time("since")), ("until", time("until; null while held", nullable: true)),
            ])),
            ("WorkloadDetail", object([
                ("key", type("string")), ("workload", nullable("Workload")),
                ("first_seen", time("first query", nullable: true)), ("last_seen", time("latest query", nullable: true)),
                ("quarantine", nullable("Quarantine")), ("addresses", array(ref("Address"))),
            ])),
            ("BlockSummary", object(subject + [
                ("blocked", type("integer")), ("distinct_domains", type("integer")),
                ("last_blocked", time("latest blocked query")),
                ("domains", array(type("string"), "up to 20 blocked names, most recent first")),
            ])),
            ("BlockList", object([("workloads", array(ref("BlockSummary")))])),
            ("TimeBucket", object([("start", time("bucket start")), ("queries", type("integer")), ("blocked", type("integer"))])),
            ("TimeSeries", object([("bucket_seconds", type("integer")), ("buckets", array(ref("TimeBucket")))])),
            ("DomainCount", object([
                ("domain", type("string")), ("queries", type("integer")), ("workloads", type("integer")),
                ("last_seen", time("latest query")),
            ])),
            ("TopBlocked", object([("domains", array(ref("DomainCount")))])),
            ("WorkloadCount", object(subject + [("queries", type("integer")), ("blocked", type("integer"))])),
            ("TopWorkloads", object([("workloads", array(ref("WorkloadCount")))])),
            ("Feed", object([
                ("name", type("string")), ("kind", type("string")), ("format", type("string", nullable: true)),
                ("role", type("string", enumeration: ["block", "allow"])), ("location", type("string")),
                ("state", type("string", enumeration: ["ok", "stale", "failed", "never-loaded", "disabled"])),
                ("failing_closed", type("boolean")), ("rules", type("integer")), ("serial", type("integer", nullable: true)),
                ("age_seconds", type("integer", nullable: true)), ("loaded_at", time("loaded", nullable: true)),
                ("fetched_at", time("last confirmed current", nullable: true)),
                ("last_error", type("string", nullable: true)), ("store_error", type("string", nullable: true)),
                ("bad_lines", type("integer")), ("ignored_lines", type("integer")),
            ])),
            ("FeedList", object([("feeds", array(ref("Feed")))])),
            ("Rule", object([
                ("domain", type("string")), ("added_by", type("string")), ("reason", type("string")),
                ("time", time("added")),
            ])),
            ("RuleLists", object([("allow", array(ref("Rule"))), ("deny", array(ref("Rule")))])),
            ("RuleInput", object([
                ("domain", domain), ("reason", text),
            ], required: ["domain"], description: "domain: example.org (and below) or *.example.org (below only)")),
            ("RuleResult", object([("rule", ref("Rule"))])),
            ("RemovedRule", object([("removed", ref("Rule"))])),
            ("Quarantine", object([
                ("workload_key", type("string")), ("workload", nullable("Workload")),
                ("answer", type("string", enumeration: ["refused", "nxdomain"])), ("by", type("string")),
                ("reason", type("string")), ("since", time("quarantined at")),
                ("container_action", type("string", enumeration: ["none", "pause", "stop"])),
            ])),
            ("QuarantineList", object([("quarantined", array(ref("Quarantine")))])),
            ("QuarantineInput", object([
                ("workload_key", workloadKey),
                ("reason", ["type": "string", "minLength": 1, "maxLength": 512, "pattern": .string(textPattern)]),
                ("answer", type("string", enumeration: ["refused", "nxdomain"])),
                ("action", type("string", enumeration: ["none", "pause", "stop"])),
            ], required: ["workload_key", "reason"])),
            ("QuarantineResult", object([
                ("quarantine", ref("Quarantine")),
                ("container_action_error", type("string", "why the container action failed", nullable: true)),
            ])),
            ("ReleaseResult", object([
                ("released", ref("Quarantine")),
                ("container_action_error", type("string", "why unpausing failed", nullable: true)),
            ])),
            ("Action", object([
                ("id", type("integer")), ("time", time("when")), ("actor", type("string", "API token name")),
                ("action", type("string", enumeration: ["quarantine", "release", "allow-add", "allow-remove",
                    "deny-add", "deny-remove"])),
                ("target", type("string")), ("reason", type("string")), ("detail", type("string")),
            ])),
            ("ActionPage", object([
                ("actions", array(ref("Action"))),
                ("next", type("string", "id to pass as before for the next page", nullable: true)),
            ])),
        ]
        return [
            "openapi": "3.1.0",
            "info": [
                "title": "Palisade API", "version": "1",
                "description": "Query log, workloads, policy feeds, operator rules, quarantine and the audit trail of a Palisade resolver. Reads need no token; changes need Authorization: Bearer <token>.",
            ],
            "paths": .object(paths),
            "components": [
                "schemas": .object(schemas),
                "securitySchemes": ["bearer": ["type": "http", "scheme": "bearer"]],
            ],
        ]
    }()
}

/// Serves ``OpenAPIDocument`` at `/api/v1/openapi.json` and `/api/v1/openapi.yaml`.
struct OpenAPIController {
    func addRoutes(to r: APIRoutes.Registrar) {
        let json = OpenAPIDocument.document.json + "\n"
        let yaml = OpenAPIDocument.document.yaml
        r.get("/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: json)))
        }
        r.get("/openapi.yaml") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/yaml; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: yaml)))
        }
    }
}
