import Foundation
import HTTPServer
import Logging
import Synchronization

/// Log lines kept in memory so tests can assert on them.
public final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])
    public init() {}
    public var logger: Logger {
        Logger(minimumLevel: .debug, sink: { [self] line in lines.withLock { $0.append(String(decoding: line, as: UTF8.self)) } })
    }
    public var all: [String] { lines.withLock { $0 } }

    /// The parsed lines whose "event" is `event`.
    public func events(_ event: String) -> [[String: Any]] {
        all.compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return object["event"] as? String == event ? object : nil
        }
    }
}

/// A real server on an ephemeral loopback port.
public struct RunningServer: Sendable {
    public let server: HTTPServer
    public let port: Int
    public let log: LogCapture

    public static func start(
        _ configure: (inout ServerConfiguration) -> Void = { _ in },
        responder: @escaping @Sendable (Request) async -> Response
    ) throws -> RunningServer {
        var configuration = ServerConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configuration.eventLoops = 2
        configure(&configuration)
        let log = LogCapture()
        let server = HTTPServer(configuration: configuration, logger: log.logger, responder: responder)
        let port = try server.start()
        TestScope.onEnd { await server.shutdown() }
        return RunningServer(server: server, port: port, log: log)
    }

    public static func start(_ configure: (inout ServerConfiguration) -> Void = { _ in }, router: Router) throws -> RunningServer {
        let responder = Responder(router: router)
        return try start(configure) { await responder.respond($0) }
    }

    public var baseURL: URL { URL(string: "http://127.0.0.1:\(port)")! }

    public func stop() async { await server.shutdown() }
}
