import AgentOS
import Foundation
import Testing
import TestSupport

/// The project's own contract document (docs/agentos-contract.md, in this repository) names every call
/// the gateway can make, with its key, default path and whether the vendor documents it.
@Suite("AgentOS contract document", .scoped)
struct ContractDocumentTests {
    @Test func everyCallIsInTheContractDocument() throws {
        let text = try String(contentsOf: Paths.packageRoot.appendingPathComponent("docs/agentos-contract.md"), encoding: .utf8)
        let rows = text.components(separatedBy: "\n").filter { $0.hasPrefix("| ") }
        let defaults = OperationPaths()
        for field in OperationPaths.fields {
            let key = "AGENTOS_PATH_" + field.key
            let row = try #require(rows.first { $0.contains("`\(key)`") }, "\(key) is not in docs/agentos-contract.md")
            #expect(row.contains("`" + defaults[keyPath: field.path]), "\(key): the document's default path is not the code's")
            #expect(row.contains(field.documented ? "| documented |" : "| modelled |"), "\(key): documented or modelled?")
        }
    }
}
