import Foundation
import HTTPServer

/// The upload routes' limits (`UPLOAD_*`, `INVOICE_DOCUMENT_REQUIRED`).
public struct UploadSettings: Sendable {
    public var maxFileBytes = 10 * 1024 * 1024
    public var maxRequestBytes = 25 * 1024 * 1024
    public var maxFiles = 10
    public var spoolDirectory = UploadSettings.systemTemporaryDirectory
    public var invoiceDocumentRequired = false
    /// A JSON body sent to an upload route is held to the server's ordinary limit (`MAX_BODY_BYTES`).
    public var maxJSONBytes = 1024 * 1024

    public init() {}

    public static var systemTemporaryDirectory: String {
        let tmp = ProcessInfo.processInfo.environment["TMPDIR"] ?? ""
        return tmp.isEmpty ? "/tmp" : tmp
    }

    var multipart: MultipartLimits {
        var limits = MultipartLimits()
        limits.maxFiles = maxFiles
        limits.maxFileBytes = maxFileBytes
        limits.maxParts = maxFiles + 8
        limits.spoolDirectory = spoolDirectory
        return limits
    }
}

/// The routes that take uploads: only these get `UPLOAD_MAX_REQUEST_BYTES` and spool to disk; every
/// other route keeps `MAX_BODY_BYTES`, held in memory.
enum UploadRoutes {
    static let paths = [
        "/api/contractor/invoices",
        "/api/contractor/jobs/:jobId/documents",
        TRPCRoutes.prefix + "contractor.submitInvoice",
        TRPCRoutes.prefix + "contractor.attachJobDocument",
    ]

    static func bodyRoutes(_ settings: UploadSettings) -> [BodyRoute] {
        paths.map { BodyRoute(method: "POST", path: $0, maxBytes: settings.maxRequestBytes, spoolAboveBytes: 64 * 1024) }
    }
}
