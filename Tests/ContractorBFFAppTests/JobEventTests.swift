import AgentOS
import FixtureAgentOS
import Foundation
import JSON
import TestSupport
import Testing

/// `contractor.onJobUpdate` over tRPC's httpSubscriptionLink, and its REST twin `/api/contractor/events`.
@Suite("Job events over server-sent events", .scoped)
struct JobEventTests {
    static let subscription = "/api/trpc/contractor.onJobUpdate"

    /// The `id:` of each data event of a tRPC event stream, in order.
    static func ids(_ text: String) -> [String] {
        text.components(separatedBy: "\n").filter { $0.hasPrefix("id: ") }.map { String($0.dropFirst(4)) }
    }

    /// The JSON of each `data:` line of the events (not `connected`'s).
    static func events(_ text: String, superjson: Bool = false) -> [JSONValue] {
        text.components(separatedBy: "\n\n").compactMap { frame -> JSONValue? in
            let lines = frame.components(separatedBy: "\n")
            guard !lines.contains(where: { $0.hasPrefix("event: ") }),
                  let data = lines.first(where: { $0.hasPrefix("data: ") }),
                  let value = try? JSONText.parse(Array(data.dropFirst(6).utf8)) else { return nil }
            return superjson ? value["json"] : value
        }
    }

    func subscribe(_ portal: Portal, input: String? = nil, token: String, headers: [String: String] = [:]) async throws -> StreamingClient {
        let target = Self.subscription + (input.map { "?input=" + encoded($0) } ?? "")
        let client = try #require(portal.open("GET", target, token: token, headers: headers))
        #expect(await client.readHead())
        return client
    }

    @Test func writesArriveAsEventsAndMissedOnesAreReplayed() async throws {
        let portal = try await Portal.start(environment: ["EVENTS_PING_MS": "10000"])
        let token = Portal.token()
        let client = try await subscribe(portal, token: token)
        #expect(client.status == 200)
        #expect(client.header("Content-Type") == "text/event-stream")
        #expect(client.header("Cache-Control") == "no-cache, no-transform")
        #expect(client.header("X-Accel-Buffering") == "no")
        #expect(await client.read { $0.hasPrefix("event: connected\ndata: {\"reconnectAfterInactivityMs\":30000}\n\n\n") })
        // A note, then a completion, through REST and tRPC: each an event, in order.
        #expect(await portal.send("POST", "/api/contractor/jobs/J-0008/notes", body: #"{"note":"On site"}"#).status == 201)
        #expect(await portal.send("POST", "/api/trpc/contractor.toggleJobCompletion", body: #"{"jobId":"J-0008","completed":true}"#).status == 200)
        #expect(await client.read { Self.ids($0).count == 2 })
        let seen = Self.events(client.text)
        #expect(seen.first?["kind"] == .string("note"))
        #expect(seen.first?["note"]?["text"] == .string("On site"))
        #expect(seen.first?["source"] == .string("gateway"))
        #expect(seen.last?["kind"] == .string("completion"))
        #expect(seen.last?["completed"] == .bool(true))
        #expect(client.text.contains("\nid: \(Self.ids(client.text).first ?? "-")\n\n\n"), "tRPC's frame: data, id, blank lines")
        let last = try #require(Self.ids(client.text).last)
        client.close()
        // Missed while away; replayed on resume by the link's input, and by a browser's Last-Event-ID.
        #expect(await portal.send("POST", "/api/contractor/jobs/J-0008/notes", body: #"{"note":"Back tomorrow"}"#).status == 201)
        let resumed = try await subscribe(portal, input: "{\"lastEventId\":\"\(last)\"}", token: token)
        #expect(await resumed.read { Self.ids($0).count == 1 })
        #expect(Self.events(resumed.text).first?["note"]?["text"] == .string("Back tomorrow"))
        resumed.close()
        let byHeader = try await subscribe(portal, token: token, headers: ["Last-Event-ID": last])
        #expect(await byHeader.read { Self.ids($0).count == 1 })
        byHeader.close()
        // Another contractor's stream hears nothing of it.
        let other = try await subscribe(portal, token: Portal.token("C-2002"))
        #expect(await other.read { $0.contains("event: connected") })
        #expect(await portal.send("POST", "/api/contractor/jobs/J-0008/notes", body: #"{"note":"third"}"#).status == 201)
        try await Task.sleep(for: .milliseconds(300))
        #expect(Self.ids(other.text).isEmpty)
        other.close()
    }

    /// What a read of AgentOS finds changed (a job completed, a note added, by someone else) is announced.
    @Test func readsAnnounceWhatChangedInAgentOS() async throws {
        let portal = try await Portal.start()
        #expect(await portal.get("/api/contractor/jobs").status == 200)
        #expect(await portal.get("/api/trpc/contractor.maintenanceJobNotes?input=" + encoded(#"{"jobId":"J-0001"}"#)).status == 200)
        let client = try await subscribe(portal, token: Portal.token())
        _ = await portal.fixture.store.setCompletion("demo", "J-0009", completed: true)
        _ = await portal.fixture.store.addNote("demo", "J-0001", text: "Tenant called", author: "agency")
        #expect(await portal.get("/api/contractor/jobs").status == 200)
        #expect(await portal.get("/api/trpc/contractor.maintenanceJobNotes?input=" + encoded(#"{"jobId":"J-0001"}"#)).status == 200)
        #expect(await client.read { Self.ids($0).count == 2 })
        let events = Self.events(client.text)
        let completion = try #require(events.first { $0["kind"] == .string("completion") })
        #expect(completion["jobId"] == .string("J-0009"))
        #expect(completion["source"] == .string("agentos"))
        #expect(completion["completed"] == .bool(true))
        let note = try #require(events.first { $0["kind"] == .string("note") })
        #expect(note["note"]?["text"] == .string("Tenant called"))
        // Reading again changes nothing, so announces nothing.
        #expect(await portal.get("/api/contractor/jobs").status == 200)
        try await Task.sleep(for: .milliseconds(200))
        #expect(Self.ids(client.text).count == 2)
        client.close()
    }

    @Test func aResumeFromBeyondTheBufferIsToldToRefetch() async throws {
        let portal = try await Portal.start(environment: ["EVENTS_BUFFER_PER_CONTRACTOR": "2"])
        let token = Portal.token()
        let client = try await subscribe(portal, token: token)
        #expect(await portal.send("POST", "/api/contractor/jobs/J-0011/notes", body: #"{"note":"1"}"#).status == 201)
        #expect(await client.read { Self.ids($0).count == 1 })
        let first = try #require(Self.ids(client.text).first)
        client.close()
        for text in ["2", "3", "4"] {
            #expect(await portal.send("POST", "/api/contractor/jobs/J-0011/notes", body: "{\"note\":\"\(text)\"}").status == 201)
        }
        for lastEventId in [first, "0123abcd-1", "not an id"] {
            let gone = try await subscribe(portal, input: "{\"lastEventId\":\"\(lastEventId)\"}", token: token)
            #expect(await gone.readToEnd())
            #expect(gone.text.hasPrefix("event: connected\ndata: {}\n\n\nevent: serialized-error\ndata: {"), "\(gone.text)")
            let error = try #require(Self.serializedError(gone.text))
            #expect(error["data"]?["code"] == .string("PRECONDITION_FAILED"))
            #expect(error["code"] == .number("-32012"))
            #expect(error["message"]?.string?.contains("refetch") == true)
        }
        // Within the buffer, the two newest are replayed.
        let recent = try await subscribe(portal, token: token)
        recent.close()
    }

    static func serializedError(_ text: String) -> JSONValue? {
        guard let range = text.range(of: "event: serialized-error\ndata: ") else { return nil }
        let rest = text[range.upperBound...]
        return try? JSONText.parse(Array(rest.prefix { $0 != "\n" }.utf8))
    }

    @Test func anExpiredSessionEndsTheStreamWithUnauthorized() async throws {
        let portal = try await Portal.start()
        let client = try await subscribe(portal, token: Portal.token(expiresIn: 2))
        #expect(await client.read { $0.contains("event: connected") })
        #expect(await client.readToEnd(timeout: 6), "the stream ends at the session's expiry")
        let error = try #require(Self.serializedError(client.text))
        #expect(error["data"]?["code"] == .string("UNAUTHORIZED"))
        // Without a session the stream refuses at once, in the same shape.
        let none = try #require(portal.open("GET", Self.subscription, token: nil))
        #expect(await none.readHead())
        #expect(await none.readToEnd())
        #expect(Self.serializedError(none.text)?["data"]?["code"] == .string("UNAUTHORIZED"))
    }

    @Test func streamsAreBoundedPerSessionAndPinged() async throws {
        let portal = try await Portal.start(environment: ["EVENTS_MAX_PER_SESSION": "1", "EVENTS_PING_MS": "200"])
        let token = Portal.token()
        let first = try await subscribe(portal, token: token)
        #expect(await first.read { $0.contains("event: ping\ndata: \n\n\n") }, "keep-alive pings")
        let second = try await subscribe(portal, token: token)
        #expect(await second.readToEnd())
        #expect(Self.serializedError(second.text)?["data"]?["code"] == .string("TOO_MANY_REQUESTS"))
        // Another session is not held back by this one's streams.
        let other = try await subscribe(portal, token: Portal.token("C-2002"))
        #expect(await other.read { $0.contains("event: connected") })
        first.close()
        try await Task.sleep(for: .milliseconds(300))
        let again = try await subscribe(portal, token: token)
        #expect(await again.read { $0.contains("event: ping") }, "a closed stream gives its place back")
        again.close()
        other.close()
    }

    @Test func aDrainEndsEveryStreamWithReturn() async throws {
        let portal = try await Portal.start()
        let client = try await subscribe(portal, token: Portal.token())
        let rest = try #require(portal.open("GET", "/api/contractor/events"))
        #expect(await rest.readHead())
        #expect(await client.read { $0.contains("event: connected") })
        #expect(await rest.read { $0.contains(": connected") })
        await portal.stop()
        #expect(await client.readToEnd())
        #expect(client.text.hasSuffix("event: return\ndata: \n\n\n"))
        #expect(await rest.readToEnd())
        #expect(rest.text.hasSuffix("event: end\ndata: {\"reason\":\"server stopping: reconnect\"}\n\n"))
    }

    @Test func theRESTTwinSpeaksPlainServerSentEvents() async throws {
        let portal = try await Portal.start(environment: ["EVENTS_BUFFER_PER_CONTRACTOR": "1"])
        #expect(await portal.get("/api/contractor/events", token: nil).status == 401)
        let client = try #require(portal.open("GET", "/api/contractor/events"))
        #expect(await client.readHead())
        #expect(client.header("Content-Type") == "text/event-stream")
        #expect(await portal.send("POST", "/api/contractor/jobs/J-0012/notes", body: #"{"note":"rest twin"}"#).status == 201)
        #expect(await client.read { $0.contains("event: jobUpdate\ndata: ") })
        let id = try #require(client.text.components(separatedBy: "\n").first { $0.hasPrefix("id: ") }?.dropFirst(4))
        #expect(client.text.contains("id: \(id)\nevent: jobUpdate\ndata: {"))
        client.close()
        for text in ["a", "b"] { #expect(await portal.send("POST", "/api/contractor/jobs/J-0012/notes", body: "{\"note\":\"\(text)\"}").status == 201) }
        let gone = await portal.send("GET", "/api/contractor/events", headers: ["Last-Event-ID": String(id)])
        #expect(gone.status == 409)
        #expect(gone.error?.contains("refetch") == true)
    }
}
