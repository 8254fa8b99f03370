import AgentOS
import Foundation
import JSON

/// Seed 003's ContractorContact: a person at the contractor's company.
public struct ContractorContact: Sendable, Equatable {
    public var contactId = ""
    public var name = ""
    public var email: String?
    public var phone: String?
    public var mobile: String?
    public var role: String?
    public var isPrimary = false
    public var metadata: [String: JSONValue] = [:]

    public static let aliases = AliasTable<ContractorContact>([
        .id("contactId", \.contactId, "ContactID", "OID", "ID"),
        .text("name", \.name, "Name", "FullName", .joined([["Forename"], ["Surname"]], separator: " ")),
        .text("email", \.email, "EmailAddress", "EMailAddress", "Email"),
        .text("phone", \.phone, "Phone", "LandPhone", "PhoneNumber", "WorkPhone"),
        .text("mobile", \.mobile, "Mobile", "MobilePhone", "MobileNumber"),
        .text("role", \.role, "Role", "JobTitle"),
        .bool("isPrimary", \.isPrimary, "IsPrimary", "Primary"),
    ])

    public init?(upstream: JSONValue) {
        guard let fields = upstream.objectValue else { return nil }
        Self.aliases.read(fields, into: &self)
        metadata = fields
    }

    public var json: JSONValue {
        .object(Self.aliases.write(self, metadata: metadata))
    }
}
