import AgentOS
@testable import ContractorBFFApp
import FixtureAgentOS
import Foundation
import HTTPServer
import Testing
import TestSupport
import Logging

/// `contractor-bff doctor` against the fixture (clean) and against one whose names and paths differ.
@Suite("doctor", .scoped)
struct DoctorTests {
    func findings(file: String, paths: (inout OperationPaths) -> Void = { _ in }) async throws -> [Doctor.Finding] {
        let fixture = try FixtureAgentOS(file: file)
        let server = fixture.makeServer(logger: .discard)
        let port = try server.start()
        var configuration = AgentOSConfiguration(baseURL: "http://127.0.0.1:\(port)", apiKey: fixture.store.apiKey)
        configuration.cache.ttl = [:]
        paths(&configuration.paths)
        let found = await Doctor(agentOS: AgentOSClient(configuration: configuration, logger: .discard), agency: "demo").run(contractor: nil)
        await server.shutdown()
        return found
    }

    @Test func theFixturePassesCleanly() async throws {
        let found = try await findings(file: Paths.packageRoot.appendingPathComponent("Fixtures/agentos.json").path)
        #expect(found.count == 11)
        let clean = found.allSatisfy { $0.clean }
        #expect(clean, "\(Doctor.report(found))")
        #expect(found.first { $0.call == "jobs of a branch" }?.envelope == "{Count, Data}")
    }

    @Test func renamedFieldsAndMissingCallsAreReportedWithTheKeyToChange() async throws {
        // The same agency, with jobs' Title renamed and the notes call moved.
        let original = try Data(contentsOf: Paths.packageRoot.appendingPathComponent("Fixtures/agentos.json"))
        let renamed = String(decoding: original, as: UTF8.self).replacingOccurrences(of: "\"Title\":", with: "\"JobTitleText\":")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("doctor-\(UUID().uuidString).json").path
        try Data(renamed.utf8).write(to: URL(fileURLWithPath: file))
        let found = try await findings(file: file) { $0.notes = "/v4/maintenance/{shortName}/jobs/{jobId}/comments" }
        let jobs = try #require(found.first { $0.call == "jobs of a branch" })
        #expect(!jobs.clean)
        #expect(jobs.unknownNames.contains("JobTitleText"))
        #expect(jobs.unmatchedFields.contains { $0.field == "title" })
        let notes = try #require(found.first { $0.call == "a job's notes" })
        #expect(notes.outcome.contains("AGENTOS_PATH_NOTES"), "\(notes.outcome)")
        let report = Doctor.report(found)
        #expect(report.contains("FIX  a job's notes (AGENTOS_PATH_NOTES)"))
        #expect(report.contains("names no alias table knows: JobTitleText"))
        #expect(found.count == 11)
    }
}
