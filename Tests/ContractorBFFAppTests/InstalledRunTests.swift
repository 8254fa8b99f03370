@testable import ContractorBFFApp
import FixtureAgentOS
import Foundation
import Testing
import TestSupport

/// The binary where it is installed: started from a directory with neither `config/` nor `Fixtures/`,
/// it runs on its built-in defaults and the built-in fixture agency.
@Suite("Runs from any directory", .scoped)
struct InstalledRunTests {
    @Test func theBuiltInCopiesAreTheFiles() throws {
        let config = try String(contentsOf: Paths.packageRoot.appendingPathComponent("config/default.json"), encoding: .utf8)
        let fixture = try String(contentsOf: Paths.packageRoot.appendingPathComponent("Fixtures/agentos.json"), encoding: .utf8)
        #expect(BuiltInConfiguration.json + "\n" == config, "config/default.json changed: run scripts/embed-defaults.py")
        #expect(BuiltInFixture.json + "\n" == fixture, "Fixtures/agentos.json changed: run scripts/embed-defaults.py")
        let web = Paths.packageRoot.appendingPathComponent("web/portal")
        let names = try FileManager.default.contentsOfDirectory(atPath: web.path)
        #expect(Set(names) == Set(PortalFiles.all.keys), "web/portal/ gained or lost a file: run scripts/embed-defaults.py")
        for name in names {
            let text = try String(contentsOf: web.appendingPathComponent(name), encoding: .utf8)
            #expect(PortalFiles.all[name].map { $0.text + "\n" } == text, "web/portal/\(name) changed: run scripts/embed-defaults.py")
        }
    }

    @Test func anInstalledBinaryServesTheFixtureFromAnywhere() async throws {
        let elsewhere = FileManager.default.temporaryDirectory.appendingPathComponent("installed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)
        var environment = ProcessInfo.processInfo.environment
        environment["HOST"] = "127.0.0.1"
        environment["PORT"] = "0"
        environment["SESSION_SECRET"] = Portal.secret
        environment["DATA_DIR"] = elsewhere.appendingPathComponent("data").path
        let config = try ChildProcess(executable: Paths.executable.path, arguments: ["config"], environment: environment, directory: elsewhere.path)
        let shown = String(decoding: await offPool { config.standardOutput.readDataToEndOfFile() }, as: UTF8.self)
        #expect(await offPool { config.wait() }.code == 0)
        #expect(shown.contains(AppConfiguration.builtInSource), "config names the built-in defaults as the source")
        #expect(shown.contains("# store: embedded (files in DATA_DIR)"), "config says which store holds the shared state")

        let server = try await ServerProcess(environment: environment, directory: elsewhere.path, inProcessFixture: true)
        let ready = await exchange(port: server.port, "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", readTimeout: 10, closeWithin: 0)
        #expect(ready.response?.status == 200)
        let account = await exchange(
            port: server.port, "GET /api/contractor/account HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(Portal.token())\r\nConnection: close\r\n\r\n",
            readTimeout: 10, closeWithin: 0)
        #expect(account.response?.status == 200, "the built-in fixture agency answers: \(account.response?.text ?? "")")
        let named = try ChildProcess(
            executable: Paths.executable.path, arguments: ["serve"], environment: environment.merging(["FIXTURE_DATA": "missing/agentos.json"]) { $1 },
            directory: elsewhere.path)
        let error = String(decoding: await offPool { named.standardError.readDataToEndOfFile() }, as: UTF8.self)
        #expect(await offPool { named.wait() }.code != 0, "a data file named but missing stops the start")
        #expect(error.contains("missing/agentos.json"))
    }

    /// The unit the README's install story ships, checked by systemd's own verifier (pointed at the built
    /// binary, which is what `ExecStart` must name): no error, no warning.
    @Test func theSystemdUnitVerifies() async throws {
        let unit = try String(contentsOf: Paths.packageRoot.appendingPathComponent("scripts/install/contractor-bff.service"), encoding: .utf8)
        #expect(unit.contains("ExecStart=/usr/local/bin/contractor-bff serve"))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("unit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("contractor-bff.service").path
        try unit.replacingOccurrences(of: "/usr/local/bin/contractor-bff", with: Paths.executable.path).write(toFile: path, atomically: true, encoding: .utf8)
        let child = try ChildProcess(
            executable: "/usr/bin/env", arguments: ["systemd-analyze", "verify", path], environment: ProcessInfo.processInfo.environment, directory: "/")
        async let errors = offPool { child.standardError.readDataToEndOfFile() }
        let output = await offPool { child.standardOutput.readDataToEndOfFile() }
        let warnings = String(decoding: await errors, as: UTF8.self) + String(decoding: output, as: UTF8.self)
        let exit = await offPool { child.wait() }
        #expect(exit.code == 0 && !exit.signalled, "systemd-analyze verify: \(warnings)")
        #expect(warnings.isEmpty, "systemd-analyze verify: \(warnings)")
    }
}
