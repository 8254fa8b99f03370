import Foundation
import JSON

/// One upstream call, with the values that fill its path: the documented V4 Maintenance calls (lists by
/// branch, paged in the path; status by PATCH; invoices by /invoice/submit) and the modelled ones the
/// vendor does not document (docs/agentos-contract.md says which is which).
public enum Operation: Sendable, Equatable {
    // Documented (hub.agentos.com, "How do I use the V4 Maintenance API…").
    case branches(shortName: String, offset: Int, count: Int)
    case branchContractors(shortName: String, branchId: String, offset: Int, count: Int)
    case branchJobs(shortName: String, branchId: String, offset: Int, count: Int)
    case statusTypes(shortName: String, offset: Int, count: Int)
    case updateJobStatus(shortName: String, jobId: String, statusId: String)
    /// With documents it is sent as `multipart/form-data` (the model's fields, one `Documents` part per
    /// file); without, as JSON.
    case invoiceSubmit(shortName: String, invoice: JSONValue, documents: [UploadFile] = [])
    /// One file per call, as `multipart/form-data` (`file` and `Description`).
    case attachDocument(shortName: String, jobId: String, file: UploadFile, description: String?)
    // Modelled (../agentos-upstream.md): kept, configurable.
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
    /// The documents attached to a job: what a recovery looks at before an upload is sent again.
    case jobDocuments(shortName: String, jobId: String)

    public var method: String {
        switch self {
        case .setCompletion, .updateJobStatus: "PATCH"
        case .addNote, .submitInvoice, .invoiceSubmit, .attachDocument: "POST"
        default: "GET"
        }
    }

    /// Reads may be retried after a timeout; writes may not (AgentOS would create a second note or invoice).
    public var isIdempotent: Bool { method == "GET" }

    /// A short stable name for logs and metrics.
    public var name: String {
        switch self {
        case .branches: "branches"
        case .branchContractors: "branchContractors"
        case .branchJobs: "branchJobs"
        case .statusTypes: "statusTypes"
        case .updateJobStatus: "updateJob"
        case .invoiceSubmit: "invoiceSubmit"
        case .attachDocument: "attachDocument"
        case .jobDocuments: "jobDocuments"
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

    /// Identifies a read for the cache: its name and every value that fills it (a unit separator between
    /// them, which no value can hold). Built by hand: `String(describing:)` reflects, and a jobs view asks
    /// for fifty of these.
    public var cacheKey: String {
        let parts: [String] = switch self {
        case .branches(let agency, let offset, let count), .statusTypes(let agency, let offset, let count): [agency, String(offset), String(count)]
        case .branchContractors(let agency, let branch, let offset, let count), .branchJobs(let agency, let branch, let offset, let count):
            [agency, branch, String(offset), String(count)]
        case .updateJobStatus(let agency, let job, let status): [agency, job, status]
        case .invoiceSubmit(let agency, let invoice, let documents):
            [agency, String(decoding: invoice.serialized(), as: UTF8.self)] + documents.map(\.sha256)
        case .attachDocument(let agency, let job, let file, let description): [agency, job, file.fileName, file.sha256, description ?? "-"]
        case .jobDocuments(let agency, let job): [agency, job]
        case .contractor(let agency, let id), .contacts(let agency, let id), .pending(let agency, let id): [agency, id]
        case .jobs(let agency, let id, let offset, let count): [agency, id, String(offset), String(count)]
        case .job(let agency, let job), .notes(let agency, let job): [agency, job]
        case .setCompletion(let agency, let job, let completed): [agency, job, String(completed)]
        case .addNote(let agency, let job, let text, let author): [agency, job, text, author]
        case .statement(let agency, let id, let from, let to): [agency, id, from ?? "-", to ?? "-"]
        case .submitInvoice(let agency, let id, let invoice): [agency, id, String(decoding: invoice.serialized(), as: UTF8.self)]
        }
        return ([name] + parts).joined(separator: Self.keySeparator)
    }

    static let keySeparator = "\u{1F}"

    /// The agency the call is made for (its short name).
    public var agency: String {
        switch self {
        case .branches(let agency, _, _), .statusTypes(let agency, _, _), .branchContractors(let agency, _, _, _), .branchJobs(let agency, _, _, _),
             .updateJobStatus(let agency, _, _), .invoiceSubmit(let agency, _, _), .attachDocument(let agency, _, _, _), .jobDocuments(let agency, _),
             .contractor(let agency, _), .contacts(let agency, _), .pending(let agency, _), .jobs(let agency, _, _, _), .job(let agency, _),
             .notes(let agency, _), .setCompletion(let agency, _, _), .addNote(let agency, _, _, _), .statement(let agency, _, _, _),
             .submitInvoice(let agency, _, _):
            agency
        }
    }

    /// Path (each value percent-encoded into its segment), query items, and body.
    func request(_ paths: OperationPaths) -> (path: String, query: [(String, String)], body: OutboundBody?) {
        func fill(_ template: String, _ values: [String: String]) -> String {
            var path = template
            for (name, value) in values { path = path.replacingOccurrences(of: "{\(name)}", with: Self.encodeSegment(value)) }
            return path
        }
        /// A list's paging: in the path where the call's template has `{offset}`/`{count}` (the documented
        /// V4 lists), else in the query.
        func paged(_ template: String, _ values: [String: String], _ offset: Int, _ count: Int) -> (String, [(String, String)], OutboundBody?) {
            if template.contains("{offset}") {
                return (fill(template, values.merging(["offset": String(offset), "count": String(count)]) { $1 }), [], nil)
            }
            return (fill(template, values), [("offset", String(offset)), ("count", String(count))], nil)
        }
        switch self {
        case .branches(let agency, let offset, let count): return paged(paths.branches, ["shortName": agency], offset, count)
        case .branchContractors(let agency, let branch, let offset, let count):
            return paged(paths.branchContractors, ["shortName": agency, "branchId": branch], offset, count)
        case .branchJobs(let agency, let branch, let offset, let count): return paged(paths.branchJobs, ["shortName": agency, "branchId": branch], offset, count)
        case .statusTypes(let agency, let offset, let count): return paged(paths.statusTypes, ["shortName": agency], offset, count)
        case .updateJobStatus(let agency, let job, let status):
            return (fill(paths.updateJob, ["shortName": agency, "jobId": job]), [], .json(.object(["StatusID": .string(status)])))
        case .invoiceSubmit(let agency, let invoice, let documents):
            let path = fill(paths.invoiceSubmit, ["shortName": agency])
            guard !documents.isEmpty else { return (path, [], .json(invoice)) }
            return (path, [], .form(fields: Self.formFields(invoice), files: documents.map { ("Documents", $0) }))
        case .attachDocument(let agency, let job, let file, let description):
            return (fill(paths.attachDocument, ["shortName": agency, "jobId": job]), [],
                    .form(fields: description.map { [("Description", $0)] } ?? [], files: [("file", file)]))
        case .jobDocuments(let agency, let job): return (fill(paths.jobDocuments, ["shortName": agency, "jobId": job]), [], nil)
        case .contractor(let agency, let id): return (fill(paths.contractor, ["shortName": agency, "contractorId": id]), [], nil)
        case .contacts(let agency, let id): return (fill(paths.contacts, ["shortName": agency, "contractorId": id]), [], nil)
        case .jobs(let agency, let id, let offset, let count): return paged(paths.jobs, ["shortName": agency, "contractorId": id], offset, count)
        case .job(let agency, let job): return (fill(paths.job, ["shortName": agency, "jobId": job]), [], nil)
        case .notes(let agency, let job): return (fill(paths.notes, ["shortName": agency, "jobId": job]), [], nil)
        case .setCompletion(let agency, let job, let completed):
            return (fill(paths.completion, ["shortName": agency, "jobId": job]), [], .json(.object(["Completed": .bool(completed)])))
        case .addNote(let agency, let job, let text, let author):
            return (fill(paths.addNote, ["shortName": agency, "jobId": job]), [], .json(.object(["Text": .string(text), "Author": .string(author)])))
        case .statement(let agency, let id, let from, let to):
            var query: [(String, String)] = []
            if let from { query.append(("dateFrom", from)) }
            if let to { query.append(("dateTo", to)) }
            return (fill(paths.statement, ["shortName": agency, "contractorId": id]), query, nil)
        case .pending(let agency, let id): return (fill(paths.pending, ["shortName": agency, "contractorId": id]), [], nil)
        case .submitInvoice(let agency, let id, let invoice):
            return (fill(paths.invoices, ["shortName": agency, "contractorId": id]), [], .json(invoice))
        }
    }

    /// A JSON object's members as form fields, in key order: strings as they are, numbers by their literal
    /// (money stays exact), booleans as `true`/`false`; nulls are left out.
    static func formFields(_ object: JSONValue) -> [(name: String, value: String)] {
        guard case .object(let members) = object else { return [] }
        return members.keys.sorted().compactMap { name in
            switch members[name] {
            case .string(let text)?: (name, text)
            case .number(let literal)?: (name, literal)
            case .bool(let flag)?: (name, flag ? "true" : "false")
            default: nil
            }
        }
    }

    /// RFC 3986 unreserved characters pass; everything else (including `/`) is percent-encoded, so no
    /// value can step out of its segment. A value of only dots would be a path step (`.`, `..`, removed by
    /// URL normalisation, RFC 3986 §5.2.4), so its dots are encoded too — though the portal refuses such
    /// ids before any call, this layer does not rely on it.
    static func encodeSegment(_ value: String) -> String {
        if value.isEmpty || value.allSatisfy({ $0 == "." }) { return String(repeating: "%2E", count: value.count) }
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
