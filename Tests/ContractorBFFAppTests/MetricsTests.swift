@testable import ContractorBFFApp
import Foundation
import JSON
import TestSupport
import Testing

/// `GET /metrics`: behind its token, Prometheus's text format as promtool reads it, labels from route
/// templates only.
@Suite("Prometheus metrics", .scoped)
struct MetricsTests {
    static let token = "metrics-token-for-the-tests"

    func scrape(_ portal: Portal) async -> Reply {
        await portal.send("GET", "/metrics", token: nil, headers: ["Authorization": "Bearer \(Self.token)"])
    }

    /// promtool's verdict on an exposition: its exit and what it printed.
    static func promtool(_ text: String) async throws -> (Int32, String) {
        let outcome = try await ExternalTool.run("promtool", ["check", "metrics"], input: Array(text.utf8))
        return (outcome.code, outcome.output)
    }

    @Test func aMixedWorkloadIsExposedAsPromtoolReadsIt() async throws {
        let portal = try await Portal.start(environment: ["METRICS_TOKEN": Self.token])
        _ = await portal.get("/api/contractor/jobs")
        _ = await portal.get("/api/contractor/jobs/J-0001/../J-0002")
        _ = await portal.get("/api/contractor/account", token: nil)
        _ = await portal.send("POST", "/api/contractor/jobs/J-0002/notes", body: #"{"note":"metrics"}"#, headers: ["Idempotency-Key": "m-1"])
        _ = await portal.send("POST", "/api/contractor/jobs/J-0002/notes", body: #"{"note":"metrics"}"#, headers: ["Idempotency-Key": "m-1"])
        _ = await portal.get("/api/trpc/contractor.insights")
        _ = await portal.get("/no/such/path/with-an-id-123")
        let reply = await scrape(portal)
        #expect(reply.status == 200)
        #expect(reply.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8")
        let text = reply.text
        let (code, said) = try await Self.promtool(text)
        #expect(code == 0, "promtool check metrics: \(said)")
        #expect(text.contains(#"contractor_bff_http_requests_total{route="/api/contractor/jobs",method="GET",status="200"} 1"#))
        #expect(text.contains(#"contractor_bff_http_requests_total{route="/api/contractor/account",method="GET",status="401"} 1"#))
        #expect(text.contains(#"route="unmatched""#) && !text.contains("with-an-id-123"), "raw paths never become labels")
        #expect(text.contains(#"contractor_bff_http_request_duration_seconds_bucket{route="/api/trpc/:path",le="+Inf"} 1"#))
        #expect(text.contains(#"contractor_bff_audit_events_total{action="note.add",outcome="replayed"} 1"#), "idempotent replays are counted")
        #expect(text.contains(#"contractor_bff_agentos_breaker_state{state="closed"} 1"#))
        #expect(text.contains("contractor_bff_agentos_budget_left "))
        #expect(text.contains("contractor_bff_open_connections "))
        #expect(text.contains("contractor_bff_event_loop_lag_seconds "))
        #expect(text.contains(#"contractor_bff_agentos_operation_calls_total{operation="jobs",outcome="ok"}"#), "calls by operation and outcome")
        #expect(text.contains(#"contractor_bff_agentos_budget_spent_total{priority="write"}"#), "the note spent the writes' share")
        let resident = text.split(separator: "\n").first { $0.hasPrefix("contractor_bff_process_resident_memory_bytes ") }
        #expect((resident?.split(separator: " ").last.flatMap { Double($0) } ?? 0) > 1_000_000)
    }

    @Test func theTokenGuardsIt() async throws {
        let guarded = try await Portal.start(environment: ["METRICS_TOKEN": Self.token])
        #expect(await guarded.send("GET", "/metrics", token: nil).status == 401)
        #expect(await guarded.send("GET", "/metrics", token: nil, headers: ["Authorization": "Bearer wrong"]).status == 401)
        #expect(await guarded.get("/metrics").status == 401, "a contractor's session is not the metrics token")
        await guarded.stop()
        let open = try await Portal.start()
        #expect(await open.send("GET", "/metrics", token: nil, headers: ["Authorization": "Bearer \(Self.token)"]).status == 404, "no token configured, no /metrics")
    }

    @Test func labelValuesAreEscaped() {
        var out = PrometheusText()
        out.family("x", "gauge", "help")
        out.sample("x", [("route", "a\"b\\c\nd")], 1)
        #expect(out.text.contains(#"{route="a\"b\\c\nd"}"#))
    }
}
