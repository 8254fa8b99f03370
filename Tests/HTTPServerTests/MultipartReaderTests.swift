@testable import HTTPServer
import Testing

@Suite("Multipart reader (RFC 7578 / RFC 2046)")
struct MultipartReaderTests {
    static let type = "multipart/form-data; boundary=XyZ"

    /// Parses `body` fed in pieces of `step` bytes.
    static func parse(_ body: String, step: Int = 1 << 20, limits: MultipartLimits = MultipartLimits(), type: String = type) throws(MultipartError) -> [MultipartPart] {
        try parse(Array(body.utf8), step: step, limits: limits, type: type)
    }

    static func parse(_ bytes: [UInt8], step: Int, limits: MultipartLimits = MultipartLimits(), type: String = type) throws(MultipartError) -> [MultipartPart] {
        var reader = MultipartReader(boundary: try MultipartReader.boundary(contentType: type), limits: limits)
        var offset = 0
        while offset < bytes.count {
            try reader.feed(bytes[offset..<min(bytes.count, offset + step)])
            offset += step
        }
        return try reader.finish()
    }

    static func bytes(_ part: MultipartPart) throws -> [UInt8] {
        var out: [UInt8] = []
        try part.content.forEachChunk { out += $0 }
        return out
    }

    static let wellFormed = "--XyZ\r\nContent-Disposition: form-data; name=\"jobId\"\r\n\r\nJ-1\r\n"
        + "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a \\\"b\\\".pdf\"\r\nContent-Type: Application/PDF; x=1\r\n\r\n%PDF-1.4\r\n--not-it\r\n\r\n"
        + "--XyZ--\r\n"

    @Test(arguments: [1, 2, 3, 5, 8, 13, 64, 1 << 20])
    func sameParts(whateverTheSplit step: Int) throws {
        let parts = try Self.parse(Self.wellFormed, step: step)
        #expect(parts.map(\.name) == ["jobId", "file"])
        #expect(parts[0].text == "J-1" && parts[0].fileName == nil)
        #expect(parts[1].fileName == "a \"b\".pdf")
        #expect(parts[1].contentType == "application/pdf")
        #expect(String(decoding: try Self.bytes(parts[1]), as: UTF8.self) == "%PDF-1.4\r\n--not-it\r\n")
    }

    @Test func aLargePartIsSpooledAndReadBackIntact() throws {
        let payload = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 * 7 + $0 >> 8) }
        let body = Array("--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.bin\"\r\n\r\n".utf8) + payload + Array("\r\n--XyZ--".utf8)
        let parts = try Self.parse(body, step: 65_536)
        guard case .spooled = parts[0].content else { Issue.record("a 300 KB part stayed in memory"); return }
        #expect(try Self.bytes(parts[0]) == payload)
    }

    @Test func preambleQuotedBoundaryAndPaddingAreAccepted() throws {
        let parts = try Self.parse(
            "ignored\r\n--a b\t \r\ncontent-disposition: form-data; name=x\r\n\r\n1\r\n--a b-- \r\nepilogue",
            type: "Multipart/Form-Data; boundary=\"a b\"")
        #expect(parts.map(\.name) == ["x"])
    }

    /// Every malformed shape the issue names, and those next to them: each a 400 (or 413 for sizes), never
    /// a crash, whatever the split.
    static let refusals: [(String, String, Int)] = [
        ("no closing boundary", "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n", 400),
        ("ends inside the headers", "--XyZ\r\nContent-Disposition: form-da", 400),
        ("ends right after a delimiter", "--XyZ", 400),
        ("doubled closing boundary", "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--XyZ--\r\n--XyZ--\r\n", 400),
        ("a part after the end", "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--XyZ--\r\n--XyZ\r\nContent-Disposition: form-data; name=b\r\n\r\n2\r\n--XyZ--", 400),
        ("no boundary at all", "just some text", 400),
        ("empty body", "", 400),
        ("no parts", "--XyZ--\r\n", 400),
        ("boundary followed by garbage", "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--XyZgarbage\r\n--XyZ--", 400),
        ("bare LF after a boundary", "--XyZ\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--XyZ--", 400),
        ("bare LF in a part's headers", "--XyZ\r\nContent-Disposition: form-data; name=a\nX: y\r\n\r\n1\r\n--XyZ--", 400),
        ("obs-fold in a part's headers", "--XyZ\r\nContent-Disposition: form-data;\r\n name=a\r\n\r\n1\r\n--XyZ--", 400),
        ("header without colon", "--XyZ\r\nContent-Disposition form-data; name=a\r\n\r\n1\r\n--XyZ--", 400),
        ("control character in a header", "--XyZ\r\nContent-Disposition: form-data; name=\"a\u{01}\"\r\n\r\n1\r\n--XyZ--", 400),
        ("no Content-Disposition", "--XyZ\r\nContent-Type: text/plain\r\n\r\n1\r\n--XyZ--", 400),
        ("no headers at all", "--XyZ\r\n\r\n1\r\n--XyZ--", 400),
        ("disposition not form-data", "--XyZ\r\nContent-Disposition: attachment; name=a\r\n\r\n1\r\n--XyZ--", 400),
        ("no name", "--XyZ\r\nContent-Disposition: form-data; filename=a.pdf\r\n\r\n1\r\n--XyZ--", 400),
        ("empty name", "--XyZ\r\nContent-Disposition: form-data; name=\"\"\r\n\r\n1\r\n--XyZ--", 400),
        ("name given twice", "--XyZ\r\nContent-Disposition: form-data; name=a; name=b\r\n\r\n1\r\n--XyZ--", 400),
        ("two Content-Dispositions", "--XyZ\r\nContent-Disposition: form-data; name=a\r\nContent-Disposition: form-data; name=b\r\n\r\n1\r\n--XyZ--", 400),
        ("unterminated quote", "--XyZ\r\nContent-Disposition: form-data; name=\"a\r\n\r\n1\r\n--XyZ--", 400),
        ("filename* only", "--XyZ\r\nContent-Disposition: form-data; name=f; filename*=UTF-8''a.pdf\r\n\r\n1\r\n--XyZ--", 400),
        ("base64 transfer encoding", "--XyZ\r\nContent-Disposition: form-data; name=a\r\nContent-Transfer-Encoding: base64\r\n\r\nMQ==\r\n--XyZ--", 400),
        ("malformed part Content-Type", "--XyZ\r\nContent-Disposition: form-data; name=a\r\nContent-Type: pdf\r\n\r\n1\r\n--XyZ--", 400),
        ("a field that is not UTF-8", "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n\u{FF}\r\n--XyZ--", 400),
        ("padding then dashes", "--XyZ --\r\n", 400),
        ("closing boundary then garbage", "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--XyZ--x", 400),
    ]

    @Test(arguments: refusals.indices)
    func refused(_ index: Int) {
        let (what, body, status) = Self.refusals[index]
        var bytes = Array(body.utf8)
        // The table's \u{FF} stands for a lone 0xFF byte, which a Swift string cannot hold.
        bytes = bytes.flatMap { $0 == 0xC3 ? [] : $0 == 0xBF ? [0xFF] : [$0] }
        for step in [1, 7, 1 << 20] {
            do {
                _ = try Self.parse(bytes, step: step)
                Issue.record("accepted: \(what) (step \(step))")
            } catch {
                #expect(error.status == status, "\(what): \(error.message)")
            }
        }
    }

    @Test func malformedBoundariesAreRefused() {
        for type in [
            "multipart/form-data", "multipart/form-data; boundary=", "multipart/form-data; boundary=\"a \"",
            "multipart/form-data; boundary=\(String(repeating: "a", count: 71))", "multipart/form-data; boundary=a; boundary=b",
            "multipart/mixed; boundary=a", "application/json", "multipart/form-data; boundary=\"a\u{7F}\"",
        ] {
            #expect(throws: MultipartError.self, "\(type)") { _ = try MultipartReader.boundary(contentType: type) }
        }
        #expect((try? MultipartReader.boundary(contentType: "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW")) != nil)
        #expect((try? MultipartReader.boundary(contentType: "multipart/form-data; boundary=\(String(repeating: "a", count: 70))")) != nil)
    }

    @Test func limitsAreEnforcedAndNamed() {
        var limits = MultipartLimits()
        limits.maxFileBytes = 10
        limits.maxFieldBytes = 4
        limits.maxFiles = 1
        limits.maxParts = 3
        func refusal(_ body: String) -> MultipartError? {
            do { _ = try Self.parse(body, step: 3, limits: limits); return nil } catch { return error }
        }
        let file = { (name: String, size: Int) in
            "--XyZ\r\nContent-Disposition: form-data; name=f; filename=\"\(name)\"\r\n\r\n\(String(repeating: "x", count: size))\r\n"
        }
        #expect(refusal(file("big.pdf", 11) + "--XyZ--") == .tooLarge("file big.pdf is over 10 bytes"))
        #expect(refusal(file("ok.pdf", 10) + "--XyZ--") == nil)
        #expect(refusal(file("a.pdf", 1) + file("b.pdf", 1) + "--XyZ--") == .tooLarge("at most 1 files are accepted"))
        #expect(refusal("--XyZ\r\nContent-Disposition: form-data; name=note\r\n\r\n12345\r\n--XyZ--") == .tooLarge("field note is over 4 bytes"))
        let field = "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n"
        #expect(refusal(field + field + field + "--XyZ--") == nil)
        #expect(refusal(field + field + field + field + "--XyZ--") == .tooLarge("at most 3 parts are accepted"))
        let longHeader = "--XyZ\r\nContent-Disposition: form-data; name=a\r\nX-Pad: \(String(repeating: "p", count: 5000))\r\n\r\n1\r\n--XyZ--"
        #expect(refusal(longHeader)?.status == 400)
        let manyHeaders = "--XyZ\r\nContent-Disposition: form-data; name=a\r\n" + String(repeating: "X-A: 1\r\n", count: 8) + "\r\n1\r\n--XyZ--"
        #expect(refusal(manyHeaders)?.status == 400)
        #expect(refusal(String(repeating: "p", count: 2000) + "\r\n--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--XyZ--")?.status == 400)
    }
}
