import Foundation
import JSON

/// A fixture AgentOS agency of any size, written to a temporary file for `Portal.start(fixtureFile:)`:
/// `contractors` contractors over `branches` branches of `jobsPerBranch` jobs, dealt to the branch's
/// contractors in turn (contractor c belongs to branch c % branches). Each has an account, a contact,
/// two pending entries and a statement; every job a notes list.
enum GeneratedAgency {
    static func contractorID(_ index: Int) -> String { String(format: "C-%04d", index) }

    static func write(contractors count: Int, branches branchCount: Int, jobsPerBranch: Int) throws -> String {
        var contractors: [String: JSONValue] = [:], contacts: [String: JSONValue] = [:], statements: [String: JSONValue] = [:]
        var pending: [String: JSONValue] = [:], memberships: [String: JSONValue] = [:], envelopes: [String: JSONValue] = [:]
        var members: [String: [String]] = [:]
        for index in 1...count {
            let id = contractorID(index), branch = "BR-\(index % branchCount + 1)"
            members[branch, default: []].append(id)
            memberships[id] = [.string(branch)]
            envelopes[id] = "count-data"
            contractors[id] = ["OID": .string(id), "CompanyName": .string("Trade \(index) Ltd"), "EmailAddress": .string("office\(index)@trade.example"),
                               "IsActive": true, "BranchID": .string(branch)]
            contacts[id] = ["Count": 1, "Data": [["ContactID": .string("CT-\(index)"), "Name": .string("Contact \(index)"), "IsPrimary": true]]]
            pending[id] = ["Count": 2, "Data": .array((0..<2).map { entry in
                ["OID": .string("PE-\(index)-\(entry)"), "Date": "2026-05-03", "Description": "Call-out", "Amount": "45.10", "JobID": "", "Status": "Pending"]
            })]
            statements[id] = ["StatementID": .string("ST-\(index)"), "TotalEarned": "1500.00", "Entries": []]
        }
        var jobs: [JSONValue] = [], notes: [String: JSONValue] = [:]
        let branches: [JSONValue] = (1...branchCount).map { ["BranchID": .string("BR-\($0)"), "Name": .string("Branch \($0)")] }
        for branch in (1...branchCount).map({ "BR-\($0)" }) {
            let people = members[branch] ?? [contractorID(1)]
            for number in 0..<jobsPerBranch {
                let id = "J-\(branch)-\(String(format: "%05d", number))"
                jobs.append(["OID": .string(id), "ContractorID": .string(people[number % people.count]), "BranchID": .string(branch),
                             "Title": .string("Job \(number)"), "Status": .string(["Open", "In Progress", "Completed"][number % 3]),
                             "Priority": .string(["High", "Medium", "Low"][number % 3]), "ReportedDate": "2026-11-20T09:00:00Z", "EstimatedCost": "120.50"])
                notes[id] = [["OID": .string("N-\(id)"), "Text": .string("Note on \(id)"), "Author": "Agency", "CreatedAt": "2026-11-21T10:00:00Z"]]
            }
        }
        let statusTypes: JSONValue = [["StatusID": 1, "Name": "Open"], ["StatusID": 2, "Name": "In Progress"], ["StatusID": 4, "Name": "Completed"],
                                      ["StatusID": 5, "Name": "Cancelled"]]
        let agency: JSONValue = [
            "contractors": .object(contractors), "contacts": .object(contacts), "jobs": .array(jobs), "notes": .object(notes),
            "statements": .object(statements), "pending": .object(pending), "jobEnvelopes": .object(envelopes), "branches": .array(branches),
            "contractorBranches": .object(memberships), "statusTypes": statusTypes,
        ]
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("agency-\(UUID().uuidString).json").path
        try Data(JSONValue.object(["apiKey": "fixture-key", "agencies": ["demo": agency]]).serialized()).write(to: URL(fileURLWithPath: path))
        return path
    }
}
