import HTTPServer
import Synchronization

/// Requests by route template, method and status, with a latency histogram per template. Labels are a
/// bounded set: the router's patterns (an unrouted path is `unmatched`), the methods, the statuses.
final class RequestMetrics: Sendable {
    static let buckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    struct Key: Hashable { let route: String, method: String, status: Int }
    struct Latency {
        var counts = [Int](repeating: 0, count: RequestMetrics.buckets.count)
        var sum = 0.0
        var count = 0

        mutating func record(_ seconds: Double) {
            for (index, bound) in RequestMetrics.buckets.enumerated() where seconds <= bound { counts[index] += 1 }
            sum += seconds
            count += 1
        }
    }
    struct State {
        var requests: [Key: Int] = [:]
        var latency: [String: Latency] = [:]
    }

    private let state = Mutex(State())

    func record(route: String, method: String, status: Int, seconds: Double) {
        state.withLock { state in
            state.requests[Key(route: route, method: method, status: status), default: 0] += 1
            // In place: a copy taken out and put back would copy its bucket array on every request.
            state.latency[route, default: Latency()].record(seconds)
        }
    }

    func write(to out: inout PrometheusText) {
        let snapshot = state.withLock { $0 }
        out.family("contractor_bff_http_requests_total", "counter", "Requests answered, by route template, method and status.")
        for (key, count) in snapshot.requests.sorted(by: { ($0.key.route, $0.key.method, $0.key.status) < ($1.key.route, $1.key.method, $1.key.status) }) {
            out.sample("contractor_bff_http_requests_total", [("route", key.route), ("method", key.method), ("status", String(key.status))], count)
        }
        out.family("contractor_bff_http_request_duration_seconds", "histogram", "Time to answer a request (to its response head for a stream), by route template.")
        for (route, latency) in snapshot.latency.sorted(by: { $0.key < $1.key }) {
            for (index, bound) in Self.buckets.enumerated() {
                out.sample("contractor_bff_http_request_duration_seconds_bucket", [("route", route), ("le", PrometheusText.number(bound))], latency.counts[index])
            }
            out.sample("contractor_bff_http_request_duration_seconds_bucket", [("route", route), ("le", "+Inf")], latency.count)
            out.sample("contractor_bff_http_request_duration_seconds_sum", [("route", route)], latency.sum)
            out.sample("contractor_bff_http_request_duration_seconds_count", [("route", route)], latency.count)
        }
    }
}

/// The outermost step: times every request and counts its answer under its route's template.
struct MeasureRequests: Middleware {
    let router: Router
    let metrics: RequestMetrics

    func handle(_ request: Request, next: Handler) async throws -> Response {
        let started = ContinuousClock.now
        let route = router.template(request.method, request.pathSegments) ?? "unmatched"
        func record(_ status: Int) {
            metrics.record(route: route, method: request.method.rawValue, status: status, seconds: started.duration(to: .now) / .seconds(1))
        }
        do {
            let response = try await next(request)
            record(response.status)
            return response
        } catch {
            record(ErrorResponse.make(for: error, requestID: request.requestID).status)
            throw error
        }
    }
}
