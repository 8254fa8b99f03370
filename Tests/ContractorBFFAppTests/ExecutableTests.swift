import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import TestSupport

/// The real binary, as a newcomer runs it.
@Suite("contractor-bff executable")
struct ExecutableTests {
    struct Run: Sendable {
        let status: Int32
        let output: String
        let error: String
    }

    func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> Run {
        let process = Process()
        process.executableURL = Paths.executable
        process.arguments = arguments
        process.currentDirectoryURL = Paths.packageRoot
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let result = await offPool { () -> Run in
            let output = out.fileHandleForReading.readDataToEndOfFile()
            let error = err.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return Run(status: process.terminationStatus, output: String(decoding: output, as: UTF8.self), error: String(decoding: error, as: UTF8.self))
        }
        return result
    }

    @Test func helpExplainsEveryCommand() async throws {
        let help = try await run(["--help"])
        #expect(help.status == 0)
        #expect(help.output.contains("serve"))
        #expect(help.output.contains("config"))
        let serveHelp = try await run(["serve", "--help"])
        #expect(serveHelp.output.contains("SIGTERM"))
    }

    @Test func unknownCommandIsRefused() async throws {
        let result = try await run(["frobnicate"])
        #expect(result.status == 64)
        #expect(result.error.contains("unknown command"))
    }

    @Test func badConfigurationStopsStartNamingTheKey() async throws {
        let result = try await run(["serve"], environment: ["PORT": "eighty"])
        #expect(result.status == 78)
        #expect(result.error.contains("PORT"))
    }

    @Test func configCommandShowsSources() async throws {
        let result = try await run(["config"], environment: ["PORT": "9999"])
        #expect(result.status == 0)
        #expect(result.output.contains("PORT=9999\t(environment)"))
    }

    @Test func serveAnswersAndExitsZeroOnSIGTERM() async throws {
        let process = Process()
        process.executableURL = Paths.executable
        process.currentDirectoryURL = Paths.packageRoot
        process.environment = ProcessInfo.processInfo.environment.merging(["PORT": "0", "HOST": "127.0.0.1"]) { $1 }
        let out = Pipe()
        process.standardOutput = out
        process.standardError = Pipe()
        try process.run()
        // The first log line says which port the kernel gave.
        let port = await offPool { () -> Int? in
            var seen = Data()
            while !seen.contains(UInt8(ascii: "\n")) {
                let chunk = out.fileHandleForReading.availableData
                if chunk.isEmpty { return nil }
                seen += chunk
            }
            let line = seen.split(separator: UInt8(ascii: "\n")).first ?? Data()
            let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
            return object?["port"] as? Int
        }
        let listeningPort = try #require(port)
        let (data, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(listeningPort)/healthz")!)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        #expect(String(decoding: data, as: UTF8.self) == #"{"status":"ok"}"#)
        process.terminate()  // SIGTERM
        let status = await offPool { () -> Int32 in
            process.waitUntilExit()
            return process.terminationStatus
        }
        #expect(status == 0)
        #expect(process.terminationReason == .exit)
    }
}
