import AgentOS
import Foundation
import Synchronization

/// How an upstream value is read into a model field. Each reader answers nil for an absent or null value
/// and for one it cannot read; the raw value always stays in the record's metadata.
public enum ValueReader: Sendable {
    case text, id, money, date, bool, textList

    public func read(_ value: JSONValue) -> MappedValue? {
        switch self {
        case .text: Self.text(value).map(MappedValue.text)
        case .id: Self.id(value).map(MappedValue.text)
        case .money: Self.money(value).map(MappedValue.money)
        case .date: Self.date(value).map(MappedValue.date)
        case .bool: Self.bool(value).map(MappedValue.bool)
        case .textList: Self.textList(value).map(MappedValue.textList)
        }
    }

    /// Text as sent; numbers and booleans as their literal; empty or blank text is absent.
    static func text(_ value: JSONValue) -> String? {
        let result: String?
        switch value {
        case .string(let text): result = text.trimmingCharacters(in: .whitespacesAndNewlines)
        case .number(let literal): result = literal
        case .bool(let flag): result = flag ? "true" : "false"
        default: result = nil
        }
        return result?.isEmpty == false ? result : nil
    }

    /// Ids are strings or numbers upstream and always strings here.
    static func id(_ value: JSONValue) -> String? {
        switch value {
        case .string, .number: text(value)
        default: nil
        }
    }

    /// Money: a JSON number, or text like "123.45", "£1,234.50", "-20.05". Read exactly as `Decimal` from
    /// the literal's digits, never through a binary float.
    static func money(_ value: JSONValue) -> Decimal? {
        let literal: String
        switch value {
        case .number(let number): literal = number
        case .string(let text):
            var cleaned = text.trimmingCharacters(in: .whitespaces)
            for symbol in ["£", "GBP", ","] { cleaned = cleaned.replacingOccurrences(of: symbol, with: "") }
            literal = cleaned.trimmingCharacters(in: .whitespaces)
            // Plain decimal notation only: digits with an optional sign and one point.
            let body = literal.hasPrefix("-") || literal.hasPrefix("+") ? literal.dropFirst() : Substring(literal)
            let parts = body.split(separator: ".", omittingEmptySubsequences: false)
            guard !body.isEmpty, parts.count <= 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCIIDigit) }) else {
                return nil
            }
        default: return nil
        }
        return Decimal(string: literal, locale: Locale(identifier: "en_US_POSIX"))
    }

    /// true/false, 1/0, "true"/"false", "Y"/"N" (and "yes"/"no", "1"/"0").
    static func bool(_ value: JSONValue) -> Bool? {
        switch value {
        case .bool(let flag): return flag
        case .number(let literal): return literal == "1" ? true : literal == "0" ? false : nil
        case .string(let text):
            switch text.trimmingCharacters(in: .whitespaces).lowercased() {
            case "true", "y", "yes", "1": return true
            case "false", "n", "no", "0": return false
            default: return nil
            }
        default: return nil
        }
    }

    /// An array of texts, or one comma-separated text.
    static func textList(_ value: JSONValue) -> [String]? {
        switch value {
        case .array(let items): return items.compactMap(text)
        case .string(let joined):
            return joined.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        default: return nil
        }
    }

    /// The date variants of the contract, as an instant: ISO 8601 with zone; ISO without zone, a date
    /// alone, or dd/MM/yyyy in agency-local time (Europe/London, so BST in summer); .NET's /Date(ms)/.
    static func date(_ value: JSONValue) -> Date? {
        guard case .string(let raw) = value else { return nil }
        let text = raw.trimmingCharacters(in: .whitespaces)
        if text.hasPrefix("/Date("), text.hasSuffix(")/") {
            let inner = text.dropFirst(6).dropLast(2)
            // An offset (+0100) may follow the milliseconds; the milliseconds are UTC either way.
            let digits = inner.prefix { $0.isASCIIDigit || $0 == "-" }
            guard let milliseconds = Int64(digits) else { return nil }
            return Date(timeIntervalSince1970: Double(milliseconds) / 1000)
        }
        return DateCodec.shared.parse(text)
    }
}

/// The date formatters, built once: building one costs about as much as a thousand parses, and a page of
/// jobs reads hundreds of dates. corelibs' DateFormatter is not Sendable, so they are used under a lock.
final class DateCodec: @unchecked Sendable {
    static let shared = DateCodec()

    private let lock = Mutex(())
    private let parsers: [DateFormatter]
    private let output = ISO8601DateFormatter()
    private let outputWithFraction = ISO8601DateFormatter()

    private init() {
        // Zoned forms first; forms without a zone are agency-local time (Europe/London, BST in summer).
        let london = TimeZone(identifier: "Europe/London") ?? TimeZone(secondsFromGMT: 0)!
        parsers = [
            "yyyy-MM-dd'T'HH:mm:ss.SSSXXXXX", "yyyy-MM-dd'T'HH:mm:ssXXXXX", "yyyy-MM-dd'T'HH:mm:ss.SSS",
            "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd", "dd/MM/yyyy",
        ].map { format in
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.calendar = Calendar(identifier: .gregorian)
            formatter.timeZone = london
            formatter.dateFormat = format
            formatter.isLenient = false
            return formatter
        }
        for formatter in [output, outputWithFraction] { formatter.timeZone = TimeZone(secondsFromGMT: 0) }
        output.formatOptions = [.withInternetDateTime]
        outputWithFraction.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    }

    func parse(_ text: String) -> Date? {
        lock.withLock { _ in parsers.lazy.compactMap { $0.date(from: text) }.first }
    }

    /// `YYYY-MM-DD` only, as the start of that day in agency-local time (for inputs, which are stricter).
    func parseISODay(_ text: String) -> Date? {
        lock.withLock { _ in parsers.first { $0.dateFormat == "yyyy-MM-dd" }?.date(from: text) }
    }

    /// ISO 8601 UTC with `Z`; milliseconds only when there are some.
    func format(_ date: Date) -> String {
        let milliseconds = Int((date.timeIntervalSince1970 * 1000).rounded()) % 1000
        return lock.withLock { _ in (milliseconds == 0 ? output : outputWithFraction).string(from: date) }
    }
}

/// A field's value once read.
public enum MappedValue: Sendable, Equatable {
    case text(String)
    case money(Decimal)
    case date(Date)
    case bool(Bool)
    case textList([String])
}

/// How the portal's JSON writes values: money as a number with at most two decimals (rounded half up,
/// exactly), dates as ISO 8601 UTC with `Z`.
public enum OutputFormat {
    public static func money(_ amount: Decimal) -> JSONValue {
        var input = amount, rounded = Decimal()
        NSDecimalRound(&rounded, &input, 2, .plain)
        return .number(NSDecimalNumber(decimal: rounded).stringValue)
    }

    public static func date(_ date: Date) -> JSONValue {
        .string(DateCodec.shared.format(date))
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
