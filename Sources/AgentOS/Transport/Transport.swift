import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Synchronization

public struct TransportRequest: Sendable {
    public var method: String
    public var url: URL
    public var headers: [(String, String)]
    public var body: [UInt8]?
}

public struct TransportResponse: Sendable {
    public var status: Int
    public var headers: [String: String]
    public var body: [UInt8]

    /// Header lookup, case-insensitive.
    public func header(_ name: String) -> String? {
        headers.first { $0.key.caseInsensitiveCompare(name) == .orderedSame }?.value
    }
}

/// What went wrong below HTTP, sorted by what it proves about the request having been sent.
public enum TransportError: Error, Sendable, Equatable {
    /// No connection was made: the request provably never reached the upstream.
    case connectFailed(String)
    /// The attempt's timer ran out; the upstream may have the request.
    case timedOut
    /// The connection failed after it was made; the upstream may have the request.
    case connectionLost(String)
    case cancelled
}

/// One HTTP exchange with a timeout. A faster transport (libcurl multi) can replace URLSession behind it.
public protocol Transport: Sendable {
    func send(_ request: TransportRequest, timeout: Duration) async -> Result<TransportResponse, TransportError>
}

/// URLSession from FoundationNetworking. Its own timeouts are not trusted (whole seconds only, idle-based,
/// the resource timeout not enforced at all on Linux): each attempt races our timer, and whichever ends
/// first answers; the caller is never left waiting on a transfer that does not end.
public final class URLSessionTransport: Transport {
    private let session: URLSession

    public init(maxConnectionsPerHost: Int = 64) {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpMaximumConnectionsPerHost = maxConnectionsPerHost
        configuration.timeoutIntervalForRequest = 3600
        configuration.timeoutIntervalForResource = 3600
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.urlCache = nil
        configuration.httpCookieStorage = nil
        configuration.httpShouldSetCookies = false
        session = URLSession(configuration: configuration)
    }

    public func send(_ request: TransportRequest, timeout: Duration) async -> Result<TransportResponse, TransportError> {
        var urlRequest = URLRequest(url: request.url)
        urlRequest.httpMethod = request.method
        for (name, value) in request.headers { urlRequest.setValue(value, forHTTPHeaderField: name) }
        if let body = request.body { urlRequest.httpBody = Data(body) }
        let outcome = Once<Result<TransportResponse, TransportError>>()
        let task = Mutex<URLSessionDataTask?>(nil)
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                outcome.install(continuation)
                let expiry = Expiry {
                    if outcome.resume(.failure(.timedOut)) { task.withLock { $0?.cancel() } }
                }
                let dataTask = session.dataTask(with: urlRequest) { data, response, error in
                    // The answer came first: the timer is cancelled, so nothing of this call outlives it.
                    if outcome.resume(Self.result(data: data, response: response, error: error)) { expiry.cancel() }
                    // A cancelled timer stays queued until its time, holding what it captured: not the task,
                    // whose request holds the body (megabytes, for an upload).
                    task.withLock { $0 = nil }
                }
                task.withLock { $0 = dataTask }
                dataTask.resume()
                DispatchQueue.global().asyncAfter(deadline: .now() + max(0, timeout.seconds), execute: expiry.item)
            }
        } onCancel: {
            if outcome.resume(.failure(.cancelled)) { task.withLock { $0?.cancel() } }
        }
    }

    private static func result(data: Data?, response: URLResponse?, error: (any Error)?) -> Result<TransportResponse, TransportError> {
        if let error {
            let code = (error as? URLError)?.code ?? URLError.Code(rawValue: (error as NSError).code)
            switch code {
            case .cannotConnectToHost, .cannotFindHost, .dnsLookupFailed, .notConnectedToInternet:
                return .failure(.connectFailed(error.localizedDescription))
            case .timedOut: return .failure(.timedOut)
            case .cancelled: return .failure(.cancelled)
            default: return .failure(.connectionLost(error.localizedDescription))
            }
        }
        guard let http = response as? HTTPURLResponse else { return .failure(.connectionLost("not an HTTP response")) }
        var headers: [String: String] = [:]
        for (name, value) in http.allHeaderFields {
            if let name = name as? String, let value = value as? String { headers[name] = value }
        }
        return .success(TransportResponse(status: http.statusCode, headers: headers, body: Array(data ?? Data())))
    }
}

/// A timer's work item. DispatchWorkItem's cancel() is thread-safe, but corelibs does not mark the type
/// Sendable; this box says so in one place.
final class Expiry: @unchecked Sendable {
    let item: DispatchWorkItem
    init(_ work: @escaping @Sendable () -> Void) { item = DispatchWorkItem(block: work) }
    func cancel() { item.cancel() }
}

/// A continuation resumed exactly once, by whichever of several racers gets there first.
final class Once<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, Never>?
        var early: T?
        var done = false
    }

    private let state = Mutex(State())

    func install(_ continuation: CheckedContinuation<T, Never>) {
        let early: T? = state.withLock { state in
            if let early = state.early { return early }
            state.continuation = continuation
            return nil
        }
        if let early { continuation.resume(returning: early) }
    }

    /// True if this call was the one that resumed.
    @discardableResult
    func resume(_ value: T) -> Bool {
        let (continuation, won): (CheckedContinuation<T, Never>?, Bool) = state.withLock { state in
            guard !state.done else { return (nil, false) }
            state.done = true
            if let continuation = state.continuation { return (continuation, true) }
            state.early = value  // cancelled before the continuation was installed
            return (nil, true)
        }
        continuation?.resume(returning: value)
        return won
    }
}
