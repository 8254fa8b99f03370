import Dispatch
import Foundation
import Glibc
@testable import Logging
import Testing
import TestSupport

@Suite("Buffered log writer")
struct BufferedWriterTests {
    /// Two threads hand over batches well past the size at which a hand-over writes (64 KiB) while the
    /// writer's own thread writes every 50 ms: the buffers trade places on each write, and every line
    /// must still arrive once, whole, in the order each thread wrote it.
    @Test func everyLineArrivesOnceWholeAndInOrder() throws {
        var ends: [Int32] = [0, 0]
        try #require(pipe(&ends) == 0)
        let (readEnd, writeEnd) = (ends[0], ends[1])
        let received = Locked<[UInt8]>([])
        let readerDone = DispatchSemaphore(value: 0)
        let reader = Thread {
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let count = read(readEnd, &chunk, chunk.count)
                if count <= 0 { break }
                received.withLock { $0 += chunk[0..<count] }
            }
            readerDone.signal()
        }
        reader.start()

        let batches = 2_000, linesPerBatch = 10
        let writer = BufferedWriter(fd: writeEnd)
        DispatchQueue.concurrentPerform(iterations: 2) { thread in
            for batch in 0..<batches {
                var bytes: [UInt8] = []
                for line in 0..<linesPerBatch {
                    // About 100 bytes a line: 4 MB in all, so both writes by hand-over and by the thread happen.
                    bytes += Array("w\(thread) \(batch * linesPerBatch + line) \(String(repeating: "x", count: 80))\n".utf8)
                }
                writer.append(bytes)
            }
        }
        writer.flush()
        close(writeEnd)
        readerDone.wait()
        close(readEnd)

        let lines = received.withLock { $0 }.split(separator: 10, omittingEmptySubsequences: false).dropLast()
        #expect(lines.count == 2 * batches * linesPerBatch)
        var next = [0, 0]
        var misordered = 0
        for line in lines {
            let parts = String(decoding: line, as: UTF8.self).split(separator: " ")
            guard parts.count == 3, parts[2].count == 80, let thread = ["w0": 0, "w1": 1][String(parts[0])], let number = Int(parts[1]) else {
                Issue.record("a line arrived broken: \(String(decoding: line.prefix(120), as: UTF8.self))")
                return
            }
            if number != next[thread] { misordered += 1 }
            next[thread] = number + 1
        }
        #expect(misordered == 0)
        #expect(next == [batches * linesPerBatch, batches * linesPerBatch])
    }
}
