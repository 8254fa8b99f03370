import Foundation
import Glibc

/// Runs blocking work on a thread of its own, so a test that waits on a socket never holds one of the
/// few cooperative threads the server's handlers need.
public func offPool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: work()) }
        thread.start()
    }
}

/// A response as read off the wire.
public struct RawResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// A blocking TCP client that sends exact bytes, for everything a well-behaved client library refuses to send.
public final class RawConnection: @unchecked Sendable {
    public enum Received: Equatable { case bytes(Int), closed, reset, timedOut }

    public let fd: Int32
    private var buffer: [UInt8] = []
    public private(set) var sawClose = false

    /// `source` binds the client's own address first (another loopback address, 127.0.0.2, is another
    /// client to the server).
    public init?(port: Int, host: String = "127.0.0.1", source: String? = nil) {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &list) == 0, let info = list else { return nil }
        defer { freeaddrinfo(list) }
        fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue), 0)
        if let source, fd >= 0 {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            inet_pton(AF_INET, source, &local.sin_addr)
            let bound = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            guard bound == 0 else {
                Glibc.close(fd)
                return nil
            }
        }
        guard fd >= 0, Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
            if fd >= 0 { Glibc.close(fd) }
            return nil
        }
    }

    deinit { Glibc.close(fd) }

    @discardableResult
    public func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    @discardableResult
    public func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            if sent < 0 && errno == EINTR { continue }
            guard sent > 0 else { return false }
            offset += sent
        }
        return true
    }

    /// The bytes received and not yet read by `readResponse`, handed over and forgotten (for clients that
    /// parse a streamed answer themselves).
    public func takeBuffered() -> [UInt8] {
        defer { buffer.removeAll() }
        return buffer
    }

    /// Half-closes: tells the server no more bytes come.
    public func shutdownWrite() { Glibc.shutdown(fd, Int32(SHUT_WR)) }

    /// Reads what is there (waiting up to `timeout` seconds for something).
    public func receive(timeout: Double) -> Received {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&poller, 1, Int32(timeout * 1000))
        guard ready > 0 else { return .timedOut }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count > 0 {
            buffer.append(contentsOf: chunk[0..<count])
            return .bytes(count)
        }
        if count == 0 {
            sawClose = true
            return .closed
        }
        sawClose = true
        return .reset
    }

    /// True when the server closes the connection within `timeout` seconds (reading and keeping any bytes).
    public func closedByServer(within timeout: Double) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while !sawClose {
            let left = end.timeIntervalSinceNow
            guard left > 0 else { return false }
            if receive(timeout: left) == .timedOut { return false }
        }
        return true
    }

    /// The next response, or nil if none arrived whole within `timeout` seconds.
    public func readResponse(timeout: Double = 5, headRequest: Bool = false) -> RawResponse? {
        let end = Date().addingTimeInterval(timeout)
        func fill() -> Bool {
            let left = end.timeIntervalSinceNow
            guard left > 0, !sawClose else { return false }
            if case .bytes = receive(timeout: left) { return true }
            return false
        }
        var headEnd: Int?
        while headEnd == nil {
            headEnd = find([13, 10, 13, 10], in: buffer)
            if headEnd == nil && !fill() { return nil }
        }
        guard let headEnd else { return nil }
        let head = String(decoding: buffer[0..<headEnd], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let statusParts = lines.removeFirst().split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { return nil }
        let headers = lines.compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        buffer.removeFirst(headEnd + 4)
        var response = RawResponse(status: status, headers: headers, body: [])
        if status < 200 || status == 204 || status == 304 || headRequest { return response }
        if let length = response.header("Content-Length").flatMap(Int.init) {
            while buffer.count < length { if !fill() { return nil } }
            response.body = Array(buffer[0..<length])
            buffer.removeFirst(length)
        } else if response.header("Transfer-Encoding")?.lowercased() == "chunked" {
            while true {
                var lineEnd = find([13, 10], in: buffer)
                while lineEnd == nil { if !fill() { return nil }; lineEnd = find([13, 10], in: buffer) }
                guard let lineEnd, let size = Int(String(decoding: buffer[0..<lineEnd], as: UTF8.self), radix: 16) else { return nil }
                buffer.removeFirst(lineEnd + 2)
                while buffer.count < size + 2 { if !fill() { return nil } }
                response.body += buffer[0..<size]
                buffer.removeFirst(size + 2)
                if size == 0 { break }
            }
        } else {
            while fill() {}
            response.body = buffer
            buffer.removeAll()
        }
        return response
    }

    private func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for index in 0...(haystack.count - needle.count) where haystack[index] == needle[0] {
            if Array(haystack[index..<index + needle.count]) == needle { return index }
        }
        return nil
    }
}

/// Connects, sends `request`, reads one response and reports whether the server then closed.
public func exchange(port: Int, _ request: String, readTimeout: Double = 5, closeWithin: Double = 5) async -> (response: RawResponse?, closed: Bool) {
    await offPool {
        guard let connection = RawConnection(port: port) else { return (nil, false) }
        connection.send(request)
        let response = connection.readResponse(timeout: readTimeout)
        return (response, connection.closedByServer(within: closeWithin))
    }
}
