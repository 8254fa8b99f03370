import AgentOS
import Foundation
import JSON

/// Seed 003's ContractorJobNote, from the notes call or from a job's embedded `MaintenanceNotes`.
public struct ContractorJobNote: Sendable, Equatable {
    public var noteId: String
    public var jobId: String
    public var text: String
    public var createdAt: Date?
    public var createdBy: String?
    public var type: String?
    public var metadata: [String: JSONValue]

    public static let aliases = AliasTable([
        FieldRule("noteId", .id, names: "OID", "NoteID", "ID"),
        FieldRule("jobId", .id, names: "JobID"),
        FieldRule("text", .text, names: "Text", "NoteContents", "Note", "Body"),
        FieldRule("createdAt", .date, names: "CreatedAt", "DateCreated", "Created"),
        FieldRule("createdBy", .text, names: "CreatedBy", "Author", "UserName"),
        FieldRule("type", .text, names: "Type", "NoteType"),
    ])

    /// `jobId` is the parent job's when the note does not name one (embedded notes never do).
    public init?(upstream: JSONValue, jobId parent: String) {
        guard let fields = upstream.objectValue else { return nil }
        let record = Self.aliases.map(fields)
        noteId = record.text("noteId") ?? ""
        jobId = record.text("jobId") ?? parent
        text = record.text("text") ?? ""
        createdAt = record.date("createdAt")
        createdBy = record.text("createdBy")
        type = record.text("type")
        metadata = record.metadata
    }

    public var json: JSONValue {
        var out = JSONFields()
        out.text("noteId", noteId)
        out.text("jobId", jobId)
        out.text("text", text)
        out.date("createdAt", createdAt)
        out.text("createdBy", createdBy)
        out.text("type", type)
        out.metadata(metadata)
        return out.json
    }
}
