import AgentOS
import Foundation
import JSON

/// Seed 003's ContractorAccount. Fields the seed types as non-null text are "" when AgentOS sends none,
/// `isActive` is false and `trades` empty; every other field is `null` when absent or unreadable.
public struct ContractorAccount: Sendable, Equatable {
    public var contractorId: String
    public var companyName: String
    public var displayName: String
    public var email: String?
    public var phone: String?
    public var mobile: String?
    public var address: String?
    public var addressLine1: String?
    public var addressLine2: String?
    public var addressLine3: String?
    public var postcode: String?
    public var vatNumber: String?
    public var companyRegNumber: String?
    public var isActive: Bool
    public var branchId: String?
    public var trades: [String]
    public var metadata: [String: JSONValue]

    public static let aliases = AliasTable([
        FieldRule("contractorId", .id, names: "OID", "ContractorID", "ID"),
        FieldRule("companyName", .text, names: "CompanyName", "Company"),
        FieldRule("displayName", .text, names: "DisplayName", "Name", "FullName"),
        FieldRule("email", .text, names: "EmailAddress", "EMailAddress", "Email"),
        FieldRule("phone", .text, names: "Phone", "LandPhone", "PhoneNumber", "WorkPhone"),
        FieldRule("mobile", .text, names: "Mobile", "MobilePhone", "MobileNumber"),
        FieldRule("addressLine1", .text, names: "AddressLine1", "Address1"),
        FieldRule("addressLine2", .text, names: "AddressLine2", "Address2"),
        FieldRule("addressLine3", .text, names: "AddressLine3", "Address3"),
        FieldRule("postcode", .text, names: "Postcode", "PostCode"),
        FieldRule("address", .text, [
            .field("Address"),
            .joined([["AddressLine1", "Address1"], ["AddressLine2", "Address2"], ["AddressLine3", "Address3"], ["Address4"], ["County"],
                     ["Postcode", "PostCode"]], separator: ", "),
        ]),
        FieldRule("vatNumber", .text, names: "VATNumber", "VatNumber", "VatRegNo"),
        FieldRule("companyRegNumber", .text, names: "CompanyRegNumber", "CompanyNumber"),
        FieldRule("isActive", .bool, [.field("IsActive"), .field("Active"), .equals("Status", "Active")]),
        FieldRule("branchId", .id, names: "BranchID", "BranchOID"),
        FieldRule("trades", .textList, names: "Trades", "TradeTypes"),
    ])

    public init?(upstream: JSONValue) {
        guard let fields = upstream.objectValue else { return nil }
        let record = Self.aliases.map(fields)
        contractorId = record.text("contractorId") ?? ""
        companyName = record.text("companyName") ?? ""
        displayName = record.text("displayName") ?? ""
        email = record.text("email")
        phone = record.text("phone")
        mobile = record.text("mobile")
        address = record.text("address")
        addressLine1 = record.text("addressLine1")
        addressLine2 = record.text("addressLine2")
        addressLine3 = record.text("addressLine3")
        postcode = record.text("postcode")
        vatNumber = record.text("vatNumber")
        companyRegNumber = record.text("companyRegNumber")
        isActive = record.bool("isActive") ?? false
        branchId = record.text("branchId")
        trades = record.textList("trades") ?? []
        metadata = record.metadata
    }

    public var json: JSONValue {
        var out = JSONFields()
        out.text("contractorId", contractorId)
        out.text("companyName", companyName)
        out.text("displayName", displayName)
        out.text("email", email)
        out.text("phone", phone)
        out.text("mobile", mobile)
        out.text("address", address)
        out.text("addressLine1", addressLine1)
        out.text("addressLine2", addressLine2)
        out.text("addressLine3", addressLine3)
        out.text("postcode", postcode)
        out.text("vatNumber", vatNumber)
        out.text("companyRegNumber", companyRegNumber)
        out.bool("isActive", isActive)
        out.text("branchId", branchId)
        out.list("trades", trades)
        out.metadata(metadata)
        return out.json
    }
}
