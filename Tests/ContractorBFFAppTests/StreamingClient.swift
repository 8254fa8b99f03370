import Foundation
import Glibc
import TestSupport

/// A client that reads a streamed (chunked) answer as it arrives: the head, then each piece of the body
/// with the time it came, so tests can see what was sent before what.
final class StreamingClient: @unchecked Sendable {
    let connection: RawConnection
    private(set) var status = 0
    private(set) var headers: [(name: String, value: String)] = []
    private var pending: [UInt8] = []
    private(set) var body: [UInt8] = []
    /// Each decoded piece of the body, and when it arrived (seconds since the request was sent).
    private(set) var arrivals: [(at: Double, bytes: [UInt8])] = []
    private(set) var ended = false
    private let started = Date()
    /// Bytes removed from the front of `pending` so far, and when the stream had reached each length:
    /// a piece arrived when its last byte was received, not when a later read got round to decoding it.
    private var consumed = 0
    private var received: [(end: Int, at: Double)] = []

    init?(port: Int, _ request: String) {
        guard let connection = RawConnection(port: port) else { return nil }
        self.connection = connection
        guard connection.send(request) else { return nil }
    }

    func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name.lowercased() }?.value }

    var text: String { String(decoding: body, as: UTF8.self) }

    /// Reads until the head is in; false if it did not come within `timeout`. Blocking reads run off the
    /// cooperative pool, which the servers under test need.
    func readHead(timeout: Double = 10) async -> Bool {
        await offPool { self.readHeadNow(timeout: timeout) }
    }

    @discardableResult
    func read(timeout: Double = 10, until done: @escaping @Sendable (String) -> Bool) async -> Bool {
        await offPool { self.readNow(timeout: timeout, until: done) }
    }

    /// Reads to the end of the body (the last chunk, or the connection's close).
    @discardableResult
    func readToEnd(timeout: Double = 10) async -> Bool {
        await offPool { self.readNow(timeout: timeout) { _ in false } }
        return ended
    }

    private func readHeadNow(timeout: Double) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while true {
            take()
            if let range = find(Array("\r\n\r\n".utf8), in: pending) {
                let head = String(decoding: pending[..<range], as: UTF8.self).components(separatedBy: "\r\n")
                status = Int(head.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
                headers = head.dropFirst().compactMap { line in
                    guard let colon = line.firstIndex(of: ":") else { return nil }
                    return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
                }
                pending.removeFirst(range + 4)
                consumed += range + 4
                return true
            }
            let left = end.timeIntervalSinceNow
            guard left > 0, case .bytes = connection.receive(timeout: left) else { return false }
        }
    }

    /// Reads body bytes until `until` holds of the whole body so far or the stream ends; false on timeout.
    private func readNow(timeout: Double, until done: (String) -> Bool) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while !done(text) {
            if ended { return false }
            decode()
            if done(text) || ended { return done(text) }
            let left = end.timeIntervalSinceNow
            guard left > 0 else { return false }
            switch connection.receive(timeout: left) {
            case .bytes: take()
            case .closed, .reset:
                take()
                decode()
                ended = true
            case .timedOut: return false
            }
        }
        return true
    }

    private func decode() {
        let chunked = header("Transfer-Encoding")?.lowercased() == "chunked"
        if !chunked {
            if !pending.isEmpty {
                arrivals.append((arrival(ofByte: consumed + pending.count - 1), pending))
                body += pending
                consumed += pending.count
                pending.removeAll()
            }
            return
        }
        while let lineEnd = find([13, 10], in: pending) {
            let size = Int(String(decoding: pending[..<lineEnd], as: UTF8.self).split(separator: ";")[0], radix: 16) ?? -1
            guard size >= 0 else { ended = true; return }
            if size == 0 {
                ended = true
                return
            }
            guard pending.count >= lineEnd + 2 + size + 2 else { return }
            let chunk = Array(pending[(lineEnd + 2)..<(lineEnd + 2 + size)])
            arrivals.append((arrival(ofByte: consumed + lineEnd + 2 + size - 1), chunk))
            body += chunk
            pending.removeFirst(lineEnd + 2 + size + 2)
            consumed += lineEnd + 2 + size + 2
        }
    }

    private func take() {
        let bytes = connection.takeBuffered()
        guard !bytes.isEmpty else { return }
        pending += bytes
        received.append((consumed + pending.count, Date().timeIntervalSince(started)))
    }

    /// When the byte at `offset` of the stream was received.
    private func arrival(ofByte offset: Int) -> Double {
        received.first { $0.end > offset }?.at ?? Date().timeIntervalSince(started)
    }

    /// When the body first contained `needle`.
    func arrival(of needle: String) -> Double? {
        var seen: [UInt8] = []
        for (at, bytes) in arrivals {
            seen += bytes
            if String(decoding: seen, as: UTF8.self).contains(needle) { return at }
        }
        return nil
    }

    func close() { shutdown(connection.fd, Int32(SHUT_RDWR)) }

    private func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start..<(start + needle.count)].elementsEqual(needle) { return start }
        return nil
    }
}

extension Portal {
    /// Opens a request whose answer streams; `token` becomes a bearer header.
    func open(_ method: String, _ target: String, token: String? = Portal.token(), body: String? = nil, headers: [String: String] = [:]) -> StreamingClient? {
        StreamingClient(port: port, Self.request(method, target, token: token, body: body, headers: headers))
    }
}
