import AgentOS
import Foundation
import Glibc
import HTTPServer
import JSON
import Synchronization

/// `GET /metrics`: the Prometheus text exposition, behind `METRICS_TOKEN` (a bearer token; without one
/// the route does not exist), never open on the public port.
final class MetricsSources: Sendable {
    let requests: RequestMetrics
    let agentOS: AgentOSClient
    let audit: AuditLog
    let events: JobEventHub
    let mirror: @Sendable () async -> JSONValue
    /// The server, once attached: its open connections and its loops' lag.
    let server = Mutex<HTTPServer?>(nil)

    init(requests: RequestMetrics, agentOS: AgentOSClient, audit: AuditLog, events: JobEventHub, mirror: @escaping @Sendable () async -> JSONValue) {
        self.requests = requests
        self.agentOS = agentOS
        self.audit = audit
        self.events = events
        self.mirror = mirror
    }
}

enum MetricsRoute {
    static func register(on router: inout Router, token: String?, sources: MetricsSources) {
        guard let token, !token.isEmpty else { return }
        let expected = Array(("Bearer " + token).utf8)
        router.get("/metrics") { request in
            let given = Array((request.headers["Authorization"] ?? "").utf8)
            guard Crypto.constantTimeEqual(given, expected) else {
                throw HTTPError(401, "A metrics token is required", headers: ["WWW-Authenticate": #"Bearer realm="metrics""#])
            }
            var response = Response(status: 200, headers: ["Content-Type": "text/plain; version=0.0.4; charset=utf-8"], bytes: Array(await render(sources).utf8))
            response.headers.set("Cache-Control", "no-store")
            return response
        }
    }

    static func render(_ sources: MetricsSources) async -> String {
        var out = PrometheusText()
        sources.requests.write(to: &out)
        let agentOS = sources.agentOS.counterSnapshot
        let limit = sources.agentOS.configuration.rateLimit
        out.single("contractor_bff_agentos_calls_total", "counter", "AgentOS calls made (each may take several attempts).", Double(agentOS.calls))
        out.single("contractor_bff_agentos_attempts_total", "counter", "Attempts sent to AgentOS.", Double(agentOS.attempts))
        out.family("contractor_bff_agentos_retries_total", "counter", "Attempts retried, by reason.")
        for (reason, count) in agentOS.retriesByReason.sorted(by: { $0.key < $1.key }) { out.sample("contractor_bff_agentos_retries_total", [("reason", reason)], count) }
        out.family("contractor_bff_agentos_operation_calls_total", "counter", "AgentOS calls by operation and outcome.")
        for (operation, outcomes) in agentOS.callsByOutcome.sorted(by: { $0.key < $1.key }) {
            for (outcome, count) in outcomes.sorted(by: { $0.key < $1.key }) {
                out.sample("contractor_bff_agentos_operation_calls_total", [("operation", operation), ("outcome", outcome)], count)
            }
        }
        out.family("contractor_bff_agentos_operation_duration_seconds", "summary", "Time AgentOS calls took, by operation.")
        for (operation, milliseconds) in agentOS.latencyMillisecondsByOperation.sorted(by: { $0.key < $1.key }) {
            out.sample("contractor_bff_agentos_operation_duration_seconds_sum", [("operation", operation)], milliseconds / 1000)
            out.sample("contractor_bff_agentos_operation_duration_seconds_count", [("operation", operation)], agentOS.callsByOutcome[operation]?.values.reduce(0, +) ?? 0)
        }
        out.single("contractor_bff_agentos_timeouts_total", "counter", "Attempts that timed out.", Double(agentOS.timeouts))
        out.single("contractor_bff_agentos_rate_limited_responses_total", "counter", "429 answers from AgentOS.", Double(agentOS.rateLimitedResponses))
        out.single("contractor_bff_agentos_forbidden_responses_total", "counter", "403 answers from AgentOS (a blocked key after 429s).", Double(agentOS.forbiddenResponses))
        out.family("contractor_bff_agentos_call_duration_seconds", "summary", "Time AgentOS calls took, retries included.")
        out.sample("contractor_bff_agentos_call_duration_seconds_sum", [], agentOS.latencyMillisecondsTotal / 1000)
        out.sample("contractor_bff_agentos_call_duration_seconds_count", [], agentOS.latencyCount)
        out.single("contractor_bff_agentos_budget_used", "gauge", "Attempts sent in the key's current rolling window.", Double(agentOS.callsInWindow))
        out.single("contractor_bff_agentos_budget_left", "gauge", "The key's limit less the attempts in its current window.", Double(max(0, limit - agentOS.callsInWindow)))
        out.single("contractor_bff_agentos_budget_peak", "gauge", "The most attempts ever sent in one window.", Double(agentOS.peakCallsInWindow))
        out.family("contractor_bff_agentos_budget_spent_total", "counter", "Attempts sent, by the priority whose share of the budget they spent.")
        for (priority, count) in agentOS.attemptsByPriority.sorted(by: { $0.key < $1.key }) { out.sample("contractor_bff_agentos_budget_spent_total", [("priority", priority)], count) }
        out.family("contractor_bff_agentos_budget_waits_total", "counter", "Calls that waited for a slot of the budget, by priority.")
        for (priority, count) in agentOS.budgetWaits.sorted(by: { $0.key < $1.key }) { out.sample("contractor_bff_agentos_budget_waits_total", [("priority", priority)], count) }
        out.single("contractor_bff_agentos_budget_wait_seconds_total", "counter", "Time calls waited for a slot.", agentOS.budgetWaitMillisecondsTotal / 1000)
        out.family("contractor_bff_agentos_budget_refusals_total", "counter", "Calls the budget refused (no slot in time), by priority.")
        for (priority, count) in agentOS.budgetRefusals.sorted(by: { $0.key < $1.key }) { out.sample("contractor_bff_agentos_budget_refusals_total", [("priority", priority)], count) }
        out.family("contractor_bff_agentos_breaker_state", "gauge", "The circuit breaker's state (1 for the current one).")
        let state = await sources.agentOS.breakerState
        for candidate in [CircuitBreaker.State.closed, .open, .halfOpen] {
            out.sample("contractor_bff_agentos_breaker_state", [("state", candidate.rawValue)], candidate == state ? 1 : 0)
        }
        out.family("contractor_bff_agentos_breaker_transitions_total", "counter", "Breaker state changes.")
        for (transition, count) in agentOS.breakerTransitions.sorted(by: { $0.key < $1.key }) {
            out.sample("contractor_bff_agentos_breaker_transitions_total", [("transition", transition)], count)
        }
        let cache = sources.agentOS.cacheCounters.snapshot
        out.family("contractor_bff_cache_reads_total", "counter", "Read-cache answers, by outcome.")
        for (outcome, count) in [("hit", cache.hits), ("miss", cache.misses), ("stale", cache.stale), ("stale_on_error", cache.staleOnError)] {
            out.sample("contractor_bff_cache_reads_total", [("outcome", outcome)], count)
        }
        out.single("contractor_bff_cache_evictions_total", "counter", "Entries evicted from the read cache.", Double(cache.evictions))
        out.single("contractor_bff_cache_refreshes_total", "counter", "Entries refreshed from spare budget.", Double(cache.refreshes))
        out.single("contractor_bff_cache_entries", "gauge", "Entries in the read cache.", Double(await sources.agentOS.cachedEntries))
        writeMirror(await sources.mirror(), to: &out)
        out.family("contractor_bff_audit_events_total", "counter", "Audited events by action and outcome: sign-ins and lock-outs, writes, idempotent replays and recoveries.")
        for (key, count) in sources.audit.counts.withLock({ $0 }).sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: "\u{1F}", maxSplits: 1).map(String.init)
            out.sample("contractor_bff_audit_events_total", [("action", parts[0]), ("outcome", parts.count > 1 ? parts[1] : "")], count)
        }
        out.single("contractor_bff_event_stream_subscribers", "gauge", "Open job-event streams (SSE).", Double(sources.events.subscriberCount))
        if let server = sources.server.withLock({ $0 }) {
            out.single("contractor_bff_open_connections", "gauge", "Open client connections.", Double(server.openConnections))
            out.single(
                "contractor_bff_event_loop_lag_seconds", "gauge", "The longest an event loop was late to its timers since the last scrape.",
                server.takeEventLoopLag() / .seconds(1))
        }
        out.single("contractor_bff_process_resident_memory_bytes", "gauge", "Resident memory of the process.", Double(residentBytes()))
        return out.text
    }

    /// Each agency's mirror, from the status `/readyz` shows.
    static func writeMirror(_ status: JSONValue, to out: inout PrometheusText) {
        let agencies = (status.objectValue ?? [:]).sorted { $0.key < $1.key }
        func number(_ value: JSONValue?) -> Double? {
            switch value {
            case .number(let literal)?: Double(literal)
            case .bool(let flag)?: flag ? 1 : 0
            default: nil
            }
        }
        for (name, field, help) in [
            ("contractor_bff_mirror_warm", "warm", "1 once the agency's first import is done."),
            ("contractor_bff_mirror_jobs", "jobs", "Jobs held in the agency's mirror."),
            ("contractor_bff_mirror_contractors", "contractors", "Contractors held in the agency's mirror."),
            ("contractor_bff_mirror_oldest_import_age_seconds", "oldestImportAgeSeconds", "Age of the oldest branch import: every job is at most this old."),
            ("contractor_bff_mirror_pass_calls", "lastCycleCalls", "Calls the last import pass took."),
        ] {
            out.family(name, "gauge", help)
            for (agency, fields) in agencies { if let value = number(fields[field]) { out.sample(name, [("agency", agency)], value) } }
        }
        out.family("contractor_bff_mirror_pass_calls_per_minute", "gauge", "The last import pass's pace: its calls (pages) per minute.")
        for (agency, fields) in agencies {
            if let calls = number(fields["lastCycleCalls"]), let seconds = number(fields["lastCycleSeconds"]), seconds > 0 {
                out.sample("contractor_bff_mirror_pass_calls_per_minute", [("agency", agency)], (calls * 60 / seconds * 100).rounded() / 100)
            }
        }
        out.family("contractor_bff_mirror_import_progress_percent", "gauge", "Share of the pass under way that is done (absent between passes).")
        for (agency, fields) in agencies {
            if let value = number(fields["importProgress"]?["percent"]) { out.sample("contractor_bff_mirror_import_progress_percent", [("agency", agency)], value) }
        }
    }

    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let pages = text.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
