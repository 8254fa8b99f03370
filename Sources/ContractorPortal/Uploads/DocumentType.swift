/// The file types AgentOS takes on its upload calls ("PDF, JPG, PNG, DOC, DOCX, XLS, ..."), each told by
/// its content, never by its name or declared type alone: a file is the type its bytes say, and it must
/// also be whole (a PDF without its end-of-file marker, a PNG without IEND, a JPEG without EOI, an Office
/// file without its directory is a truncated upload).
public enum DocumentType: String, Sendable, CaseIterable {
    case pdf, jpeg, png, doc, xls, docx, xlsx

    public var mediaType: String {
        switch self {
        case .pdf: "application/pdf"
        case .jpeg: "image/jpeg"
        case .png: "image/png"
        case .doc: "application/msword"
        case .xls: "application/vnd.ms-excel"
        case .docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        case .xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        }
    }

    public var extensions: [String] {
        switch self {
        case .pdf: ["pdf"]
        case .jpeg: ["jpg", "jpeg"]
        case .png: ["png"]
        case .doc: ["doc"]
        case .xls: ["xls"]
        case .docx: ["docx"]
        case .xlsx: ["xlsx"]
        }
    }

    /// Bytes the sniffer needs from each end of a file.
    public static let headBytes = 16
    public static let tailBytes = 65_557  // a ZIP's end record and the longest comment it may carry

    /// What the content is.
    public enum Sniffed: Sendable, Equatable {
        case type(DocumentType)
        /// OLE2 compound file: a .doc or a .xls (the container alone cannot tell them apart).
        case compound
        /// A known type whose end is missing.
        case truncated(DocumentType?)
        case unknown
    }

    /// From the first `headBytes` and the last `tailBytes` (or all of a smaller file), and its size.
    public static func sniff(head: [UInt8], tail: [UInt8], size: Int) -> Sniffed {
        func starts(_ magic: [UInt8]) -> Bool { head.count >= magic.count && Array(head.prefix(magic.count)) == magic }
        if starts(Array("%PDF-".utf8)) {
            // The last %%EOF must sit in the last KiB (PDF 1.7 §7.5.5 asks for it at the very end; writers add a line break or some padding).
            return contains(Array("%%EOF".utf8), in: Array(tail.suffix(1024))) ? .type(.pdf) : .truncated(.pdf)
        }
        if starts([0xFF, 0xD8, 0xFF]) {
            let end = Array(tail.suffix(64))
            return contains([0xFF, 0xD9], in: end) ? .type(.jpeg) : .truncated(.jpeg)
        }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            let iend: [UInt8] = [0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82]
            return Array(tail.suffix(12)) == iend ? .type(.png) : .truncated(.png)
        }
        if starts([0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
            // A compound file is whole sectors (512 bytes in version 3, 4096 in 4) after its 512-byte header.
            return size >= 1536 && size % 512 == 0 ? .compound : .truncated(nil)
        }
        if starts([0x50, 0x4B, 0x03, 0x04]) {
            guard let end = lastIndex(of: [0x50, 0x4B, 0x05, 0x06], in: tail), tail.count - end >= 22 else { return .truncated(nil) }
            // The central directory (just before its end record) names the parts: Word's or Excel's.
            let directory = tail[..<end]
            if contains(Array("word/".utf8), in: Array(directory)) { return .type(.docx) }
            if contains(Array("xl/".utf8), in: Array(directory)) { return .type(.xlsx) }
            return .unknown
        }
        return .unknown
    }

    /// The type a file name's extension claims, if it is one of these.
    public static func claimed(byExtension fileName: String) -> [DocumentType] {
        guard let dot = fileName.lastIndex(of: "."), dot != fileName.startIndex else { return [] }
        let ext = fileName[fileName.index(after: dot)...].lowercased()
        return allCases.filter { $0.extensions.contains(ext) }
    }

    public static func claimed(byMediaType type: String) -> DocumentType? {
        switch type {
        case "image/jpg", "image/pjpeg": .jpeg
        default: allCases.first { $0.mediaType == type }
        }
    }

    static func contains(_ needle: [UInt8], in haystack: [UInt8]) -> Bool { lastIndex(of: needle, in: haystack) != nil }

    static func lastIndex(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        var position = haystack.count - needle.count
        while position >= 0 {
            if haystack[position] == needle[0] && Array(haystack[position..<position + needle.count]) == needle { return position }
            position -= 1
        }
        return nil
    }
}

/// A client's file name reduced to something safe to pass on and show: the base name only (no path of
/// either slash), no control or bidirectional-override characters, no leading dots or spaces, at most
/// `maxBytes` of UTF-8 with its extension kept; an empty result becomes `upload` plus the type's extension.
public enum SafeFileName {
    public static let maxBytes = 128

    /// The last path step of a client's name (after the last slash of either kind).
    public static func baseName(_ raw: String) -> Substring {
        guard let slash = raw.lastIndex(where: { $0 == "/" || $0 == "\\" }) else { return raw[...] }
        return raw[raw.index(after: slash)...]
    }

    public static func make(_ raw: String, type: DocumentType) -> String {
        var cleaned = String(String.UnicodeScalarView(baseName(raw).unicodeScalars.filter { scalar in
            switch scalar.value {
            case 0x00...0x1F, 0x7F...0x9F: false  // C0 and C1 controls, DEL
            case 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: false  // bidi marks and overrides
            default: true
            }
        }))
        cleaned = String(cleaned.drop { $0 == "." || $0 == " " })
        while cleaned.hasSuffix(" ") || cleaned.hasSuffix(".") { cleaned.removeLast() }
        if cleaned.isEmpty { cleaned = "upload." + type.extensions[0] }
        guard cleaned.utf8.count > maxBytes else { return cleaned }
        // Shortened in the stem, keeping the extension, at a character boundary.
        let ext = cleaned.lastIndex(of: ".").map { String(cleaned[$0...]) } ?? ""
        let keepExtension = ext.utf8.count <= 16 ? ext : ""
        var stem = String(cleaned.dropLast(keepExtension.count))
        while stem.utf8.count + keepExtension.utf8.count > maxBytes { stem.removeLast() }
        return stem + keepExtension
    }
}
