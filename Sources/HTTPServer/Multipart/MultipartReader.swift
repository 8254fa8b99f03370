import Glibc

/// A strict, incremental `multipart/form-data` reader (RFC 7578 over RFC 2046's framing).
///
/// Bytes are fed in chunks of any size (a spooled body is read 64 KiB at a time), so memory is one chunk
/// plus a delimiter's length plus what a part keeps in memory before it spools. What it refuses:
/// a boundary that breaks RFC 2046's rules; a body that does not start with a delimiter (beyond a short
/// preamble); a delimiter followed by anything but `--`, padding and CRLF; bare LF, obs-fold, control
/// characters or an over-long section in a part's headers; a part without `form-data` disposition or a
/// name, or with duplicated parameters or headers; a transfer encoding other than the identity ones; a
/// missing closing delimiter; anything resembling a delimiter after the closing one (a doubled close, a
/// part after the end); and parts, files or sizes over `MultipartLimits`.
public struct MultipartReader: Sendable {
    enum State: Equatable {
        /// Before the first delimiter (the reader starts as if a CRLF preceded the body).
        case preamble(discarded: Int)
        /// Just after a delimiter: `--` closes, padding then CRLF opens a part.
        case afterDelimiter(padding: Int)
        case headers
        case content
        /// After the closing delimiter: padding, then CRLF and the epilogue, or the end.
        case closed(padding: Int)
        case epilogue(bytes: Int)
    }

    public let limits: MultipartLimits
    /// `\r\n--` + boundary.
    let delimiter: [UInt8]
    var state = State.preamble(discarded: 0)
    /// Unconsumed input. Starts with the CRLF that lets a body-initial delimiter match like any other.
    var pending: [UInt8] = [13, 10]
    var headerBytes: [UInt8] = []
    var part: PartInProgress?
    public private(set) var parts: [MultipartPart] = []
    var files = 0

    struct PartInProgress {
        var name: String
        var fileName: String?
        var contentType: String?
        var bytes: [UInt8] = []
        var spool: SpoolFile?
        var count = 0
        var limit: Int
    }

    public init(boundary: [UInt8], limits: MultipartLimits = MultipartLimits()) {
        self.limits = limits
        delimiter = [13, 10, 45, 45] + boundary
    }

    /// The boundary of a `multipart/form-data` Content-Type (RFC 2046 §5.1.1: 1 to 70 characters of
    /// `bchars`, not ending in a space; quoted when it holds characters a token may not).
    public static func boundary(contentType: String) throws(MultipartError) -> [UInt8] {
        let (media, parameters) = try HeaderParameters.parse(Array(contentType.utf8), what: "Content-Type")
        guard media == "multipart/form-data" else { throw .malformed("Content-Type must be multipart/form-data") }
        guard let boundary = parameters.first(where: { $0.name == "boundary" })?.value else {
            throw .malformed("multipart/form-data without a boundary parameter")
        }
        guard (1...70).contains(boundary.count), boundary.last != 32, boundary.allSatisfy(isBoundaryByte) else {
            throw .malformed("boundary must be 1 to 70 characters of digits, letters and '()+_,-./:=? (RFC 2046)")
        }
        return boundary
    }

    /// A whole body, read chunk by chunk.
    public static func parse(_ body: RequestBody, contentType: String, limits: MultipartLimits) throws(MultipartError) -> [MultipartPart] {
        var reader = MultipartReader(boundary: try boundary(contentType: contentType), limits: limits)
        do {
            try body.forEachChunk(size: 64 * 1024) { chunk in try reader.feed(chunk) }
        } catch let error as MultipartError {
            throw error
        } catch {
            throw .notStored("the request body could not be read back: \(error)")
        }
        return try reader.finish()
    }

    public mutating func feed(_ chunk: ArraySlice<UInt8>) throws(MultipartError) {
        pending.append(contentsOf: chunk)
        var index = 0
        defer { pending.removeFirst(index) }
        while try step(&index) {}
    }

    /// The parts, once the input has ended; a body that ended anywhere but after its closing delimiter is
    /// refused.
    public mutating func finish() throws(MultipartError) -> [MultipartPart] {
        switch state {
        case .closed, .epilogue: return parts
        case .preamble: throw .malformed("no multipart boundary found in the body")
        case .afterDelimiter, .headers, .content: throw .malformed("the body ended before its closing boundary")
        }
    }

    /// One step from `index`; false when more input is needed.
    private mutating func step(_ index: inout Int) throws(MultipartError) -> Bool {
        switch state {
        case .preamble(let discarded):
            if let found = find(delimiter, from: index) {
                guard discarded + (found - index) <= limits.maxPreambleBytes + 2 else { throw .malformed("too much before the first boundary") }
                index = found + delimiter.count
                state = .afterDelimiter(padding: 0)
                return true
            }
            let keep = min(pending.count - index, delimiter.count - 1)
            let dropped = pending.count - index - keep
            guard discarded + dropped <= limits.maxPreambleBytes + 2 else { throw .malformed("too much before the first boundary") }
            index += dropped
            state = .preamble(discarded: discarded + dropped)
            return false

        case .afterDelimiter(let padding):
            guard index < pending.count else { return false }
            switch pending[index] {
            case 32, 9:
                guard padding < 32 else { throw .malformed("too much padding after a boundary") }
                index += 1
                state = .afterDelimiter(padding: padding + 1)
                return true
            case 45 where padding == 0:
                guard pending.count - index >= 2 else { return false }
                guard pending[index + 1] == 45 else { throw .malformed("a boundary is followed by unexpected bytes") }
                guard !parts.isEmpty else { throw .malformed("the body has no parts") }
                index += 2
                state = .closed(padding: 0)
                return true
            case 13:
                guard pending.count - index >= 2 else { return false }
                guard pending[index + 1] == 10 else { throw .malformed("a boundary is followed by unexpected bytes") }
                index += 2
                guard parts.count < limits.maxParts else { throw .tooLarge("at most \(limits.maxParts) parts are accepted") }
                headerBytes = []
                state = .headers
                return true
            default:
                throw .malformed("a boundary is followed by unexpected bytes")
            }

        case .headers:
            let available = pending.count - index
            var end: Int?
            // The header section ends at the first empty line: CRLF CRLF, or a CRLF at its very start.
            if headerBytes.isEmpty && available >= 2 && pending[index] == 13 && pending[index + 1] == 10 {
                end = index
            } else if let found = find([13, 10, 13, 10], from: index) {
                end = found + 2
            }
            guard let end else {
                // A section within the limit (its last line's CRLF counted) may be here whole but for its
                // blank line's LF: one byte past the limit, and still no terminator to find.
                guard headerBytes.count + available <= limits.maxPartHeaderBytes + 1 else {
                    throw .malformed("a part's headers are over \(limits.maxPartHeaderBytes) bytes")
                }
                return false
            }
            headerBytes += pending[index..<end]
            guard headerBytes.count <= limits.maxPartHeaderBytes else { throw .malformed("a part's headers are over \(limits.maxPartHeaderBytes) bytes") }
            index = end + 2
            part = try beginPart(headerBytes)
            state = .content
            return true

        case .content:
            if let found = find(delimiter, from: index) {
                try keep(pending[index..<found])
                index = found + delimiter.count
                try endPart()
                state = .afterDelimiter(padding: 0)
                return true
            }
            // Everything but what could still be the start of a delimiter.
            let safe = max(index, pending.count - (delimiter.count - 1))
            try keep(pending[index..<safe])
            index = safe
            return false

        case .closed(let padding):
            guard index < pending.count else { return false }
            switch pending[index] {
            case 32, 9:
                guard padding < 32 else { throw .malformed("too much padding after the closing boundary") }
                index += 1
                state = .closed(padding: padding + 1)
                return true
            case 13:
                guard pending.count - index >= 2 else { return false }
                guard pending[index + 1] == 10 else { throw .malformed("the closing boundary is followed by unexpected bytes") }
                index += 2
                state = .epilogue(bytes: 0)
                return true
            default:
                throw .malformed("the closing boundary is followed by unexpected bytes")
            }

        case .epilogue(let bytes):
            // A delimiter here is a second close or a part after the end: either way not one body.
            // Only bytes that cannot start a delimiter are counted against the limit, so the same body gives
            // the same refusal however it is split.
            let boundaryLine = Array(delimiter.dropFirst(2))
            if let found = find(boundaryLine, from: index) {
                guard bytes + (found - index) <= limits.maxPreambleBytes else { throw .malformed("too much after the closing boundary") }
                throw .malformed("content after the closing boundary (a doubled closing boundary, or a part after the end)")
            }
            let available = pending.count - index
            let dropped = available - min(available, boundaryLine.count - 1)
            guard bytes + dropped <= limits.maxPreambleBytes else { throw .malformed("too much after the closing boundary") }
            index += dropped
            state = .epilogue(bytes: bytes + dropped)
            return false
        }
    }

    private mutating func beginPart(_ head: [UInt8]) throws(MultipartError) -> PartInProgress {
        var disposition: (name: String, fileName: String?)?
        var contentType: String?
        var seen: Set<String> = []
        var lines = 0
        var start = 0
        while start < head.count {
            guard let end = Self.find([13, 10], in: head, from: start) else { throw .malformed("a part's header line does not end in CRLF") }
            let line = head[start..<end]
            start = end + 2
            lines += 1
            guard lines <= limits.maxPartHeaderFields else { throw .malformed("a part has more than \(limits.maxPartHeaderFields) header lines") }
            guard let first = line.first else { throw .malformed("an empty header line inside a part's headers") }
            guard first != 32 && first != 9 else { throw .malformed("obsolete line folding in a part's headers") }
            guard let colon = line.firstIndex(of: 58) else { throw .malformed("a part's header line has no colon") }
            let nameBytes = line[line.startIndex..<colon]
            guard !nameBytes.isEmpty, nameBytes.allSatisfy(isTokenByte) else { throw .malformed("a part's header name is malformed") }
            let value = line[(colon + 1)...].drop { $0 == 32 || $0 == 9 }
            guard value.allSatisfy({ $0 == 9 || $0 >= 32 && $0 != 127 }) else {
                throw .malformed("a control character in a part's header value")
            }
            let name = String(decoding: nameBytes, as: UTF8.self).lowercased()
            guard seen.insert(name).inserted || !["content-disposition", "content-type", "content-transfer-encoding"].contains(name) else {
                throw .malformed("a part repeats its \(name) header")
            }
            switch name {
            case "content-disposition":
                let (kind, parameters) = try HeaderParameters.parse(Array(value), what: "Content-Disposition")
                guard kind == "form-data" else { throw .malformed("a part's Content-Disposition must be form-data") }
                guard let field = parameters.first(where: { $0.name == "name" })?.value, !field.isEmpty else {
                    throw .malformed("a part's Content-Disposition has no name")
                }
                guard let fieldName = String(validating: field, as: UTF8.self) else { throw .malformed("a part's name is not UTF-8") }
                var fileName: String?
                if let raw = parameters.first(where: { $0.name == "filename" })?.value {
                    guard let text = String(validating: raw, as: UTF8.self) else { throw .malformed("the file name of part \(fieldName) is not UTF-8") }
                    fileName = text
                } else if parameters.contains(where: { $0.name == "filename*" }) {
                    throw .malformed("filename* is not used in multipart/form-data (RFC 7578 §4.2); send filename")
                }
                disposition = (fieldName, fileName)
            case "content-type":
                contentType = try HeaderParameters.parse(Array(value), what: "a part's Content-Type").value
                guard let type = contentType, type.contains("/") else { throw .malformed("a part's Content-Type is malformed") }
            case "content-transfer-encoding":
                let coding = String(decoding: value, as: UTF8.self).trimmingOWS().lowercased()
                guard ["7bit", "8bit", "binary"].contains(coding) else {
                    throw .malformed("Content-Transfer-Encoding \(coding) is not accepted (RFC 7578 §4.7)")
                }
            default:
                break
            }
        }
        guard let disposition else { throw .malformed("a part has no Content-Disposition") }
        if disposition.fileName != nil {
            files += 1
            guard files <= limits.maxFiles else { throw .tooLarge("at most \(limits.maxFiles) files are accepted") }
        }
        return PartInProgress(
            name: disposition.name, fileName: disposition.fileName, contentType: contentType,
            limit: disposition.fileName == nil ? limits.maxFieldBytes : limits.maxFileBytes)
    }

    private mutating func keep(_ bytes: ArraySlice<UInt8>) throws(MultipartError) {
        guard !bytes.isEmpty, var current = part else { return }
        part = nil  // not shared while it is appended to
        defer { part = current }
        current.count += bytes.count
        guard current.count <= current.limit else {
            if let fileName = current.fileName { throw .tooLarge("file \(fileName) is over \(current.limit) bytes") }
            throw .tooLarge("field \(current.name) is over \(current.limit) bytes")
        }
        do {
            if let spool = current.spool {
                try spool.append(bytes)
            } else if current.count > limits.spoolAboveBytes {
                let spool = try SpoolFile(directory: limits.spoolDirectory)
                try spool.append(current.bytes)
                try spool.append(bytes)
                current.spool = spool
                current.bytes = []
            } else {
                current.bytes.append(contentsOf: bytes)
            }
        } catch {
            throw .notStored(error.message)
        }
    }

    private mutating func endPart() throws(MultipartError) {
        guard let done = part else { return }
        part = nil
        if done.fileName == nil, done.spool == nil, String(validating: done.bytes, as: UTF8.self) == nil {
            throw .malformed("field \(done.name) is not UTF-8 text")
        }
        parts.append(MultipartPart(
            name: done.name, fileName: done.fileName, contentType: done.contentType,
            content: done.spool.map(RequestBody.spooled) ?? .bytes(done.bytes)))
    }

    private func find(_ needle: [UInt8], from start: Int) -> Int? { Self.find(needle, in: pending, from: start) }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard let first = needle.first, haystack.count - start >= needle.count else { return nil }
        return haystack.withUnsafeBufferPointer { hay -> Int? in
            needle.withUnsafeBufferPointer { pin -> Int? in
                guard let base = hay.baseAddress else { return nil }
                var position = start
                let last = hay.count - pin.count
                while position <= last {
                    // memchr to the next candidate: a part's bytes are scanned at memory speed, not a byte a step.
                    guard let hit = memchr(base + position, Int32(first), last - position + 1) else { return nil }
                    position = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                    if memcmp(base + position, pin.baseAddress!, pin.count) == 0 { return position }
                    position += 1
                }
                return nil
            }
        }
    }
}

/// bchars of RFC 2046 §5.1.1.
@inline(__always) func isBoundaryByte(_ byte: UInt8) -> Bool {
    switch byte {
    case 48...57, 65...90, 97...122: true
    case 39, 40, 41, 43, 95, 44, 45, 46, 47, 58, 61, 63, 32: true
    default: false
    }
}
