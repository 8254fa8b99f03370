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

    init(environment: [String: String]) async throws {
        let child = try ChildProcess(
            executable: Paths.executable.path, arguments: ["serve"],
            environment: ProcessInfo.processInfo.environment.merging(environment) { $1 }, directory: Paths.packageRoot.path)
        let port = await offPool { () -> Int? in
            var pending = Data()
            while true {
                let chunk = child.standardOutput.availableData
                if chunk.isEmpty { return nil }
                pending += chunk
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = Data(pending[pending.startIndex..<newline])
                    pending = Data(pending[(newline + 1)...])
                    if let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any], object["event"] as? String == "listening",
                       let port = object["port"] as? Int {
                        Thread { while !child.standardOutput.availableData.isEmpty {} }.start()
                        Thread { while !child.standardError.availableData.isEmpty {} }.start()
                        return port
                    }
                }
            }
        }
        self.child = child
        self.port = try #require(port, "the server did not start")
    }

    func kill() async {
        child.signal(SIGKILL)
        let child = child
        _ = await offPool { child.wait() }
    }
}

extension HeavyWriteProofs {
    @Suite("Writes across a SIGKILL")
    struct CrashTests {
        /// Invoices are in flight through a slowed AgentOS when the server is killed; some reach AgentOS before the
        /// kill, some after it (AgentOS keeps working on calls whose caller died), some never. A new process on the
        /// same data directory gets every request again with its key, and AgentOS ends with exactly one invoice
        /// per key.
        @Test func everyKeyEndsAsExactlyOneInvoice() async throws {
            let fixture = try FixtureAgentOS(file: Paths.packageRoot.appendingPathComponent("Fixtures/agentos.json").path)
            let upstream = fixture.makeServer(logger: .discard)
            let upstreamPort = try upstream.start()
            defer { Task { await upstream.shutdown() } }
            let environment = [
                "HOST": "127.0.0.1", "PORT": "0", "ACCESS_LOG": "false", "SESSION_SECRET": Portal.secret,
                "AGENTOS_BASE_URL": "http://127.0.0.1:\(upstreamPort)", "AGENTOS_API_KEY": fixture.store.apiKey,
                "AGENTOS_TIMEOUT_MS": "2000", "AGENTOS_DEADLINE_MS": "2500", "AGENTOS_RATE_LIMIT": "100000", "AGENTOS_MAX_IN_FLIGHT": "64",
                "RATE_LIMIT_IP_PER_MINUTE": "1000000", "RATE_LIMIT_SESSION_PER_MINUTE": "1000000", "AGENTOS_CONTRACTOR_SHARE": "100000", "INVOICE_MODE": "modelled",
                "DATA_DIR": FileManager.default.temporaryDirectory.appendingPathComponent("crash-\(UUID().uuidString)").path,
            ]
            fixture.faults.set([
                // Applied, then never answered: the caller cannot know it landed.
                .on("submitInvoice") { $0.latencyMs = 300; $0.jitterMs = 2_000; $0.afterApplying = true; $0.hang = true; $0.probability = 0.3 },
                .on("submitInvoice") { $0.latencyMs = 300; $0.jitterMs = 2_000 },
            ])
            let count = 24
            func request(_ index: Int, port: Int) async -> Int {
                let body = #"{"jobId":"J-0003","amount":\#(100 + index).25,"reference":"CR-\#(index)","invoiceDate":"2026-06-01"}"#
                let raw = "POST /api/contractor/invoices HTTP/1.1\r\nHost: test\r\nConnection: close\r\nAuthorization: Bearer \(Portal.token())\r\n"
                    + "Idempotency-Key: crash-\(index)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
                return await exchange(port: port, raw, readTimeout: 10, closeWithin: 0).response?.status ?? 0
            }

            let first = try await ServerProcess(environment: environment)
            let before = Task {
                await withTaskGroup(of: Int.self) { group in
                    for index in 0..<count { group.addTask { await request(index, port: first.port) } }
                    return await group.reduce(into: [Int]()) { $0.append($1) }
                }
            }
            // The kill comes once most invoices reached AgentOS (which holds each for 0.3 to 2.3 s), or after 2 s.
            let start = ContinuousClock.now
            while await fixture.store.received["submitInvoice"] ?? 0 < count * 3 / 4, ContinuousClock.now - start < .seconds(2) {
                try await Task.sleep(for: .milliseconds(20))
            }
            let appliedAtKill = await fixture.store.writes["submitInvoice"] ?? 0
            await first.kill()
            let answeredBeforeKill = await before.value.filter { $0 == 201 }.count
            #expect(appliedAtKill < count, "the kill landed while invoices were still in flight (\(appliedAtKill) applied)")
            #expect(answeredBeforeKill < count)

            // The retries meet no new hangs, so the test ends; the slowness stays.
            fixture.faults.set([.on("submitInvoice") { $0.latencyMs = 50; $0.jitterMs = 200 }])
            let second = try await ServerProcess(environment: environment)
            let outcomes = await withTaskGroup(of: (Int, Int).self) { group in
                for index in 0..<count {
                    group.addTask {
                        // A client that retries its request with the same key until it has an answer.
                        for _ in 0..<80 {
                            let status = await request(index, port: second.port)
                            if status == 201 { return (index, status) }
                            try? await Task.sleep(for: .milliseconds(250))
                        }
                        return (index, 0)
                    }
                }
                return await group.reduce(into: [Int: Int]()) { $0[$1.0] = $1.1 }
            }
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
    }
}
