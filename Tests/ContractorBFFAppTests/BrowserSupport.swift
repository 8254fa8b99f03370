import Foundation
import Glibc
import JSON
import TestSupport

/// Headless Chromium driven through chromedriver's W3C WebDriver protocol (JSON over HTTP on loopback):
/// the real browser the portal page runs in. chromedriver and chromium are Debian's
/// (`scripts/ci-packages.txt`).
final class Browser: Sendable {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    let driver: ChildProcess
    let port: Int
    let session: String
    /// Where the browser saves downloads.
    let downloads: URL

    static let elementKey = "element-6066-11e4-a52e-4f735466cecf"

    static func start() async throws -> Browser {
        guard let chromedriver = ExternalTool.onPath("chromedriver") ?? ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"].first(where: FileManager.default.isExecutableFile) else {
            throw Failure(description: "chromedriver is not installed: install Debian's chromium and chromium-driver (scripts/ci-packages.txt; .ci/run does)")
        }
        let chromium = ExternalTool.onPath("chromium") ?? "/usr/bin/chromium"
        let port = try freePort()
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("browser-\(UUID().uuidString)")
        let downloads = scratch.appendingPathComponent("downloads")
        try FileManager.default.createDirectory(at: downloads, withIntermediateDirectories: true)
        // Low priority, as every external tool in the tests: the suite's timing tests run beside it.
        let driver = try ChildProcess(
            executable: "/usr/bin/env", arguments: ["nice", "-n", "10", chromedriver, "--port=\(port)", "--log-level=OFF"],
            environment: ProcessInfo.processInfo.environment, directory: "/")
        // Ready when its status says so.
        let ready = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < ready {
            if let status = try? await call(port, "GET", "/status", nil), status["ready"] == .bool(true) { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        let capabilities: JSONValue = [
            "capabilities": [
                "alwaysMatch": [
                    "browserName": "chrome",
                    "goog:chromeOptions": [
                        "binary": .string(chromium),
                        "args": [
                            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1800",
                            .string("--user-data-dir=" + scratch.appendingPathComponent("profile").path), "--no-first-run",
                        ],
                        "prefs": ["download.default_directory": .string(downloads.path), "download.prompt_for_download": false],
                    ],
                ],
            ],
        ]
        let created: JSONValue
        do { created = try await call(port, "POST", "/session", capabilities) } catch {
            driver.signal(SIGKILL)
            throw error
        }
        guard let session = created["sessionId"]?.stringValue else {
            driver.signal(SIGKILL)
            throw Failure(description: "no WebDriver session: \(String(decoding: created.serialized(), as: UTF8.self))")
        }
        let browser = Browser(driver: driver, port: port, session: session, downloads: downloads)
        TestScope.onEnd { await browser.quit() }
        return browser
    }

    private let quitting = Once()

    private init(driver: ChildProcess, port: Int, session: String, downloads: URL) {
        self.driver = driver
        self.port = port
        self.session = session
        self.downloads = downloads
    }

    func quit() async {
        guard quitting.first else { return }
        _ = try? await Self.call(port, "DELETE", "/session/\(session)", nil)
        // chromedriver does not end on SIGTERM; its browser has ended with the session.
        driver.signal(SIGKILL)
        _ = await offPool { [driver] in driver.wait() }
    }

    // MARK: commands

    func go(_ url: String) async throws { _ = try await command("POST", "url", ["url": .string(url)]) }

    func element(_ css: String) async throws -> String {
        let found = try await command("POST", "element", ["using": "css selector", "value": .string(css)])
        guard let id = found[Self.elementKey]?.stringValue else { throw Failure(description: "no element \(css)") }
        return id
    }

    func type(_ css: String, _ text: String) async throws {
        _ = try await command("POST", "element/\(try await element(css))/value", ["text": .string(text)])
    }

    func click(_ css: String) async throws {
        _ = try await command("POST", "element/\(try await element(css))/click", [:])
    }

    /// A script's answer, run in the page (`arguments[0]` … are `args`).
    func run(_ script: String, _ args: [JSONValue] = []) async throws -> JSONValue {
        try await command("POST", "execute/sync", ["script": .string(script), "args": .array(args)])
    }

    /// Waits until `script` answers true in the page.
    func waitUntil(_ what: String, timeout: Duration = .seconds(45), _ script: String, _ args: [JSONValue] = []) async throws {
        let end = ContinuousClock.now + timeout
        while ContinuousClock.now < end {
            if try await run(script, args) == .bool(true) { return }
            try await Task.sleep(for: .milliseconds(150))
        }
        throw Failure(description: "timed out waiting for \(what); the page said: \(try await run("return document.body.innerText.slice(0, 3000)"))")
    }

    /// A PNG of the page, written to `file`.
    func screenshot(_ file: URL) async throws {
        guard let base64 = try await command("GET", "screenshot", nil).stringValue, let png = Data(base64Encoded: base64) else {
            throw Failure(description: "no screenshot")
        }
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try png.write(to: file)
    }

    private func command(_ method: String, _ path: String, _ body: JSONValue?) async throws -> JSONValue {
        try await Self.call(port, method, "/session/\(session)/" + path, body)
    }

    /// One WebDriver call: its `value`, or the error it answered. Over the tests' own raw HTTP client, one
    /// connection a call.
    private static func call(_ port: Int, _ method: String, _ path: String, _ body: JSONValue?) async throws -> JSONValue {
        let bytes = body.map { String(decoding: $0.serialized(), as: UTF8.self) }
        var request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        if let bytes { request += "Content-Type: application/json\r\nContent-Length: \(bytes.utf8.count)\r\n" }
        request += "\r\n" + (bytes ?? "")
        // Generous: a browser starting beside the whole suite on two cores is slow.
        let (response, _) = await exchange(port: port, request, readTimeout: 120, closeWithin: 0)
        guard let response else { throw Failure(description: "WebDriver \(method) \(path): no answer") }
        let value = (try? JSONText.parse(response.body))?["value"] ?? .null
        guard response.status < 400 else {
            throw Failure(description: "WebDriver \(method) \(path): \(response.status) \(String(decoding: value.serialized(), as: UTF8.self).prefix(1000))")
        }
        return value
    }

    /// A port nothing listens on now, for chromedriver to take.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw Failure(description: "no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
