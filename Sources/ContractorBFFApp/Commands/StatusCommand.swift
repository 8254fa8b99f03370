import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HTTPServer
import JSON

/// `contractor-bff status`: reads a running server's `/readyz` and prints it for a person: ready or not,
/// the AgentOS mode and breaker, and each agency's mirror (the import under way with its share done and
/// the time it still needs within the budget, what is held, how old it is).
enum StatusCommand {
    static let usage = """
        contractor-bff status [--url URL] [--config PATH]

        Asks the server at URL (default http://127.0.0.1:PORT, PORT from the configuration) for /readyz and
        prints its readiness and each agency's import: the share done and the time left at the pace the
        budget guarantees, jobs and contractors held, the oldest import's age. Exit 0 when ready, 1 when
        not, 69 when no server answers.
        """

    static func run(_ arguments: [String]) async -> Int32 {
        var url: String?
        var rest: [String] = []
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            if argument == "--url", let value = iterator.next() { url = value } else { rest.append(argument) }
        }
        if url == nil {
            guard let configuration = CLI.loadConfiguration(rest) else { return 78 }
            url = "http://127.0.0.1:\(configuration.server.port)"
        } else if !rest.isEmpty {
            CLI.printError("unexpected argument \(rest[0].debugDescription)")
            return 64
        }
        guard let base = url, let target = URL(string: base.hasSuffix("/") ? base + "readyz" : base + "/readyz") else {
            CLI.printError("not a URL: \(url ?? "")")
            return 64
        }
        // URLSession's own timeouts are not to be trusted on Linux: the fetch races a timer of our own.
        let request = URLRequest(url: target)
        let fetched = await withTaskGroup(of: Result<(Data, URLResponse), any Error>?.self) { group in
            group.addTask { do { return .success(try await URLSession.shared.data(for: request)) } catch { return .failure(error) } }
            group.addTask {
                try? await Task.sleep(for: .seconds(5))
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        let answer: (Data, URLResponse)
        switch fetched {
        case .success(let value)?: answer = value
        case .failure(let error)?:
            CLI.printError("no server answers at \(base): \(error.localizedDescription)")
            return 69
        case nil:
            CLI.printError("no answer from \(base) within 5 s")
            return 69
        }
        guard let status = (answer.1 as? HTTPURLResponse)?.statusCode, let body = try? JSONText.parse(Array(answer.0)) else {
            CLI.printError("\(base)/readyz did not answer JSON")
            return 69
        }
        print(describe(body))
        return status == 200 ? 0 : 1
    }

    static func describe(_ body: JSONValue) -> String {
        func text(_ value: JSONValue?) -> String {
            switch value {
            case .string(let text)?: text
            case .number(let literal)?: literal
            case .bool(let flag)?: flag ? "yes" : "no"
            default: "-"
            }
        }
        var lines = ["\(text(body["status"])): AgentOS \(text(body["agentos"]?["mode"])), breaker \(text(body["agentos"]?["breaker"]))"]
        for (agency, mirror) in (body["mirror"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
            var line = "mirror \(agency): \(mirror["warm"] == .bool(true) ? "warm" : "not warm yet"), \(text(mirror["phase"]))"
            if let progress = mirror["importProgress"], progress != .null {
                let kind = progress["firstImport"] == .bool(true) ? "first import" : "pass"
                line += "; \(kind) \(text(progress["percent"]))% done, \(text(progress["callsLeft"])) calls and about "
                    + "\(duration(text(progress["secondsLeft"]))) left within the budget"
            }
            line += "; \(text(mirror["jobs"])) jobs, \(text(mirror["contractors"])) contractors held"
            if let age = mirror["oldestImportAgeSeconds"], age != .null { line += ", oldest import \(text(age)) s ago" }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    static func duration(_ seconds: String) -> String {
        guard let value = Int(seconds) else { return seconds }
        return value >= 120 ? "\(value / 60) min" : "\(value) s"
    }
}
