/// Checks a request head one byte at a time, as the bytes arrive, so that what cannot be HTTP/1.x is
/// refused the moment it is seen: a TLS ClientHello's first byte, a method that is not a token, a field
/// name with a space in it. The parser still splits the head once it is whole; this only decides, byte by
/// byte, whether the bytes so far can still begin a valid one. Trailer lines go through it too, so a
/// field line is judged by one set of rules wherever it appears.
struct HeadScanner: Sendable, Equatable {
    /// Where in the head the next byte falls. Each case carries the count its limit needs.
    enum Place: Sendable, Equatable {
        case method(length: Int)
        case target(length: Int)
        /// `matched` bytes of `HTTP/d.d` so far.
        case version(matched: Int)
        /// A CR was read; only LF may follow: the next field line, or the end of the head after the empty
        /// line. (Not a recursive case: an indirect one would be an allocation per line.)
        case lineFeed(endsHead: Bool)
        /// The first byte of a field line, or the CR of the empty line that ends the head.
        case fieldLineStart
        case fieldName
        case fieldValue
        /// The empty line's LF was read: the head is complete.
        case ended
    }

    private(set) var place: Place
    private let maxMethodBytes: Int
    private let maxTargetBytes: Int

    /// A scanner for a head from its request line; `fieldLinesOnly` for trailer sections.
    init(limits: ParserLimits, fieldLinesOnly: Bool = false) {
        place = fieldLinesOnly ? .fieldLineStart : .method(length: 0)
        maxMethodBytes = limits.maxMethodBytes
        maxTargetBytes = limits.maxRequestTargetBytes
    }

    @inline(__always)
    mutating func feed(_ byte: UInt8) throws(ParseError) {
        switch place {
        case .method(let length):
            if isTokenByte(byte) {
                guard length < maxMethodBytes else { throw .badRequest("malformed method") }
                place = .method(length: length + 1)
            } else if byte == sp && length > 0 {
                place = .target(length: 0)
            } else if byte == cr || byte == lf {
                throw .badRequest("malformed request line")
            } else {
                throw .badRequest("malformed method")
            }
        case .target(let length):
            if byte > 0x20 && byte < 0x7F {
                guard length < maxTargetBytes else { throw .uriTooLong }
                place = .target(length: length + 1)
            } else if byte == sp && length > 0 {
                place = .version(matched: 0)
            } else if byte == cr || byte == lf {
                throw .badRequest("malformed request line")
            } else {
                throw .badRequest("malformed request target")
            }
        case .version(let matched):
            if matched == Self.versionShape.count {
                guard byte == cr else { throw .badRequest("malformed HTTP version") }
                place = .lineFeed(endsHead: false)
            } else {
                let expected = Self.versionShape[matched]
                let fits = expected == Self.digitPlaceholder ? (48...57).contains(byte) : byte == expected
                guard fits else { throw .badRequest("malformed HTTP version") }
                place = .version(matched: matched + 1)
            }
        case .lineFeed(let endsHead):
            guard byte == lf else { throw .badRequest("bare CR in head") }
            place = endsHead ? .ended : .fieldLineStart
        case .fieldLineStart:
            if isTokenByte(byte) {
                place = .fieldName
            } else if byte == cr {
                place = .lineFeed(endsHead: true)
            } else if byte == sp || byte == htab {
                throw .badRequest("obsolete line folding")
            } else if byte == lf {
                throw .badRequest("bare LF in head")
            } else {
                throw .badRequest("malformed field name")
            }
        case .fieldName:
            if isTokenByte(byte) { return }
            if byte == colonByte {
                place = .fieldValue
            } else if byte == cr || byte == lf {
                throw .badRequest("field line without colon")
            } else {
                throw .badRequest("malformed field name")
            }
        case .fieldValue:
            if byte == cr {
                place = .lineFeed(endsHead: false)
            } else if byte == lf {
                throw .badRequest("bare LF in head")
            } else if byte != htab && (byte < 0x20 || byte == 0x7F) {
                throw .badRequest("control character in field value")
            }
        case .ended:
            throw .badRequest("bytes after the end of the head")
        }
    }

    private static let digitPlaceholder: UInt8 = 0
    /// `HTTP/` digit `.` digit; the digits are read (and a major version other than 1 answered) once the
    /// line is whole.
    private static let versionShape: [UInt8] = [72, 84, 84, 80, 47, digitPlaceholder, 46, digitPlaceholder]
}
