import AgentOS
import Foundation
import JSON

/// Seed 003's ContractorJobNote, from the notes call or from a job's embedded `MaintenanceNotes`.
public struct ContractorJobNote: Sendable, Equatable {
    public var noteId = ""
    public var jobId = ""
    public var text = ""
    public var createdAt: Date?
    public var createdBy: String?
    public var type: String?
    public var metadata: [String: JSONValue] = [:]

    public static let aliases = AliasTable<ContractorJobNote>([
        .id("noteId", \.noteId, "OID", "NoteID", "ID"),
        .id("jobId", \.jobId, "JobID"),
        .text("text", \.text, "Text", "NoteContents", "Note", "Body"),
        .date("createdAt", \.createdAt, "CreatedAt", "DateCreated", "Created"),
        .text("createdBy", \.createdBy, "CreatedBy", "Author", "UserName"),
        .text("type", \.type, "Type", "NoteType"),
    ])

    /// `jobId` is the parent job's when the note does not name one (embedded notes never do).
    public init?(upstream: JSONValue, jobId parent: String) {
        guard let fields = upstream.objectValue else { return nil }
        jobId = parent
        Self.aliases.read(fields, into: &self)
        metadata = fields
    }

    public var json: JSONValue {
        .object(Self.aliases.write(self, metadata: metadata))
    }
}
