import AgentOS
import Foundation
import JSON

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
        case .string(let text): result = trimmed(text)
        case .number(let literal): result = literal
        case .bool(let flag): result = flag ? "true" : "false"
        default: result = nil
        }
        return result?.isEmpty == false ? result : nil
    }

    /// Surrounding whitespace removed; the common case (none) costs two byte checks, not a Foundation call.
    static func trimmed(_ text: String) -> String {
        guard let first = text.utf8.first, let last = text.utf8.last else { return text }
        func isSpace(_ byte: UInt8) -> Bool { byte == 32 || (9...13).contains(byte) || byte >= 0x80 }
        guard isSpace(first) || isSpace(last) else { return text }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
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
            var cleaned = trimmed(text)
            if cleaned.utf8.contains(where: { $0 == 44 || $0 >= 0x80 || $0 == 71 }) {
                for symbol in ["£", "GBP", ","] { cleaned = cleaned.replacingOccurrences(of: symbol, with: "") }
                cleaned = trimmed(cleaned)
            }
            literal = cleaned
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

/// The contract's date forms, read and written by arithmetic on the digits. The first version used
/// DateFormatter under a lock (corelibs' formatters are not Sendable): with two dates per job and a page
/// of 120 jobs, that lock capped a whole server at about twenty insights per second.
struct DateCodec: Sendable {
    static let shared = DateCodec()
    /// Agency-local time for the forms without a zone: UK time, so BST in summer.
    private let london = TimeZone(identifier: "Europe/London") ?? TimeZone(secondsFromGMT: 0) ?? .current

    /// `yyyy-MM-dd`, `yyyy-MM-ddTHH:mm:ss[.fff][Z|±hh:mm]`, `dd/MM/yyyy`; without a zone, London time.
    func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= bytes.count else { return nil }
            var value = 0
            for index in range {
                let byte = bytes[index]
                guard (48...57).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        if bytes.count == 10, bytes[2] == UInt8(ascii: "/"), bytes[5] == UInt8(ascii: "/"),
           let day = number(0..<2), let month = number(3..<5), let year = number(6..<10) {
            return local(year, month, day, 0, 0, 0)
        }
        guard bytes.count >= 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
              let year = number(0..<4), let month = number(5..<7), let day = number(8..<10) else { return nil }
        if bytes.count == 10 { return local(year, month, day, 0, 0, 0) }
        guard bytes.count >= 19, bytes[10] == UInt8(ascii: "T"), bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19) else { return nil }
        var index = 19
        var fraction = 0.0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            var scale = 0.1, digits = 0
            index += 1
            while index < bytes.count, (48...57).contains(bytes[index]) {
                fraction += Double(bytes[index] - 48) * scale
                scale /= 10
                index += 1
                digits += 1
            }
            guard digits > 0 else { return nil }
        }
        if index == bytes.count { return local(year, month, day, hour, minute, second).map { $0 + fraction } }
        var offset = 0
        if bytes[index] == UInt8(ascii: "Z"), index + 1 == bytes.count {
            offset = 0
        } else if bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-"), bytes.count == index + 6,
                  bytes[index + 3] == UInt8(ascii: ":"), let hours = number(index + 1..<index + 3), let minutes = number(index + 4..<index + 6),
                  hours < 24, minutes < 60 {
            offset = (hours * 3600 + minutes * 60) * (bytes[index] == UInt8(ascii: "-") ? -1 : 1)
        } else {
            return nil
        }
        return Self.utc(year, month, day, hour, minute, second).map { Date(timeIntervalSince1970: Double($0 - offset) + fraction) }
    }

    /// `YYYY-MM-DD` only, as the start of that day in agency-local time (for inputs, which are stricter).
    func parseISODay(_ text: String) -> Date? {
        text.utf8.count == 10 && text.contains("-") ? parse(text) : nil
    }

    /// ISO 8601 UTC with `Z`; milliseconds only when there are some.
    func format(_ date: Date) -> String {
        let totalMilliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let milliseconds = Int(((totalMilliseconds % 1000) + 1000) % 1000)
        let seconds = (totalMilliseconds - Int64(milliseconds)) / 1000
        let days = Int(seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400)
        let secondOfDay = Int(seconds - Int64(days) * 86_400)
        let (year, month, day) = Self.civil(fromDays: days)
        func padded(_ value: Int, _ width: Int = 2) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        func two(_ value: Int) -> String { padded(value) }
        var text = "\(padded(year, 4))-\(two(month))-\(two(day))T\(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60))"
        if milliseconds != 0 { text += "." + padded(milliseconds, 3) }
        return text + "Z"
    }

    /// Local wall time in London to an instant. The offset is looked up at the wall time read as UTC and
    /// corrected once, which settles both sides of a clock change.
    private func local(_ year: Int, _ month: Int, _ day: Int, _ hour: Int, _ minute: Int, _ second: Int) -> Date? {
        guard let wall = Self.utc(year, month, day, hour, minute, second) else { return nil }
        var offset = london.secondsFromGMT(for: Date(timeIntervalSince1970: Double(wall)))
        let corrected = london.secondsFromGMT(for: Date(timeIntervalSince1970: Double(wall - offset)))
        if corrected != offset { offset = corrected }
        return Date(timeIntervalSince1970: Double(wall - offset))
    }

    /// Seconds since 1970 of a valid UTC civil time; nil for impossible ones (31 February, hour 24).
    static func utc(_ year: Int, _ month: Int, _ day: Int, _ hour: Int, _ minute: Int, _ second: Int) -> Int? {
        guard (1...12).contains(month), day >= 1, day <= daysIn(month, year), hour < 24, minute < 60, second < 60 else { return nil }
        return days(fromCivil: year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
    }

    static func daysIn(_ month: Int, _ year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
    static func days(fromCivil year: Int, _ month: Int, _ day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The inverse: civil date of a day count since 1970-01-01.
    static func civil(fromDays days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
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
