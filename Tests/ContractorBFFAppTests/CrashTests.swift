import AgentOS
import FixtureAgentOS
import Foundation
import HTTPServer
import JSON
import Logging
import TestSupport
import Testing

/// The real binary as a child process, so it can be killed without warning. Its log is drained all along
/// (a full pipe would stall it) and the port it listens on is read from its "listening" line.
struct ServerProcess: Sendable {
    let child: ChildProcess
    let port: Int
    private let killing = Once()

    /// `inProcessFixture`: no AgentOS configured, so the fixture's own server logs "listening" first.
    init(environment: [String: String], directory: String = Paths.packageRoot.path, inProcessFixture: Bool = false) async throws {
        let child = try ChildProcess(
            executable: Paths.executable.path, arguments: ["serve"],
            environment: ProcessInfo.processInfo.environment.merging(environment) { $1 }, directory: directory)
        let port = await offPool { () -> Int? in
            var pending = Data()
            var skip = inProcessFixture ? 1 : 0
            while true {
                let chunk = child.standardOutput.availableData
                if chunk.isEmpty { return nil }
                pending += chunk
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = Data(pending[pending.startIndex..<newline])
                    pending = Data(pending[(newline + 1)...])
                    if let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any], object["event"] as? String == "listening",
                       let port = object["port"] as? Int {
                        if skip > 0 {
                            skip -= 1
                            continue
                        }
                        Thread { while !child.standardOutput.availableData.isEmpty {} }.start()
                        Thread { while !child.standardError.availableData.isEmpty {} }.start()
                        return port
                    }
                }
            }
        }
        self.child = child
        self.port = try #require(port, "the server did not start")
        TestScope.onEnd { [self] in await kill() }
    }

    func kill() async {
        guard killing.first else { return }
        child.signal(SIGKILL)
        let child = child
        _ = await offPool { child.wait() }
    }
}

extension HeavyWriteProofs {
    @Suite("Writes across a SIGKILL", .scoped)
    struct CrashTests {
        /// Invoices are in flight through a slowed AgentOS when the server is killed; some reach AgentOS before the
        /// kill, some after it (AgentOS keeps working on calls whose caller died), some never. A new process on the
        /// same data directory gets every request again with its key, and AgentOS ends with exactly one invoice
        /// per key.
        /// A fixture AgentOS on loopback, and the environment of a server process that talks to it.
        static func rig(_ extra: [String: String]) throws -> (FixtureAgentOS, HTTPServer, [String: String]) {
            let fixture = try FixtureAgentOS(file: Paths.packageRoot.appendingPathComponent("Fixtures/agentos.json").path)
            let upstream = fixture.makeServer(logger: .discard)
            let upstreamPort = try upstream.start()
            TestScope.onEnd { await upstream.shutdown() }
            let environment = [
                "HOST": "127.0.0.1", "PORT": "0", "ACCESS_LOG": "false", "SESSION_SECRET": Portal.secret,
                "AGENTOS_BASE_URL": "http://127.0.0.1:\(upstreamPort)", "AGENTOS_API_KEY": fixture.store.apiKey,
                "AGENTOS_TIMEOUT_MS": "2000", "AGENTOS_DEADLINE_MS": "2500", "AGENTOS_RATE_LIMIT": "100000", "AGENTOS_MAX_IN_FLIGHT": "64",
                "RATE_LIMIT_IP_PER_MINUTE": "1000000", "RATE_LIMIT_SESSION_PER_MINUTE": "1000000", "AGENTOS_CONTRACTOR_SHARE": "100000",
                "DATA_DIR": FileManager.default.temporaryDirectory.appendingPathComponent("crash-\(UUID().uuidString)").path,
            ]
            return (fixture, upstream, environment.merging(extra) { $1 })
        }

        /// One keyed JSON invoice for J-0003 over its own connection: the status answered (0: none).
        static func keyedInvoice(port: Int, key: String, amount: String, reference: String, date: String) async -> Int {
            let body = #"{"jobId":"J-0003","amount":\#(amount),"reference":"\#(reference)","invoiceDate":"\#(date)"}"#
            let raw = "POST /api/contractor/invoices HTTP/1.1\r\nHost: test\r\nConnection: close\r\nAuthorization: Bearer \(Portal.token())\r\n"
                + "Idempotency-Key: \(key)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
            return await exchange(port: port, raw, readTimeout: 10, closeWithin: 0).response?.status ?? 0
        }

        /// Requests 0..<count at once; each one's status by its index.
        static func sendAll(_ count: Int, _ request: @escaping @Sendable (Int) async -> Int) async -> [Int: Int] {
            await withTaskGroup(of: (Int, Int).self) { group in
                for index in 0..<count { group.addTask { (index, await request(index)) } }
                return await group.reduce(into: [Int: Int]()) { $0[$1.0] = $1.1 }
            }
        }

        /// Clients that retry their request with the same key until it is answered 201 (at most 80 times,
        /// 250 ms apart); each one's last status by its index (0: never answered).
        static func retryUntilCreated(_ count: Int, _ request: @escaping @Sendable (Int) async -> Int) async -> [Int: Int] {
            await sendAll(count) { index in
                for _ in 0..<80 {
                    if await request(index) == 201 { return 201 }
                    try? await Task.sleep(for: .milliseconds(250))
                }
                return 0
            }
        }

        @Test func everyKeyEndsAsExactlyOneInvoice() async throws {
            let (fixture, _, environment) = try Self.rig(["INVOICE_MODE": "modelled"])
            fixture.faults.set([
                // Applied, then never answered: the caller cannot know it landed.
                .on("submitInvoice") { $0.latencyMs = 300; $0.jitterMs = 2_000; $0.afterApplying = true; $0.hang = true; $0.probability = 0.3 },
                .on("submitInvoice") { $0.latencyMs = 300; $0.jitterMs = 2_000 },
            ])
            let count = 24
            @Sendable func request(_ index: Int, port: Int) async -> Int {
                await Self.keyedInvoice(port: port, key: "crash-\(index)", amount: "\(100 + index).25", reference: "CR-\(index)", date: "2026-06-01")
            }

            let first = try await ServerProcess(environment: environment)
            let before = Task { await Self.sendAll(count) { await request($0, port: first.port) } }
            // The kill comes once most invoices reached AgentOS (which holds each for 0.3 to 2.3 s), or after 2 s.
            let start = ContinuousClock.now
            while await fixture.store.received["submitInvoice"] ?? 0 < count * 3 / 4, ContinuousClock.now - start < .seconds(2) {
                try await Task.sleep(for: .milliseconds(20))
            }
            let appliedAtKill = await fixture.store.writes["submitInvoice"] ?? 0
            await first.kill()
            let answeredBeforeKill = await before.value.values.filter { $0 == 201 }.count
            #expect(appliedAtKill < count, "the kill landed while invoices were still in flight (\(appliedAtKill) applied)")
            #expect(answeredBeforeKill < count)

            // The retries meet no new hangs, so the test ends; the slowness stays.
            fixture.faults.set([.on("submitInvoice") { $0.latencyMs = 50; $0.jitterMs = 200 }])
            let second = try await ServerProcess(environment: environment)
            let outcomes = await Self.retryUntilCreated(count) { await request($0, port: second.port) }
            await second.kill()
            // Let AgentOS finish every call the dead process started (the slowest lands 2.3 s after it arrived),
            // so a duplicate made by a late one would be counted.
            try await Task.sleep(for: .milliseconds(2_500))
            #expect(outcomes.values.allSatisfy { $0 == 201 }, "every retry ends with the invoice: \(outcomes)")
            let entries = await fixture.store.pendingEntries("demo", "C-1001")
            for index in 0..<count {
                let matching = entries.filter { $0["InvoiceNumber"] == .string("CR-\(index)") }
                #expect(matching.count == 1, "CR-\(index) is at AgentOS \(matching.count) times")
            }
            #expect(await fixture.store.writes["submitInvoice"] == count, "one submission per key reached AgentOS")
        }

        /// The same with each invoice's PDF: the server is killed while the uploads are at AgentOS; the
        /// retries on a new process find each invoice (with its document) and never send one twice.
        @Test func aKilledUploadIsRetriedToExactlyOneInvoiceWithItsPDF() async throws {
            let (fixture, _, environment) = try Self.rig(["INVOICE_MODE": "documented", "MIRROR": "off", "AGENTOS_UPLOADS_IN_FLIGHT": "8"])
            // Applied, then never answered.
            fixture.faults.set([.on("invoiceSubmit") { $0.latencyMs = 200; $0.afterApplying = true; $0.hang = true }])
            let count = 6
            let pdfs = (0..<count).map { Samples.pdf(150_000 + $0 * 1_000, seed: UInt32(40 + $0)) }
            @Sendable func request(_ index: Int, port: Int) async -> Int {
                var form = TestForm()
                form.field("jobId", "J-0003")
                form.field("amount", "\(200 + index).10")
                form.field("reference", "UP-\(index)")
                form.field("invoiceDate", "2026-06-02")
                form.file("file", "up-\(index).pdf", type: "application/pdf", pdfs[index])
                let body = form.body
                let head = "POST /api/contractor/invoices HTTP/1.1\r\nHost: test\r\nConnection: close\r\nAuthorization: Bearer \(Portal.token())\r\n"
                    + "Idempotency-Key: upload-crash-\(index)\r\nContent-Type: \(TestForm.contentType)\r\nContent-Length: \(body.count)\r\n\r\n"
                return await offPool {
                    guard let connection = RawConnection(port: port) else { return 0 }
                    _ = connection.send(Array(head.utf8) + body)
                    return connection.readResponse(timeout: 10)?.status ?? 0
                }
            }
            let first = try await ServerProcess(environment: environment)
            let before = Task { await Self.sendAll(count) { await request($0, port: first.port) } }
            let start = ContinuousClock.now
            while await fixture.store.writes["submitInvoice"] ?? 0 < count, ContinuousClock.now - start < .seconds(8) {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(await fixture.store.writes["submitInvoice"] == count, "every upload reached AgentOS before the kill")
            await first.kill()
            #expect(await before.value.values.allSatisfy { $0 != 201 }, "no upload was answered before the kill")

            fixture.faults.set([])
            let second = try await ServerProcess(environment: environment)
            // Each key answers "in flight" until AgentOS has had the time to finish the dead process's call
            // (three deadlines after it began), then recovers: a client retrying meanwhile waits it out.
            let statuses = await Self.retryUntilCreated(count) { await request($0, port: second.port) }
            await second.kill()
            #expect(statuses.values.allSatisfy { $0 == 201 }, "every retry ends with the invoice: \(statuses)")
            #expect(await fixture.store.writes["submitInvoice"] == count, "no invoice was sent twice")
            let entries = await fixture.store.pendingEntries("demo", "C-1001")
            for index in 0..<count {
                #expect(entries.filter { $0["InvoiceNumber"] == .string("UP-\(index)") }.count == 1, "UP-\(index) is at AgentOS once")
            }
            let received = await fixture.store.receivedDocuments.compactMap { $0["SHA256"]?.string }
            #expect(received.sorted() == pdfs.map(Samples.sha256).sorted(), "each PDF arrived once, byte for byte")
        }
    }
}
