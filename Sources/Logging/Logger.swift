import Foundation
import JSON
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
    private let sink: @Sendable ([UInt8]) -> Void
    private let flushSink: @Sendable () -> Void

    /// `sink` receives each line as UTF-8 bytes without its newline.
    public init(minimumLevel: Level = .info, sink: @escaping @Sendable ([UInt8]) -> Void, flush: @escaping @Sendable () -> Void = {}) {
        self.minimumLevel = minimumLevel
        self.sink = sink
        self.flushSink = flush
    }

    /// Lines to standard output through a buffer that its own thread writes out every 50 ms, so an event
    /// loop never waits on a slow terminal or pipe. Call `flush()` before the process exits.
    public static func standardOutput(minimumLevel: Level = .info) -> Logger {
        let writer = BufferedWriter(fd: 1)
        return Logger(minimumLevel: minimumLevel, sink: { writer.append($0) }, flush: { writer.flush() })
    }

    /// Writes out whatever is buffered.
    public func flush() { flushSink() }

    public static let discard = Logger(minimumLevel: .error, sink: { _ in })

    public func log(_ level: Level, _ event: String, _ fields: KeyValuePairs<String, LogValue> = [:]) {
        log(level, event, fields: Array(fields))
    }

    public func log(_ level: Level, _ event: String, fields: [(String, LogValue)]) {
        guard level >= minimumLevel else { return }
        var line: [UInt8] = []
        line.reserveCapacity(256)
        line += #"{"time":""#.utf8
        line += Self.timestamp().utf8
        line += #"","level":""#.utf8
        line += level.rawValue.utf8
        line += #"","event":"#.utf8
        JSONText.appendString(event, to: &line)
        for (key, value) in fields {
            line.append(44)
            JSONText.appendString(key, to: &line)
            line.append(58)
            value.append(to: &line)
        }
        line.append(125)
        sink(line)
    }

    /// UTC with milliseconds, e.g. 2026-11-22T10:00:00.123Z, written digit by digit (it is on every line).
    static func timestamp() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var seconds = spec.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var out = [UInt8](repeating: 0, count: 24)
        func put(_ value: Int, _ width: Int, at offset: Int) {
            var value = value
            for index in stride(from: offset + width - 1, through: offset, by: -1) {
                out[index] = UInt8(48 + value % 10)
                value /= 10
            }
        }
        put(Int(parts.tm_year) + 1900, 4, at: 0)
        put(Int(parts.tm_mon) + 1, 2, at: 5)
        put(Int(parts.tm_mday), 2, at: 8)
        put(Int(parts.tm_hour), 2, at: 11)
        put(Int(parts.tm_min), 2, at: 14)
        put(Int(parts.tm_sec), 2, at: 17)
        put(Int(spec.tv_nsec / 1_000_000), 3, at: 20)
        out[4] = 45; out[7] = 45; out[10] = 84; out[13] = 58; out[16] = 58; out[19] = 46; out[23] = 90
        return String(decoding: out, as: UTF8.self)
    }
}

/// Collects lines and writes them to a file descriptor from its own thread: at most every 50 ms, at
/// once when 64 KiB have gathered. Past 8 MiB unwritten (a reader that stopped) lines are dropped and
/// counted rather than held without bound.
final class BufferedWriter: Sendable {
    private struct State {
        var pending: [UInt8] = []
        var dropped = 0
    }

    private let fd: Int32
    private let state = Mutex(State())
    private let writing = Mutex(())

    init(fd: Int32) {
        self.fd = fd
        let thread = Thread { [weak self] in
            while let self {
                self.flush()
                usleep(50_000)
            }
        }
        thread.name = "log-writer"
        thread.start()
    }

    func append(_ line: [UInt8]) {
        let full = state.withLock { state -> Bool in
            guard state.pending.count < 8 << 20 else {
                state.dropped += 1
                return false
            }
            state.pending.append(contentsOf: line)
            state.pending.append(10)
            return state.pending.count >= 64 << 10
        }
        if full { flush() }
    }

    func flush() {
        writing.withLock { _ in
            var (bytes, dropped) = state.withLock { state in
                defer { state = State() }
                return (state.pending, state.dropped)
            }
            if dropped > 0 {
                bytes += Array("{\"time\":\"\(Logger.timestamp())\",\"level\":\"warning\",\"event\":\"log_lines_dropped\",\"count\":\(dropped)}\n".utf8)
            }
            bytes.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count, let base = raw.baseAddress {
                    let written = Glibc.write(fd, base + offset, raw.count - offset)
                    if written < 0 && errno == EINTR { continue }
                    guard written > 0 else { return }
                    offset += written
                }
            }
        }
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

    func append(to line: inout [UInt8]) {
        switch self {
        case .string(let text): JSONText.appendString(text, to: &line)
        case .int(let number): line += String(number).utf8
        case .double(let number):
            // Three decimals by integer arithmetic: durations are on every access line, and Double's
            // description is the slowest part of one.
            guard number.isFinite, abs(number) < 1e15 else {
                line += (number.isFinite ? String(number) : "null").utf8
                return
            }
            let thousandths = Int((abs(number) * 1000).rounded())
            if number < 0 && thousandths > 0 { line.append(45) }
            line += String(thousandths / 1000).utf8
            line.append(46)
            let fraction = thousandths % 1000
            line += [UInt8(48 + fraction / 100), UInt8(48 + fraction / 10 % 10), UInt8(48 + fraction % 10)]
        case .bool(let flag): line += (flag ? "true" : "false").utf8
        case .null: line += "null".utf8
        }
    }
}
