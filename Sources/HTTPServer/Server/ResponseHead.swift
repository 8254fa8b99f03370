/// A response's head as bytes: status line, the handler's fields, the server's standard fields, the
/// framing and connection fields the server owns, `Date`, and the empty line. Pure: the same input always
/// gives the same bytes, so every rule here is tested without a socket.
enum ResponseHead {
    /// How the body is delimited (RFC 9112 §6).
    enum Framing: Sendable, Equatable {
        /// No body may follow (1xx, 204, 304), or the head answers a HEAD: no length field of ours.
        case none
        case length(Int)
        case chunked
    }

    /// What the `Connection` field says.
    enum Persistence: Sendable, Equatable {
        /// Nothing: HTTP/1.1's default is to keep the connection.
        case unstated
        /// `Connection: keep-alive`, which an HTTP/1.0 client needs to hear.
        case keepAlive
        case close
    }

    /// Fields the server writes itself; a handler's copy would contradict the framing.
    static let serverOwned = ["Content-Length", "Transfer-Encoding", "Connection", "Date", "X-Request-Id"]

    static func isServerOwned(_ name: String) -> Bool {
        serverOwned.contains { HTTPHeaders.equalNames($0, name) }
    }

    /// `date` is the whole `Date: ...\r\n` line.
    static func encode(
        status: Int, headers: HTTPHeaders, standardHeaders: HTTPHeaders, requestID: String, framing: Framing,
        persistence: Persistence, date: [UInt8]
    ) -> [UInt8] {
        var head = "HTTP/1.1 \(status) \(HTTPStatus.reason(status))\r\n"
        for (name, value) in headers where !isServerOwned(name) {
            head += name + ": " + value + "\r\n"
        }
        for (name, value) in standardHeaders where headers[name] == nil && !isServerOwned(name) {
            head += name + ": " + value + "\r\n"
        }
        head += "X-Request-Id: " + requestID + "\r\n"
        switch framing {
        case .none: break
        case .length(let count): head += "Content-Length: \(count)\r\n"
        case .chunked: head += "Transfer-Encoding: chunked\r\n"
        }
        switch persistence {
        case .unstated: break
        case .keepAlive: head += "Connection: keep-alive\r\n"
        case .close: head += "Connection: close\r\n"
        }
        var bytes = Array(head.utf8)
        bytes += date
        bytes += [cr, lf]
        return bytes
    }
}
