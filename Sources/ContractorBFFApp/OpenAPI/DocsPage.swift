import Foundation
import HTTPServer
import JSON

/// `GET /docs`: the API description as a reference page, written here from the same document
/// `/openapi.json` serves. One self-contained page: its only style is inline, allowed by its hash in the
/// page's Content-Security-Policy, and there is no script and nothing from elsewhere.
enum DocsPage {
    static let style = """
        body{font-family:system-ui,sans-serif;max-width:64rem;margin:0 auto;padding:1rem 1.5rem;color:#1d2430}
        h2{border-bottom:1px solid #ccd;padding-bottom:.25rem;margin-top:2rem}
        .op{border:1px solid #dde;border-radius:.4rem;margin:.75rem 0;padding:.5rem .9rem}
        .op h3{font-size:1rem;margin:.2rem 0;font-family:ui-monospace,monospace}
        .m{display:inline-block;min-width:4.2rem;font-weight:700;color:#1f3a5f}
        table{border-collapse:collapse;font-size:.85rem;margin:.4rem 0}td,th{border-bottom:1px solid #eef;padding:.2rem .5rem;text-align:left;vertical-align:top}
        pre{background:#f4f5f7;padding:.5rem;overflow:auto;font-size:.8rem;max-height:22rem}
        .tag{color:#566}
        """

    static var contentSecurityPolicy: String {
        "default-src 'none'; style-src 'sha256-\(Data(Crypto.sha256(Array(style.utf8))).base64EncodedString())'; frame-ancestors 'none'; base-uri 'none'"
    }

    static func render(_ document: JSONValue) -> String {
        var html = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>ContractorBFF API</title><style>\(style)</style></head><body>"
        let info = document["info"]
        html += "<h1>\(escape(info?["title"]?.stringValue ?? "API")) <span class=\"tag\">\(escape(info?["version"]?.stringValue ?? ""))</span></h1>"
        html += "<p>\(escape(info?["description"]?.stringValue ?? ""))</p>"
        html += "<p>Machine-readable: <a href=\"/openapi.json\">/openapi.json</a> (OpenAPI \(escape(document["openapi"]?.stringValue ?? "")))</p>"
        let paths = document["paths"]?.objectValue ?? [:]
        var byTag: [String: [(path: String, method: String, operation: JSONValue)]] = [:]
        for (path, methods) in paths {
            for (method, operation) in methods.objectValue ?? [:] {
                let tag = operation["tags"]?.arrayValue?.first?.stringValue ?? "other"
                byTag[tag, default: []].append((path, method, operation))
            }
        }
        for tag in document["tags"]?.arrayValue ?? [] {
            guard let name = tag["name"]?.stringValue, let operations = byTag[name] else { continue }
            html += "<h2 id=\"\(escape(name))\">\(escape(name))</h2><p class=\"tag\">\(escape(tag["description"]?.stringValue ?? ""))</p>"
            for entry in operations.sorted(by: { ($0.path, $0.method) < ($1.path, $1.method) }) {
                html += operationHTML(entry.path, entry.method, entry.operation)
            }
        }
        html += "<h2>Schemas</h2>"
        for (name, schema) in (document["components"]?["schemas"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
            html += "<div class=\"op\" id=\"schema-\(escape(name))\"><h3>\(escape(name))</h3><pre>\(escape(String(decoding: schema.serialized(), as: UTF8.self)))</pre></div>"
        }
        return html + "</body></html>"
    }

    private static func operationHTML(_ path: String, _ method: String, _ operation: JSONValue) -> String {
        var html = "<div class=\"op\"><h3><span class=\"m\">\(escape(method.uppercased()))</span>\(escape(path))</h3>"
        html += "<p>\(escape(operation["summary"]?.stringValue ?? ""))</p>"
        if let description = operation["description"]?.stringValue { html += "<p>\(escape(description))</p>" }
        if let security = operation["security"]?.arrayValue {
            let ways = security.map { ($0.objectValue ?? [:]).keys.sorted().joined(separator: " + ") }
            html += "<p class=\"tag\">Needs: \(escape(ways.joined(separator: " or ")))</p>"
        }
        if let parameters = operation["parameters"]?.arrayValue {
            html += "<table><tr><th>parameter</th><th>in</th><th>description</th></tr>"
            for parameter in parameters {
                html += "<tr><td>\(escape(parameter["name"]?.stringValue ?? ""))</td><td>\(escape(parameter["in"]?.stringValue ?? ""))</td>"
                html += "<td>\(escape(parameter["description"]?.stringValue ?? ""))</td></tr>"
            }
            html += "</table>"
        }
        if let content = operation["requestBody"]?["content"]?.objectValue {
            html += "<p>Body: \(escape(content.keys.sorted().joined(separator: ", ")))</p>"
            for (type, media) in content.sorted(by: { $0.key < $1.key }) {
                if let schema = media["schema"] { html += "<pre>\(escape(type)): \(escape(String(decoding: schema.serialized(), as: UTF8.self)))</pre>" }
            }
        }
        html += "<table><tr><th>status</th><th>answer</th></tr>"
        for (status, response) in (operation["responses"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
            let types = (response["content"]?.objectValue ?? [:]).keys.sorted().joined(separator: ", ")
            html += "<tr><td>\(escape(status))</td><td>\(escape(response["description"]?.stringValue ?? ""))\(types.isEmpty ? "" : " — " + escape(types))</td></tr>"
        }
        html += "</table>"
        for (_, response) in (operation["responses"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
            if let example = response["content"]?["application/json"]?["example"] {
                html += "<p>Example (from the fixture AgentOS):</p><pre>\(escape(String(decoding: example.serialized(), as: UTF8.self)))</pre>"
            }
        }
        return html + "</div>"
    }

    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}
