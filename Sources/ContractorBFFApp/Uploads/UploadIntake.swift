import AgentOS
import ContractorPortal
import Digest
import Foundation
import HTTPServer

/// A `multipart/form-data` upload, read and checked before anything of it reaches AgentOS: its text
/// fields, and each file hashed, typed by its content and named safely. Refusals are `PortalError`s that
/// name the file: 400 for a malformed body or a truncated file, 413 for sizes and counts, 415 for a type
/// AgentOS does not take or a file that is not what its name or declared type says.
struct UploadForm: Sendable {
    struct File: Sendable {
        /// The form field the file came in.
        var field: String
        var type: DocumentType
        var upload: UploadFile
    }

    var fields: [String: String]
    var files: [File]

    static func isForm(_ request: Request) -> Bool { request.headers.contentMediaType == "multipart/form-data" }

    static func read(_ request: Request, _ settings: UploadSettings) throws(PortalError) -> UploadForm {
        let parts: [MultipartPart]
        do {
            parts = try MultipartReader.parse(request.content, contentType: request.headers["Content-Type"] ?? "", limits: settings.multipart)
        } catch {
            switch error {
            case .malformed(let why): throw .invalid(field: "body", reason: "is not valid multipart/form-data: \(why)")
            case .tooLarge(let why): throw .tooLarge(why)
            case .notStored(let why): throw .unavailable("The upload could not be stored (\(why)); retry later")
            }
        }
        var form = UploadForm(fields: [:], files: [])
        for part in parts {
            guard let rawName = part.fileName else {
                guard form.fields[part.name] == nil else { throw .invalid(field: part.name, reason: "is sent twice") }
                form.fields[part.name] = part.text ?? ""
                continue
            }
            form.files.append(try check(part, rawName: rawName))
        }
        return form
    }

    /// One file: not empty, a type AgentOS takes by its bytes, whole, and not claiming to be another type by
    /// its declared Content-Type or its extension.
    static func check(_ part: MultipartPart, rawName: String) throws(PortalError) -> File {
        let shown = printable(rawName)
        let size = part.content.count
        guard size > 0 else { throw .invalid(field: "file", reason: "\(shown) is empty") }
        var hasher = SHA256()
        let head: [UInt8], tail: [UInt8]
        do {
            try part.content.forEachChunk { hasher.update($0) }
            head = try part.content.read(at: 0, length: DocumentType.headBytes)
            tail = try part.content.read(at: max(0, size - DocumentType.tailBytes), length: DocumentType.tailBytes)
        } catch {
            throw .unavailable("The upload could not be read back; retry later")
        }
        let declared = part.contentType.flatMap { $0 == "application/octet-stream" ? nil : $0 }
        let base = baseName(rawName)
        let byName = DocumentType.claimed(byExtension: base)
        let accepted = "PDF, JPEG, PNG, DOC, DOCX, XLS or XLSX"
        let type: DocumentType
        switch DocumentType.sniff(head: head, tail: tail, size: size) {
        case .type(let found): type = found
        case .compound:
            // A .doc and a .xls share one container: the name or the declared type says which.
            let claims = byName + [declared.flatMap(DocumentType.claimed(byMediaType:))].compactMap { $0 }
            guard let found = claims.first(where: { $0 == .doc || $0 == .xls }) else {
                throw .unsupportedType("\(shown) is an Office compound file, but neither its name nor its type says DOC or XLS")
            }
            type = found
        case .truncated(let found):
            throw .invalid(field: "file", reason: "\(shown) is a truncated \(found.map { $0.rawValue.uppercased() } ?? "Office") file")
        case .unknown:
            throw .unsupportedType("\(shown) is not a file type AgentOS takes (its content is not \(accepted))")
        }
        if let declared {
            guard let claimed = DocumentType.claimed(byMediaType: declared) else {
                throw .unsupportedType("\(shown) is declared \(declared), which AgentOS does not take (\(accepted))")
            }
            guard claimed == type else {
                throw .unsupportedType("\(shown) is declared \(declared) but its content is \(type.rawValue.uppercased())")
            }
        }
        if !byName.isEmpty && !byName.contains(type) {
            throw .unsupportedType("\(shown) is named as \(byName[0].rawValue.uppercased()) but its content is \(type.rawValue.uppercased())")
        } else if byName.isEmpty, let dot = base.lastIndex(of: ".") {
            let ext = String(base[base.index(after: dot)...])
            if !ext.isEmpty, ext.count <= 8 {
                throw .unsupportedType("\(shown) has the extension .\(ext), which is not one of \(accepted)")
            }
        }
        let content = part.content
        let upload = UploadFile(
            fileName: SafeFileName.make(rawName, type: type), mediaType: type.mediaType, size: size, sha256: hasher.hexDigest()
        ) { try content.bytes() }
        return File(field: part.name, type: type, upload: upload)
    }

    /// The last path step of a client's file name, without the leading dots that would hide it.
    static func baseName(_ raw: String) -> String {
        String(SafeFileName.baseName(raw).drop { $0 == "." || $0 == " " })
    }

    /// A client's file name as an error message may quote it: its base name, safe characters, bounded.
    static func printable(_ raw: String) -> String {
        let base = baseName(raw).isEmpty ? "(unnamed)" : SafeFileName.make(raw, type: .pdf)
        return "file \"" + (base.count > 80 ? String(base.prefix(80)) + "…" : base) + "\""
    }
}

extension Request {
    /// A JSON body on an upload route, which may have been spooled: read back whole, within the ordinary
    /// limit that every JSON body keeps.
    func jsonBytes(max: Int) throws(PortalError) -> [UInt8] {
        guard content.count <= max else { throw .tooLarge("A JSON body may be at most \(max) bytes") }
        do { return try content.bytes() } catch { throw .unavailable("The request body could not be read back; retry later") }
    }
}
