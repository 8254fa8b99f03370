import Foundation
import Synchronization

/// The programs some tests hand their output to (promtool, openapi-spec-validator, schemathesis, a
/// browser): run to the end, with what they printed.
public enum ExternalTool {
    public struct Outcome: Sendable {
        public let code: Int32
        public let output: String
    }

    /// Runs `executable` (a path, or a name looked up on PATH) to its end, at a low priority: the whole
    /// suite runs at once on two cores, and a tool's CPU (a Python interpreter, a browser) must not starve
    /// the tests that measure time.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment, input: [UInt8]? = nil
    ) async throws -> Outcome {
        let child = try ChildProcess(
            executable: "/usr/bin/env", arguments: ["nice", "-n", "15", executable] + arguments, environment: environment, directory: "/", input: input)
        async let errors = offPool { child.standardError.readDataToEndOfFile() }
        let output = await offPool { child.standardOutput.readDataToEndOfFile() }
        let said = String(decoding: output, as: UTF8.self) + String(decoding: await errors, as: UTF8.self)
        return Outcome(code: await offPool { child.wait() }.code, output: said)
    }

    /// The path of a program on PATH, if there is one.
    public static func onPath(_ name: String) -> String? {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let candidate = directory + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}

/// The PyPI tools of `scripts/test-tools.txt`, in the virtual environment `scripts/install-test-tools.sh`
/// makes under `.build/test-tools` (`.ci/run` runs it first; a test runs it when the tools are missing,
/// once per test process).
public enum PythonTools {
    public struct Missing: Error, CustomStringConvertible {
        public let output: String
        public var description: String { "scripts/install-test-tools.sh failed (it needs python3 with venv, and PyPI): \(output)" }
    }

    static let installed = Mutex<Task<Outcome, Never>?>(nil)
    typealias Outcome = Result<Void, Missing>

    public static func path(_ name: String) async throws -> String {
        let candidate = Paths.packageRoot.appendingPathComponent(".build/test-tools/bin/" + name).path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        let task = installed.withLock { task in
            if let task { return task }
            let started = Task<Outcome, Never> {
                let script = Paths.packageRoot.appendingPathComponent("scripts/install-test-tools.sh").path
                do {
                    let outcome = try await ExternalTool.run("bash", [script])
                    return outcome.code == 0 ? .success(()) : .failure(Missing(output: outcome.output))
                } catch {
                    return .failure(Missing(output: "\(error)"))
                }
            }
            task = started
            return started
        }
        try await task.value.get()
        return candidate
    }
}
