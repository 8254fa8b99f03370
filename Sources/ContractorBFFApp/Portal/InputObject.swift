import AgentOS
import ContractorPortal
import Foundation
import JSON

/// A JSON object of inputs (a REST body, a tRPC input) read field by field; every wrong field is a
/// `PortalError.invalid` that names it. Unknown fields are ignored, as zod's default object schema does.
struct InputObject: Sendable {
    let fields: [String: JSONValue]
    /// The files of a `multipart/form-data` input (REST uploads, tRPC FormData); nil for JSON input.
    var upload: UploadForm?

    /// Absent or null input is an empty object; anything else that is not an object is refused.
    init(_ value: JSONValue?, name: String = "input") throws(PortalError) {
        switch value {
        case nil, .null?: fields = [:]
        case .object(let fields)?: self.fields = fields
        default: throw .invalid(field: name, reason: "must be a JSON object")
        }
    }

    /// A form's text fields: strings, but for the few inputs that are numbers or booleans in JSON (a form
    /// has only text), which are read as such when they are well formed and left as text otherwise, so a
    /// wrong one is refused by name as in JSON.
    init(form: UploadForm) {
        var fields: [String: JSONValue] = [:]
        for (name, text) in form.fields {
            switch name {
            case "amount", "offset", "count":
                if case .number(let literal)? = try? JSONText.parse(Array(text.utf8)), literal == text { fields[name] = .number(text) } else { fields[name] = .string(text) }
            case "completed" where text == "true" || text == "false": fields[name] = .bool(text == "true")
            default: fields[name] = .string(text)
            }
        }
        self.fields = fields
        upload = form
    }

    /// An invoice's document: at most one file, in the `file` field, a PDF (agentOS takes invoices as PDF
    /// only).
    func invoiceDocuments() throws(PortalError) -> [UploadFile] {
        guard let files = upload?.files, !files.isEmpty else { return [] }
        guard files.allSatisfy({ $0.field == "file" }) else { throw .invalid(field: "file", reason: "is the one file field of an invoice") }
        guard files.count == 1, let file = files.first else { throw .invalid(field: "file", reason: "must be one PDF: an invoice takes one document") }
        guard file.type == .pdf else {
            throw .unsupportedType("\(file.upload.fileName) is \(file.type.rawValue.uppercased()): invoices are accepted as PDF only")
        }
        return [file.upload]
    }

    /// A job's photos and documents: every file in the `file` (or `files`) field.
    func jobDocuments() throws(PortalError) -> [UploadFile] {
        guard let files = upload?.files, !files.isEmpty else {
            throw .invalid(field: "file", reason: "is required: send the photos and documents as multipart/form-data file parts")
        }
        guard files.allSatisfy({ $0.field == "file" || $0.field == "files" }) else { throw .invalid(field: "file", reason: "is the field files are sent in") }
        return files.map(\.upload)
    }

    /// A request body: empty is no input; otherwise it must be a JSON object.
    static func body(_ bytes: [UInt8]) throws(PortalError) -> InputObject {
        guard !bytes.isEmpty else { return try InputObject(nil) }
        guard let value = try? JSONText.parse(bytes) else { throw .invalid(field: "body", reason: "must be valid JSON") }
        return try InputObject(value, name: "body")
    }

    private func present(_ name: String) -> JSONValue? {
        guard let value = fields[name], value != .null else { return nil }
        return value
    }

    func string(_ name: String) throws(PortalError) -> String? {
        guard let value = present(name) else { return nil }
        guard case .string(let text) = value else { throw .invalid(field: name, reason: "must be a string") }
        return text
    }

    func requiredString(_ name: String) throws(PortalError) -> String {
        guard let text = try string(name) else { throw .invalid(field: name, reason: "is required") }
        return text
    }

    /// Ids may come as strings or numbers (AgentOS has both); they are strings from here on.
    func requiredID(_ name: String) throws(PortalError) -> String {
        switch present(name) {
        case .string(let text)?: return try Validate.id(text, field: name)
        case .number(let literal)?: return try Validate.id(literal, field: name)
        case nil: throw .invalid(field: name, reason: "is required")
        default: throw .invalid(field: name, reason: "must be a string")
        }
    }

    func int(_ name: String) throws(PortalError) -> Int? {
        guard let value = present(name) else { return nil }
        guard case .number(let literal) = value, let number = Int(literal) else { throw .invalid(field: name, reason: "must be an integer") }
        return number
    }

    func bool(_ name: String) throws(PortalError) -> Bool? {
        guard let value = present(name) else { return nil }
        guard case .bool(let flag) = value else { throw .invalid(field: name, reason: "must be true or false") }
        return flag
    }

    /// Money as a JSON number, read exactly from its literal (never through a Double).
    func requiredDecimal(_ name: String) throws(PortalError) -> Decimal {
        guard let value = present(name) else { throw .invalid(field: name, reason: "is required") }
        guard case .number(let literal) = value, !literal.contains(where: { $0 == "e" || $0 == "E" }) else {
            throw .invalid(field: name, reason: "must be a number")
        }
        // Decimal keeps 38 digits and drops the rest without a word, so a literal is judged as text first:
        // what would be lost is refused, not rounded away.
        try Validate.amountLiteral(literal, field: name)
        guard let amount = Decimal(string: literal, locale: Locale(identifier: "en_US_POSIX")) else {
            throw .invalid(field: name, reason: "must be a number")
        }
        return amount
    }

    /// The session decides who is asking. A seed input that still names the agency or contractor must
    /// name the session's own, or the call is refused.
    func checkIdentity(_ identity: ContractorIdentity) throws(PortalError) {
        for (name, expected) in [("shortName", identity.shortName), ("contractorId", identity.contractorId)] {
            guard let value = present(name) else { continue }
            let given: String
            switch value {
            case .string(let text): given = text
            case .number(let literal): given = literal
            default: throw .invalid(field: name, reason: "must be a string")
            }
            guard given == expected else { throw .forbidden("\(name) does not match the signed-in contractor") }
        }
    }
}
