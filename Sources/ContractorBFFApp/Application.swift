import HTTPServer

/// Wires the process together: the routes of every module behind the server's middleware chain.
public struct Application: Sendable {
    public let configuration: AppConfiguration
    public let responder: Responder

    public init(configuration: AppConfiguration, logger: Logger) {
        self.configuration = configuration
        var router = Router()
        SystemRoutes.register(on: &router)
        responder = Responder(router: router)
    }
}

/// Liveness and readiness, for load balancers and orchestrators.
enum SystemRoutes {
    static func register(on router: inout Router) {
        // Alive: the process answers HTTP. Nothing else is checked, so a slow upstream never gets it killed.
        router.get("/healthz") { _ in Response.json(Array(#"{"status":"ok"}"#.utf8)) }
        // Ready: able to serve contractor traffic. Later issues add the upstream's state.
        router.get("/readyz") { _ in Response.json(Array(#"{"status":"ready"}"#.utf8)) }
    }
}
