import AgentOS
import JSON

/// A photo or document attached to a job: what AgentOS answered for it (its id), with what the gateway
/// knows of the file it sent (name, type, size, SHA-256), so the contractor can match each answer to a file.
public struct AttachedDocument: Sendable, Equatable {
    public var documentId: String?
    public var fileName = ""
    public var contentType: String?
    public var description: String?
    public var size = 0
    public var sha256: String?
    public var metadata: [String: JSONValue] = [:]

    public static let aliases = AliasTable<AttachedDocument>([
        .id("documentId", \.documentId, "DocumentID", "OID", "ID"),
        .text("fileName", \.fileName, "FileName", "Name"),
        .text("contentType", \.contentType, "ContentType", "MimeType"),
        .text("description", \.description, "Description"),
        .text("sha256", \.sha256, "SHA256", "Sha256", "Hash"),
    ])

    /// AgentOS's record of a document (its list, or its answer to an upload).
    public init(upstream: JSONValue) {
        let fields = upstream.objectValue ?? [:]
        Self.aliases.read(fields, into: &self)
        if case .number(let literal)? = fields["Size"] ?? fields["FileSize"], let bytes = Int(literal) { size = bytes }
        metadata = fields
    }

    /// The answer to an upload: AgentOS's fields where it gave them, the sent file's otherwise.
    public init(answer: JSONValue, sent file: UploadFile, description: String?) {
        self.init(upstream: answer)
        if fileName.isEmpty { fileName = file.fileName }
        contentType = contentType ?? file.mediaType
        self.description = self.description ?? description
        size = file.size
        sha256 = file.sha256
    }

    /// Whether this record is that file: by digest when AgentOS gives one, else by name and size.
    public func isRecord(of file: UploadFile) -> Bool {
        if let sha256 { return sha256.lowercased() == file.sha256 }
        return fileName == file.fileName && size == file.size
    }

    public var json: JSONValue {
        var members = Self.aliases.write(self, metadata: metadata)
        members["size"] = .number(String(size))
        return .object(members)
    }
}
