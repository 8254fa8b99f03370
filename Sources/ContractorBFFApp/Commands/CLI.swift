import Dispatch
import Foundation
import HTTPServer

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

                Runs the server with the configuration in PATH (default \(AppConfiguration.defaultFile)), each
                key overridable by an environment variable of the same name. Stops gracefully on SIGTERM or
                SIGINT: stops accepting, lets in-flight requests finish within DRAIN_TIMEOUT_MS, exits 0.
                """,
            run: { await Serve.run($0) }),
        Command(
            name: "config", summary: "print the effective configuration and where each value came from",
            usage: """
                contractor-bff config [--config PATH]

                Loads the configuration as `serve` would and prints every key, its value, its source and what
                it means, or the error that would stop `serve` from starting.
                """,
            run: { await ConfigCommand.run($0) }),
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
    static func configPath(_ arguments: [String]) -> Result<String, CLIError> {
        var path = AppConfiguration.defaultFile
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
        let application = Application(configuration: configuration, logger: logger)
        let server = HTTPServer(configuration: configuration.server, logger: logger) { await application.responder.respond($0) }
        let signals = SignalWaiter([SIGTERM, SIGINT])
        do {
            let port = try server.start()
            CLI.printError("listening on http://\(configuration.server.host):\(port) (Ctrl-C stops)")
        } catch {
            CLI.printError("\(error)")
            logger.flush()
            return 1
        }
        let signal = await signals.next()
        logger.log(.info, "signal", ["signal": .int(Int(signal))])
        await server.shutdown()
        logger.flush()
        return 0
    }
}

enum ConfigCommand {
    static func run(_ arguments: [String]) async -> Int32 {
        guard let configuration = CLI.loadConfiguration(arguments) else { return 78 }
        for key in ConfigKey.all {
            let value = configuration.values[key.name] ?? ""
            let source = configuration.sources[key.name] ?? ""
            print("\(key.name)=\(value)\t(\(source)) \(key.help)")
        }
        return 0
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
