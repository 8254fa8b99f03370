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

    /// The server's standard fields (`ServerConfiguration.standardHeaders`), each encoded once when the
    /// server starts rather than on every response; a handler's field of the same name replaces one.
    struct StandardFields: Sendable {
        let fields: [(name: String, line: [UInt8])]
        let byteCount: Int

        init(_ headers: HTTPHeaders) {
            fields = headers.fields.filter { !ResponseHead.isServerOwned($0.name) }.map { field in
                var line: [UInt8] = []
                ResponseHead.field(field.name, field.value, into: &line)
                return (field.name, line)
            }
            byteCount = fields.reduce(0) { $0 + $1.line.count }
        }
    }

    /// `date` is the whole `Date: ...\r\n` line. Written into one buffer sized up front: on every
    /// response, string concatenation and regrowth were a visible share of a small answer's cost.
    static func encode(
        status: Int, headers: HTTPHeaders, standard: StandardFields, requestID: String, framing: Framing,
        persistence: Persistence, date: [UInt8]
    ) -> [UInt8] {
        var bytes: [UInt8] = []
        // Status line, the fixed fields (X-Request-Id, length or coding, Connection) and the last CRLF come
        // well inside 160 bytes.
        bytes.reserveCapacity(160 + requestID.utf8.count + date.count + standard.byteCount
            + headers.fields.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 })
        bytes += statusLinePrefix
        bytes += String(status).utf8
        bytes.append(sp)
        bytes += HTTPStatus.reason(status).utf8
        bytes += crlf
        for (name, value) in headers where !isServerOwned(name) {
            field(name, value, into: &bytes)
        }
        for (name, line) in standard.fields where headers[name] == nil {
            bytes += line
        }
        field("X-Request-Id", requestID, into: &bytes)
        switch framing {
        case .none: break
        case .length(let count): field("Content-Length", String(count), into: &bytes)
        case .chunked: field("Transfer-Encoding", "chunked", into: &bytes)
        }
        switch persistence {
        case .unstated: break
        case .keepAlive: field("Connection", "keep-alive", into: &bytes)
        case .close: field("Connection", "close", into: &bytes)
        }
        bytes += date
        bytes += crlf
        return bytes
    }

    private static let statusLinePrefix = Array("HTTP/1.1 ".utf8)
    private static let crlf: [UInt8] = [cr, lf]

    private static func field(_ name: String, _ value: String, into bytes: inout [UInt8]) {
        bytes += name.utf8
        bytes.append(colonByte)
        bytes.append(sp)
        bytes += value.utf8
        bytes += crlf
    }
}
