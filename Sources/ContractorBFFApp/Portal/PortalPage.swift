import HTTPServer
import JSON

/// One file of the portal page, as `PortalFiles` holds it.
struct PortalFile: Sendable {
    let type: String
    let text: String
}

/// The contractor portal page at `/portal`: plain HTML, CSS and JavaScript from `web/portal/` (built in
/// by `scripts/embed-defaults.py`), which call the public API as any portal does, with the session
/// cookies and the CSRF token. Served with the fixture AgentOS unless `PORTAL_PAGE` says otherwise.
public enum PortalPage {
    public enum Setting: String, Sendable {
        case auto, on, off
    }

    static func isServed(_ setting: Setting, mode: Application.UpstreamMode) -> Bool {
        switch setting {
        case .on: true
        case .off: false
        case .auto: mode == .fixture
        }
    }

    /// The page's own files only: no inline script or style, nothing from elsewhere.
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    static func register(on router: inout Router) {
        router.get("/") { _ in
            var response = Response(status: 303)
            response.headers.set("Location", "/portal")
            return response
        }
        router.get("/portal") { _ in try file("index.html") }
        router.get("/portal/:file") { request in try file(request.parameters["file"] ?? "") }
    }

    static func file(_ name: String) throws -> Response {
        guard let file = PortalFiles.all[name] else { throw HTTPError(404, "No such file of the portal page") }
        // Revalidated on every load: a new build's page is never mixed with an old script.
        return Response(
            status: 200, headers: ["Content-Type": file.type, "Cache-Control": "no-cache", "Content-Security-Policy": contentSecurityPolicy],
            bytes: Array(file.text.utf8))
    }

    static let operations: [APIOperation] = {
        let html = APIParts.response("the page", content: ["text/html": ["schema": ["type": "string"]]])
        return [
            APIOperation(
                method: .get, path: "/", id: "root", tag: "portal page", summary: "To the portal page", access: .open,
                responses: APIParts.errors(APIParts.anyRoute).merging([
                    303: APIParts.response("to /portal", headers: ["Location": ["schema": ["type": "string"], "required": true]]),
                ]) { $1 }),
            APIOperation(
                method: .get, path: "/portal", id: "portalPage", tag: "portal page", summary: "The contractor portal page", access: .open,
                responses: APIParts.errors(APIParts.anyRoute).merging([200: html]) { $1 }),
            APIOperation(
                method: .get, path: "/portal/:file", id: "portalFile", tag: "portal page",
                summary: "The page's script and style sheet", access: .open,
                parameters: [APIParts.path("file", "portal.js, portal.css or index.html")],
                responses: APIParts.errors(APIParts.anyRoute + [404]).merging([
                    200: APIParts.response("the file", content: [
                        "text/javascript": ["schema": ["type": "string"]], "text/css": ["schema": ["type": "string"]], "text/html": ["schema": ["type": "string"]],
                    ]),
                ]) { $1 }),
        ]
    }()
}
