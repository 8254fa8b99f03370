import Foundation

/// One of the ten upstream calls, with the values that fill its path.
public enum Operation: Sendable, Equatable {
    case contractor(shortName: String, contractorId: String)
    case contacts(shortName: String, contractorId: String)
    case jobs(shortName: String, contractorId: String, offset: Int, count: Int)
    case job(shortName: String, jobId: String)
    case notes(shortName: String, jobId: String)
    case setCompletion(shortName: String, jobId: String, completed: Bool)
    case addNote(shortName: String, jobId: String, text: String, author: String)
    case statement(shortName: String, contractorId: String, dateFrom: String?, dateTo: String?)
    case pending(shortName: String, contractorId: String)
    case submitInvoice(shortName: String, contractorId: String, invoice: JSONValue)

    public var method: String {
        switch self {
        case .setCompletion: "PATCH"
        case .addNote, .submitInvoice: "POST"
        default: "GET"
        }
    }

    /// Reads may be retried after a timeout; writes may not (AgentOS would create a second note or invoice).
    public var isIdempotent: Bool { method == "GET" }

    /// A short stable name for logs and metrics.
    public var name: String {
        switch self {
        case .contractor: "contractor"
        case .contacts: "contacts"
        case .jobs: "jobs"
        case .job: "job"
        case .notes: "notes"
        case .setCompletion: "setCompletion"
        case .addNote: "addNote"
        case .statement: "statement"
        case .pending: "pending"
        case .submitInvoice: "submitInvoice"
        }
    }

    /// Path (each value percent-encoded into its segment), query items, and JSON body.
    func request(_ paths: OperationPaths) -> (path: String, query: [(String, String)], body: JSONValue?) {
        func fill(_ template: String, _ values: [String: String]) -> String {
            var path = template
            for (name, value) in values { path = path.replacingOccurrences(of: "{\(name)}", with: Self.encodeSegment(value)) }
            return path
        }
        switch self {
        case .contractor(let agency, let id): return (fill(paths.contractor, ["shortName": agency, "contractorId": id]), [], nil)
        case .contacts(let agency, let id): return (fill(paths.contacts, ["shortName": agency, "contractorId": id]), [], nil)
        case .jobs(let agency, let id, let offset, let count):
            return (fill(paths.jobs, ["shortName": agency, "contractorId": id]), [("offset", String(offset)), ("count", String(count))], nil)
        case .job(let agency, let job): return (fill(paths.job, ["shortName": agency, "jobId": job]), [], nil)
        case .notes(let agency, let job): return (fill(paths.notes, ["shortName": agency, "jobId": job]), [], nil)
        case .setCompletion(let agency, let job, let completed):
            return (fill(paths.completion, ["shortName": agency, "jobId": job]), [], .object(["Completed": .bool(completed)]))
        case .addNote(let agency, let job, let text, let author):
            return (fill(paths.addNote, ["shortName": agency, "jobId": job]), [], .object(["Text": .string(text), "Author": .string(author)]))
        case .statement(let agency, let id, let from, let to):
            var query: [(String, String)] = []
            if let from { query.append(("dateFrom", from)) }
            if let to { query.append(("dateTo", to)) }
            return (fill(paths.statement, ["shortName": agency, "contractorId": id]), query, nil)
        case .pending(let agency, let id): return (fill(paths.pending, ["shortName": agency, "contractorId": id]), [], nil)
        case .submitInvoice(let agency, let id, let invoice):
            return (fill(paths.invoices, ["shortName": agency, "contractorId": id]), [], invoice)
        }
    }

    /// RFC 3986 unreserved characters pass; everything else (including `/`) is percent-encoded, so no
    /// value can step out of its segment.
    static func encodeSegment(_ value: String) -> String {
        var out = ""
        for byte in value.utf8 {
            switch byte {
            case 48...57, 65...90, 97...122, 45, 46, 95, 126: out.unicodeScalars.append(Unicode.Scalar(byte))
            default: out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }
}

extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
