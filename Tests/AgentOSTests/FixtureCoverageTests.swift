import AgentOS
import Foundation
import JSON
import TestSupport
import Testing

/// The fixture must speak every dialect of the contract: each upstream field name in the contract's
/// table appears as a key somewhere in Fixtures/agentos.json.
@Suite("Fixture data covers the contract", .scoped)
struct FixtureCoverageTests {
    /// The contract's field table, kept in this repository (tests read nothing beside it).
    static let contract = Paths.packageRoot.appendingPathComponent("docs/agentos-field-names.md")

    /// Backticked PascalCase names in the "Field names and their variants" table, right-hand column.
    static func contractNames() throws -> Set<String> {
        let text = try String(contentsOf: contract, encoding: .utf8)
        guard let start = text.range(of: "## Field names and their variants"), let end = text.range(of: "## Value variants") else { return [] }
        var names = Set<String>()
        for line in text[start.upperBound..<end.lowerBound].split(separator: "\n") where line.hasPrefix("|") {
            let columns = line.split(separator: "|", omittingEmptySubsequences: false)
            guard columns.count >= 3 else { continue }
            for part in columns[2].split(separator: "`").enumerated() where part.offset % 2 == 1 {
                let name = String(part.element)
                if name.first?.isUppercase == true, name.allSatisfy({ $0.isLetter || $0.isNumber }) { names.insert(name) }
            }
        }
        // Ranges written as `PropertyAddress1`–`4` name the ones between.
        if names.contains("PropertyAddress1") { names.formUnion(["PropertyAddress2", "PropertyAddress3", "PropertyAddress4"]) }
        return names
    }

    static func keys(_ value: JSONValue, into keys: inout Set<String>) {
        switch value {
        case .object(let fields):
            for (key, inner) in fields {
                keys.insert(key)
                Self.keys(inner, into: &keys)
            }
        case .array(let items): items.forEach { Self.keys($0, into: &keys) }
        default: break
        }
    }

    @Test func everyUpstreamNameAppearsInTheFixtures() throws {
        let names = try Self.contractNames()
        #expect(names.count > 100, "the contract table was read")
        let data = try Data(contentsOf: Paths.packageRoot.appendingPathComponent("Fixtures/agentos.json"))
        var keys = Set<String>()
        Self.keys(try JSONText.parse(Array(data)), into: &keys)
        // Result-only names the fixture itself answers with (invoice result) are produced, not stored.
        let produced: Set<String> = ["InvoiceID", "Success", "Message", "Accepted", "Completed"]
        // The table also lists the priority values; those must appear as values.
        let priorityValues: Set<String> = ["Low", "Medium", "High"]
        let missing = names.subtracting(keys).subtracting(produced).subtracting(priorityValues).sorted()
        #expect(missing.isEmpty, "names of the contract not in Fixtures/: \(missing)")
        let text = String(decoding: data, as: UTF8.self)
        for value in priorityValues { #expect(text.contains("\"\(value)\""), "priority \(value) not in Fixtures/") }
    }
}
