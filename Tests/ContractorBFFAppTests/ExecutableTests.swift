@testable import ContractorBFFApp
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import TestSupport

/// The real binary, as a newcomer runs it.
@Suite("contractor-bff executable", .scoped)
struct ExecutableTests {
    struct Run: Sendable {
        let status: Int32
        let output: String
        let error: String
    }

    /// Each test's own data directory, so no run writes into the checkout.
    let dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("contractor-bff-exec-\(UUID().uuidString)").path

    func spawn(_ arguments: [String], environment: [String: String], input: String? = nil) throws -> ChildProcess {
        try ChildProcess(
            executable: Paths.executable.path, arguments: arguments,
            environment: ProcessInfo.processInfo.environment.merging(["DATA_DIR": dataDirectory]) { $1 }.merging(environment) { $1 },
            directory: Paths.packageRoot.path, input: input.map { Array($0.utf8) })
    }

    func run(_ arguments: [String], environment: [String: String] = [:], input: String? = nil) async throws -> Run {
        let child = try spawn(arguments, environment: environment, input: input)
        // Both pipes are read at once, so a child that fills one never waits on the other.
        async let error = offPool { child.standardError.readDataToEndOfFile() }
        let output = await offPool { child.standardOutput.readDataToEndOfFile() }
        let errorText = await error
        let exit = await offPool { child.wait() }
        return Run(status: exit.signalled ? 128 + exit.code : exit.code, output: String(decoding: output, as: UTF8.self), error: String(decoding: errorText, as: UTF8.self))
    }

    @Test func helpExplainsEveryCommand() async throws {
        let help = try await run(["--help"])
        #expect(help.status == 0)
        #expect(help.output.contains("serve"))
        #expect(help.output.contains("config"))
        let serveHelp = try await run(["serve", "--help"])
        #expect(serveHelp.output.contains("SIGTERM"))
    }

    @Test func unknownCommandIsRefused() async throws {
        let result = try await run(["frobnicate"])
        #expect(result.status == 64)
        #expect(result.error.contains("unknown command"))
    }

    @Test func badConfigurationStopsStartNamingTheKey() async throws {
        let result = try await run(["serve"], environment: ["PORT": "eighty"])
        #expect(result.status == 78)
        #expect(result.error.contains("PORT"))
    }

    @Test func configCommandShowsSources() async throws {
        let result = try await run(["config"], environment: ["PORT": "9999"])
        #expect(result.status == 0)
        #expect(result.output.contains("PORT=9999\t(environment)"))
    }

    /// Starts the binary and reads its JSON log lines until `done` says it has what it needs.
    func start(_ arguments: [String], environment: [String: String], until done: @escaping @Sendable ([[String: Any]]) -> Bool) async throws -> (ChildProcess, [[String: Any]]) {
        let child = try spawn(arguments, environment: environment)
        nonisolated(unsafe) var lines: [[String: Any]] = []
        await offPool {
            var pending = Data()
            while !done(lines) {
                let chunk = child.standardOutput.availableData
                if chunk.isEmpty { return }
                pending += chunk
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = pending[pending.startIndex..<newline]
                    pending = Data(pending[(newline + 1)...])
                    if let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] { lines.append(object) }
                }
            }
        }
        return (child, lines)
    }

    /// SIGTERM, then the exit.
    func stop(_ child: ChildProcess) async -> ChildProcess.Exit {
        child.signal(SIGTERM)
        return await offPool { child.wait() }
    }

    func get(_ url: String) async throws -> (Int, String) {
        let (data, response) = try await URLSession.shared.data(from: URL(string: url)!)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    @Test func serveRunsAgainstTheInProcessFixtureAndExitsZeroOnSIGTERM() async throws {
        let (process, lines) = try await start(["serve"], environment: ["PORT": "0", "HOST": "127.0.0.1"]) { lines in
            lines.filter { $0["event"] as? String == "listening" }.count == 2
        }
        let ports = lines.filter { $0["event"] as? String == "listening" }.compactMap { $0["port"] as? Int }
        let fixturePort = lines.first { $0["event"] as? String == "fixture_agentos" }?["port"] as? Int
        let port = try #require(ports.first { $0 != fixturePort })
        let health = try await get("http://127.0.0.1:\(port)/healthz")
        let ready = try await get("http://127.0.0.1:\(port)/readyz")
        // The newcomer's path: mint a fixture session with the binary, call a contractor route with it.
        let token = try await run(["token", "--contractor", "C-1001", "--agency", "demo"])
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/api/contractor/account")!)
        request.setValue("Bearer " + token.output.trimmingCharacters(in: .whitespacesAndNewlines), forHTTPHeaderField: "Authorization")
        let (account, accountResponse) = try await URLSession.shared.data(for: request)
        let exit = await stop(process)
        let hint = String(decoding: process.standardError.readDataToEndOfFile(), as: UTF8.self)
        #expect(token.status == 0)
        #expect((accountResponse as? HTTPURLResponse)?.statusCode == 200)
        #expect(String(decoding: account, as: UTF8.self).contains("Northern Plumbing"))
        #expect(hint.contains("token --contractor"), "serve prints how to get a fixture session")
        #expect(hint.contains("curl -H \"Authorization: Bearer $TOKEN\" http://127.0.0.1:\(port)/api/contractor/account"))
        #expect(health.0 == 200 && health.1 == #"{"status":"ok"}"#)
        #expect(ready.0 == 200)
        #expect(ready.1.contains(#""mode":"fixture""#))
        #expect(ready.1.contains(#""breaker":"closed""#))
        #expect(exit == ChildProcess.Exit(code: 0, signalled: false))
    }

    /// SIGTERM ends every open event stream with tRPC's `return` before the process drains and exits.
    @Test func sigtermEndsEventStreamsWithReturn() async throws {
        let (process, lines) = try await start(["serve"], environment: ["PORT": "0", "HOST": "127.0.0.1"]) { lines in
            lines.filter { $0["event"] as? String == "listening" }.count == 2
        }
        let fixturePort = lines.first { $0["event"] as? String == "fixture_agentos" }?["port"] as? Int
        let port = try #require(lines.filter { $0["event"] as? String == "listening" }.compactMap { $0["port"] as? Int }.first { $0 != fixturePort })
        let token = try await run(["token", "--contractor", "C-1001", "--agency", "demo"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        let stream = try #require(StreamingClient(
            port: port, "GET /api/trpc/contractor.onJobUpdate HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer \(token)\r\n\r\n"))
        #expect(await stream.readHead())
        #expect(await stream.read { $0.contains("event: connected") })
        process.signal(SIGTERM)
        #expect(await stream.readToEnd())
        #expect(stream.text.hasSuffix("event: return\ndata: \n\n\n"))
        let exit = await offPool { process.wait() }
        #expect(exit == ChildProcess.Exit(code: 0, signalled: false))
    }

    /// Under load on kept-alive connections, SIGTERM mid-run: every request a client got an answer to has
    /// its access line on standard output by the time the process exits (none dropped, none left in a
    /// loop's batch or the writer's buffer).
    @Test func everyRequestAnsweredBeforeSIGTERMIsInTheAccessLog() async throws {
        let (process, lines) = try await start(["serve"], environment: ["PORT": "0", "HOST": "127.0.0.1"]) { lines in
            lines.filter { $0["event"] as? String == "listening" }.count == 2
        }
        let fixturePort = lines.first { $0["event"] as? String == "fixture_agentos" }?["port"] as? Int
        let port = try #require(lines.filter { $0["event"] as? String == "listening" }.compactMap { $0["port"] as? Int }.first { $0 != fixturePort })
        async let output = offPool { process.standardOutput.readDataToEndOfFile() }
        // Four clients back to back, SIGTERM once 300 answers are in (a short burst: this suite runs beside
        // others with timing bounds of their own), each client stopping at 250 or when told to close.
        let total = Locked(0)
        let answered = await withTaskGroup(of: [String].self) { group in
            for _ in 0..<4 {
                group.addTask {
                    await offPool {
                        var ids: [String] = []
                        guard let connection = RawConnection(port: port) else { return ids }
                        while ids.count < 250, connection.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"),
                              let response = connection.readResponse(timeout: 10) {
                            if let id = response.header("X-Request-Id") { ids.append(id) }
                            if total.withLock({ $0 += 1; return $0 }) == 300 { process.signal(SIGTERM) }
                            if response.header("Connection")?.lowercased() == "close" { break }
                        }
                        return ids
                    }
                }
            }
            var all: [String] = []
            for await ids in group { all += ids }
            return all
        }
        if total.withLock({ $0 }) < 300 { process.signal(SIGTERM) }
        let exit = await offPool { process.wait() }
        let logged = Set(String(decoding: await output, as: UTF8.self).split(separator: "\n").compactMap { line -> String? in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  object["event"] as? String == "access" else { return nil }
            return object["requestId"] as? String
        })
        #expect(exit == ChildProcess.Exit(code: 0, signalled: false))
        #expect(answered.count >= 300, "only \(answered.count) requests were answered before the drain")
        #expect(answered.count < 1000, "the drain began while the clients were still sending")
        let missing = answered.filter { !logged.contains($0) }
        #expect(missing.isEmpty, "\(missing.count) of \(answered.count) answered requests have no access line")
    }

    @Test func withoutAgentOSAndFixtureOffReadyzSaysNotConfigured() async throws {
        let (process, lines) = try await start(["serve"], environment: ["PORT": "0", "HOST": "127.0.0.1", "FIXTURE_MODE": "off"]) { lines in
            lines.contains { $0["event"] as? String == "listening" }
        }
        let port = try #require(lines.first { $0["event"] as? String == "listening" }?["port"] as? Int)
        let ready = try await get("http://127.0.0.1:\(port)/readyz")
        _ = await stop(process)
        #expect(ready.0 == 503)
        #expect(ready.1.contains("not-configured"))
    }

    @Test func fixturesCommandServesTheContractWithTheKey() async throws {
        let (process, lines) = try await start(["fixtures", "--port", "0"], environment: ["HOST": "127.0.0.1"]) { lines in
            lines.contains { $0["event"] as? String == "listening" }
        }
        let port = try #require(lines.first { $0["event"] as? String == "listening" }?["port"] as? Int)
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/v4/maintenance/demo/contractors/C-1001")!)
        let (_, unauthorized) = try await URLSession.shared.data(for: request)
        request.setValue("fixture-key", forHTTPHeaderField: "api_key")
        let (data, authorized) = try await URLSession.shared.data(for: request)
        let exit = await stop(process)
        #expect((unauthorized as? HTTPURLResponse)?.statusCode == 401)
        #expect((authorized as? HTTPURLResponse)?.statusCode == 200)
        #expect(String(decoding: data, as: UTF8.self).contains("Northern Plumbing"))
        #expect(exit == ChildProcess.Exit(code: 0, signalled: false))
    }

    @Test func developmentSecretIsRefusedWithARealAgentOS() async throws {
        let real = ["AGENTOS_BASE_URL": "https://live-api.letmc.com", "AGENTOS_API_KEY": "k"]
        let token = try await run(["token", "--contractor", "C-1001", "--agency", "demo"], environment: real)
        #expect(token.status == 78)
        #expect(token.output.isEmpty)
        let serve = try await run(["serve"], environment: real.merging(["PORT": "0", "HOST": "127.0.0.1"]) { $1 })
        #expect(serve.status == 78)
        #expect(serve.error.contains("SESSION_SECRET"))
        let own = try await run(["token", "--contractor", "C-1001", "--agency", "demo", "--ttl", "1h"],
                                environment: real.merging(["SESSION_SECRET": "an-operator-chosen-secret-of-32-bytes+"]) { $1 })
        #expect(own.status == 0)
        #expect(own.output.split(separator: ".").count == 3)
    }

    @Test(arguments: [["token"], ["token", "--contractor", "C-1"], ["token", "--contractor", "C-1", "--agency", "demo", "--ttl", "forever"]])
    func tokenCommandNeedsItsArguments(_ arguments: [String]) async throws {
        let result = try await run(arguments)
        #expect(result.status == 64)
    }

    @Test func shortSessionSecretIsRefused() async throws {
        let result = try await run(["config"], environment: ["SESSION_SECRET": "too-short"])
        #expect(result.status == 78)
        #expect(result.error.contains("SESSION_SECRET"))
        #expect(!result.error.contains("too-short"), "a secret is never printed, even a refused one")
    }

    @Test func apiKeyIsNeverPrinted() async throws {
        let result = try await run(["config"], environment: ["AGENTOS_API_KEY": "super-secret-key", "AGENTOS_BASE_URL": "https://example.com"])
        #expect(result.status == 0)
        #expect(!result.output.contains("super-secret-key"))
        #expect(result.output.contains("AGENTOS_API_KEY=(set, not shown)"))
    }

    @Test func usersAreManagedFromTheCommandLineAndSignIn() async throws {
        let add = try await run(["users", "add", "--email", "Sparky@Example.com", "--agency", "demo", "--contractor", "C-1001"],
                                input: "a long enough password\n")
        #expect(add.status == 0, "\(add.error)")
        #expect(add.output.contains("added sparky@example.com"))
        #expect(try await run(["users", "add", "--email", "sparky@example.com", "--agency", "demo", "--contractor", "C-1001"],
                              input: "a long enough password\n").status == 65, "one account per email")
        let short = try await run(["users", "add", "--email", "short@example.com", "--agency", "demo", "--contractor", "C-2002"], input: "short\n")
        #expect(short.status == 65)
        #expect(short.error.contains("at least 12"))
        #expect(try await run(["users", "add", "--email", "no-password@example.com", "--agency", "demo", "--contractor", "C-2002"]).status == 65)
        #expect(try await run(["users", "add", "--email", "not-an-email", "--agency", "demo", "--contractor", "C-2002"]).status == 64)
        let list = try await run(["users", "list"])
        #expect(list.output == "sparky@example.com\tdemo\tC-1001\tcontractor\tactive\n")
        let stored = try String(contentsOfFile: dataDirectory + "/users.jsonl", encoding: .utf8)
        #expect(stored.contains("pbkdf2-sha256$600000$") && !stored.contains("a long enough password"))

        // The server signs them in with that password; a new password replaces it; a disabled account is refused.
        let portal = try await Portal.start(environment: ["DATA_DIR": dataDirectory])
        func login(_ password: String) async -> Int {
            await portal.send("POST", "/api/auth/login", token: nil, body: #"{"email":"sparky@example.com","password":"\#(password)"}"#).status
        }
        #expect(await login("a long enough password") == 200)
        #expect(try await run(["users", "set-password", "--email", "sparky@example.com"], input: "another long password\n").status == 0)
        #expect(await login("a long enough password") == 401, "a running server sees the change")
        try await Task.sleep(for: .milliseconds(1_100))  // the failure above locked the account for a second
        #expect(await login("another long password") == 200)
        #expect(try await run(["users", "disable", "--email", "sparky@example.com"]).status == 0)
        #expect(try await run(["users", "list"]).output.contains("\tdisabled"))
        #expect(await login("another long password") == 401)
    }

    @Test func fixtureModePrintsDemoSignInsThatWork() async throws {
        let child = try spawn(["serve"], environment: ["PORT": "0", "HOST": "127.0.0.1"])
        // The hint comes on stderr after the server listens: read it to its last demo sign-in.
        let hint = await offPool { () -> String in
            var text = ""
            while !text.contains("3003@demo.fixture.test") {
                let chunk = child.standardError.availableData
                if chunk.isEmpty { break }
                text += String(decoding: chunk, as: UTF8.self)
            }
            Thread { while !child.standardError.availableData.isEmpty {} }.start()
            Thread { while !child.standardOutput.availableData.isEmpty {} }.start()
            return text
        }
        defer { child.signal(SIGKILL); _ = child.wait() }
        let line = try #require(hint.split(separator: "\n").first { $0.contains("c-1001@demo.fixture.test") })
        let password = try #require(line.split(separator: " ").last.map(String.init))
        let listening = try #require(hint.split(separator: "\n").first { $0.contains("listening on http://127.0.0.1:") })
        let port = try #require(Int(listening.components(separatedBy: "127.0.0.1:")[1].prefix { $0.isNumber }))
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/api/auth/login")!)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(#"{"email":"c-1001@demo.fixture.test","password":"\#(password)"}"#.utf8)
        let (data, response) = try await URLSession.shared.data(for: request)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        #expect(String(decoding: data, as: UTF8.self).contains(#""contractorId":"C-1001""#))
        // The banner names the portal page (served with the fixture by default) and the API reference.
        #expect(hint.contains("portal page: http://127.0.0.1:\(port)/portal"))
        #expect(hint.contains("API reference: http://127.0.0.1:\(port)/docs"))
        let page = await exchange(port: port, "GET /portal HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", readTimeout: 10, closeWithin: 0)
        #expect(page.response?.status == 200 && page.response?.text.contains("<title>Contractor portal</title>") == true)
        #expect(page.response?.header("Content-Security-Policy") == PortalPage.contentSecurityPolicy)
    }
}
