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
    /// Receives one or more whole lines, each ending in a newline.
    private let lines: @Sendable ([UInt8]) -> Void
    private let flushSink: @Sendable () -> Void

    /// `sink` receives each line as UTF-8 bytes without its newline.
    public init(minimumLevel: Level = .info, sink: @escaping @Sendable ([UInt8]) -> Void, flush: @escaping @Sendable () -> Void = {}) {
        self.minimumLevel = minimumLevel
        self.lines = { batch in
            for line in batch.split(separator: 10) { sink(Array(line)) }
        }
        self.flushSink = flush
    }

    private init(minimumLevel: Level, lines: @escaping @Sendable ([UInt8]) -> Void, flush: @escaping @Sendable () -> Void) {
        self.minimumLevel = minimumLevel
        self.lines = lines
        self.flushSink = flush
    }

    /// Lines to standard output through a buffer that its own thread writes out every 50 ms, so an event
    /// loop never waits on a slow terminal or pipe. Call `flush()` before the process exits.
    public static func standardOutput(minimumLevel: Level = .info) -> Logger {
        let writer = BufferedWriter(fd: 1)
        return Logger(minimumLevel: minimumLevel, lines: { writer.append($0) }, flush: { writer.flush() })
    }

    /// Writes out whatever is buffered.
    public func flush() { flushSink() }

    public static let discard = Logger(minimumLevel: .error, sink: { _ in })

    /// Whether a line at `level` would be written.
    public func accepts(_ level: Level) -> Bool { level >= minimumLevel }

    public func log(_ level: Level, _ event: String, _ fields: KeyValuePairs<String, LogValue> = [:]) {
        log(level, event, fields: Array(fields))
    }

    public func log(_ level: Level, _ event: String, fields: [(String, LogValue)]) {
        guard accepts(level) else { return }
        var line = LogLines()
        line.begin(level, event)
        for (key, value) in fields { line.field(key, value) }
        line.end()
        lines(line.bytes)
    }

    /// Hands over lines written with `LogLines` in one go (a batch of access lines, say); the batch is
    /// emptied and keeps its capacity for the next lines.
    public func write(_ batch: inout LogLines) {
        guard !batch.isEmpty else { return }
        lines(batch.bytes)
        batch.removeAll()
    }
}

/// Log lines written straight into one byte buffer, for a writer that produces many of them (an event
/// loop's access lines): no array of fields per line, the time's date part formatted once a second, and
/// the whole batch handed to the logger at once (`Logger.write`). Not shared: one per thread.
public struct LogLines: Sendable {
    public private(set) var bytes: [UInt8] = []
    /// `"time":"YYYY-MM-DDTHH:MM:SS.` for `second`, the part of the timestamp that changes once a second.
    private var second = -1
    private var secondText: [UInt8] = []

    public init() {}

    public var isEmpty: Bool { bytes.isEmpty }

    /// Starts a line: `{"time":...,"level":...,"event":...`.
    public mutating func begin(_ level: Logger.Level, _ event: String) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        if Int(now.tv_sec) != second {
            second = Int(now.tv_sec)
            secondText = Array(#"{"time":""#.utf8) + Self.secondPart(now.tv_sec)
        }
        bytes += secondText
        let millis = Int(now.tv_nsec / 1_000_000)
        // One byte at a time: an array literal here would be an allocation on every line.
        bytes.append(UInt8(48 + millis / 100))
        bytes.append(UInt8(48 + millis / 10 % 10))
        bytes.append(UInt8(48 + millis % 10))
        bytes.append(90)
        bytes += #"","level":""#.utf8
        bytes += level.rawValue.utf8
        bytes += #"","event":"#.utf8
        JSONText.appendString(event, to: &bytes)
    }

    public mutating func field(_ key: String, _ value: LogValue) {
        bytes.append(44)
        JSONText.appendString(key, to: &bytes)
        bytes.append(58)
        value.append(to: &bytes)
    }

    /// Text that needs no escaping where it goes (a constant `,"key":` with its quote, or a value made only of
    /// characters JSON takes as they are: the caller knows it by construction), appended as it is.
    public mutating func verbatim(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// See `verbatim(_: StaticString)`; for values whose alphabet the caller has checked.
    public mutating func verbatim(_ text: String) {
        bytes += text.utf8
    }

    public mutating func escaped(_ text: String) {
        JSONText.appendString(text, to: &bytes)
    }

    public mutating func integer(_ value: Int) {
        bytes += String(value).utf8
    }

    /// A duration in milliseconds with three decimals, from nanoseconds, in integer arithmetic.
    public mutating func milliseconds(nanoseconds: UInt64) {
        LogValue.appendThousandths(Int(nanoseconds / 1000), to: &bytes)
    }

    /// Ends the line begun last.
    public mutating func end() {
        bytes.append(125)
        bytes.append(10)
    }

    /// Empties the batch, keeping its capacity.
    mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

    /// `YYYY-MM-DDTHH:MM:SS.` in UTC.
    static func secondPart(_ seconds: time_t) -> [UInt8] {
        var seconds = seconds
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var out = [UInt8](repeating: 0, count: 20)
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
        out[4] = 45; out[7] = 45; out[10] = 84; out[13] = 58; out[16] = 58; out[19] = 46
        return out
    }
}

/// Collects lines and writes them to a file descriptor from its own thread: at most every 50 ms, at
/// once when 64 KiB have gathered. No line is ever dropped: past 8 MiB unwritten (a reader slower than
/// the lines come) the caller writes them out itself, so a logging thread slows down to the reader's pace
/// rather than losing its record (nginx's access log does the same by writing synchronously).
final class BufferedWriter: Sendable {
    private static let writeAt = 64 << 10
    private static let backPressureAt = 8 << 20

    private let fd: Int32
    private let pending = Mutex<[UInt8]>([])
    /// Held while writing; it keeps the buffer being written, swapped with `pending` and emptied after,
    /// so the two buffers trade places and keep their capacity. (Taking a copy of `pending` and emptying
    /// it made the emptied one a fresh allocation each time: past glibc's mmap threshold, fresh pages to
    /// fault in and zero on every write.)
    private let writing = Mutex<[UInt8]>([])

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

    /// `lines` are whole lines, each ending in a newline.
    func append(_ lines: [UInt8]) {
        // Copied, never adopted: the caller's buffer stays its own, capacity and all.
        let gathered = pending.withLock { pending in
            pending.append(contentsOf: lines)
            return pending.count
        }
        guard gathered >= Self.writeAt else { return }
        if gathered >= Self.backPressureAt {
            // The reader is not keeping up: wait for the descriptor rather than drop a line.
            flush()
        } else {
            // Written now unless a write is already under way (which then leaves these for the next one).
            _ = writing.withLockIfAvailable { writeOut(&$0) }
        }
    }

    func flush() {
        writing.withLock { writeOut(&$0) }
    }

    /// `bytes` is the buffer `writing` holds, empty on entry and on return.
    private func writeOut(_ bytes: inout [UInt8]) {
        pending.withLock { swap(&$0, &bytes) }
        defer { bytes.removeAll(keepingCapacity: true) }
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
            Self.appendThousandths(thousandths, to: &line)
        case .bool(let flag): line += (flag ? "true" : "false").utf8
        case .null: line += "null".utf8
        }
    }

    /// `thousandths` (not negative) as a number with three decimals, `12345` → `12.345`, one byte at a time
    /// (an array literal would be an allocation per line).
    static func appendThousandths(_ thousandths: Int, to line: inout [UInt8]) {
        line += String(thousandths / 1000).utf8
        line.append(46)
        let fraction = thousandths % 1000
        line.append(UInt8(48 + fraction / 100))
        line.append(UInt8(48 + fraction / 10 % 10))
        line.append(UInt8(48 + fraction % 10))
    }
}
