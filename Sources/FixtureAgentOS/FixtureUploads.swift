import Digest
import HTTPServer
import JSON

/// The fixture's reading of the upload calls: a `multipart/form-data` body as its text fields and the
/// files it carried, each file kept as what AgentOS would record of it (name, type, size, SHA-256), never
/// its bytes, so a test can prove the bytes that arrived are the bytes that were sent.
struct ReceivedForm {
    var fields: [String: String] = [:]
    var files: [(field: String, record: JSONValue)] = []

    /// The upload calls' routes, each taking bodies up to `maxBytes`, spooled past 64 KiB.
    static func bodyRoutes(maxBytes: Int) -> [BodyRoute] {
        [
            BodyRoute(method: "POST", path: "/v4/maintenance/:shortName/invoice/submit", maxBytes: maxBytes),
            BodyRoute(method: "POST", path: "/v4/maintenance/:shortName/jobs/:jobId/attachdocument", maxBytes: maxBytes),
        ]
    }

    static func isForm(_ request: Request) -> Bool { request.headers.contentMediaType == "multipart/form-data" }

    init(_ request: Request) throws {
        var limits = MultipartLimits()
        limits.maxFileBytes = 64 * 1024 * 1024
        limits.maxFiles = 20
        limits.maxParts = 40
        let parts: [MultipartPart]
        do {
            parts = try MultipartReader.parse(request.content, contentType: request.headers["Content-Type"] ?? "", limits: limits)
        } catch {
            throw HTTPError(error.status, error.message)
        }
        for part in parts {
            guard let fileName = part.fileName else {
                fields[part.name] = part.text ?? ""
                continue
            }
            var hasher = SHA256()
            try part.content.forEachChunk { hasher.update($0) }
            files.append((part.name, .object([
                "FileName": .string(fileName), "ContentType": part.contentType.map(JSONValue.string) ?? .null,
                "Size": .number(String(part.content.count)), "SHA256": .string(hasher.hexDigest()),
            ])))
        }
    }

    /// The fields as the JSON model the same call takes: an amount stays a number.
    var model: JSONValue {
        .object(fields.reduce(into: [:]) { model, field in
            let isAmount = field.key == "Amount" && !field.value.isEmpty
                && field.value.utf8.allSatisfy { (48...57).contains($0) || $0 == 46 || $0 == 45 }
            model[field.key] = isAmount ? .number(field.value) : .string(field.value)
        })
    }
}
