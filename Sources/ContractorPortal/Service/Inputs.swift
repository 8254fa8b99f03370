import AgentOS
import Foundation
import JSON

/// Who is asking: taken from the verified session, never from the request.
public struct ContractorIdentity: Sendable, Equatable {
    public let shortName: String
    public let contractorId: String

    public init(shortName: String, contractorId: String) {
        self.shortName = shortName
        self.contractorId = contractorId
    }

    /// The key the upstream budget bounds each contractor's share by.
    public var tenant: String { shortName + "/" + contractorId }
}

/// The checks every input passes before AgentOS is called; each failure names its field.
public enum Validate {
    public static let maxIdLength = 128
    public static let maxNoteLength = 5_000
    /// A note's bound in UTF-8 bytes too: 5,000 characters of combining marks are megabytes.
    public static let maxNoteBytes = 20_000
    public static let maxInvoiceAmount = Decimal(1_000_000)

    /// Ids are opaque to us, but they end up in AgentOS paths and in logs: 1 to 128 **bytes** of printable
    /// ASCII other than space, `/`, `\\`, `?`, `#` and `%` (a byte bound, since 128 characters of combining
    /// marks are tens of kilobytes), and never `.` or `..` (a path step, not a name).
    public static func id(_ raw: String, field: String) throws(PortalError) -> String {
        guard !raw.isEmpty, raw.utf8.count <= maxIdLength else {
            throw .invalid(field: field, reason: "must be 1 to \(maxIdLength) bytes")
        }
        guard raw.utf8.allSatisfy(isIdByte) else {
            throw .invalid(field: field, reason: "must be printable ASCII without spaces, control characters, /, \\, ?, # or %")
        }
        guard raw != ".", raw != ".." else { throw .invalid(field: field, reason: "must not be . or ..") }
        return raw
    }

    /// An agency's shortName (from a session's claims) is a path segment too.
    public static func isAgency(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= maxIdLength && text.utf8.allSatisfy(isIdByte) && text != "." && text != ".."
    }

    static func isIdByte(_ byte: UInt8) -> Bool {
        byte > 0x20 && byte < 0x7F && ![UInt8(ascii: "/"), UInt8(ascii: "\\"), UInt8(ascii: "?"), UInt8(ascii: "#"), UInt8(ascii: "%")].contains(byte)
    }

    /// An amount's JSON literal, before it becomes a Decimal: at most 7 digits before the point (the
    /// bound is 1,000,000) and 2 after it, so nothing is truncated into something valid.
    public static func amountLiteral(_ literal: String, field: String) throws(PortalError) {
        let unsigned = literal.hasPrefix("-") ? literal.dropFirst() : Substring(literal)
        let parts = unsigned.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let whole = parts[0], fraction = parts.count == 2 ? parts[1] : ""
        guard !whole.isEmpty, whole.utf8.allSatisfy({ (48...57).contains($0) }), fraction.utf8.allSatisfy({ (48...57).contains($0) }),
              parts.count == 1 || !fraction.isEmpty else { throw .invalid(field: field, reason: "must be a number") }
        guard whole.drop(while: { $0 == "0" }).count <= 7 else { throw .invalid(field: field, reason: "must be at most 1000000") }
        guard fraction.reversed().drop(while: { $0 == "0" }).count <= 2 else {
            throw .invalid(field: field, reason: "must have at most 2 decimal places")
        }
    }

    public static func page(offset: Int?, count: Int?, defaultCount: Int, maxCount: Int) throws(PortalError) -> (offset: Int, count: Int) {
        let offset = offset ?? 0, count = count ?? defaultCount
        guard (0...1_000_000).contains(offset) else { throw .invalid(field: "offset", reason: "must be an integer from 0 to 1000000") }
        guard (1...maxCount).contains(count) else { throw .invalid(field: "count", reason: "must be an integer from 1 to \(maxCount)") }
        return (offset, count)
    }

    /// Trimmed; 1 to 5,000 characters once trimmed.
    public static func noteText(_ raw: String, field: String) throws(PortalError) -> String {
        let text = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw .invalid(field: field, reason: "must not be blank") }
        guard text.count <= maxNoteLength, text.utf8.count <= maxNoteBytes else {
            throw .invalid(field: field, reason: "must be at most \(maxNoteLength) characters (\(maxNoteBytes) bytes)")
        }
        return text
    }

    /// An ISO 8601 date (`2026-03-01`) or date-time with a zone; returned as AgentOS is sent it.
    public static func isoDate(_ raw: String, field: String) throws(PortalError) -> (date: Date, text: String) {
        let text = raw.trimmingCharacters(in: .whitespaces)
        if text.count == 10, let date = DateCodec.shared.parseISODay(text) { return (date, text) }
        if text.count > 10, text.contains("T"), text.hasSuffix("Z") || text.dropFirst(19).contains(where: { $0 == "+" || $0 == "-" }),
           case .date(let date)? = ValueReader.date.read(.string(text)) {
            return (date, DateCodec.shared.format(date))
        }
        throw .invalid(field: field, reason: "must be an ISO 8601 date (YYYY-MM-DD) or date-time with a zone")
    }

    public static func dateRange(from: String?, to: String?) throws(PortalError) -> (from: String?, to: String?) {
        let start = try from.map { raw throws(PortalError) in try isoDate(raw, field: "dateFrom") }
        let end = try to.map { raw throws(PortalError) in try isoDate(raw, field: "dateTo") }
        if let start, let end, start.date > end.date { throw .invalid(field: "dateFrom", reason: "must not be after dateTo") }
        return (start?.text, end?.text)
    }

    /// More than 0, at most 1,000,000, at most two decimals (pennies).
    public static func amount(_ amount: Decimal, field: String) throws(PortalError) -> Decimal {
        guard amount > 0 else { throw .invalid(field: field, reason: "must be greater than 0") }
        guard amount <= maxInvoiceAmount else { throw .invalid(field: field, reason: "must be at most 1000000") }
        var input = amount, rounded = Decimal()
        NSDecimalRound(&rounded, &input, 2, .plain)
        guard rounded == amount else { throw .invalid(field: field, reason: "must have at most 2 decimal places") }
        return amount
    }

    /// Optional free text: trimmed, bounded; blank is absent.
    public static func optionalText(_ raw: String?, field: String, max: Int) throws(PortalError) -> String? {
        guard let text = raw?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty else { return nil }
        guard text.count <= max, text.utf8.count <= max * 4 else { throw .invalid(field: field, reason: "must be at most \(max) characters") }
        return text
    }
}

/// An invoice as the contractor submits it, before validation.
public struct InvoiceDraft: Sendable {
    public var jobId: String
    public var amount: Decimal
    public var reference: String?
    public var invoiceDate: String?
    public var description: String?
    /// The invoice's PDF (checked by the upload's intake before it gets here).
    public var documents: [UploadFile]

    public init(
        jobId: String, amount: Decimal, reference: String? = nil, invoiceDate: String? = nil, description: String? = nil,
        documents: [UploadFile] = []
    ) {
        self.jobId = jobId
        self.amount = amount
        self.reference = reference
        self.invoiceDate = invoiceDate
        self.description = description
        self.documents = documents
    }

    /// The draft checked field by field (naming the first bad one); the invoice date defaults to today (UTC).
    public func validated(today: Date = Date()) throws(PortalError) -> Invoice {
        Invoice(
            jobId: try Validate.id(jobId, field: "jobId"),
            amount: try Validate.amount(amount, field: "amount"),
            reference: try Validate.optionalText(reference, field: "reference", max: 100),
            invoiceDate: try invoiceDate.map { raw throws(PortalError) in try Validate.isoDate(raw, field: "invoiceDate").text }
                ?? String(DateCodec.shared.format(today).prefix(10)),
            description: try Validate.optionalText(description, field: "description", max: 2_000),
            documents: documents)
    }
}

/// An invoice that passed validation: what is sent to AgentOS, and what identifies it afterwards.
public struct Invoice: Sendable, Equatable {
    public let jobId: String
    public let amount: Decimal
    public let reference: String?
    public let invoiceDate: String
    public let description: String?
    public let documents: [UploadFile]

    public init(jobId: String, amount: Decimal, reference: String?, invoiceDate: String, description: String?, documents: [UploadFile] = []) {
        self.jobId = jobId
        self.amount = amount
        self.reference = reference
        self.invoiceDate = invoiceDate
        self.description = description
        self.documents = documents
    }

    /// Whether an entry of the contractor's pending list is this invoice: same job and amount, and the same
    /// reference (or, without one, the same invoice date).
    public func matches(_ entry: PendingStatementEntry) -> Bool {
        guard entry.jobId == jobId, entry.amount == amount else { return false }
        if let reference { return entry.invoiceNumber == reference }
        return entry.date.map { String(DateCodec.shared.format($0).prefix(10)) } == invoiceDate
    }
}
