import Foundation
import DNSPipeline
import DNSPolicy
import QueryStore

/// Maps store and policy values to the API's JSON objects (api-contract.md). Store records never leave
/// the API in their own shape: what clients see is defined here and in the OpenAPI document only.
enum APIDTO {
    /// Workload object.
    static func workload(_ w: Workload) -> JSONValue {
        let labels = w.labels.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.string($0.value)) }
        return [
            "key": .string(QueryStore.workloadKey(for: w)),
            "kind": .string(w.kind.rawValue),
            "id": .string(w.id),
            "name": .string(w.name),
            "image": .optional(w.image),
            "labels": .object(labels),
        ]
    }

    /// Event object.
    static func event(_ e: StoredEvent) -> JSONValue {
        let ev = e.event
        let policy: JSONValue =
            ev.policy.map {
                [
                    "source": .string($0.source), "rule": .string($0.rule), "action": .string($0.action),
                    "trigger": .string($0.trigger),
                ]
            } ?? .null
        let findings = ev.findings.map { f -> JSONValue in
            [
                "detector": .string(f.detector), "score": .double(f.score), "detail": .string(f.detail),
                "enforced": .bool(f.enforced),
            ]
        }
        return [
            "id": .int(e.id),
            "time": .time(ev.timestampMicros),
            "client_ip": .string(ev.clientIP),
            "transport": .string(ev.transport),
            "workload": ev.workload.map(Self.workload) ?? .null,
            "qname": .string(ev.qname),
            "qtype": .string(ev.qtype),
            "rcode": .string(ev.rcode),
            "answers": .array(ev.answers.map { .string($0) }),
            "source": .string(ev.source),
            "upstream": .optional(ev.upstream),
            "policy": policy,
            "blocked": .bool(ev.blocked),
            "findings": .array(findings),
            "latency_us": .int(ev.latencyMicros),
            "count": .int(Int64(ev.count)),
            "other_names": .array(ev.otherNames.map { .string($0) }),
        ]
    }

    /// The subject fields shared by the per-workload summaries: `key`, `workload`, `client_ip`.
    static func subject(_ s: EventSubject) -> [(String, JSONValue)] {
        switch s {
        case .workload(let w):
            return [("key", .string(w.key)), ("workload", Self.workload(w.workload)), ("client_ip", .null)]
        case .client(let ip):
            return [("key", .string("client:\(ip)")), ("workload", .null), ("client_ip", .string(ip))]
        }
    }

    /// Quarantine object.
    static func quarantine(_ q: QuarantineEntry, workload: Workload?) -> JSONValue {
        [
            "workload_key": .string(q.workloadKey),
            "workload": workload.map(Self.workload) ?? .null,
            "answer": .string(q.answer.rawValue),
            "by": .string(q.by),
            "reason": .string(q.reason),
            "since": .time(q.sinceMicros),
            "container_action": .string(q.containerAction.rawValue),
        ]
    }

    /// Rule object.
    static func rule(_ r: OperatorRule) -> JSONValue {
        [
            "domain": .string(r.domain), "added_by": .string(r.addedBy), "reason": .string(r.reason),
            "time": .time(r.timeMicros),
        ]
    }

    /// Action object.
    static func action(_ a: ActionRecord) -> JSONValue {
        [
            "id": .int(a.id), "time": .time(a.timestampMicros), "actor": .string(a.actor), "action": .string(a.action),
            "target": .string(a.target), "reason": .string(a.reason), "detail": .string(a.detail),
        ]
    }

    /// Feed object (what `palisade lists status` prints).
    static func feed(_ s: PolicySourceStatus) -> JSONValue {
        [
            "name": .string(s.name),
            "kind": .string(s.kind.rawValue),
            "format": .optional(s.format?.rawValue),
            "role": .string(s.role.rawValue),
            "location": .string(s.location),
            "state": .string(s.state.rawValue),
            "failing_closed": .bool(s.failingClosed),
            "rules": .int(s.ruleCount),
            "serial": .optional(s.serial.map { Int64($0) }),
            "age_seconds": .optional(s.age.map { $0.components.seconds }),
            "loaded_at": .time(s.loadedAt.map { Int64($0.timeIntervalSince1970 * 1_000_000) }),
            "fetched_at": .time(s.fetchedAt.map { Int64($0.timeIntervalSince1970 * 1_000_000) }),
            "last_error": .optional(s.lastError),
            "store_error": .optional(s.storeError),
            "bad_lines": .int(s.badLines),
            "ignored_lines": .int(s.ignoredLines),
        ]
    }
}
