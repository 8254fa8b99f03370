// libFuzzer entry for the request parser, built by `scripts/fuzz.sh parser` together with the parser's own
// source files. Besides crashes and sanitizer reports it checks one property: the parser gives the same
// requests and the same error whether the bytes arrive whole or in pieces of any size.

struct Outcome: Equatable {
    var requests: [String] = []
    var error: ParseError?
}

func parse(_ bytes: ArraySlice<UInt8>, step: Int, limits: ParserLimits) -> Outcome {
    var parser = RequestParser(limits: limits)
    var buffer: [UInt8] = []
    var index = 0
    var offset = bytes.startIndex
    var outcome = Outcome()
    while offset < bytes.endIndex {
        let end = min(bytes.endIndex, offset + step)
        buffer += bytes[offset..<end]
        offset = end
        do {
            while let event = try parser.next(buffer, from: &index) {
                guard case .request(let head, let body) = event else { continue }
                // What a handler would see must be buildable or refusable, never a crash.
                let path = (try? Request(method: HTTPMethod(head.method), target: head.target))?.path ?? "<refused>"
                outcome.requests.append("\(head.method) \(head.target) \(path) \(head.framing) \(body.count) \(head.keepAlive)")
            }
        } catch {
            outcome.error = error
            return outcome
        }
    }
    return outcome
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzParser(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 1 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // Small limits so that every limit is within the fuzzer's reach.
    var limits = ParserLimits()
    limits.maxBodyBytes = 512
    limits.maxHeaderBytes = 512
    limits.maxHeaderFields = 8
    limits.maxRequestTargetBytes = 128
    limits.maxChunkLineBytes = 64
    // An upload route that spools past 16 bytes, so the spooling path is fuzzed too.
    limits.bodyRoutes = [BodyRoute(method: "POST", path: "/u/:x", maxBytes: 2048, spoolAboveBytes: 16)]
    let step = Int(bytes[0] % 31) + 1
    let whole = parse(bytes[1...], step: size, limits: limits)
    let pieces = parse(bytes[1...], step: step, limits: limits)
    if whole != pieces {
        fatalError("split parse differs: whole \(whole) pieces(\(step)) \(pieces)")
    }
    return 0
}
