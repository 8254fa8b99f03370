import ContractorPortal
import HTTPServer
import JSON
import Foundation

/// A table written as CSV (RFC 4180): a header row, CRLF line ends, UTF-8, every field quoted when it
/// holds a quote, comma, CR or LF (quotes doubled inside). Text that a spreadsheet would run as a
/// formula (starting `=`, `+`, `-`, `@`, tab or CR: OWASP's CSV injection list) is neutralised by a
/// leading `'`; money and dates are written by the gateway itself and are never text from AgentOS.
struct CSVTable {
    enum Cell {
        case text(String?)
        /// Exact, always two decimals (rounded half up, as the JSON is); empty when unknown.
        case money(Decimal?)
        /// ISO 8601 UTC, as the JSON writes dates; empty when unknown.
        case date(Date?)
    }

    let header: [String]
    var rows: [[Cell]] = []

    init(header: [String]) { self.header = header }

    mutating func append(_ row: [Cell]) { rows.append(row) }

    var bytes: [UInt8] {
        var out = ""
        out += header.map(Self.field).joined(separator: ",") + "\r\n"
        for row in rows {
            out += row.map { Self.field(Self.text($0)) }.joined(separator: ",") + "\r\n"
        }
        return Array(out.utf8)
    }

    static func text(_ cell: Cell) -> String {
        switch cell {
        case .text(let text): neutralised(text ?? "")
        case .money(let amount): amount.map(twoDecimals) ?? ""
        case .date(let date): date.flatMap { if case .string(let text) = OutputFormat.date($0) { text } else { nil } } ?? ""
        }
    }

    static func neutralised(_ text: String) -> String {
        guard let first = text.unicodeScalars.first, ["=", "+", "-", "@", "\t", "\r"].contains(first) else { return text }
        return "'" + text
    }

    static func field(_ text: String) -> String {
        guard text.contains(where: { $0 == "\"" || $0 == "," || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// The JSON's money literal (the one rounding rule, `OutputFormat.money`), padded to two decimals.
    static func twoDecimals(_ amount: Decimal) -> String {
        guard case .number(var digits) = OutputFormat.money(amount) else { return "" }
        if !digits.contains(".") { digits += "." }
        let fraction = digits.split(separator: ".", omittingEmptySubsequences: false).last?.count ?? 0
        return digits + String(repeating: "0", count: max(0, 2 - fraction))
    }
}

/// The CSV exports: a contractor's historical statement and pending entries, as the JSON routes give them.
enum StatementExports {
    static func historical(_ statement: ContractorStatement) -> CSVTable {
        var table = CSVTable(header: ["date", "entryId", "description", "jobId", "propertyAddress", "category", "invoiceNumber", "debit", "credit", "balance"])
        for entry in statement.entries {
            table.append([
                .date(entry.date), .text(entry.entryId), .text(entry.description), .text(entry.jobId), .text(entry.propertyAddress),
                .text(entry.category), .text(entry.invoiceNumber), .money(entry.debit), .money(entry.credit), .money(entry.balance),
            ])
        }
        return table
    }

    static func pending(_ entries: [PendingStatementEntry]) -> CSVTable {
        var table = CSVTable(header: ["date", "entryId", "description", "jobId", "propertyAddress", "invoiceNumber", "status", "amount"])
        for entry in entries {
            table.append([
                .date(entry.date), .text(entry.entryId), .text(entry.description), .text(entry.jobId), .text(entry.propertyAddress),
                .text(entry.invoiceNumber), .text(entry.status), .money(entry.amount),
            ])
        }
        return table
    }

    /// CSV when `?format=csv`, or when `Accept` names `text/csv` (with a non-zero q) and no `format` says
    /// otherwise; JSON for `?format=json` or neither. Any other format is refused by name.
    static func wantsCSV(_ request: Request) throws(PortalError) -> Bool {
        switch request.query("format") {
        case "csv"?: return true
        case "json"?: return false
        case let other?: throw .invalid(field: "format", reason: "must be json or csv, not \(other.prefix(20))")
        case nil:
            return request.headers.acceptedMediaTypes.contains { $0.type == "text/csv" && $0.quality > 0 }
        }
    }

    /// A download: `text/csv`, and a file name of safe characters only.
    static func response(_ table: CSVTable, name: String) -> Response {
        let safe = String(name.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") ? $0 : "-" })
        var response = Response(status: 200, headers: ["Content-Type": "text/csv; charset=utf-8; header=present"], bytes: table.bytes)
        response.headers.set("Content-Disposition", "attachment; filename=\"\(safe).csv\"")
        return response
    }
}
