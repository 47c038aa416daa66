public import DNSPipeline

/// The query-event sink for incidents: feeds every event to an ``IncidentTracker`` and hands each incident it
/// opens to the ``IncidentWebhookService``.
///
/// Runs on the query-event drain task, off the DNS path. `emit` costs a lock and a ring-buffer write (and,
/// when an incident opens, its JSON encoding); it never waits for a receiver: the webhook queues are bounded
/// and drop.
public final class IncidentMonitor: QueryEventSink {
    /// Decides when an incident opens.
    public let tracker: IncidentTracker
    /// Delivers them.
    public let webhooks: IncidentWebhookService

    /// Creates the sink.
    public init(tracker: IncidentTracker, webhooks: IncidentWebhookService) {
        self.tracker = tracker
        self.webhooks = webhooks
    }

    /// Observes `event`; always accepts it (an incident that cannot be queued is counted by the webhooks).
    @discardableResult
    public func emit(_ event: QueryEvent) -> Bool {
        if let incident = self.tracker.observe(event) { self.webhooks.submit(incident) }
        return true
    }
}
