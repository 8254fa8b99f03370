import AgentOS
import Foundation
import HTTPServer

/// How one API writes the frames of a job-event stream (server-sent events, WHATWG HTML §9.2).
struct EventStreamFormat: Sendable {
    enum End: Sendable, Equatable {
        /// The server is stopping: the stream ends cleanly and the client may reconnect elsewhere.
        case drained
        /// The session expired or was ended while the stream was open.
        case sessionEnded(SessionRefusal)
    }

    let opening: [UInt8]
    let event: @Sendable (JobEvent) -> [UInt8]
    let ping: [UInt8]
    let end: @Sendable (End) -> [UInt8]
    let headers: HTTPHeaders

    /// The headers of every event stream; `X-Accel-Buffering: no` keeps nginx from holding events back.
    static let streamHeaders: HTTPHeaders = [
        "Content-Type": "text/event-stream", "Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no",
    ]
}

/// Feeds one subscription to its client: the opening frame, the replay, then live events, keep-alive
/// pings, and an end when the hub drains or the session expires or is ended. A client that hangs up
/// ends it all (the server cancels the body's consumer; the subscriber is removed).
enum EventStreamer {
    struct Session: Sendable {
        let session: ContractorBFFApp.Session
        let authenticator: SessionAuthenticator
    }

    private enum Signal: Sendable {
        case delivery(Delivery)
        case deliveriesEnded
        case ping
        case expired
    }

    static func body(_ subscription: JobEventHub.Subscription, _ format: EventStreamFormat, ping: Duration?, _ who: Session) -> Response.Body {
        let (out, continuation) = AsyncStream<[UInt8]>.makeStream()
        let producer = Task {
            continuation.yield(format.opening)
            for event in subscription.replay { continuation.yield(format.event(event)) }
            let (signals, signal) = AsyncStream<Signal>.makeStream()
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await delivery in subscription.deliveries { signal.yield(.delivery(delivery)) }
                    signal.yield(.deliveriesEnded)
                }
                if let ping {
                    group.addTask {
                        while (try? await Task.sleep(for: ping)) != nil { signal.yield(.ping) }
                    }
                }
                let expiresIn = TimeInterval(who.session.claims.expiresAt) - Date().timeIntervalSince1970
                group.addTask {
                    if (try? await Task.sleep(for: .milliseconds(max(0, Int(expiresIn * 1000))))) != nil { signal.yield(.expired) }
                }
                loop: for await next in signals {
                    switch next {
                    case .delivery(.event(let event)):
                        continuation.yield(format.event(event))
                    case .delivery(.drained), .deliveriesEnded:
                        continuation.yield(format.end(.drained))
                        break loop
                    case .ping:
                        // A session ended elsewhere (signed out, refresh token replayed) ends its streams too.
                        if await who.authenticator.isEnded(who.session) {
                            continuation.yield(format.end(.sessionEnded(.invalid(.revoked))))
                            break loop
                        }
                        continuation.yield(format.ping)
                    case .expired:
                        continuation.yield(format.end(.sessionEnded(.invalid(.expired))))
                        break loop
                    }
                }
                group.cancelAll()
                signal.finish()
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in producer.cancel() }
        return .stream(out)
    }
}

extension SessionAuthenticator {
    /// Whether a session verified earlier has since been ended (its sign-in revoked).
    func isEnded(_ session: Session) async -> Bool {
        guard let family = session.claims.sessionID else { return false }
        return await revocations?.isRevoked(family: family) == true
    }
}
