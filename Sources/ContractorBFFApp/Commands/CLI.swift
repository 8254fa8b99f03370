import AgentOS
import Dispatch
import FixtureAgentOS
import Foundation
import HTTPServer
import JSON
import Logging
import PostgreSQL

/// `contractor-bff [command] [options]`: parses the command line and runs one command.
public enum CLI {
    struct Command {
        let name: String
        let summary: String
        let usage: String
        let run: @Sendable ([String]) async -> Int32
    }

    static let commands: [Command] = [
        Command(
            name: "serve", summary: "run the HTTP server (the default command)",
            usage: """
                contractor-bff serve [--config PATH]

                Runs the server with the configuration in PATH (without one: \(AppConfiguration.defaultFile) when
                the working directory has it, else the built-in defaults), each key overridable by an
                environment variable of the same name. Stops gracefully on SIGTERM or
                SIGINT: stops accepting, lets in-flight requests finish within DRAIN_TIMEOUT_MS, exits 0.
                """,
            run: { await Serve.run($0) }),
        Command(
            name: "token", summary: "print a session token for a contractor (development and fixture mode)",
            usage: """
                contractor-bff token --contractor ID --agency NAME [--ttl 15m] [--role ROLE] [--config PATH]

                Prints an HS256 session token signed with SESSION_SECRET: sub = ID, agency = NAME, expiring
                after --ttl (s, m, h or d; 1s to 30d; default 15m). Refused while SESSION_SECRET is the
                development default and AGENTOS_BASE_URL points at a real AgentOS.
                """,
            run: { await TokenCommand.run($0) }),
        Command(
            name: "users", summary: "add, list, disable, enable portal users, or set a password (DATA_DIR/users.jsonl, or PostgreSQL with DATABASE_URL)",
            usage: UsersCommand.usage, run: { await UsersCommand.run($0) }),
        Command(
            name: "config", summary: "print the effective configuration and where each value came from",
            usage: """
                contractor-bff config [--config PATH]

                Loads the configuration as `serve` would and prints every key, its value, its source and what
                it means, or the error that would stop `serve` from starting.
                """,
            run: { await ConfigCommand.run($0) }),
        Command(
            name: "migrate", summary: "apply the shared store's schema migrations (DATABASE_URL)",
            usage: """
                contractor-bff migrate [--config PATH]

                Applies the PostgreSQL migrations not applied yet, in order, under an advisory lock (serve
                does the same at start, so replicas starting together do not race), and prints what it
                applied. Exit 0 when the schema is current, 69 when the database cannot be reached, 78
                without DATABASE_URL.
                """,
            run: { await MigrateCommand.run($0) }),
        Command(
            name: "fixtures", summary: "run the fixture AgentOS alone (offline upstream for tests and benchmarks)",
            usage: """
                contractor-bff fixtures [--port N] [--faults FILE] [--config PATH]

                Serves the AgentOS contract from FIXTURE_DATA (default Fixtures/agentos.json; where that
                file is not there, the built-in copy of it) on HOST:N
                (default port 9000), requiring the fixture's API key. Writes are applied in memory.
                --faults FILE applies fault rules: {"seed": 1, "rules": [{"route": "jobs", "status": 503,
                "probability": 0.3}, ...]}; rule fields: route, latencyMs, jitterMs, status, retryAfter,
                hang, reset, truncate, malformed, afterApplying, probability, times. The same JSON can be
                POSTed to /__fixture/faults; GET /__fixture/counters tells what it received.
                """,
            run: { await FixturesCommand.run($0) }),
        Command(
            name: "status", summary: "read a running server's readiness and each agency's import progress",
            usage: StatusCommand.usage, run: { await StatusCommand.run($0) }),
        Command(
            name: "doctor", summary: "check the configured AgentOS: one read per call, envelopes and field names against the alias tables",
            usage: """
                contractor-bff doctor --agency NAME [--contractor ID] [--config PATH]

                Makes one read per configured AgentOS call with the configured key (about a dozen calls,
                within the budget; never a write) and reports for each whether it answered, its envelope,
                the field names it carried that no alias table knows, and the fields none of whose names was
                seen, with the AGENTOS_PATH_… key to change where a call is missing. Without AgentOS
                configured it checks the fixture AgentOS. Exit 0 when every call is clean, 1 otherwise.
                """,
            run: { await DoctorCommand.run($0) }),
    ]

    public static func main(_ arguments: [String]) async -> Int32 {
        var arguments = Array(arguments.dropFirst())
        if arguments.isEmpty || arguments[0].hasPrefix("-") && !["-h", "--help"].contains(arguments[0]) {
            arguments.insert("serve", at: 0)
        }
        let name = arguments.removeFirst()
        if ["help", "-h", "--help"].contains(name) {
            if let topic = arguments.first, let command = commands.first(where: { $0.name == topic }) {
                print(command.usage)
            } else {
                print(overview)
            }
            return 0
        }
        guard let command = commands.first(where: { $0.name == name }) else {
            printError("unknown command \(name.debugDescription)\n\n\(overview)")
            return 64
        }
        if arguments.contains("--help") || arguments.contains("-h") {
            print(command.usage)
            return 0
        }
        return await command.run(arguments)
    }

    static var overview: String {
        let width = commands.map(\.name.count).max() ?? 0
        let lines = commands.map { "  \($0.name.padding(toLength: width, withPad: " ", startingAt: 0))  \($0.summary)" }
        return """
            ContractorBFF: the contractor portal's backend-for-frontend in front of AgentOS.

            usage: contractor-bff [command] [options]

            commands:
            \(lines.joined(separator: "\n"))

            `contractor-bff help COMMAND` or `contractor-bff COMMAND --help` explains one command.
            """
    }

    /// `--config PATH` from a command's arguments; anything else is refused.
    /// nil: none named (the working directory's `config/default.json`, else the built-in defaults).
    static func configPath(_ arguments: [String]) -> Result<String?, CLIError> {
        var path: String?
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            guard argument == "--config", let value = rest.popFirst() else { return .failure(.unexpected(argument)) }
            path = value
        }
        return .success(path)
    }

    static func loadConfiguration(_ arguments: [String]) -> AppConfiguration? {
        switch configPath(arguments) {
        case .failure(let error):
            printError(error.description)
            return nil
        case .success(let path):
            do {
                guard let path else { return try AppConfiguration.loadDefault(environment: ProcessInfo.processInfo.environment) }
                return try AppConfiguration.load(file: path, environment: ProcessInfo.processInfo.environment)
            } catch {
                printError("configuration refused: \(error)")
                return nil
            }
        }
    }

    static func printError(_ message: String) {
        FileHandle.standardError.write(Data("contractor-bff: \(message)\n".utf8))
    }
}

enum CLIError: Error, CustomStringConvertible {
    case unexpected(String)
    var description: String {
        switch self { case .unexpected(let argument): "unexpected argument \(argument.debugDescription)" }
    }
}

enum Serve {
    static func run(_ arguments: [String]) async -> Int32 {
        guard let configuration = CLI.loadConfiguration(arguments) else { return 78 }
        let logger = Logger.standardOutput(minimumLevel: configuration.logLevel)
        defer { logger.flush() }
        let signals = SignalWaiter([SIGTERM, SIGINT])
        var agentOS = configuration.agentOS
        var mode = Application.UpstreamMode.configured
        var fixtureServer: HTTPServer?
        var fixtureDirectory: [String: [String]]?
        if !agentOS.isConfigured {
            mode = .notConfigured
            if configuration.fixtureWhenUnconfigured {
                // No AgentOS configured: serve the fixture agency in-process, so a newcomer's first run works.
                do {
                    let (fixture, source) = try configuration.openFixture()
                    let server = fixture.makeServer(logger: logger)
                    let port = try server.start()
                    agentOS.baseURL = "http://127.0.0.1:\(port)"
                    agentOS.apiKey = fixture.store.apiKey
                    fixtureServer = server
                    fixtureDirectory = fixture.store.directory
                    mode = .fixture
                    logger.log(.info, "fixture_agentos", ["port": .int(port), "data": .string(source)])
                } catch {
                    CLI.printError("cannot start the fixture AgentOS from \(configuration.fixtureData): \(error)")
                    return 1
                }
            }
        }
        if mode == .configured && configuration.usesDevelopmentSecret {
            CLI.printError("configuration refused: SESSION_SECRET is the published development default; set your own before pointing at a real AgentOS")
            return 78
        }
        let client = configuration.agentOSClient(agentOS, logger: logger)
        let application: Application
        do { application = try Application(configuration: configuration, logger: logger, agentOS: client, upstreamMode: mode) } catch {
            CLI.printError("cannot open the data directory \(configuration.dataDirectory): \(error)")
            await fixtureServer?.shutdown()
            return 73
        }
        do { try await application.prepareStore() } catch {
            CLI.printError("cannot prepare the shared store (DATABASE_URL): \(error)")
            await fixtureServer?.shutdown()
            return 69
        }
        // The fixture agency gets one sign-in per contractor, with a fresh random password each start.
        var demoUsers: [(email: String, password: String)] = []
        if let fixture = fixtureDirectory {
            do { demoUsers = try await seedDemoUsers(fixture, into: application.users) } catch {
                CLI.printError("cannot seed the fixture's demo users: \(error)")
                return 73
            }
        }
        // The fixture's agencies are imported from start, as a configured agency would be.
        if let fixture = fixtureDirectory { application.startMirrors(fixture.keys.sorted()) }
        let server = HTTPServer(
            configuration: configuration.server, logger: logger, renderRefusal: application.renderRefusal, uncappedAddress: application.uncappedAddress
        ) {
            await application.responder.respond($0)
        }
        application.attach(server: server)
        do {
            let port = try server.start()
            CLI.printError("listening on http://\(configuration.server.host):\(port) (AgentOS: \(mode.rawValue); Ctrl-C stops)")
            let site = "http://\(browsable(configuration.server.host)):\(port)"
            if application.servesPortalPage { CLI.printError("portal page: \(site)/portal (sign in with a demo sign-in below)") }
            CLI.printError("API reference: \(site)/docs (OpenAPI 3.1: \(site)/openapi.json)")
            if let fixture = fixtureDirectory { CLI.printError(fixtureHint(fixture, port: port, users: demoUsers)) }
        } catch {
            CLI.printError("\(error)")
            return 1
        }
        let signal = await signals.next()
        logger.log(.info, "signal", ["signal": .int(Int(signal))])
        await server.shutdown(whileDraining: { application.drainEventStreams() })
        await application.stop()
        await fixtureServer?.shutdown()
        return 0
    }
}

extension Serve {
    /// The host a browser on this machine reaches a listener on: a wildcard address becomes loopback, an
    /// IPv6 literal gets its brackets.
    static func browsable(_ host: String) -> String {
        switch host {
        case "0.0.0.0", "": "127.0.0.1"
        case "::": "[::1]"
        default: host.contains(":") ? "[\(host)]" : host
        }
    }

    /// How to call the fixture agency at once: who exists, how to get a token, one request that uses it.
    /// One random password for all of them (one 600,000-round hash at start, not one per contractor).
    static func seedDemoUsers(_ directory: [String: [String]], into users: any UserStore) async throws -> [(email: String, password: String)] {
        let password = Base64URL.encode(Crypto.randomBytes(15))
        let hash = Passwords.hash(password)
        var seeded: [(email: String, password: String)] = []
        for agency in directory.keys.sorted() {
            for contractor in directory[agency] ?? [] {
                let email = "\(contractor.lowercased())@\(agency.lowercased()).fixture.test"
                try await users.save(PortalUser(email: email, passwordHash: hash, agency: agency, contractorId: contractor))
                seeded.append((email, password))
            }
        }
        return seeded
    }

    static func fixtureHint(_ directory: [String: [String]], port: Int, users: [(email: String, password: String)] = []) -> String {
        let executable = CommandLine.arguments.first ?? "contractor-bff"
        let agencies = directory.keys.sorted().map { "\($0): \((directory[$0] ?? []).joined(separator: ", "))" }.joined(separator: "; ")
        let agency = directory.keys.sorted().first ?? "demo"
        let contractor = directory[agency]?.first ?? "C-1001"
        return """
            fixture AgentOS contractors (agency: ids): \(agencies)
            a session for one of them, and a call with it:
              TOKEN=$(\(executable) token --contractor \(contractor) --agency \(agency))
              curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:\(port)/api/contractor/account
            """ + (users.isEmpty ? "" : """

            demo sign-ins (POST /api/auth/login; passwords change at every start):
            \(users.map { "  \($0.email)  \($0.password)" }.joined(separator: "\n"))
            """)
    }
}

/// `contractor-bff token`: a session token signed with the configured secret.
enum TokenCommand {
    static func run(_ arguments: [String]) async -> Int32 {
        var contractor: String?, agency: String?, role: String?, ttl = 15 * 60, rest: [String] = []
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--contractor", "--agency", "--role", "--ttl":
                guard let value = iterator.next(), !value.isEmpty else {
                    CLI.printError("\(argument) takes a value")
                    return 64
                }
                switch argument {
                case "--contractor": contractor = value
                case "--agency": agency = value
                case "--role": role = value
                default:
                    guard let seconds = parseTTL(value) else {
                        CLI.printError("--ttl takes a duration like 90s, 15m, 8h or 1d (at most 30d)")
                        return 64
                    }
                    ttl = seconds
                }
            default: rest.append(argument)
            }
        }
        guard let contractor, let agency else {
            CLI.printError("token needs --contractor ID and --agency NAME")
            return 64
        }
        guard let configuration = CLI.loadConfiguration(rest) else { return 78 }
        if configuration.agentOS.isConfigured && configuration.usesDevelopmentSecret {
            CLI.printError("refused: SESSION_SECRET is the development default and AGENTOS_BASE_URL points at a real AgentOS")
            return 78
        }
        guard ttl <= configuration.security.sessionMaxLifetime else {
            CLI.printError("--ttl is longer than SESSION_MAX_LIFETIME_SECONDS (\(configuration.security.sessionMaxLifetime) s): the server would refuse the token")
            return 64
        }
        let now = Int(Date().timeIntervalSince1970)
        let claims = SessionClaims(subject: contractor, agency: agency, issuedAt: now, expiresAt: now + ttl, role: role)
        print(SessionTokens(secret: configuration.sessionSecret, maxLifetimeSeconds: configuration.security.sessionMaxLifetime).sign(claims))
        return 0
    }

    static func parseTTL(_ text: String) -> Int? {
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        guard let unit = text.last, let scale = units[unit], let count = Int(text.dropLast()), count > 0 else { return nil }
        let seconds = count.multipliedReportingOverflow(by: scale)
        return !seconds.overflow && seconds.partialValue <= 30 * 86_400 ? seconds.partialValue : nil
    }
}

/// `contractor-bff fixtures`: the fixture AgentOS on its own, for the peer benchmarks and manual testing.
enum FixturesCommand {
    static func run(_ arguments: [String]) async -> Int32 {
        var port = 9000, faultsFile: String?, rest: [String] = []
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--port":
                guard let value = iterator.next(), let number = Int(value), (0...65535).contains(number) else {
                    CLI.printError("--port takes a port number")
                    return 64
                }
                port = number
            case "--faults":
                guard let value = iterator.next() else {
                    CLI.printError("--faults takes a file")
                    return 64
                }
                faultsFile = value
            default: rest.append(argument)
            }
        }
        guard let configuration = CLI.loadConfiguration(rest) else { return 78 }
        let logger = Logger.standardOutput(minimumLevel: configuration.logLevel)
        defer { logger.flush() }
        let signals = SignalWaiter([SIGTERM, SIGINT])
        do {
            let (fixture, _) = try configuration.openFixture()
            if let faultsFile {
                let data = try Data(contentsOf: URL(fileURLWithPath: faultsFile))
                try fixture.faults.load(JSONText.parse(Array(data)))
            }
            let server = fixture.makeServer(host: configuration.server.host, port: port, logger: logger)
            let bound = try server.start()
            CLI.printError("fixture AgentOS on http://\(configuration.server.host):\(bound), API key \(fixture.store.apiKey)")
            _ = await signals.next()
            await server.shutdown()
            return 0
        } catch {
            CLI.printError("fixture AgentOS: \(error)")
            return 1
        }
    }
}

enum ConfigCommand {
    static func run(_ arguments: [String]) async -> Int32 {
        guard let configuration = CLI.loadConfiguration(arguments) else { return 78 }
        for key in ConfigKey.all {
            var value = configuration.values[key.name] ?? ""
            if case .secret = key.kind, !value.isEmpty { value = "(set, not shown)" }
            let source = configuration.sources[key.name] ?? ""
            print("\(key.name)=\(value)\t(\(source)) \(key.help)")
        }
        print("# store: \(configuration.storeName)")
        return 0
    }
}

/// `contractor-bff migrate`: the shared store's schema brought up to date.
enum MigrateCommand {
    static func run(_ arguments: [String]) async -> Int32 {
        guard let configuration = CLI.loadConfiguration(arguments) else { return 78 }
        guard let database = configuration.database else {
            CLI.printError("DATABASE_URL is not set: the embedded store needs no migrations")
            return 78
        }
        let pool = PGPool(conninfo: database.url, size: 1, statementTimeoutMs: database.statementTimeoutMs)
        do {
            let applied = try await Migrations.apply(pool, deadline: .now + .seconds(120))
            let latest = Migrations.all.map(\.version).max() ?? 0
            print(applied.isEmpty ? "schema is current (version \(latest))" : "applied \(applied.map(String.init).joined(separator: ", ")); schema is at version \(latest)")
            return 0
        } catch {
            CLI.printError("\(error)")
            return 69
        }
    }
}

/// Turns SIGTERM/SIGINT into an awaitable event; the default actions are disabled so the process can drain.
final class SignalWaiter: Sendable {
    private let stream: AsyncStream<Int32>
    private nonisolated(unsafe) let sources: [any DispatchSourceSignal]

    init(_ signals: [Int32]) {
        let (stream, continuation) = AsyncStream<Int32>.makeStream()
        self.stream = stream
        sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            return source
        }
    }

    func next() async -> Int32 {
        for await number in stream { return number }
        return 0
    }
}
