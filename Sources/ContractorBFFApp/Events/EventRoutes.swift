import AgentOS
import HTTPServer
import JSON

/// `GET /api/contractor/events`: the signed-in contractor's job events as plain server-sent events, for
/// portals that do not use tRPC (a browser's `EventSource`, which reconnects by itself and sends
/// `Last-Event-ID`). Frames: `event: jobUpdate` with an `id:` and the event as JSON data; `: ping`
/// comments; `event: end` when the server stops (reconnect); `event: error` with the REST error shape when
/// the session ends (do not reconnect with it).
enum EventRoutes {
    static func register(on router: inout Router, events: JobEventHub, sessions: SessionAuthenticator, settings: AppConfiguration.EventSettings) {
        router.get("/api/contractor/events") { request in
            let session: Session
            switch await sessions.session(of: request) {
            case .success(let found): session = found
            case .failure(let refusal): throw RESTError.from(refusal)
            }
            let lastEventID = request.query("lastEventId") ?? request.headers["Last-Event-ID"]
            let subscription: JobEventHub.Subscription
            do throws(SubscribeRefusal) {
                subscription = try events.subscribe(session.identity, session: session.id, after: lastEventID)
            } catch {
                throw RESTError.from(error)
            }
            let format = restFormat(requestID: request.requestID)
            let who = EventStreamer.Session(session: session, authenticator: sessions)
            return Response(status: 200, headers: format.headers, body: EventStreamer.body(subscription, format, ping: settings.pingInterval, who))
        }
    }

    static func restFormat(requestID: String) -> EventStreamFormat {
        var headers = EventStreamFormat.streamHeaders
        headers.set("Cache-Control", "no-store, no-transform")
        return EventStreamFormat(
            opening: Array(": connected\n\n".utf8),
            event: { event in Array("id: \(event.id)\nevent: jobUpdate\ndata: ".utf8) + event.payload.serialized() + Array("\n\n".utf8) },
            ping: Array(": ping\n\n".utf8),
            end: { end in
                switch end {
                case .drained:
                    return Array("event: end\ndata: {\"reason\":\"server stopping: reconnect\"}\n\n".utf8)
                case .sessionEnded(let refusal):
                    let body = JSONValue.object(["error": .string(refusal.message), "requestId": .string(requestID), "status": .number("401")])
                    return Array("event: error\ndata: ".utf8) + body.serialized() + Array("\n\n".utf8)
                }
            },
            headers: headers)
    }
}
