@testable import ContractorBFFApp
import ContractorPortal
import FixtureAgentOS
import Foundation
import JSON
import TestSupport
import Testing

/// The portal page in headless Chromium, as a contractor uses it: sign in, read the dashboard, add a note,
/// mark a job complete, submit an invoice with its PDF, download the statement as CSV; asserted on what
/// the page shows and on what the fixture AgentOS received. Screenshots of each step are left in
/// `.build/test-artifacts/portal-page/` (not committed).
@Suite("Portal page in a browser", .scoped)
struct PortalPageTests {
    static let artifacts = Paths.packageRoot.appendingPathComponent(".build/test-artifacts/portal-page")

    @Test(.timeLimit(.minutes(6))) func aContractorWorksTheirJobsInTheBrowser() async throws {
        let portal = try await AuthTests.start(["PORTAL_PAGE": "on", "INVOICE_MODE": "documented"])
        let browser = try await Browser.start()
        do {
            try await walkThrough(portal, browser)
        } catch {
            try? await browser.screenshot(Self.artifacts.appendingPathComponent("failure.png"))
            await browser.quit()
            throw error
        }
        await browser.quit()
    }

    func walkThrough(_ portal: Portal, _ browser: Browser) async throws {
        let page = "http://127.0.0.1:\(portal.port)"
        func shot(_ name: String) async throws { try await browser.screenshot(Self.artifacts.appendingPathComponent(name + ".png")) }
        // Nothing loading or about to reload (the page marks <main aria-busy>): what is typed into stays there.
        func settled() async throws {
            try await browser.waitUntil("the page to settle", "return document.querySelector('main').getAttribute('aria-busy') === 'false'")
        }

        // Signing in: the cookies the gateway sets are the page's whole session.
        try await browser.go(page + "/")
        try await browser.waitUntil("the sign-in form", "return !document.querySelector('#signin-view').hidden")
        try await settled()
        try await browser.type("#email", AuthTests.email)
        try await browser.type("#password", AuthTests.password)
        try await shot("1-sign-in")
        try await browser.click("#signin-button")

        // The dashboard shows insights as the API gives them.
        try await browser.waitUntil("the dashboard's figures", "return document.querySelectorAll('#figures dd').length === 6")
        let insights = await portal.get("/api/trpc/contractor.insights")
        let assigned = insights.json["result"]?["data"]?["totalAssignedJobs"]
        let shown = try await browser.run("return document.querySelector('#figures dd').textContent")
        #expect(assigned != nil && assigned != .null)
        #expect(shown.stringValue == assigned.map { String(decoding: $0.serialized(), as: UTF8.self) }, "the page shows the API's figure")
        #expect(try await browser.run("return document.querySelector('#who').textContent").stringValue?.contains("C-1001") == true)
        try await browser.waitUntil("the jobs", "return document.querySelectorAll('#jobs li.job').length > 0")
        try await browser.waitUntil("the live stream", "return !document.querySelector('#live').hidden")
        try await settled()
        try await shot("2-dashboard")

        // An open job: a note, then its completion.
        try await settled()
        let jobId = try #require(try await browser.run("""
            const open = [...document.querySelectorAll('#jobs li.job')].find((job) => !job.querySelector('.complete').hidden);
            return open ? open.dataset.jobId : null
            """).stringValue)
        let job = "#jobs li.job[data-job-id=\"\(jobId)\"]"
        let note = "Fitted a new isolation valve (browser test)"
        try await browser.type(job + " textarea[name=note]", note)
        try await browser.click(job + " .add-note button")
        try await browser.waitUntil(
            "the note on the page",
            "const job = document.querySelector(arguments[0]); return !!job && job.querySelector('.notes').textContent.includes(arguments[1])",
            [.string(job), .string(note)])
        let notes = await portal.fixture.store.noteRecords("demo", jobId)
        #expect(notes.contains { String(decoding: $0.serialized(), as: UTF8.self).contains(note) }, "AgentOS has the note")

        try await settled()
        try await browser.click(job + " .complete")
        try await browser.waitUntil("the completion notice", "return document.querySelector('#notice').textContent.includes('marked complete')")
        try await browser.waitUntil(
            "the job shown completed", "const job = document.querySelector(arguments[0]); return !!job && /complet/i.test(job.querySelector('.status').textContent)",
            [.string(job)])
        let writes = await portal.writes()
        #expect(writes["setCompletion"] == 1 && writes["addNote"] == 1, "AgentOS received the note and the completion, once each: \(writes)")
        // The gateway's own writes come back as live events.
        try await browser.waitUntil(
            "the live updates", "return [...document.querySelectorAll('#live-log li')].some((line) => line.textContent.includes(arguments[0]))", [.string(jobId)])
        try await shot("3-note-and-completion")

        // An invoice with its PDF, sent with the invoice in one submission.
        let pdf = Samples.pdf(40_000, seed: 7)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("invoice-\(UUID().uuidString.prefix(8)).pdf")
        try Data(pdf).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        try await browser.waitUntil("the job's invoice form", "return !!document.querySelector(arguments[0])", [.string(job + " form.invoice")])
        try await settled()
        try await browser.type(job + " input[name=amount]", "123.45")
        try await browser.type(job + " input[name=reference]", "BROWSER-1")
        try await browser.type(job + " input[name=file]", file.path)
        try await browser.click(job + " form.invoice button")
        try await browser.waitUntil("the invoice notice", "return document.querySelector('#notice').textContent.includes('Invoice submitted')")
        let received = await portal.fixture.store.receivedDocuments
        #expect(received.contains { $0["SHA256"]?.stringValue == Samples.sha256(pdf) && $0["ContentType"]?.stringValue == "application/pdf" }, "the PDF's bytes arrived")
        let entry = await portal.fixture.store.pendingEntries("demo", "C-1001").first { $0["InvoiceNumber"] == .string("BROWSER-1") }
        #expect(entry != nil, "the invoice is pending in AgentOS")
        try await browser.waitUntil(
            "the invoice among the pending entries", "return document.querySelector('#pending-table').textContent.includes('BROWSER-1')")
        try await shot("4-invoice")

        // The statement as a CSV download: the file the browser saved holds the JSON route's entries.
        try await settled()
        try await browser.click("#statement-csv")
        let csv = try await downloaded(browser, ending: ".csv")
        let statement = await portal.get("/api/contractor/statements/historical")
        let entries = statement.json["entries"]?.arrayValue ?? []
        // RFC 4180 rows end in CR LF (one Character to Swift, so split on the text, not on "\n").
        let lines = csv.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        #expect(!entries.isEmpty)
        #expect(lines.count == entries.count + 1, "a header row and one row per entry")
        for entry in entries {
            let id = entry["entryId"]?.stringValue ?? ""
            #expect(lines.contains { $0.contains(id) }, "entry \(id) is in the download")
        }
        try await browser.run("window.scrollTo(0, document.body.scrollHeight)")
        try await shot("5-statement")
    }

    /// The page's writes carry its own origin, which passes the Origin check when (and only when) the
    /// gateway serves the page; another site's origin never does.
    @Test func theGatewaysOwnOriginPassesOnlyWhileItServesThePage() async throws {
        for served in [true, false] {
            let portal = try await AuthTests.start(["PORTAL_PAGE": served ? "on" : "off"])
            let login = await AuthTests.login(portal)
            let access = try #require(login.json["accessToken"]?.stringValue)
            let cookie = ["Cookie": "session=\(access)"]
            let token = try #require(await portal.send("GET", "/api/security/csrf-token", token: nil, headers: cookie).json["csrfToken"]?.stringValue)
            func post(origin: String) async -> Int {
                await portal.send(
                    "POST", "/api/contractor/jobs/J-0002/notes", token: nil, body: #"{"note":"from the page"}"#,
                    headers: cookie.merging(["X-CSRF-Token": token, "Origin": origin]) { $1 }).status
            }
            // The test client asks for `Host: test`.
            #expect(await post(origin: "http://test") == (served ? 201 : 403))
            #expect(await post(origin: "http://test.evil.example") == 403)
            #expect(await post(origin: "http://evil.example") == 403)
            await portal.stop()
        }
    }

    /// The text of the first finished download whose name ends so.
    func downloaded(_ browser: Browser, ending suffix: String) async throws -> String {
        let end = ContinuousClock.now + .seconds(45)
        while ContinuousClock.now < end {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: browser.downloads.path)) ?? []
            if let name = names.first(where: { $0.hasSuffix(suffix) }) {
                return try String(contentsOf: browser.downloads.appendingPathComponent(name), encoding: .utf8)
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw Browser.Failure(description: "no \(suffix) download in \(browser.downloads.path)")
    }
}
