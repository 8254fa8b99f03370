import Foundation
import JSON

/// A file sent to AgentOS with a write (an invoice's PDF, a job's photo). Its bytes stay where the gateway
/// spooled them until the call is made: `read` loads them then, inside the client's upload bound, so a
/// queue of uploads holds names and digests in memory, not contents.
public struct UploadFile: Sendable, Equatable {
    public var fileName: String
    public var mediaType: String
    public var size: Int
    /// Lower-case hex SHA-256 of the bytes.
    public var sha256: String
    public let read: @Sendable () throws -> [UInt8]

    public init(fileName: String, mediaType: String, size: Int, sha256: String, read: @escaping @Sendable () throws -> [UInt8]) {
        self.fileName = fileName
        self.mediaType = mediaType
        self.size = size
        self.sha256 = sha256
        self.read = read
    }

    /// Two uploads are the same when their names, types and bytes (by digest) are.
    public static func == (lhs: UploadFile, rhs: UploadFile) -> Bool {
        lhs.fileName == rhs.fileName && lhs.mediaType == rhs.mediaType && lhs.size == rhs.size && lhs.sha256 == rhs.sha256
    }
}

/// The body of a call: JSON, or `multipart/form-data` with text fields and files (the upload calls).
enum OutboundBody: Sendable {
    case json(JSONValue)
    case form(fields: [(name: String, value: String)], files: [(field: String, file: UploadFile)])

    var hasFiles: Bool {
        if case .form(_, let files) = self { return !files.isEmpty }
        return false
    }

    /// The bytes and their Content-Type. A form's files are read here, which is why the client calls this
    /// only inside its upload bound.
    func encoded() throws -> (bytes: [UInt8], contentType: String) {
        switch self {
        case .json(let value):
            return (value.serialized(), "application/json")
        case .form(let fields, let files):
            var random = SystemRandomNumberGenerator()
            let boundary = "ContractorBFF-" + (0..<4).map { _ in String(random.next() as UInt64, radix: 36) }.joined()
            var out: [UInt8] = []
            out.reserveCapacity(files.reduce(1024) { $0 + $1.file.size + 256 })
            func quoted(_ text: String) -> String {
                // WHATWG's form encoding: `"` and line breaks percent-encoded inside the quoted value.
                // By UTF-16 unit, so a CR LF pair (one Character to Swift) is encoded too.
                text.replacingOccurrences(of: "\"", with: "%22").replacingOccurrences(of: "\r", with: "%0D").replacingOccurrences(of: "\n", with: "%0A")
            }
            for (name, value) in fields {
                out += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(quoted(name))\"\r\n\r\n".utf8)
                out += Array(value.utf8) + [13, 10]
            }
            for (field, file) in files {
                out += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(quoted(field))\"; filename=\"\(quoted(file.fileName))\"\r\nContent-Type: \(file.mediaType)\r\n\r\n".utf8)
                out += try file.read()
                out += [13, 10]
            }
            out += Array("--\(boundary)--\r\n".utf8)
            return (out, "multipart/form-data; boundary=\(boundary)")
        }
    }
}
