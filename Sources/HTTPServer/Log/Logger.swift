import Glibc
import Synchronization

/// Structured logging: one JSON object per line. Callers pass fields; the logger adds time and level.
public struct Logger: Sendable {
    public enum Level: String, Sendable, Comparable {
        case debug, info, warning, error
        var rank: Int { [.debug: 0, .info: 1, .warning: 2, .error: 3][self] ?? 1 }
        public static func < (a: Level, b: Level) -> Bool { a.rank < b.rank }
    }

    public let minimumLevel: Level
    private let sink: @Sendable (String) -> Void

    public init(minimumLevel: Level = .info, sink: @escaping @Sendable (String) -> Void) {
        self.minimumLevel = minimumLevel
        self.sink = sink
    }

    /// Lines to standard output, each written whole by one write(2) so lines from threads never interleave.
    public static func standardOutput(minimumLevel: Level = .info) -> Logger {
        Logger(minimumLevel: minimumLevel) { line in
            let bytes = Array((line + "\n").utf8)
            bytes.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let written = Glibc.write(1, raw.baseAddress! + offset, raw.count - offset)
                    if written <= 0 { if errno == EINTR { continue } else { return } }
                    offset += written
                }
            }
        }
    }

    public static let discard = Logger(minimumLevel: .error) { _ in }

    public func log(_ level: Level, _ event: String, _ fields: KeyValuePairs<String, LogValue> = [:]) {
        log(level, event, fields: Array(fields))
    }

    public func log(_ level: Level, _ event: String, fields: [(String, LogValue)]) {
        guard level >= minimumLevel else { return }
        var line = "{\"time\":\"\(Self.timestamp())\",\"level\":\"\(level.rawValue)\",\"event\":"
        JSON.appendString(event, to: &line)
        for (key, value) in fields {
            line += ","
            JSON.appendString(key, to: &line)
            line += ":"
            value.append(to: &line)
        }
        line += "}"
        sink(line)
    }

    /// UTC with milliseconds, e.g. 2026-11-22T10:00:00.123Z.
    static func timestamp() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var seconds = spec.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(spec.tv_nsec / 1_000_000), 3))Z"
    }
}

public enum LogValue: Sendable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case null

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }

    func append(to line: inout String) {
        switch self {
        case .string(let text): JSON.appendString(text, to: &line)
        case .int(let number): line += String(number)
        case .double(let number): line += number.isFinite ? String((number * 1000).rounded() / 1000) : "null"
        case .bool(let flag): line += flag ? "true" : "false"
        case .null: line += "null"
        }
    }
}

/// The JSON string escaping the logger and the error bodies need, without a round trip through JSONEncoder.
public enum JSON {
    public static func appendString(_ text: String, to out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let s where s.value < 0x20 || s.value == 0x7F || s.value == 0x2028 || s.value == 0x2029:
                let hex = String(s.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }

    public static func quoted(_ text: String) -> String {
        var out = ""
        appendString(text, to: &out)
        return out
    }
}
