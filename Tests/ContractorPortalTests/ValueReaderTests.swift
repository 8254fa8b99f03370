import AgentOS
@testable import ContractorPortal
import Foundation
import Testing
import JSON

@Suite("Value readers: every value variant of the contract")
struct ValueReaderTests {
    @Test(arguments: [
        (JSONValue.number("123.45"), "123.45"), (.number("0.1"), "0.1"), (.string("123.45"), "123.45"),
        (.string("£1,234.50"), "1234.5"), (.string(" -20.05 "), "-20.05"), (.number("-20.05"), "-20.05"),
        (.number("1500"), "1500"), (.string("1,500.00"), "1500"),
    ])
    func moneyIsReadExactly(value: JSONValue, expected: String) {
        #expect(ValueReader.money(value) == Decimal(string: expected))
    }

    @Test(arguments: [JSONValue.string("not a number"), .string(""), .string("1.2.3"), .string("12abc"), .null, .bool(true), .string("1e3")])
    func unreadableMoneyIsNil(value: JSONValue) {
        #expect(ValueReader.money(value) == nil)
    }

    @Test func tenDimesSumToExactlyOne() {
        let sum = (0..<10).compactMap { _ in ValueReader.money(.number("0.10")) }.reduce(Decimal(0), +)
        #expect(sum == Decimal(1))
        #expect(OutputFormat.money(sum) == .number("1"))
    }

    @Test(arguments: [("1234.5", "1234.5"), ("0.005", "0.01"), ("2.675", "2.68"), ("-1.005", "-1.01"), ("10", "10"), ("0.1", "0.1")])
    func moneyIsWrittenWithAtMostTwoDecimals(input: String, output: String) {
        #expect(OutputFormat.money(Decimal(string: input)!) == .number(output))
    }

    @Test(arguments: [
        ("2026-03-28T09:00:00Z", "2026-03-28T09:00:00Z"),
        ("2026-03-28T09:00:00", "2026-03-28T09:00:00Z"),       // GMT: BST starts on 29 March 2026
        ("2026-07-01T09:00:00", "2026-07-01T08:00:00Z"),       // BST: London is UTC+1
        ("2026-03-28", "2026-03-28T00:00:00Z"),
        ("2026-07-01", "2026-06-30T23:00:00Z"),
        ("28/03/2026", "2026-03-28T00:00:00Z"),
        ("/Date(1774688400000)/", "2026-03-28T09:00:00Z"),
        ("/Date(1774688400000+0100)/", "2026-03-28T09:00:00Z"),
        ("2026-03-28T09:00:00.250+02:00", "2026-03-28T07:00:00.250Z"),
        ("2028-02-29", "2028-02-29T00:00:00Z"),                // leap day
        ("2026-03-29T02:30:00Z", "2026-03-29T02:30:00Z"),
        ("2026-10-25T12:00:00", "2026-10-25T12:00:00Z"),       // the afternoon BST ended: GMT again
        ("1969-12-31T23:59:59.5Z", "1969-12-31T23:59:59.500Z"),
        ("2026-03-28T09:00:00-05:30", "2026-03-28T14:30:00Z"),
    ])
    func everyDateVariantBecomesUTC(input: String, output: String) throws {
        let date = try #require(ValueReader.date(.string(input)), "\(input) not read")
        #expect(OutputFormat.date(date) == .string(output))
    }

    @Test(arguments: [JSONValue.string("yesterday"), .string("31/02/2026"), .string("2026-13-01"), .number("1774688400000"), .null,
                      .string("2026-02-29"), .string("2026-03-28T24:00:00Z"), .string("2026-03-28T09:00:00+0100"), .string("2026-03-28T09:00"),
                      .string("2026-03-28T09:00:00."), .string("2026-3-28"), .string("2026-03-28T09:00:00Zjunk")])
    func unreadableDateIsNil(value: JSONValue) {
        #expect(ValueReader.date(value) == nil)
    }

    @Test(arguments: [
        (JSONValue.bool(true), true), (.bool(false), false), (.number("1"), true), (.number("0"), false),
        (.string("true"), true), (.string("false"), false), (.string("Y"), true), (.string("N"), false),
    ])
    func everyBooleanVariantIsRead(value: JSONValue, expected: Bool) {
        #expect(ValueReader.bool(value) == expected)
    }

    @Test func idsAreAlwaysStrings() {
        #expect(ValueReader.id(.number("3003")) == "3003")
        #expect(ValueReader.id(.string("C-1001")) == "C-1001")
        #expect(ValueReader.id(.string("  ")) == nil)
        #expect(ValueReader.id(.bool(true)) == nil)
    }

    @Test func tradesFromArrayOrCommaText() {
        #expect(ValueReader.textList(.string("Electrical, PAT testing")) == ["Electrical", "PAT testing"])
        #expect(ValueReader.textList(.array([.string("Gas"), .null, .string("Heating")])) == ["Gas", "Heating"])
    }
}
