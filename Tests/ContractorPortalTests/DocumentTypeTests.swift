import ContractorPortal
import Testing

@Suite("File types by content, and safe file names")
struct DocumentTypeTests {
    static func sniff(_ bytes: [UInt8]) -> DocumentType.Sniffed {
        DocumentType.sniff(head: Array(bytes.prefix(DocumentType.headBytes)), tail: Array(bytes.suffix(DocumentType.tailBytes)), size: bytes.count)
    }

    static func zip(naming entry: String) -> [UInt8] {
        let local: [UInt8] = [0x50, 0x4B, 0x03, 0x04] + [UInt8](repeating: 0, count: 26) + Array("[Content_Types].xml".utf8)
        let central: [UInt8] = [0x50, 0x4B, 0x01, 0x02] + [UInt8](repeating: 0, count: 42) + Array(entry.utf8)
        let end: [UInt8] = [0x50, 0x4B, 0x05, 0x06] + [UInt8](repeating: 0, count: 18)
        return local + [UInt8](repeating: 7, count: 500) + central + end
    }

    @Test func eachTypeIsToldByItsBytes() {
        #expect(Self.sniff(Array("%PDF-1.4\nbody\n%%EOF\n".utf8)) == .type(.pdf))
        #expect(Self.sniff(Array("%PDF-1.4\nbody cut here".utf8)) == .truncated(.pdf))
        #expect(Self.sniff([0xFF, 0xD8, 0xFF, 0xE1, 1, 2, 3, 0xFF, 0xD9]) == .type(.jpeg))
        #expect(Self.sniff([0xFF, 0xD8, 0xFF, 0xE1, 1, 2, 3]) == .truncated(.jpeg))
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 9, 9, 0, 0, 0, 0, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82]
        #expect(Self.sniff(png) == .type(.png))
        #expect(Self.sniff(Array(png.dropLast(3))) == .truncated(.png))
        #expect(Self.sniff(Self.zip(naming: "word/document.xml")) == .type(.docx))
        #expect(Self.sniff(Self.zip(naming: "xl/workbook.xml")) == .type(.xlsx))
        #expect(Self.sniff(Array(Self.zip(naming: "word/document.xml").dropLast(30))) == .truncated(nil))
        #expect(Self.sniff(Self.zip(naming: "META-INF/MANIFEST.MF")) == .unknown, "a ZIP that is not an Office file")
        let compound: [UInt8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1] + [UInt8](repeating: 0, count: 2040)
        #expect(Self.sniff(compound) == .compound)
        #expect(Self.sniff(Array(compound.dropLast(100))) == .truncated(nil))
        #expect(Self.sniff([0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0]) == .unknown, "an executable")
        #expect(Self.sniff(Array("MZ\u{90}".utf8)) == .unknown)
        #expect(Self.sniff([]) == .unknown)
    }

    @Test func claimsByNameAndType() {
        #expect(DocumentType.claimed(byExtension: "Photo.JPEG") == [.jpeg])
        #expect(DocumentType.claimed(byExtension: "archive.tar.gz").isEmpty)
        #expect(DocumentType.claimed(byExtension: ".pdf").isEmpty, "a dot file has no extension")
        #expect(DocumentType.claimed(byMediaType: "image/jpg") == .jpeg)
        #expect(DocumentType.claimed(byMediaType: "application/x-msdownload") == nil)
    }

    @Test func namesAreReducedToASafeBaseName() {
        #expect(SafeFileName.make("../../etc/passwd.pdf", type: .pdf) == "passwd.pdf")
        #expect(SafeFileName.make("C:\\Users\\me\\Desktop\\scan.pdf", type: .pdf) == "scan.pdf")
        #expect(SafeFileName.make("in\u{0}voice\u{7F}\u{9B}.pdf", type: .pdf) == "invoice.pdf")
        #expect(SafeFileName.make("evil\u{202E}fdp.exe", type: .pdf) == "evilfdp.exe")
        #expect(SafeFileName.make("...", type: .png) == "upload.png")
        #expect(SafeFileName.make(" .bashrc ", type: .pdf) == "bashrc")
        let long = SafeFileName.make(String(repeating: "é", count: 300) + ".docx", type: .docx)
        #expect(long.utf8.count <= SafeFileName.maxBytes && long.hasSuffix(".docx"))
    }
}
