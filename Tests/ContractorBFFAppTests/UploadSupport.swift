import Digest
import Foundation
import TestSupport

/// A `multipart/form-data` body written by hand, as a browser or tRPC's client sends one, so the tests do
/// not share the product's own encoder.
struct TestForm {
    static let boundary = "----TestFormBoundary7MA4YWxkTrZu0gW"
    private var bytes: [UInt8] = []

    mutating func field(_ name: String, _ value: String) {
        bytes += Array("--\(Self.boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8)
    }

    mutating func file(_ name: String = "file", _ fileName: String, type: String?, _ content: [UInt8]) {
        var head = "--\(Self.boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"; filename=\"\(fileName)\"\r\n"
        if let type { head += "Content-Type: \(type)\r\n" }
        bytes += Array((head + "\r\n").utf8) + content + [13, 10]
    }

    var body: [UInt8] { bytes + Array("--\(Self.boundary)--\r\n".utf8) }
    static var contentType: String { "multipart/form-data; boundary=\(boundary)" }
}

/// Files whose bytes are what their type says (or, for the refusals, not).
enum Samples {
    /// Deterministic filler that never holds a CR, so it cannot hold a multipart delimiter.
    static func filler(_ count: Int, seed: UInt32) -> [UInt8] {
        var state = seed &* 2_654_435_761 | 1
        return (0..<max(0, count)).map { _ in
            state ^= state << 13
            state ^= state >> 17
            state ^= state << 5
            let byte = UInt8(truncatingIfNeeded: state)
            return byte == 13 ? 14 : byte
        }
    }

    static func pdf(_ size: Int, seed: UInt32 = 1) -> [UInt8] {
        let head = Array("%PDF-1.7\n".utf8), tail = Array("\n%%EOF\n".utf8)
        return head + filler(size - head.count - tail.count, seed: seed) + tail
    }

    static func jpeg(_ size: Int, seed: UInt32 = 2) -> [UInt8] {
        [0xFF, 0xD8, 0xFF, 0xE0] + filler(size - 6, seed: seed) + [0xFF, 0xD9]
    }

    static func png(_ size: Int, seed: UInt32 = 3) -> [UInt8] {
        let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        let iend: [UInt8] = [0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82]
        return signature + filler(size - signature.count - iend.count, seed: seed) + iend
    }

    /// An ELF executable's start: what a renamed program looks like.
    static func executable(_ size: Int) -> [UInt8] { [0x7F, 0x45, 0x4C, 0x46, 0x02, 0x01, 0x01, 0x00] + filler(size - 8, seed: 9) }

    static func sha256(_ bytes: [UInt8]) -> String { SHA256.hex(of: bytes) }
}

extension Portal {
    /// A request with a binary body on its own connection (the body may be megabytes).
    func upload(
        _ target: String, _ body: [UInt8], contentType: String = TestForm.contentType, token: String? = Portal.token(),
        headers: [String: String] = [:]
    ) async -> Reply {
        var head = "POST \(target) HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n"
        if let token { head += "Authorization: Bearer \(token)\r\n" }
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { head += "\(name): \(value)\r\n" }
        let wire = Array((head + "\r\n").utf8) + body
        let port = port
        return await offPool {
            guard let connection = RawConnection(port: port) else { return Reply(raw: nil) }
            _ = connection.send(wire)
            return Reply(raw: connection.readResponse(timeout: 15))
        }
    }

    func form(_ target: String, _ build: (inout TestForm) -> Void, token: String? = Portal.token(), headers: [String: String] = [:]) async -> Reply {
        var form = TestForm()
        build(&form)
        return await upload(target, form.body, token: token, headers: headers)
    }
}
