import ContractorBFFApp
import Digest
import FixtureAgentOS
import Foundation
import JSON
import TestSupport
import Testing

/// Invoices with their PDF and job photos and documents, over REST and tRPC FormData, against the fixture
/// AgentOS, which records each file it received by name, type, size and SHA-256.
@Suite("Uploads: invoice PDFs, job photos and documents", .scoped)
struct UploadTests {
    static let documented = ["INVOICE_MODE": "documented"]

    static func start(_ environment: [String: String] = [:]) async throws -> Portal {
        try await Portal.start(environment: documented.merging(environment) { $1 })
    }

    func documents(_ portal: Portal) async -> [JSONValue] { await portal.fixture.store.receivedDocuments }

    /// The digest both ends compare is SHA-256 itself (FIPS 180-2's "abc" vector), fed whole or in pieces.
    @Test func theDigestIsSHA256() {
        #expect(Samples.sha256(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        var pieces = SHA256()
        pieces.update(Array("a".utf8)[...])
        pieces.update(Array("bc".utf8)[...])
        #expect(pieces.hexDigest() == Samples.sha256(Array("abc".utf8)))
    }

    @Test func aPDFInvoiceReachesAgentOSByteForByte() async throws {
        let portal = try await Self.start()
        let pdf = Samples.pdf(300_000)
        let reply = await portal.form("/api/contractor/invoices") { form in
            form.field("jobId", "J-0003")
            form.field("amount", "245.50")
            form.field("reference", "PDF-1")
            form.field("invoiceDate", "2026-06-01")
            form.file("file", "invoice-42.pdf", type: "application/pdf", pdf)
        }
        #expect(reply.status == 201, "\(reply.text)")
        let invoiceId = try #require(reply.json["invoiceId"]?.string)
        let received = await documents(portal)
        #expect(received.count == 1)
        #expect(received.first?["SHA256"]?.string == Samples.sha256(pdf), "the bytes that arrived are the bytes that were sent")
        #expect(received.first?["Size"]?.number == String(pdf.count))
        #expect(received.first?["FileName"]?.string == "invoice-42.pdf")
        #expect(received.first?["ContentType"]?.string == "application/pdf")
        #expect(received.first?["InvoiceID"]?.string == invoiceId, "the PDF came with the invoice, in one submission")
        #expect(await portal.received("invoiceSubmit") == 1)
        let entry = await portal.fixture.store.pendingEntries("demo", "C-1001").first { $0["InvoiceNumber"] == .string("PDF-1") }
        #expect(entry?["Amount"]?.number.flatMap { Decimal(string: $0) } == Decimal(string: "245.50"), "the amount stays exact through the form")
        let audit = try String(contentsOfFile: portal.application.configuration.dataDirectory + "/audit.jsonl", encoding: .utf8)
        let line = try #require(audit.split(separator: "\n").last { $0.contains("invoice.submit") })
        #expect(line.contains("\"name\":\"invoice-42.pdf\"") && line.contains("\"size\":\(pdf.count)") && line.contains(Samples.sha256(pdf)))
        #expect(!line.contains("%PDF"), "no file content in the audit log")
    }

    @Test func aJSONInvoiceStaysAcceptedUnlessTheDocumentIsRequired() async throws {
        let body = #"{"jobId":"J-0003","amount":10.00,"reference":"JSON-1","invoiceDate":"2026-06-01"}"#
        let open = try await Self.start()
        let accepted = await open.send("POST", "/api/contractor/invoices", body: body)
        await open.stop()
        #expect(accepted.status == 201)
        let strict = try await Self.start(["INVOICE_DOCUMENT_REQUIRED": "true"])
        let refused = await strict.send("POST", "/api/contractor/invoices", body: body)
        #expect(refused.status == 400)
        #expect(refused.error?.contains("PDF") == true)
        #expect(await strict.received("invoiceSubmit") == 0)
    }

    @Test(arguments: ["none", "superjson"])
    func aTRPCFormDataInvoiceIsTakenAndItsAnswerTransformed(transformer: String) async throws {
        let portal = try await Self.start(["TRPC_TRANSFORMER": transformer])
        let pdf = Samples.pdf(90_000, seed: 5)
        let reply = await portal.form("/api/trpc/contractor.submitInvoice") { form in
            form.field("jobId", "J-0003")
            form.field("amount", "99.99")
            form.field("reference", "TRPC-PDF-\(transformer)")
            form.file("file", "trpc.pdf", type: "application/pdf", pdf)
        }
        #expect(reply.status == 200, "\(reply.text)")
        let data = transformer == "superjson" ? reply.data?["json"] : reply.data
        #expect(data?["invoiceId"]?.string != nil, "\(reply.text)")
        #expect(await documents(portal).map { $0["SHA256"]?.string } == [Samples.sha256(pdf)])
        // FormData is never batched.
        let batched = await portal.form("/api/trpc/contractor.submitInvoice?batch=1") { $0.field("jobId", "J-0003") }
        #expect(batched.status == 400)
    }

    @Test func jobPhotosAreAttachedOnePerCall() async throws {
        let portal = try await Self.start()
        let jpeg = Samples.jpeg(200_000), png = Samples.png(5_000)
        let reply = await portal.form("/api/contractor/jobs/J-0002/documents") { form in
            form.field("description", "Boiler after repair")
            form.file("file", "before.jpg", type: "image/jpeg", jpeg)
            form.file("file", "after.png", type: nil, png)
        }
        #expect(reply.status == 201, "\(reply.text)")
        #expect(reply.json["jobId"]?.string == "J-0002")
        let answered = reply.json["documents"]?.arrayValue ?? []
        #expect(answered.map { $0["fileName"]?.string } == ["before.jpg", "after.png"])
        #expect(answered.map { $0["sha256"]?.string } == [Samples.sha256(jpeg), Samples.sha256(png)])
        #expect(answered.allSatisfy { $0["documentId"]?.string != nil })
        let received = await documents(portal)
        #expect(received.map { $0["SHA256"]?.string } == [Samples.sha256(jpeg), Samples.sha256(png)])
        #expect(received.map { $0["ContentType"]?.string } == ["image/jpeg", "image/png"], "the type is the content's")
        #expect(received.allSatisfy { $0["JobID"]?.string == "J-0002" && $0["Description"]?.string == "Boiler after repair" })
        #expect(await portal.received("attachDocument") == 2)

        let trpc = await portal.form("/api/trpc/contractor.attachJobDocument") { form in
            form.field("jobId", "J-0002")
            form.file("file", "meter.jpeg", type: "image/jpeg", Samples.jpeg(3_000, seed: 8))
        }
        #expect(trpc.status == 200, "\(trpc.text)")
        #expect(trpc.data?["documents"]?.count == 1)
    }

    @Test func fileNamesAreReducedToASafeBaseName() async throws {
        let portal = try await Self.start()
        let reply = await portal.form("/api/contractor/jobs/J-0002/documents") { form in
            // A tab and a C1 control pass a header's rules (a raw C0 control does not: the body is refused).
            form.file("file", "C:\\\\Users\\\\x\\\\..\\\\../../etc/\u{202E}gnp.\t\u{85}photo.png", type: "image/png", Samples.png(400))
            form.file("file", "/.hidden/...", type: "image/png", Samples.png(500, seed: 4))
            form.file("file", String(repeating: "ä", count: 200) + ".png", type: "image/png", Samples.png(600, seed: 6))
        }
        #expect(reply.status == 201, "\(reply.text)")
        let names = await documents(portal).compactMap { $0["FileName"]?.string }
        try #require(names.count == 3)
        #expect(names[0] == "gnp.photo.png", "no path, no control or bidi override: \(names[0])")
        #expect(names[1] == "upload.png")
        #expect(names[2].utf8.count <= 128 && names[2].hasSuffix(".png") && names[2].hasPrefix("ää"))
    }

    /// Each refusal the issue names: the route's error shape and status, the file named, nothing sent.
    @Test func refusalsComeBeforeAnythingReachesAgentOS() async throws {
        let portal = try await Self.start(["UPLOAD_MAX_FILE_BYTES": "1048576", "UPLOAD_MAX_FILES": "2"])
        let invoiceFields = { (form: inout TestForm) in
            form.field("jobId", "J-0003")
            form.field("amount", "12.00")
        }
        let cases: [(String, String, (inout TestForm) -> Void, Int, String)] = [
            ("an executable renamed .pdf", "/api/contractor/invoices", { invoiceFields(&$0); $0.file("file", "invoice.pdf", type: "application/pdf", Samples.executable(4_000)) }, 415, "invoice.pdf"),
            ("a PDF declared image/png", "/api/contractor/jobs/J-0002/documents", { $0.file("file", "scan.png", type: "image/png", Samples.pdf(4_000)) }, 415, "scan.png"),
            ("a PDF named .jpg", "/api/contractor/jobs/J-0002/documents", { $0.file("file", "scan.jpg", type: nil, Samples.pdf(4_000)) }, 415, "scan.jpg"),
            ("a truncated PDF", "/api/contractor/invoices", { invoiceFields(&$0); $0.file("file", "cut.pdf", type: "application/pdf", Array(Samples.pdf(9_000).prefix(5_000))) }, 400, "cut.pdf"),
            ("a truncated JPEG", "/api/contractor/jobs/J-0002/documents", { $0.file("file", "cut.jpg", type: "image/jpeg", Array(Samples.jpeg(9_000).prefix(5_000))) }, 400, "cut.jpg"),
            ("a PNG as an invoice", "/api/contractor/invoices", { invoiceFields(&$0); $0.file("file", "invoice.png", type: "image/png", Samples.png(4_000)) }, 415, "PDF only"),
            ("an empty file", "/api/contractor/jobs/J-0002/documents", { $0.file("file", "empty.jpg", type: "image/jpeg", []) }, 400, "empty.jpg"),
            ("a file over the limit", "/api/contractor/jobs/J-0002/documents", { $0.file("file", "huge.jpg", type: "image/jpeg", Samples.jpeg(1_100_000)) }, 413, "huge.jpg"),
            ("too many files", "/api/contractor/jobs/J-0002/documents", { form in
                for index in 0..<3 { form.file("file", "p\(index).png", type: "image/png", Samples.png(300, seed: UInt32(index + 20))) }
            }, 413, "at most 2 files"),
            ("no file", "/api/contractor/jobs/J-0002/documents", { $0.field("description", "nothing") }, 400, "file"),
            ("an unknown declared type", "/api/contractor/jobs/J-0002/documents", { $0.file("file", "x.png", type: "application/x-msdownload", Samples.png(300)) }, 415, "x.png"),
            ("another contractor's job", "/api/contractor/jobs/7001/documents", { $0.file("file", "a.png", type: "image/png", Samples.png(300)) }, 404, "not found"),
        ]
        for (what, target, build, status, named) in cases {
            let reply = await portal.form(target, build)
            #expect(reply.status == status, "\(what): \(reply.status) \(reply.text)")
            #expect(reply.error?.lowercased().contains(named.lowercased()) == true, "\(what) names it: \(reply.text)")
            #expect(reply.json["requestId"]?.string != nil, "\(what): the REST error shape")
        }
        let malformed = await portal.upload("/api/contractor/jobs/J-0002/documents", Array("--\(TestForm.boundary)\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n".utf8))
        #expect(malformed.status == 400 && malformed.error?.contains("closing boundary") == true, "\(malformed.text)")
        let json = await portal.send("POST", "/api/contractor/jobs/J-0002/documents", body: "{}")
        #expect(json.status == 415)
        let trpcExecutable = await portal.form("/api/trpc/contractor.attachJobDocument") { form in
            form.field("jobId", "J-0002")
            form.file("file", "run.jpg", type: "image/jpeg", Samples.executable(500))
        }
        #expect(trpcExecutable.status == 415 && trpcExecutable.trpcCode == "UNSUPPORTED_MEDIA_TYPE", "\(trpcExecutable.text)")
        #expect(await documents(portal).isEmpty)
        #expect(await portal.received("attachDocument") == 0)
        #expect(await portal.received("invoiceSubmit") == 0)
    }

    /// Over the upload limit by Content-Length: 413 at once, no 100 Continue; a chunked upload over it is
    /// cut off at the chunk that passes it. Every other route keeps the 1 MiB limit.
    @Test func requestLimitsAreKeptPerRoute() async throws {
        let portal = try await Self.start(["UPLOAD_MAX_REQUEST_BYTES": "2097152"])
        let token = Portal.token()
        let head = "POST /api/contractor/jobs/J-0002/documents HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer \(token)\r\nContent-Type: \(TestForm.contentType)\r\n"
        let port = portal.port
        let (early, closed) = await offPool { () -> (RawResponse?, Bool) in
            guard let connection = RawConnection(port: port) else { return (nil, false) }
            _ = connection.send(head + "Content-Length: 2097153\r\nExpect: 100-continue\r\n\r\n")
            return (connection.readResponse(timeout: 5), connection.closedByServer(within: 3))
        }
        #expect(early?.status == 413 && closed)
        #expect(early?.text.contains("2097152") == true, "the limit is named: \(early?.text ?? "")")
        let streamed = await offPool { () -> RawResponse? in
            guard let connection = RawConnection(port: port) else { return nil }
            _ = connection.send(head + "Transfer-Encoding: chunked\r\n\r\n")
            let chunk = Array("80000\r\n".utf8) + [UInt8](repeating: 65, count: 0x80000) + Array("\r\n".utf8)
            for _ in 0..<5 { _ = connection.send(chunk) }
            return connection.readResponse(timeout: 5)
        }
        #expect(streamed?.status == 413)
        let note = await portal.upload("/api/contractor/jobs/J-0002/notes", [UInt8](repeating: 32, count: 1_048_577), contentType: "application/json")
        #expect(note.status == 413, "an ordinary route keeps MAX_BODY_BYTES")
        #expect(await documents(portal).isEmpty)
    }

    @Test func aKeyedUploadIsSentOnceAndAnotherFileUnderTheKeyIsRefused() async throws {
        let portal = try await Self.start()
        let pdf = Samples.pdf(120_000, seed: 11), other = Samples.pdf(120_000, seed: 12)
        func send(_ file: [UInt8]) async -> Reply {
            await portal.form("/api/contractor/invoices", { form in
                form.field("jobId", "J-0003")
                form.field("amount", "300.00")
                form.field("reference", "KEYED-PDF")
                form.file("file", "keyed.pdf", type: "application/pdf", file)
            }, headers: ["Idempotency-Key": "upload-key-1"])
        }
        let first = await send(pdf)
        let replay = await send(pdf)
        let different = await send(other)
        #expect(first.status == 201)
        #expect(replay.status == 201 && replay.header("Idempotent-Replayed") == "true")
        #expect(replay.json == first.json)
        #expect(different.status == 422, "the same key with another file is another request")
        #expect(await portal.writes()["submitInvoice"] == 1)
        #expect(await documents(portal).count == 1)
    }

    /// The second file's call fails after AgentOS applied the first: the outcome is unknown, the key stays
    /// claimed; the retry reads the job's documents and sends only what AgentOS does not hold.
    @Test func aRetryAfterAFailurePartWaySendsOnlyTheMissingFiles() async throws {
        let portal = try await Self.start()
        let files = [Samples.jpeg(50_000, seed: 31), Samples.jpeg(60_000, seed: 32), Samples.png(70_000, seed: 33)]
        func send() async -> Reply {
            await portal.form("/api/contractor/jobs/J-0004/documents", { form in
                for (index, file) in files.enumerated() {
                    form.file("file", index == 2 ? "c.png" : "\(["a", "b"][index]).jpg", type: nil, file)
                }
            }, headers: ["Idempotency-Key": "photos-1"])
        }
        // Every call is applied and then answered 502: the first file lands, and the write stops there.
        portal.faults(.on("attachDocument") { $0.afterApplying = true; $0.status = 502; $0.probability = 1 })
        let failed = await send()
        #expect(failed.status == 502, "\(failed.text)")
        let afterFailure = await documents(portal).count
        #expect(afterFailure == 1, "the failure came after AgentOS applied the first file")
        portal.faults()
        let retried = await send()
        #expect(retried.status == 201, "\(retried.text)")
        #expect(retried.json["documents"]?.count == 3)
        #expect((retried.json["documents"]?.arrayValue ?? []).map { $0["sha256"]?.string } == files.map(Samples.sha256), "in the upload's order, the recovered one too")
        let hashes = await documents(portal).compactMap { $0["SHA256"]?.string }
        #expect(hashes.sorted() == files.map(Samples.sha256).sorted(), "each file at AgentOS exactly once")
        #expect(await portal.received("jobDocuments") == 1, "the retry looked before sending")
    }
}
