import AgentOS
import ContractorPortal
import FixtureAgentOS
import Foundation
import HTTPServer
import JSON
import Logging

/// `contractor-bff doctor`: since nobody here can reach the real AgentOS, the gateway checks itself
/// against it. One read per configured call (about a dozen calls, within the budget; never a write),
/// and for each: whether it answered, its envelope, and the field names it carried against the alias
/// tables — names no table knows, and fields none of whose names was seen — with the key to change
/// where a call is missing.
struct Doctor {
    struct Finding: Sendable {
        var call: String
        var key: String
        var outcome: String
        var envelope: String?
        var unknownNames: [String] = []
        var unmatchedFields: [(field: String, names: [String])] = []

        /// Answered, and every name it carried is one an alias table reads (fields none of whose names
        /// appeared are reported, not failed: optional fields are often absent from a sample).
        var clean: Bool { outcome == "answered" && unknownNames.isEmpty }
    }

    /// Names the gateway reads structurally (envelopes, branch and status lists, the mirror's branch, a
    /// statement's entry lists), and `Rating`, which the contract carries and the seed's model keeps in
    /// `metadata` only.
    static let structural: Set<String> = [
        "BranchID", "BranchOID", "MaintenanceNotes", "Name", "StatusID", "OID", "ID", "Count", "Data", "Jobs",
        "Entries", "Transactions", "Items", "Rating",
    ]

    let agentOS: AgentOSClient
    let agency: String

    func run(contractor given: String?) async -> [Finding] {
        var findings: [Finding] = []
        func check(_ name: String, _ key: String, _ operation: AgentOS.Operation, _ table: AliasNames?) async -> [JSONValue] {
            let context = CallContext(requestID: "doctor", deadline: .now + agentOS.configuration.deadline, fresh: true)
            var finding = Finding(call: name, key: "AGENTOS_PATH_" + key, outcome: "answered")
            var items: [JSONValue] = []
            do throws(AgentOSError) {
                if let value = try await agentOS.call(operation, context) {
                    (finding.envelope, items) = Self.envelope(value)
                } else {
                    finding.outcome = "not found (404): the path may be wrong — set AGENTOS_PATH_\(key)"
                }
            } catch {
                finding.outcome = "failed: \(error)" + (error == .notConfigured ? "" : " — check AGENTOS_PATH_\(key)")
            }
            if let table, !items.isEmpty {
                let seen = Set(items.prefix(20).compactMap(\.objectValue).flatMap(\.keys))
                let known = table.upstream.union(Self.structural)
                finding.unknownNames = seen.subtracting(known).sorted()
                finding.unmatchedFields = table.unmatched(seen)
            }
            findings.append(finding)
            return items
        }
        func id(_ record: JSONValue?, _ names: [String]) -> String? {
            for name in names {
                switch record?[name] {
                case .string(let text)?: return text
                case .number(let literal)?: return literal
                default: continue
                }
            }
            return nil
        }
        let branches = await check("branches", "BRANCHES", .branches(shortName: agency, offset: 0, count: 10), nil)
        let branch = id(branches.first, ["BranchID", "OID", "ID"]) ?? ""
        let contractors = await check("contractors of a branch", "BRANCH_CONTRACTORS", .branchContractors(shortName: agency, branchId: branch, offset: 0, count: 10), ContractorAccount.aliases.names)
        let jobs = await check("jobs of a branch", "BRANCH_JOBS", .branchJobs(shortName: agency, branchId: branch, offset: 0, count: 10), ContractorMaintenanceJob.aliases.names)
        _ = await check("job status types", "STATUS_TYPES", .statusTypes(shortName: agency, offset: 0, count: 100), nil)
        let contractor = given ?? id(contractors.first, ["ContractorID", "OID", "ID"]) ?? ""
        let job = id(jobs.first, ["OID", "JobID", "WorksOrderID", "ID"]) ?? ""
        _ = await check("one job", "JOB", .job(shortName: agency, jobId: job), ContractorMaintenanceJob.aliases.names)
        _ = await check("one contractor", "CONTRACTOR", .contractor(shortName: agency, contractorId: contractor), ContractorAccount.aliases.names)
        _ = await check("a contractor's contacts", "CONTACTS", .contacts(shortName: agency, contractorId: contractor), ContractorContact.aliases.names)
        _ = await check("a contractor's jobs", "JOBS", .jobs(shortName: agency, contractorId: contractor, offset: 0, count: 10), ContractorMaintenanceJob.aliases.names)
        _ = await check("a job's notes", "NOTES", .notes(shortName: agency, jobId: job), ContractorJobNote.aliases.names)
        _ = await check("a contractor's statement", "STATEMENT", .statement(shortName: agency, contractorId: contractor, dateFrom: nil, dateTo: nil), ContractorStatement.aliases.names)
        _ = await check("pending entries", "PENDING", .pending(shortName: agency, contractorId: contractor), PendingStatementEntry.aliases.names)
        return findings
    }

    /// The list envelope and its records: `{"Count","Data"}`, `{"Jobs"}`, a bare array, or one record.
    static func envelope(_ value: JSONValue) -> (String, [JSONValue]) {
        if case .array(let items) = value { return ("bare array", items) }
        if let data = value["Data"]?.arrayValue { return ("{Count, Data}", data) }
        if let jobs = value["Jobs"]?.arrayValue { return ("{Jobs}", jobs) }
        return ("one record", [value])
    }

    static func report(_ findings: [Finding]) -> String {
        var lines: [String] = []
        for finding in findings {
            lines.append("\(finding.clean ? "ok  " : "FIX ") \(finding.call) (\(finding.key)): \(finding.outcome)" + (finding.envelope.map { ", envelope \($0)" } ?? ""))
            if !finding.unknownNames.isEmpty { lines.append("     names no alias table knows: \(finding.unknownNames.joined(separator: ", "))") }
            for (field, names) in finding.unmatchedFields { lines.append("     note: \(field): none of \(names.joined(separator: ", ")) seen in this sample") }
        }
        let clean = findings.filter(\.clean).count
        lines.append("\(clean) of \(findings.count) calls clean")
        return lines.joined(separator: "\n")
    }
}

enum DoctorCommand {
    static func run(_ arguments: [String]) async -> Int32 {
        var agency: String?, contractor: String?, rest: [String] = []
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--agency": agency = iterator.next()
            case "--contractor": contractor = iterator.next()
            default: rest.append(argument)
            }
        }
        guard let agency, !agency.isEmpty else {
            CLI.printError("doctor needs --agency NAME")
            return 64
        }
        guard let configuration = CLI.loadConfiguration(rest) else { return 78 }
        var agentOS = configuration.agentOS
        var fixtureServer: HTTPServer?
        if !agentOS.isConfigured {
            do {
                let (fixture, _) = try configuration.openFixture()
                let server = fixture.makeServer(logger: .discard)
                let port = try server.start()
                agentOS.baseURL = "http://127.0.0.1:\(port)"
                agentOS.apiKey = fixture.store.apiKey
                fixtureServer = server
                CLI.printError("AgentOS is not configured: checking the fixture AgentOS")
            } catch {
                CLI.printError("cannot start the fixture AgentOS: \(error)")
                return 1
            }
        }
        agentOS.cache.ttl = [:]
        let findings = await Doctor(agentOS: AgentOSClient(configuration: agentOS, logger: .discard), agency: agency).run(contractor: contractor)
        print(Doctor.report(findings))
        await fixtureServer?.shutdown()
        return findings.allSatisfy(\.clean) ? 0 : 1
    }
}
