import Foundation
import Glibc
@testable import HTTPServer
import Testing
import TestSupport

/// Per-route body limits: an upload route takes its own limit and spools past its threshold; every other
/// route keeps the server's; every refusal comes before the body is read.
@Suite("Per-route body limits and spooling", .scoped)
struct BodyRouteTests {
    static let uploadLimit = 3 * 1024 * 1024

    func withConnection<T: Sendable>(_ body: @escaping @Sendable (RawConnection) -> T) async throws -> T {
        let running = try RunningServer.start({ configuration in
            configuration.limits.maxBodyBytes = 1024 * 1024
            configuration.limits.bodyRoutes = [BodyRoute(method: "POST", path: "/uploads/:name", maxBytes: Self.uploadLimit, spoolAboveBytes: 64 * 1024)]
        }, router: TestRoutes.router)
        let result = await offPool { () -> T? in
            guard let connection = RawConnection(port: running.port) else { return nil }
            return body(connection)
        }
        await running.stop()
        return try #require(result, "could not connect")
    }

    static func digest(_ bytes: [UInt8]) -> String {
        var digest: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { digest = (digest ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return String(digest, radix: 16)
    }

    static func payload(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) } }

    @Test func anUploadRouteTakesItsLimitAndSpoolsWhatIsLarge() async throws {
        let large = Self.payload(2 * 1024 * 1024 + 17), small = Self.payload(1000)
        let (spooled, inMemory) = try await withConnection { connection in
            _ = connection.send(Array("POST /uploads/a HTTP/1.1\r\nHost: x\r\nContent-Length: \(large.count)\r\n\r\n".utf8) + large)
            let first = connection.readResponse()?.text
            _ = connection.send(Array("POST /uploads/b HTTP/1.1\r\nHost: x\r\nContent-Length: \(small.count)\r\n\r\n".utf8) + small)
            return (first, connection.readResponse()?.text)
        }
        #expect(spooled == "spooled \(large.count) \(Self.digest(large))")
        #expect(inMemory == "memory 1000 \(Self.digest(small))")
    }

    @Test func aChunkedUploadIsSpooledIntact() async throws {
        let large = Self.payload(700_000)
        let answer = try await withConnection { connection in
            var wire = Array("POST /uploads/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
            var start = 0
            while start < large.count {
                let end = min(large.count, start + 65_000)
                wire += Array("\(String(end - start, radix: 16))\r\n".utf8) + large[start..<end] + Array("\r\n".utf8)
                start = end
            }
            wire += Array("0\r\n\r\n".utf8)
            _ = connection.send(wire)
            return connection.readResponse()?.text
        }
        #expect(answer == "spooled \(large.count) \(Self.digest(large))")
    }

    @Test func otherRoutesKeepTheServerLimit() async throws {
        let response = try await withConnection { connection in
            _ = connection.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: \(1024 * 1024 + 1)\r\n\r\n")
            return connection.readResponse()
        }
        #expect(response?.status == 413)
        #expect(response?.text.contains("at most 1048576 bytes") == true)
    }

    /// Over the route's limit by Content-Length with `Expect: 100-continue`: 413 at once, no 100 Continue,
    /// the connection closed; the client never sends the body.
    @Test func anOversizedUploadIsRefusedBeforeContinue() async throws {
        let (response, closed) = try await withConnection { connection in
            connection.send("POST /uploads/d HTTP/1.1\r\nHost: x\r\nContent-Length: \(Self.uploadLimit + 1)\r\nExpect: 100-continue\r\n\r\n")
            return (connection.readResponse(), connection.closedByServer(within: 3))
        }
        #expect(response?.status == 413)
        #expect(response?.text.contains("at most \(Self.uploadLimit) bytes") == true)
        #expect(closed)
    }

    @Test func anUploadWithinItsLimitGetsContinue() async throws {
        let body = Self.payload(200_000)
        let (interim, final) = try await withConnection { connection in
            connection.send("POST /uploads/e HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.count)\r\nExpect: 100-continue\r\n\r\n")
            let interim = connection.readResponse()
            _ = connection.send(body)
            return (interim?.status, connection.readResponse()?.text)
        }
        #expect(interim == 100)
        #expect(final == "spooled \(body.count) \(Self.digest(body))")
    }

    /// Chunked, so no length is announced: refused at the chunk that would pass the limit, while most of
    /// the body is still unsent, and the connection closed.
    @Test func aChunkedUploadOverItsLimitIsRefusedWhileStreaming() async throws {
        let (status, closed) = try await withConnection { connection in
            connection.send("POST /uploads/f HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            let chunk = Array("100000\r\n".utf8) + [UInt8](repeating: 65, count: 0x100000) + Array("\r\n".utf8)
            for _ in 0..<3 { _ = connection.send(chunk) }
            connection.send("100000\r\n")
            return (connection.readResponse()?.status, connection.closedByServer(within: 3))
        }
        #expect(status == 413)
        #expect(closed)
    }

    @Test func pathsMatchTheirPatternOnly() throws {
        let route = BodyRoute(method: "POST", path: "/api/contractor/jobs/:jobId/documents", maxBytes: 10)
        var limits = ParserLimits()
        limits.bodyRoutes = [route]
        #expect(limits.bodyPolicy(method: "POST", target: "/api/contractor/jobs/J-1/documents?x=1").maxBytes == 10)
        #expect(limits.bodyPolicy(method: "POST", target: "http://h/api/contractor/jobs/J-1/documents").maxBytes == 10)
        #expect(limits.bodyPolicy(method: "PUT", target: "/api/contractor/jobs/J-1/documents").maxBytes == limits.maxBodyBytes)
        #expect(limits.bodyPolicy(method: "POST", target: "/api/contractor/jobs//documents").maxBytes == limits.maxBodyBytes)
        #expect(limits.bodyPolicy(method: "POST", target: "/api/contractor/jobs/J-1/documents/x").maxBytes == limits.maxBodyBytes)
        #expect(limits.bodyPolicy(method: "POST", target: "/api/contractor/jobs/J-1/notes").spoolAboveBytes == nil)
    }
}
