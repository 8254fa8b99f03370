import AgentOS
import Foundation
import JSON

/// Seed 003's InvoiceSubmissionResult: AgentOS's answer to an invoice.
public struct InvoiceSubmissionResult: Sendable, Equatable {
    public var invoiceId: String?
    public var success: Bool
    public var message: String?
    public var metadata: [String: JSONValue]

    public static let aliases = AliasTable([
        FieldRule("invoiceId", .id, names: "InvoiceID", "OID", "ID"),
        FieldRule("success", .bool, names: "Success", "Accepted"),
        FieldRule("message", .text, names: "Message"),
    ])

    /// AgentOS answered 2xx. Without a `Success`/`Accepted` flag a 2xx is itself the acceptance; an empty
    /// answer (204) has no id.
    public init(upstream: JSONValue) {
        let record = Self.aliases.map(upstream.objectValue ?? [:])
        invoiceId = record.text("invoiceId")
        success = record.bool("success") ?? true
        message = record.text("message")
        metadata = record.metadata
    }

    public var json: JSONValue {
        var out = JSONFields()
        out.text("invoiceId", invoiceId)
        out.bool("success", success)
        out.text("message", message)
        out.metadata(metadata)
        return out.json
    }
}
