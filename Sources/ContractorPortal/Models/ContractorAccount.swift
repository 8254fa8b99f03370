import AgentOS
import Foundation
import JSON

/// Seed 003's ContractorAccount. Fields the seed types as non-null text are "" when AgentOS sends none,
/// `isActive` is false and `trades` empty; every other field is `null` when absent or unreadable.
public struct ContractorAccount: Sendable, Equatable {
    public var contractorId = ""
    public var companyName = ""
    public var displayName = ""
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
    public var isActive = false
    public var branchId: String?
    public var trades: [String] = []
    public var metadata: [String: JSONValue] = [:]

    public static let aliases = AliasTable<ContractorAccount>([
        .id("contractorId", \.contractorId, "OID", "ContractorID", "ID"),
        .text("companyName", \.companyName, "CompanyName", "Company"),
        .text("displayName", \.displayName, "DisplayName", "Name", "FullName"),
        .text("email", \.email, "EmailAddress", "EMailAddress", "Email"),
        .text("phone", \.phone, "Phone", "LandPhone", "PhoneNumber", "WorkPhone"),
        .text("mobile", \.mobile, "Mobile", "MobilePhone", "MobileNumber"),
        .text("addressLine1", \.addressLine1, "AddressLine1", "Address1"),
        .text("addressLine2", \.addressLine2, "AddressLine2", "Address2"),
        .text("addressLine3", \.addressLine3, "AddressLine3", "Address3"),
        .text("postcode", \.postcode, "Postcode", "PostCode"),
        .text("address", \.address,
              "Address",
              .joined([["AddressLine1", "Address1"], ["AddressLine2", "Address2"], ["AddressLine3", "Address3"], ["Address4"], ["County"],
                       ["Postcode", "PostCode"]], separator: ", ")),
        .text("vatNumber", \.vatNumber, "VATNumber", "VatNumber", "VatRegNo"),
        .text("companyRegNumber", \.companyRegNumber, "CompanyRegNumber", "CompanyNumber"),
        .bool("isActive", \.isActive, "IsActive", "Active", .equals("Status", "Active")),
        .id("branchId", \.branchId, "BranchID", "BranchOID"),
        .textList("trades", \.trades, "Trades", "TradeTypes"),
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
