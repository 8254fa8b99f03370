/// The head of a request, checked against RFC 9112's framing rules.
public struct RequestHead: Sendable {
    public var method: String
    public var target: String
    public var version: HTTPVersion
    public var headers: HTTPHeaders
    /// False when the client asked to close (or spoke HTTP/1.0 without keep-alive).
    public var keepAlive: Bool
    /// An HTTP/1.1 `Expect: 100-continue` (ignored for HTTP/1.0, RFC 9110 §10.1.1).
    public var expectsContinue: Bool
    public var framing: BodyFraming
}

public enum BodyFraming: Equatable, Sendable {
    case none
    case length(Int)
    case chunked
}

/// An incremental HTTP/1.1 request parser over a byte buffer it does not own.
///
/// The caller hands it the buffer and the index of the first unconsumed byte; it advances the index past
/// what it consumed and returns an event once it has one. It keeps only offsets between calls, so a head
/// that arrives a byte at a time is scanned once, not once per byte. Everything it refuses is a
/// `ParseError`, after which the connection must close.
public struct RequestParser: Sendable {
    public enum Event: Sendable {
        /// A head whose body is still to come: the caller may now send `100 Continue`.
        case head(RequestHead)
        /// A complete request.
        case request(RequestHead, RequestBody)
    }

    enum State: Equatable {
        case head
        case fixedBody(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers(bytes: Int, fields: Int)
    }

    public let limits: ParserLimits
    var state: State = .head
    // Head scanning, as offsets from the head's first byte.
    var scanned = 0
    var lineStart = 0
    var requestLineEnd: Int?
    var fieldLines = 0
    var leadingEmptyLines = 0
    /// Judges each head byte as it arrives (see `HeadScanner`).
    var scanner: HeadScanner
    var currentHead: RequestHead?
    /// The body so far: in memory, or past the route's spool threshold in `spool` (then `body` is empty).
    var body: [UInt8] = []
    var spool: SpoolFile?
    var bodyCount = 0
    /// The current request's route's limits (`ParserLimits.bodyPolicy`).
    var bodyLimit = 0
    var spoolAbove: Int?
    /// The target of the request being read, as far as it is known (at most `targetSeenBytes`), kept so
    /// that a refusal of this request can be answered in the shape of the API it was for.
    public private(set) var targetSeen: String?
    static let targetSeenBytes = 512

    public init(limits: ParserLimits = ParserLimits()) {
        self.limits = limits
        scanner = HeadScanner(limits: limits)
    }

    /// True between requests: nothing of a next request has been read yet.
    public var isBetweenRequests: Bool { state == .head && scanned == 0 }

    public mutating func next(_ buffer: [UInt8], from index: inout Int) throws(ParseError) -> Event? {
        while true {
            switch state {
            case .head:
                return try parseHead(buffer, from: &index)
            case .fixedBody(let remaining):
                let take = min(remaining, buffer.count - index)
                try keep(buffer[index..<index + take])
                index += take
                if take == remaining { return finishRequest() }
                state = .fixedBody(remaining: remaining - take)
                return nil
            case .chunkSize:
                guard let size = try readChunkSize(buffer, from: &index) else { return nil }
                state = size == 0 ? .trailers(bytes: 0, fields: 0) : .chunkData(remaining: size)
            case .chunkData(let remaining):
                let take = min(remaining, buffer.count - index)
                try keep(buffer[index..<index + take])
                index += take
                guard take == remaining else {
                    state = .chunkData(remaining: remaining - take)
                    return nil
                }
                state = .chunkDataEnd
            case .chunkDataEnd:
                guard buffer.count - index >= 2 else { return nil }
                guard buffer[index] == cr, buffer[index + 1] == lf else {
                    throw .badRequest("chunk data not followed by CRLF")
                }
                index += 2
                state = .chunkSize
            case .trailers(let bytes, let fields):
                guard let (line, next) = try readLine(buffer, from: index, limit: limits.maxHeaderBytes - bytes) else {
                    return nil
                }
                index = next
                if line.isEmpty { return finishRequest() }
                // Trailer fields are read for framing only and then dropped; they must still be well formed.
                var trailer = HeadScanner(limits: limits, fieldLinesOnly: true)
                for byte in buffer[line] { try trailer.feed(byte) }
                try trailer.feed(cr)
                guard fields + 1 <= limits.maxHeaderFields else { throw .headerFieldsTooLarge("too many trailer fields") }
                state = .trailers(bytes: bytes + line.count + 2, fields: fields + 1)
            }
        }
    }

    private mutating func finishRequest() -> Event? {
        guard let head = currentHead else { return nil }
        let event = Event.request(head, spool.map(RequestBody.spooled) ?? .bytes(body))
        currentHead = nil
        body = []
        spool = nil
        bodyCount = 0
        state = .head
        return event
    }

    /// Body bytes, in memory until the route's spool threshold, then on disk (what was in memory first).
    private mutating func keep(_ bytes: ArraySlice<UInt8>) throws(ParseError) {
        guard !bytes.isEmpty else { return }
        bodyCount += bytes.count
        do {
            if let spool {
                try spool.append(bytes)
            } else if let spoolAbove, bodyCount > spoolAbove {
                let file = try SpoolFile(directory: limits.spoolDirectory)
                try file.append(body)
                try file.append(bytes)
                spool = file
                body = []
            } else {
                body.append(contentsOf: bytes)
            }
        } catch {
            throw .bodyNotStored(error.message)
        }
    }

    // MARK: head

    private mutating func parseHead(_ buffer: [UInt8], from index: inout Int) throws(ParseError) -> Event? {
        if scanned == 0 { targetSeen = nil }
        // RFC 9112 §2.2: ignore empty lines before the request line (a few: a stream of them is an attack).
        while scanned == 0, index < buffer.count, buffer[index] == cr || buffer[index] == lf {
            guard buffer.count - index >= 2 else { return nil }
            guard buffer[index] == cr && buffer[index + 1] == lf else { throw .badRequest("bare LF before request line") }
            leadingEmptyLines += 1
            guard leadingEmptyLines <= limits.maxLeadingEmptyLines else { throw .badRequest("too many empty lines") }
            index += 2
        }
        let start = index
        var position = start + scanned
        while position < buffer.count {
            let byte = buffer[position]
            position += 1
            do {
                try scanner.feed(byte)
            } catch {
                // What of the target was read, so the refusal is answered in the shape of its API.
                if requestLineEnd == nil { targetSeen = Self.targetPrefix(buffer[start..<position]) }
                throw error
            }
            if byte == lf {
                let lineEnd = position - 1
                let lineLength = lineEnd - 1 - (start + lineStart)
                if requestLineEnd == nil {
                    requestLineEnd = lineEnd - 1 - start
                    targetSeen = Self.targetPrefix(buffer[start..<(lineEnd - 1)])
                } else if lineLength == 0 {
                    let head = try Self.head(buffer, start: start, requestLineEnd: requestLineEnd ?? 0, end: lineEnd - 1, limits: limits)
                    index = position
                    resetHeadScan()
                    return try begin(head)
                } else {
                    fieldLines += 1
                    guard fieldLines <= limits.maxHeaderFields else {
                        throw .headerFieldsTooLarge("more than \(limits.maxHeaderFields) fields")
                    }
                }
                lineStart = position - start
            }
            // The request line's parts have their own limits, which the scanner applies.
            if let requestLineEnd {
                guard position - start - (requestLineEnd + 2) <= limits.maxHeaderBytes else {
                    throw .headerFieldsTooLarge("header section over \(limits.maxHeaderBytes) bytes")
                }
            }
        }
        scanned = position - start
        return nil
    }

    /// The bytes between the request line's first space and the next space (or the end of what was read),
    /// bounded; nil when there is no space yet.
    static func targetPrefix(_ line: ArraySlice<UInt8>) -> String? {
        guard let space = line.firstIndex(of: sp) else { return nil }
        let rest = line[(space + 1)...]
        let end = rest.firstIndex(of: sp) ?? rest.endIndex
        return String(decoding: rest[..<min(end, rest.startIndex + targetSeenBytes)], as: UTF8.self)
    }

    private mutating func resetHeadScan() {
        scanned = 0
        lineStart = 0
        requestLineEnd = nil
        fieldLines = 0
        leadingEmptyLines = 0
        scanner = HeadScanner(limits: limits)
    }

    private mutating func begin(_ head: RequestHead) throws(ParseError) -> Event? {
        // Only a request with a body needs its route's policy: most requests (GETs) skip the matching.
        if head.framing != .none && head.framing != .length(0) {
            (bodyLimit, spoolAbove) = limits.bodyPolicy(method: head.method, target: head.target)
        }
        // Refused on its word, before any byte of it is read (and before a 100 Continue invites it).
        if case .length(let length) = head.framing, length > bodyLimit { throw .contentTooLarge(limit: bodyLimit) }
        currentHead = head
        body = []
        spool = nil
        bodyCount = 0
        switch head.framing {
        case .none, .length(0):
            return finishRequest()
        case .length(let length):
            // Grown as bytes arrive: a Content-Length is a claim, and reserving it up front lets a client
            // that sends a few bytes hold a megabyte of memory per connection.
            body.reserveCapacity(min(length, 16 * 1024))
            state = .fixedBody(remaining: length)
        case .chunked:
            state = .chunkSize
        }
        return .head(head)
    }

    /// Splits a head the scanner passed byte by byte: the request line has exactly two single spaces,
    /// every field line a colon.
    static func head(_ buffer: [UInt8], start: Int, requestLineEnd: Int, end: Int, limits: ParserLimits) throws(ParseError) -> RequestHead {
        let line = start..<(start + requestLineEnd)
        guard let firstSpace = buffer[line].firstIndex(of: sp),
              let secondSpace = buffer[(firstSpace + 1)..<line.upperBound].firstIndex(of: sp) else {
            throw .badRequest("malformed request line")
        }
        let method = start..<firstSpace
        let target = (firstSpace + 1)..<secondSpace
        try checkForm(buffer[target], method: buffer[method])
        let version = try Self.version(buffer[(secondSpace + 1)..<line.upperBound])

        var headers = HTTPHeaders()
        var lineStart = line.upperBound + 2
        while lineStart < end {
            var lineEnd = lineStart
            while !(buffer[lineEnd] == cr && buffer[lineEnd + 1] == lf) { lineEnd += 1 }
            let (name, value) = field(buffer, lineStart..<lineEnd)
            headers.add(String(decoding: buffer[name], as: UTF8.self), String(decoding: buffer[value], as: UTF8.self))
            lineStart = lineEnd + 2
        }
        return try semantics(
            method: String(decoding: buffer[method], as: UTF8.self),
            target: String(decoding: buffer[target], as: UTF8.self), version: version, headers: headers, limits: limits)
    }

    /// origin-form, absolute-form for http(s), or `*` for OPTIONS (RFC 9112 §3.2); authority-form is
    /// CONNECT's, a tunnel this server does not offer.
    private static func checkForm(_ target: ArraySlice<UInt8>, method: ArraySlice<UInt8>) throws(ParseError) {
        if target.first == 47 { return }
        if target.elementsEqual([42]) {
            guard method.elementsEqual(Array("OPTIONS".utf8)) else { throw .badRequest("* is only for OPTIONS") }
            return
        }
        let lowered = target.prefix(8).map(asciiLower)
        guard lowered.starts(with: Array("http://".utf8)) || lowered.starts(with: Array("https://".utf8)) else {
            throw .badRequest("malformed request target")
        }
    }

    private static func version(_ bytes: ArraySlice<UInt8>) throws(ParseError) -> HTTPVersion {
        // Read in place (a copy of eight bytes was an allocation per request).
        let at = bytes.startIndex
        guard bytes.count == 8, bytes[at] == 72, bytes[at + 1] == 84, bytes[at + 2] == 84, bytes[at + 3] == 80,
              bytes[at + 4] == 47, bytes[at + 6] == 46, (48...57).contains(bytes[at + 5]), (48...57).contains(bytes[at + 7]) else {
            throw .badRequest("malformed HTTP version")
        }
        let major = Int(bytes[at + 5] - 48), minor = Int(bytes[at + 7] - 48)
        // A higher minor version of 1.x is read as the highest we speak (RFC 9110 §2.5).
        guard major == 1 else { throw .versionNotSupported }
        return minor == 0 ? .http10 : .http11
    }

    /// One field line the scanner passed (a token name, a colon, a value without control characters):
    /// its name and its value with the optional whitespace around it trimmed.
    static func field(_ buffer: [UInt8], _ line: Range<Int>) -> (Range<Int>, Range<Int>) {
        let colon = buffer[line].firstIndex(of: colonByte) ?? line.upperBound
        var valueStart = min(colon + 1, line.upperBound), valueEnd = line.upperBound
        while valueStart < valueEnd && (buffer[valueStart] == sp || buffer[valueStart] == htab) { valueStart += 1 }
        while valueEnd > valueStart && (buffer[valueEnd - 1] == sp || buffer[valueEnd - 1] == htab) { valueEnd -= 1 }
        return (line.lowerBound..<colon, valueStart..<valueEnd)
    }

    /// The framing rules of RFC 9112 §6 and the Host rule of §3.2, each answered as the issue asks.
    private static func semantics(
        method: String, target: String, version: HTTPVersion, headers: HTTPHeaders, limits: ParserLimits
    ) throws(ParseError) -> RequestHead {
        var host: String?
        for field in headers.fields where HTTPHeaders.equalNames(field.name, "Host") {
            guard host == nil else { throw .badRequest("more than one Host") }
            host = field.value
        }
        if version == .http11 && host == nil { throw .badRequest("missing Host") }
        if let host, !host.utf8.allSatisfy(isHostByte) { throw .badRequest("malformed Host") }

        var framing = BodyFraming.none
        let transferCodings = try listElements(headers.values("Transfer-Encoding"), field: "Transfer-Encoding")
        let lengths = try listElements(headers.values("Content-Length"), field: "Content-Length")
        if !transferCodings.isEmpty {
            guard lengths.isEmpty else { throw .badRequest("both Transfer-Encoding and Content-Length") }
            guard version == .http11 else { throw .badRequest("Transfer-Encoding in HTTP/1.0") }
            let codings = transferCodings.map { $0.lowercased() }
            guard codings.last == "chunked" else { throw .badRequest("last transfer coding is not chunked") }
            if codings.dropLast().contains("chunked") { throw .badRequest("chunked applied twice") }
            if let other = codings.dropLast().first { throw .notImplemented("transfer coding \(other)") }
            framing = .chunked
        } else if let first = lengths.first {
            guard lengths.allSatisfy({ $0 == first }) else { throw .badRequest("conflicting Content-Length") }
            guard first.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { throw .badRequest("malformed Content-Length") }
            // All digits: a number too large for Int is simply too large (the route's limit is checked
            // once the head is known whole).
            guard let length = Int(first) else { throw .contentTooLarge(limit: limits.largestBody) }
            framing = .length(length)
        }

        var keepAlive = version == .http11
        for token in headers.values("Connection").flatMap({ $0.split(separator: ",") }) {
            switch token.trimmingOWS().lowercased() {
            case "close": keepAlive = false
            case "keep-alive": if version == .http10 { keepAlive = true }
            default: break
            }
        }

        var expectsContinue = false
        if let expect = headers["Expect"] {
            guard expect.lowercased() == "100-continue" else { throw .expectationFailed }
            expectsContinue = version == .http11 && framing != .none && framing != .length(0)
        }
        return RequestHead(
            method: method, target: target, version: version, headers: headers, keepAlive: keepAlive,
            expectsContinue: expectsContinue, framing: framing)
    }

    /// Comma-separated list elements across every line of a field; an empty element is refused, since a
    /// framing field with holes in it is exactly what smuggling attempts look like.
    private static func listElements(_ values: [String], field: String) throws(ParseError) -> [String] {
        var elements: [String] = []
        for value in values {
            for element in value.split(separator: ",", omittingEmptySubsequences: false) {
                let trimmed = element.trimmingOWS()
                guard !trimmed.isEmpty else { throw .badRequest("empty element in \(field)") }
                elements.append(String(trimmed))
            }
        }
        return elements
    }

    // MARK: chunked

    private mutating func readChunkSize(_ buffer: [UInt8], from index: inout Int) throws(ParseError) -> Int? {
        guard let (line, next) = try readLine(buffer, from: index, limit: limits.maxChunkLineBytes) else { return nil }
        var size = 0, position = line.lowerBound
        while position < line.upperBound, let digit = hexValue(buffer[position]) {
            guard size <= (Int.max - 15) >> 4 else { throw .badRequest("chunk size overflows") }
            size = size << 4 | Int(digit)
            position += 1
        }
        guard position > line.lowerBound else { throw .badRequest("chunk size is not hex") }
        // What may follow the size: optional whitespace, then `;` extensions, which are ignored.
        var rest = buffer[position..<line.upperBound].drop { $0 == sp || $0 == htab }
        if let first = rest.first {
            guard first == semicolon else { throw .badRequest("chunk size is not hex") }
            rest = rest.dropFirst()
            guard rest.allSatisfy({ $0 == htab || ($0 >= 0x20 && $0 != 0x7F) }) else {
                throw .badRequest("control character in chunk extension")
            }
        }
        // Refused as soon as the chunk that would pass the limit is announced, before its bytes are read.
        guard bodyCount + size <= bodyLimit else { throw .contentTooLarge(limit: bodyLimit) }
        index = next
        return size
    }

    /// The next CRLF-terminated line as a range without its CRLF, and the index after it; nil if incomplete.
    private func readLine(_ buffer: [UInt8], from index: Int, limit: Int) throws(ParseError) -> (Range<Int>, Int)? {
        var position = index
        while position < buffer.count {
            if buffer[position] == lf {
                guard position > index, buffer[position - 1] == cr else { throw .badRequest("bare LF") }
                return (index..<(position - 1), position + 1)
            }
            position += 1
            if position - index > limit { throw .badRequest("line too long") }
        }
        return nil
    }
}

let cr: UInt8 = 13, lf: UInt8 = 10, sp: UInt8 = 32, htab: UInt8 = 9, colonByte: UInt8 = 58, semicolon: UInt8 = 59

/// tchar of RFC 9110 §5.6.2.
@inline(__always) func isTokenByte(_ byte: UInt8) -> Bool {
    switch byte {
    case 48...57, 65...90, 97...122: true
    case 33, 35, 36, 37, 38, 39, 42, 43, 45, 46, 94, 95, 96, 124, 126: true
    default: false
    }
}

/// Bytes of uri-host and port (RFC 3986): unreserved, sub-delims, `%`, `:` and the IP-literal brackets.
@inline(__always) func isHostByte(_ byte: UInt8) -> Bool {
    switch byte {
    case 48...57, 65...90, 97...122: true
    case 45, 46, 95, 126, 33, 36, 38, 39, 40, 41, 42, 43, 44, 59, 61, 37, 58, 91, 93: true
    default: false
    }
}

extension StringProtocol {
    /// Without leading and trailing SP and HTAB (RFC 9110's OWS).
    func trimmingOWS() -> SubSequence {
        var slice = self[...]
        while let first = slice.first, first == " " || first == "\t" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice = slice.dropLast() }
        return slice
    }
}
