@testable import ContractorBFFApp
import Foundation
import JSON
import TestSupport
import Testing

/// A long first import reports how far it is and how long it still needs within the budget: in the log
/// at every tenth, in /readyz, and through `contractor-bff status`.
@Suite("Import progress", .scoped)
struct ImportProgressTests {
    @Test func theFirstImportReportsItsShareDoneAndTimeLeft() async throws {
        // 123 jobs in two branches, five a page: some thirty calls, spaced a quarter second apart (the sync's
        // 20 % of 1,200 a minute), so the import takes long enough to be watched.
        let portal = try await MirrorTests.start([
            "MIRROR_PAGE_SIZE": "5", "AGENTOS_RATE_LIMIT": "1200", "MIRROR_BUDGET_SHARE_PERCENT": "20", "MIRROR_AGE_TARGET_SECONDS": "600",
            "METRICS_TOKEN": MetricsTests.token,
        ])
        var samples: [JSONValue] = []
        let end = Date().addingTimeInterval(60)
        while Date() < end {
            let mirror = await portal.get("/readyz", token: nil).json["mirror"]?["demo"]
            if mirror?["warm"] == .bool(true) { break }
            if let progress = mirror?["importProgress"], progress != .null { samples.append(progress) }
            try await Task.sleep(for: .milliseconds(300))
        }
        #expect(await MirrorTests.warm(portal, timeout: 30), "the import finished")
        try #require(samples.count >= 3, "progress was seen while importing: \(samples)")
        let percents = samples.compactMap { $0["percent"]?.number.flatMap { Int($0) } }
        let callsLeft = samples.compactMap { $0["callsLeft"]?.number.flatMap { Int($0) } }
        let secondsLeft = samples.compactMap { $0["secondsLeft"]?.number.flatMap { Int($0) } }
        #expect(percents.allSatisfy { (0..<100).contains($0) })
        #expect((percents.last ?? 0) > (percents.first ?? 100), "the share grows: \(percents)")
        #expect((callsLeft.first ?? 0) > (callsLeft.last ?? 0), "calls left fall: \(callsLeft)")
        #expect((secondsLeft.first ?? 0) > 0, "a time left is estimated: \(secondsLeft)")
        #expect(samples.allSatisfy { $0["firstImport"] == .bool(true) })
        let logged = portal.log.events("mirror_import_progress").compactMap { $0["percent"] as? Int }
        #expect(logged.count >= 3 && logged == logged.sorted(), "logged at each tenth, in order: \(logged)")
        #expect(portal.log.events("mirror_first_import_done").count == 1)
        let metrics = await portal.send("GET", "/metrics", token: nil, headers: ["Authorization": "Bearer \(MetricsTests.token)"]).text
        #expect(metrics.contains(#"contractor_bff_mirror_warm{agency="demo"} 1"#) && metrics.contains(#"contractor_bff_mirror_jobs{agency="demo"} 123"#))
        #expect(metrics.contains(#"contractor_bff_mirror_pass_calls_per_minute{agency="demo"}"#))
        #expect(try await MetricsTests.promtool(metrics).0 == 0)

        let status = try ChildProcess(
            executable: Paths.executable.path, arguments: ["status", "--url", "http://127.0.0.1:\(portal.port)"],
            environment: ProcessInfo.processInfo.environment, directory: Paths.packageRoot.path)
        let printed = String(decoding: await offPool { status.standardOutput.readDataToEndOfFile() }, as: UTF8.self)
        #expect(await offPool { status.wait() }.code == 0)
        #expect(printed.hasPrefix("ready: AgentOS configured") && printed.contains("mirror demo: warm") && printed.contains("123 jobs"), "\(printed)")
        let nobody = try ChildProcess(
            executable: Paths.executable.path, arguments: ["status", "--url", "http://127.0.0.1:1"],
            environment: ProcessInfo.processInfo.environment, directory: Paths.packageRoot.path)
        _ = await offPool { nobody.standardError.readDataToEndOfFile() }
        #expect(await offPool { nobody.wait() }.code == 69)
    }

    @Test func statusDescribesAnImportUnderWay() {
        let body = try! JSONText.parse(Array(#"""
            {"status":"ready","agentos":{"mode":"fixture","breaker":"closed"},"mirror":{"demo":{"warm":false,"phase":"importing 1/5 branches",
            "importProgress":{"percent":"42","callsDone":21,"callsLeft":29,"secondsLeft":180,"firstImport":true},"jobs":2100,"contractors":40,
            "oldestImportAgeSeconds":null}}}
            """#.utf8))
        #expect(StatusCommand.describe(body) == "ready: AgentOS fixture, breaker closed\nmirror demo: not warm yet, importing 1/5 branches; first import 42% done, 29 calls and about 3 min left within the budget; 2100 jobs, 40 contractors held")
    }
}
