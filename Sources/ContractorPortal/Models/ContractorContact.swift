import AgentOS
import Foundation
import JSON

/// Seed 003's ContractorContact: a person at the contractor's company.
public struct ContractorContact: Sendable, Equatable {
    public var contactId: String
    public var name: String
    public var email: String?
    public var phone: String?
    public var mobile: String?
    public var role: String?
    public var isPrimary: Bool
    public var metadata: [String: JSONValue]

    public static let aliases = AliasTable([
        FieldRule("contactId", .id, names: "ContactID", "OID", "ID"),
        FieldRule("name", .text, [.field("Name"), .field("FullName"), .joined([["Forename"], ["Surname"]], separator: " ")]),
        FieldRule("email", .text, names: "EmailAddress", "EMailAddress", "Email"),
        FieldRule("phone", .text, names: "Phone", "LandPhone", "PhoneNumber", "WorkPhone"),
        FieldRule("mobile", .text, names: "Mobile", "MobilePhone", "MobileNumber"),
        FieldRule("role", .text, names: "Role", "JobTitle"),
        FieldRule("isPrimary", .bool, names: "IsPrimary", "Primary"),
    ])

    public init?(upstream: JSONValue) {
        guard let fields = upstream.objectValue else { return nil }
        let record = Self.aliases.map(fields)
        contactId = record.text("contactId") ?? ""
        name = record.text("name") ?? ""
        email = record.text("email")
        phone = record.text("phone")
        mobile = record.text("mobile")
        role = record.text("role")
        isPrimary = record.bool("isPrimary") ?? false
        metadata = record.metadata
    }

    public var json: JSONValue {
        var out = JSONFields()
        out.text("contactId", contactId)
        out.text("name", name)
        out.text("email", email)
        out.text("phone", phone)
        out.text("mobile", mobile)
        out.text("role", role)
        out.bool("isPrimary", isPrimary)
        out.metadata(metadata)
        return out.json
    }
}
