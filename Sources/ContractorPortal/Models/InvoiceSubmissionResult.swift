import AgentOS
import Foundation
import JSON

/// Seed 003's InvoiceSubmissionResult: AgentOS's answer to an invoice.
public struct InvoiceSubmissionResult: Sendable, Equatable {
    public var invoiceId: String?
    public var success = true
    public var message: String?
    public var metadata: [String: JSONValue] = [:]

    public static let aliases = AliasTable<InvoiceSubmissionResult>([
        .id("invoiceId", \.invoiceId, "InvoiceID", "OID", "ID"),
        .bool("success", \.success, "Success", "Accepted"),
        .text("message", \.message, "Message"),
    ])

    /// AgentOS answered 2xx. Without a `Success`/`Accepted` flag a 2xx is itself the acceptance; an empty
    /// answer (204) has no id.
    public init(upstream: JSONValue) {
        let fields = upstream.objectValue ?? [:]
        Self.aliases.read(fields, into: &self)
        metadata = fields
    }

    public var json: JSONValue {
        .object(Self.aliases.write(self, metadata: metadata))
    }
}
