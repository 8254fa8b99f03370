import AgentOS
import Foundation
import JSON
import Synchronization

/// The fixture AgentOS's data: read from Fixtures/agentos.json, changed in memory by writes, with a count
/// of every request and every write received so tests can assert "exactly one".
public actor FixtureStore {
    struct Agency {
        var contractors: [String: JSONValue]
        var contacts: [String: JSONValue]
        var jobs: [JSONValue]
        var notes: [String: [JSONValue]]
        var statements: [String: JSONValue]
        var pending: [String: JSONValue]
        var jobEnvelopes: [String: String]
        var branches: [JSONValue]
        var contractorBranches: [String: [String]]
        var statusTypes: [JSONValue]
        /// Documents attached to each job (`attachdocument`).
        var documents: [String: [JSONValue]] = [:]
    }

    public nonisolated let apiKey: String
    /// Each agency's contractor ids, sorted: what a newcomer can sign in as.
    public nonisolated let directory: [String: [String]]
    private let original: [String: Agency]
    private var agencies: [String: Agency]
    public private(set) var received: [String: Int] = [:]
    public private(set) var writes: [String: Int] = [:]
    /// The paths of the requests received, as they arrived (the latest 10,000), so tests can assert which
    /// resource was really called.
    public private(set) var paths: [String] = []
    private var sequence = 0

    public init(file path: String) throws {
        try self.init(document: try Self.document(path))
    }

    /// The built-in fixture agency (`BuiltInFixture`), for a binary run where no fixture file is.
    public static func builtIn() throws -> FixtureStore {
        try FixtureStore(document: try JSONText.parse(Array(BuiltInFixture.json.utf8)))
    }

    init(document root: JSONValue) throws {
        guard case .string(let key)? = root["apiKey"], let agencies = root["agencies"]?.objectValue else {
            throw CocoaError(.fileReadCorruptFile)
        }
        var loaded: [String: Agency] = [:]
        for (name, value) in agencies {
            func map(_ field: String) -> [String: JSONValue] { value[field]?.objectValue ?? [:] }
            loaded[name] = Agency(
                contractors: map("contractors"), contacts: map("contacts"), jobs: value["jobs"]?.arrayValue ?? [],
                notes: map("notes").mapValues { $0.arrayValue ?? [] }, statements: map("statements"), pending: map("pending"),
                jobEnvelopes: map("jobEnvelopes").compactMapValues { if case .string(let text) = $0 { text } else { nil } },
                branches: value["branches"]?.arrayValue ?? [],
                contractorBranches: map("contractorBranches").mapValues { ($0.arrayValue ?? []).compactMap { Self.text($0) } },
                statusTypes: value["statusTypes"]?.arrayValue ?? [])
        }
        apiKey = key
        directory = loaded.mapValues { $0.contractors.keys.sorted() }
        original = loaded
        self.agencies = loaded
    }

    /// Documents already parsed, by path, stamped with size and modification time: a process that starts
    /// many fixtures (the test suite starts one per test, all at once on two cores) parses the file once,
    /// and an edited file is read again.
    private static let parsed = Mutex<[String: (stamp: String, root: JSONValue)]>([:])

    private static func document(_ path: String) throws -> JSONValue {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        let stamp = "\(attributes[.size] ?? "")|\(attributes[.modificationDate] ?? "")"
        if let known = parsed.withLock({ $0[path] }), known.stamp == stamp { return known.root }
        let root = try JSONText.parse(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        parsed.withLock { $0[path] = (stamp, root) }
        return root
    }

    /// A contractor's records as the data file holds them (before any write), unwrapped from their
    /// envelopes: what the API description's examples are made from, so they are the fixture's own.
    public struct Records: Sendable {
        public let contractor: JSONValue
        public let contacts: [JSONValue]
        public let jobs: [JSONValue]
        /// The first job's notes.
        public let notes: [JSONValue]
        public let statement: JSONValue
        public let pending: [JSONValue]
    }

    public nonisolated func records(agency name: String, contractor id: String) -> Records? {
        guard let agency = original[name], let contractor = agency.contractors[id] else { return nil }
        let jobs = agency.jobs.filter { Self.owner($0) == id }
        return Records(
            contractor: contractor, contacts: Self.items(agency.contacts[id]), jobs: jobs,
            notes: jobs.first.flatMap(Self.jobID).map { agency.notes[$0] ?? [] } ?? [],
            statement: agency.statements[id] ?? .object([:]), pending: Self.items(agency.pending[id]))
    }

    /// Back to the file's data, counters at zero.
    public func reset() {
        agencies = original
        received = [:]
        receivedDocuments = []
        paths = []
        writes = [:]
    }

    /// Every file the upload calls received, in order: where it went (agency, job or invoice), its name,
    /// declared type, size and SHA-256.
    public private(set) var receivedDocuments: [JSONValue] = []

    func noteReceived(_ operation: String, path: String) {
        received[operation, default: 0] += 1
        paths.append(path)
        if paths.count > 10_000 { paths.removeFirst(paths.count - 10_000) }
    }

    // MARK: the documented V4 calls (hub.agentos.com): lists by branch, paged in the path

    static func page(_ items: [JSONValue], offset: Int, count: Int) -> JSONValue {
        .object(["Count": .number(String(items.count)), "Data": .array(Array(items.dropFirst(offset).prefix(count)))])
    }

    func branches(_ agency: String, offset: Int, count: Int) -> JSONValue? {
        agencies[agency].map { Self.page($0.branches, offset: offset, count: count) }
    }

    func branchContractors(_ agency: String, _ branch: String, offset: Int, count: Int) -> JSONValue? {
        guard let state = agencies[agency], state.branches.contains(where: { Self.text($0["BranchID"]) == branch }) else { return nil }
        let ids = state.contractorBranches.filter { $0.value.contains(branch) }.keys.sorted()
        return Self.page(ids.compactMap { id in state.contractors[id].map { Self.withID($0, id) } }, offset: offset, count: count)
    }

    func branchJobs(_ agency: String, _ branch: String, offset: Int, count: Int) -> JSONValue? {
        guard let state = agencies[agency], state.branches.contains(where: { Self.text($0["BranchID"]) == branch }) else { return nil }
        return Self.page(state.jobs.filter { Self.text($0["BranchID"]) == branch }, offset: offset, count: count)
    }

    func statusTypes(_ agency: String, offset: Int, count: Int) -> JSONValue? {
        agencies[agency].map { Self.page($0.statusTypes, offset: offset, count: count) }
    }

    /// `PATCH /jobs/{jobID}`: a status by its id, a contractor (re)assigned, or `noContractor`.
    func updateJob(_ agency: String, _ jobID: String, _ body: JSONValue) -> JSONValue? {
        guard var state = agencies[agency], let index = state.jobs.firstIndex(where: { Self.jobID($0) == jobID }),
              var fields = state.jobs[index].objectValue else { return nil }
        if let statusID = Self.text(body["StatusID"]) {
            guard let type = state.statusTypes.first(where: { Self.text($0["StatusID"]) == statusID }), let name = Self.text(type["Name"]) else { return nil }
            writes["updateJob", default: 0] += 1
            let statusField = fields["JobStatus"] != nil ? "JobStatus" : "Status"
            fields[statusField] = .string(name)
            fields["CompletedDate"] = name.lowercased().contains("complet") ? .string(Self.now()) : .null
        }
        if let contractor = Self.text(body["ContractorID"]) { fields = Self.assigned(fields, to: contractor) }
        if body["noContractor"] == .bool(true) { fields = Self.assigned(fields, to: nil) }
        state.jobs[index] = .object(fields)
        agencies[agency] = state
        return .object(fields)
    }

    /// Also public, for tests: a job reassigned in AgentOS (nil: unassigned).
    /// Jobs the branch lists serve (each once), for tests that compare what a mirror holds.
    public func jobCount(agency: String) -> Int {
        guard let state = agencies[agency] else { return 0 }
        let branches = Set(state.branches.compactMap { Self.text($0["BranchID"]) })
        return Set(state.jobs.compactMap { job in Self.text(job["BranchID"]).flatMap { branches.contains($0) ? Self.text(job["OID"] ?? job["JobID"] ?? job["WorksOrderID"] ?? job["ID"]) : nil } }).count
    }

    public func reassign(_ agency: String, _ jobID: String, to contractor: String?) {
        guard var state = agencies[agency], let index = state.jobs.firstIndex(where: { Self.jobID($0) == jobID }),
              let fields = state.jobs[index].objectValue else { return }
        state.jobs[index] = .object(Self.assigned(fields, to: contractor))
        agencies[agency] = state
    }

    /// Also public, for tests: a job removed from AgentOS.
    public func remove(_ agency: String, _ jobID: String) {
        agencies[agency]?.jobs.removeAll { Self.jobID($0) == jobID }
    }

    static func assigned(_ fields: [String: JSONValue], to contractor: String?) -> [String: JSONValue] {
        var fields = fields
        let field = ["ContractorID", "AssignedContractorID", "AssignedTo"].first { fields[$0] != nil } ?? "ContractorID"
        fields[field] = contractor.map(JSONValue.string) ?? .null
        return fields
    }

    /// `POST /invoice/submit` (ContractorInvoiceSubmissionModel): the contractor in the body.
    func submitDocumentedInvoice(_ agency: String, _ body: JSONValue, documents: [JSONValue] = []) -> JSONValue? {
        guard let contractor = Self.text(body["ContractorID"]) else { return nil }
        guard let answer = submitInvoice(agency, contractor, invoice: body, documents: documents) else { return nil }
        for document in documents {
            receivedDocuments.append(Self.merged(document, ["Agency": .string(agency), "InvoiceID": answer["InvoiceID"] ?? .null, "JobID": body["JobID"] ?? .null]))
        }
        return answer
    }

    /// `POST /jobs/{jobID}/attachdocument`: one file for a job that exists.
    func attachDocument(_ agency: String, _ jobID: String, _ file: JSONValue, description: String?) -> JSONValue? {
        guard agencies[agency]?.jobs.contains(where: { Self.jobID($0) == jobID }) == true else { return nil }
        writes["attachDocument", default: 0] += 1
        sequence += 1
        let document = Self.merged(file, [
            "DocumentID": .string("DOC-new-\(sequence)"), "Description": description.map(JSONValue.string) ?? .null,
            "CreatedAt": .string(Self.now()),
        ])
        agencies[agency]?.documents[jobID, default: []].append(document)
        receivedDocuments.append(Self.merged(document, ["Agency": .string(agency), "JobID": .string(jobID)]))
        return Self.merged(document, ["Success": .bool(true)])
    }

    /// A job's documents (404 for a job that does not exist).
    func documents(_ agency: String, _ jobID: String) -> JSONValue? {
        guard agencies[agency]?.jobs.contains(where: { Self.jobID($0) == jobID }) == true else { return nil }
        let documents = agencies[agency]?.documents[jobID] ?? []
        return .object(["Count": .number(String(documents.count)), "Data": .array(documents)])
    }

    static func merged(_ record: JSONValue, _ extra: [String: JSONValue]) -> JSONValue {
        .object((record.objectValue ?? [:]).merging(extra) { $1 })
    }

    static func withID(_ record: JSONValue, _ id: String) -> JSONValue {
        guard case .object(var fields) = record else { return record }
        if ["OID", "ContractorID", "ID"].allSatisfy({ fields[$0] == nil }) { fields["ContractorID"] = .string(id) }
        return .object(fields)
    }

    func hasAgency(_ name: String) -> Bool { agencies[name] != nil }

    // MARK: reads

    func contractor(_ agency: String, _ id: String) -> JSONValue? { agencies[agency]?.contractors[id] }

    func contacts(_ agency: String, _ id: String) -> JSONValue? {
        guard agencies[agency]?.contractors[id] != nil else { return nil }
        return agencies[agency]?.contacts[id] ?? .array([])
    }

    /// A page of the contractor's jobs in the envelope this contractor's data uses.
    func jobs(_ agency: String, _ id: String, offset: Int, count: Int) -> JSONValue? {
        guard let state = agencies[agency], state.contractors[id] != nil else { return nil }
        let all = state.jobs.filter { Self.owner($0) == id }
        let page = Array(all.dropFirst(offset).prefix(count))
        switch state.jobEnvelopes[id] {
        case "jobs": return .object(["Jobs": .array(page)])
        case "bare": return .array(page)
        default: return .object(["Count": .number(String(all.count)), "Data": .array(page)])
        }
    }

    func job(_ agency: String, _ jobID: String) -> JSONValue? {
        agencies[agency]?.jobs.first { Self.jobID($0) == jobID }
    }

    func notes(_ agency: String, _ jobID: String) -> JSONValue? {
        guard job(agency, jobID) != nil else { return nil }
        let notes = agencies[agency]?.notes[jobID] ?? []
        return .object(["Count": .number(String(notes.count)), "Data": .array(notes)])
    }

    func statement(_ agency: String, _ id: String) -> JSONValue? {
        guard agencies[agency]?.contractors[id] != nil else { return nil }
        return agencies[agency]?.statements[id] ?? .object(["Entries": .array([])])
    }

    func pending(_ agency: String, _ id: String) -> JSONValue? {
        guard agencies[agency]?.contractors[id] != nil else { return nil }
        return agencies[agency]?.pending[id] ?? .array([])
    }

    /// The contractor's pending entries as stored (for tests that check what AgentOS holds).
    public func pendingEntries(_ agency: String, _ id: String) -> [JSONValue] {
        Self.items(agencies[agency]?.pending[id])
    }

    /// A list as the data file holds it: bare, or in a `{"Count", "Data"}` envelope.
    static func items(_ value: JSONValue?) -> [JSONValue] {
        switch value {
        case .array(let items)?: items
        case .object(let fields)?: fields["Data"]?.arrayValue ?? []
        default: []
        }
    }

    /// A job's listed notes as stored.
    public func noteRecords(_ agency: String, _ jobID: String) -> [JSONValue] {
        agencies[agency]?.notes[jobID] ?? []
    }

    // MARK: writes, applied so later reads show them

    /// Also public, for tests: a job's status changed in AgentOS by someone other than the gateway.
    public func setCompletion(_ agency: String, _ jobID: String, completed: Bool) -> JSONValue? {
        guard var state = agencies[agency], let index = state.jobs.firstIndex(where: { Self.jobID($0) == jobID }),
              var fields = state.jobs[index].objectValue else { return nil }
        writes["setCompletion", default: 0] += 1
        let statusField = fields["JobStatus"] != nil ? "JobStatus" : "Status"
        fields[statusField] = .string(completed ? "Completed" : "Open")
        fields["CompletedDate"] = completed ? .string(Self.now()) : .null
        state.jobs[index] = .object(fields)
        agencies[agency] = state
        return .object(fields)
    }

    /// Also public, for tests: a note added in AgentOS by someone other than the gateway.
    public func addNote(_ agency: String, _ jobID: String, text: String, author: String) -> JSONValue? {
        guard job(agency, jobID) != nil else { return nil }
        writes["addNote", default: 0] += 1
        sequence += 1
        let note = JSONValue.object([
            "OID": .string("N-new-\(sequence)"), "JobID": .string(jobID), "Text": .string(text), "Author": .string(author),
            "CreatedAt": .string(Self.now()), "Type": .string("Contractor"),
        ])
        agencies[agency]?.notes[jobID, default: []].append(note)
        return note
    }

    func submitInvoice(_ agency: String, _ id: String, invoice: JSONValue, documents: [JSONValue] = []) -> JSONValue? {
        guard agencies[agency]?.contractors[id] != nil else { return nil }
        writes["submitInvoice", default: 0] += 1
        sequence += 1
        let invoiceID = "INV-new-\(sequence)"
        let entry = JSONValue.object([
            "OID": .string(invoiceID), "Date": invoice["InvoiceDate"] ?? .null, "Description": invoice["Description"] ?? .null,
            "Amount": invoice["Amount"] ?? .null, "JobID": invoice["JobID"] ?? .null, "InvoiceNumber": invoice["Reference"] ?? .null,
            "Status": .string("Submitted"), "Documents": .array(documents),
        ])
        var pending = agencies[agency]?.pending[id] ?? .array([])
        switch pending {
        case .object(var fields):
            var items = fields["Data"]?.arrayValue ?? []
            items.append(entry)
            fields["Data"] = .array(items)
            fields["Count"] = .number(String(items.count))
            pending = .object(fields)
        case .array(let items): pending = .array(items + [entry])
        default: pending = .array([entry])
        }
        agencies[agency]?.pending[id] = pending
        return .object(["InvoiceID": .string(invoiceID), "Success": .bool(true), "Message": .string("Invoice received")])
    }

    // MARK: the contract's id and owner names

    static func text(_ value: JSONValue?) -> String? {
        switch value {
        case .string(let text)?: text
        case .number(let literal)?: literal
        default: nil
        }
    }

    static func jobID(_ job: JSONValue) -> String? {
        ["OID", "JobID", "WorksOrderID", "ID"].lazy.compactMap { text(job[$0]) }.first
    }

    static func owner(_ job: JSONValue) -> String? {
        ["ContractorID", "AssignedContractorID", "AssignedTo"].lazy.compactMap { text(job[$0]) }.first
    }

    static func now() -> String {
        ISO8601DateFormatter().string(from: Date())
    }
}
