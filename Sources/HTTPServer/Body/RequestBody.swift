/// A request's body as the parser kept it: in memory, or (a route that spools, a body past its
/// threshold) in a spool file.
public enum RequestBody: Sendable {
    case bytes([UInt8])
    case spooled(SpoolFile)

    public var count: Int {
        switch self {
        case .bytes(let bytes): bytes.count
        case .spooled(let file): file.count
        }
    }

    var memoryBytes: [UInt8] { if case .bytes(let bytes) = self { bytes } else { [] } }
    var spoolFile: SpoolFile? { if case .spooled(let file) = self { file } else { nil } }

    /// Up to `length` bytes from `offset` (fewer only at the end), wherever the body is kept.
    public func read(at offset: Int, length: Int) throws -> [UInt8] {
        switch self {
        case .bytes(let bytes): Array(bytes[min(offset, bytes.count)..<min(bytes.count, offset + max(0, length))])
        case .spooled(let file): try file.read(at: offset, length: length)
        }
    }

    /// The whole body in memory (for a spooled one: read back).
    public func bytes() throws -> [UInt8] { try read(at: 0, length: count) }

    /// Every byte, in chunks of at most `size`, without loading a spooled body whole.
    public func forEachChunk(size: Int = 64 * 1024, _ body: (ArraySlice<UInt8>) throws -> Void) throws {
        switch self {
        case .bytes(let bytes):
            var start = 0
            while start < bytes.count {
                let end = min(bytes.count, start + size)
                try body(bytes[start..<end])
                start = end
            }
        case .spooled(let file): try file.forEachChunk(size: size, body)
        }
    }
}

/// A route whose requests may carry a larger body than `ParserLimits.maxBodyBytes` (an upload): its own
/// limit, and the size past which the body is written to a spool file rather than held in memory, so that
/// many slow uploads cost disk, not memory. Matched on the head alone, before any body byte is read.
public struct BodyRoute: Sendable, Equatable {
    public var method: String
    /// Segments as the router's patterns write them: `:name` matches any one non-empty segment.
    public var path: String
    public var maxBytes: Int
    public var spoolAboveBytes: Int

    public init(method: String, path: String, maxBytes: Int, spoolAboveBytes: Int = 64 * 1024) {
        self.method = method
        self.path = path
        self.maxBytes = maxBytes
        self.spoolAboveBytes = spoolAboveBytes
    }

    func matches(method: String, target: String) -> Bool {
        guard method == self.method else { return false }
        var path = Substring(target.prefix { $0 != "?" && $0 != "#" })
        // absolute-form: the path starts after the authority.
        if !path.hasPrefix("/") {
            path = path.drop { $0 != ":" }.dropFirst(3).drop { $0 != "/" }
        }
        let given = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        let wanted = self.path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        guard given.count == wanted.count else { return false }
        return zip(given, wanted).allSatisfy { segment, pattern in
            pattern.hasPrefix(":") ? !segment.isEmpty : segment == pattern
        }
    }
}
