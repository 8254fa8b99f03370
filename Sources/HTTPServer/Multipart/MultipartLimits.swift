/// Every bound the multipart reader enforces, named. A request's total size is its route's `BodyRoute`
/// limit; these bound what is inside it.
public struct MultipartLimits: Sendable, Equatable {
    /// Parts of any kind (text fields and files).
    public var maxParts = 16
    /// Parts that carry a file name.
    public var maxFiles = 10
    /// One file's bytes.
    public var maxFileBytes = 10 * 1024 * 1024
    /// One text field's value.
    public var maxFieldBytes = 64 * 1024
    /// One part's header section, CRLFs included.
    public var maxPartHeaderBytes = 4 * 1024
    /// One part's header field lines.
    public var maxPartHeaderFields = 8
    /// Bytes before the first boundary and after the last (RFC 2046's preamble and epilogue: no client
    /// this server serves sends more than a line break).
    public var maxPreambleBytes = 1024
    /// Past this a part's bytes go to a spool file, not memory.
    public var spoolAboveBytes = 64 * 1024
    public var spoolDirectory = "/tmp"

    public init() {}
}

/// Why a multipart body was refused, by what the client must change: its framing (400), its size (413),
/// or nothing at all (503: the server could not keep a part).
public enum MultipartError: Error, Sendable, Equatable {
    case malformed(String)
    case tooLarge(String)
    case notStored(String)

    public var status: Int {
        switch self {
        case .malformed: 400
        case .tooLarge: 413
        case .notStored: 503
        }
    }

    public var message: String {
        switch self {
        case .malformed(let why), .tooLarge(let why), .notStored(let why): why
        }
    }
}

/// One part of a `multipart/form-data` body (RFC 7578).
public struct MultipartPart: Sendable {
    /// The `name` of its Content-Disposition.
    public var name: String
    /// The `filename`, exactly as sent (path, control characters and all: reducing it is the caller's).
    public var fileName: String?
    /// The part's media type, lower-cased, without parameters; nil when the part has no Content-Type.
    public var contentType: String?
    public var content: RequestBody

    public var isFile: Bool { fileName != nil }

    /// A text field's value as UTF-8 (nil if it is not valid UTF-8).
    public var text: String? {
        guard case .bytes(let bytes) = content else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }
}
