@testable import AgentOS
import JSON
import Testing

@Suite("Upload calls' forms")
struct OutboundFormTests {
    /// A name cannot break out of its quoted parameter: quotes and line breaks (a CR LF pair too, one
    /// Character to Swift) are percent-encoded as browsers do, and the file's bytes follow its head.
    @Test func namesStayInsideTheirParameter() throws {
        let file = UploadFile(fileName: "a\r\nX-Evil: 1\".pdf", mediaType: "application/pdf", size: 3, sha256: "") { Array("PDF".utf8) }
        let (bytes, type) = try OutboundBody.form(fields: [("Desc\"ription", "line one\r\nline two")], files: [("file", file)]).encoded()
        let text = String(decoding: bytes, as: UTF8.self)
        let boundary = String(type.dropFirst("multipart/form-data; boundary=".count))
        #expect(type.hasPrefix("multipart/form-data; boundary=ContractorBFF-"))
        #expect(text.contains(#"name="Desc%22ription""#))
        #expect(text.contains(#"filename="a%0D%0AX-Evil: 1%22.pdf""#))
        #expect(!text.contains("\r\nX-Evil"))
        #expect(text.hasSuffix("Content-Type: application/pdf\r\n\r\nPDF\r\n--\(boundary)--\r\n"))
    }
}
