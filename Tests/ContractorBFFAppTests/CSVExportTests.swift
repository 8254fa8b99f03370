@testable import ContractorBFFApp
import ContractorPortal
import Foundation
import JSON
import TestSupport
import Testing

/// Statements and pending entries as CSV downloads, read back by Python's csv module (a reader that is
/// not ours) and compared with what the JSON routes answer.
@Suite("CSV exports of statements and pending entries", .scoped)
struct CSVExportTests {
    /// Rows as Python's `csv.reader` reads them (RFC 4180 quoting, CRLF, UTF-8).
    static func readCSV(_ bytes: [UInt8]) async throws -> [[String]] {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("export-\(UUID().uuidString).csv").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let script = "import csv, json, sys; print(json.dumps(list(csv.reader(open(sys.argv[1], newline='', encoding='utf-8')))))"
        let child = try ChildProcess(executable: "/usr/bin/env", arguments: ["python3", "-c", script, path], environment: ProcessInfo.processInfo.environment, directory: "/")
        let output = await offPool { child.standardOutput.readDataToEndOfFile() }
        _ = await offPool { child.wait() }
        let parsed = try #require(try? JSONSerialization.jsonObject(with: output) as? [[String]], "python3's csv module could not read it")
        return parsed
    }

    static func text(_ value: JSONValue?) -> String {
        switch value {
        case .string(let text)?: text
        case .number(let literal)?: literal
        default: ""
        }
    }

    static func money(_ value: JSONValue?) -> String {
        guard case .number(let literal)? = value, let amount = Decimal(string: literal) else { return "" }
        return CSVTable.twoDecimals(amount)
    }

    @Test func theHistoricalStatementIsTheJSONRouteAsRows() async throws {
        let portal = try await Portal.start()
        let json = await portal.get("/api/contractor/statements/historical")
        let byQuery = await portal.get("/api/contractor/statements/historical?format=csv")
        let byAccept = await portal.send("GET", "/api/contractor/statements/historical", headers: ["Accept": "text/html;q=0.9, text/csv"])
        #expect(byQuery.status == 200 && byAccept.status == 200)
        #expect(byQuery.header("Content-Type") == "text/csv; charset=utf-8; header=present")
        #expect(byQuery.header("Content-Disposition") == "attachment; filename=\"statement-C-1001.csv\"")
        #expect(byQuery.raw?.body == byAccept.raw?.body)
        let rows = try await Self.readCSV(byQuery.raw?.body ?? [])
        #expect(rows.first == ["date", "entryId", "description", "jobId", "propertyAddress", "category", "invoiceNumber", "debit", "credit", "balance"])
        let entries = json.json["entries"]?.arrayValue ?? []
        #expect(!entries.isEmpty)
        #expect(rows.count == entries.count + 1)
        for (row, entry) in zip(rows.dropFirst(), entries) {
            #expect(row[0] == Self.text(entry["date"]) && row[1] == Self.text(entry["entryId"]) && row[2] == CSVTable.neutralised(Self.text(entry["description"])))
            #expect(row[7] == Self.money(entry["debit"]) && row[8] == Self.money(entry["credit"]) && row[9] == Self.money(entry["balance"]))
            for money in row[7...9] where !money.isEmpty { #expect(money.split(separator: ".").last?.count == 2, "two decimals: \(money)") }
        }
        let dated = await portal.get("/api/contractor/statements/historical?format=csv&dateFrom=2026-01-01&dateTo=2026-12-31")
        #expect(dated.header("Content-Disposition") == "attachment; filename=\"statement-C-1001-2026-01-01-to-2026-12-31.csv\"")
    }

    /// Text that would run as a formula is neutralised; quotes, commas and line breaks survive the reader.
    @Test func pendingEntriesAreNeutralisedAndQuoted() async throws {
        let portal = try await Portal.start()
        let hostile = "=HYPERLINK(\"http://evil.example\",\"pay\"), then\na new line"
        let body = JSONValue.object([
            "jobId": .string("J-0003"), "amount": .number("10.5"), "reference": .string("CSV-1"), "invoiceDate": .string("2026-06-01"),
            "description": .string(hostile),
        ])
        let submitted = await portal.send("POST", "/api/contractor/invoices", body: String(decoding: body.serialized(), as: UTF8.self))
        #expect(submitted.status == 201)
        let json = await portal.get("/api/contractor/statements/pending")
        let csv = await portal.get("/api/contractor/statements/pending?format=csv")
        #expect(csv.header("Content-Disposition") == "attachment; filename=\"pending-C-1001.csv\"")
        let rows = try await Self.readCSV(csv.raw?.body ?? [])
        #expect(rows.first == ["date", "entryId", "description", "jobId", "propertyAddress", "invoiceNumber", "status", "amount"])
        #expect(rows.count == (json.json.arrayValue?.count ?? 0) + 1)
        let row = try #require(rows.first { $0[5] == "CSV-1" })
        #expect(row[2] == "'" + hostile, "a formula is text in the spreadsheet, its quotes and line break intact")
        #expect(row[7] == "10.50")
        let text = String(decoding: csv.raw?.body ?? [], as: UTF8.self)
        #expect(text.hasSuffix("\r\n"))
    }

    @Test func theSessionAndFormatRulesAreTheJSONRoutes() async throws {
        let portal = try await Portal.start()
        #expect(await portal.get("/api/contractor/statements/pending?format=csv", token: nil).status == 401)
        let wrong = await portal.get("/api/contractor/statements/pending?format=xml")
        #expect(wrong.status == 400 && wrong.error?.contains("format") == true)
        let other = await portal.get("/api/contractor/statements/historical?format=csv", token: Portal.token("C-2002"))
        #expect(other.header("Content-Disposition") == "attachment; filename=\"statement-C-2002.csv\"")
        let otherJSON = await portal.get("/api/contractor/statements/historical", token: Portal.token("C-2002"))
        let rows = try await Self.readCSV(other.raw?.body ?? [])
        #expect(rows.count == (otherJSON.json["entries"]?.count ?? -2) + 1, "another contractor sees their own statement only")
        #expect(await portal.get("/api/contractor/statements/pending", token: Portal.token()).header("Content-Type")?.hasPrefix("application/json") == true)
    }

    @Test func cellsAreWrittenAsRFC4180AndOWASPAsk() {
        var table = CSVTable(header: ["a", "b"])
        table.append([.text("plain"), .money(Decimal(string: "-3.1"))])
        table.append([.text("+1 555"), .money(Array(repeating: Decimal(string: "0.10")!, count: 10).exactSum)])
        table.append([.text("say \"hi\", ok"), .money(nil)])
        table.append([.text("@SUM(A1)"), .money(Decimal(string: "1234567.005"))])
        table.append([.text("\ttab"), .text("-2+3")])
        #expect(String(decoding: table.bytes, as: UTF8.self) == "a,b\r\nplain,-3.10\r\n'+1 555,1.00\r\n\"say \"\"hi\"\", ok\",\r\n'@SUM(A1),1234567.01\r\n'\ttab,'-2+3\r\n")
    }
}
