// libFuzzer entry for the multipart/form-data reader, built by `scripts/fuzz.sh multipart` with the
// server's source files. Besides crashes and sanitizer reports it checks one property: the reader gives
// the same parts and the same error whether the body arrives whole or in pieces of any size.

struct Outcome: Equatable {
    var parts: [String] = []
    var error: MultipartError?
}

func read(_ bytes: ArraySlice<UInt8>, step: Int, limits: MultipartLimits) -> Outcome {
    var outcome = Outcome()
    do {
        var reader = MultipartReader(boundary: Array("XyZ".utf8), limits: limits)
        var offset = bytes.startIndex
        while offset < bytes.endIndex {
            let end = min(bytes.endIndex, offset + step)
            try reader.feed(bytes[offset..<end])
            offset = end
        }
        for part in try reader.finish() {
            var content: [UInt8] = []
            try? part.content.forEachChunk(size: 7) { content += $0 }
            outcome.parts.append("\(part.name)|\(part.fileName ?? "-")|\(part.contentType ?? "-")|\(content)")
        }
    } catch {
        outcome.error = error
    }
    return outcome
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMultipart(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 1 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // Small limits so that every limit is within the fuzzer's reach; parts spool past 16 bytes.
    var limits = MultipartLimits()
    limits.maxParts = 4
    limits.maxFiles = 2
    limits.maxFileBytes = 256
    limits.maxFieldBytes = 32
    limits.maxPartHeaderBytes = 160
    limits.maxPartHeaderFields = 4
    limits.maxPreambleBytes = 16
    limits.spoolAboveBytes = 16
    let step = Int(bytes[0] % 31) + 1
    let whole = read(bytes[1...], step: size, limits: limits)
    let pieces = read(bytes[1...], step: step, limits: limits)
    if whole != pieces {
        fatalError("split read differs: whole \(whole) pieces(\(step)) \(pieces)")
    }
    return 0
}
