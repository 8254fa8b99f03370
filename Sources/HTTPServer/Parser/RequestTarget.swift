/// Splits a request-target (origin-form, absolute-form or `*`) into path, decoded segments and query.
enum RequestTarget {
    struct Components {
        var path: String
        var segments: [String]
        var query: [(name: String, value: String)]
    }

    static func split(_ target: String) throws(HTTPError) -> Components {
        var rest = Substring(target)
        if rest == "*" { return Components(path: "*", segments: [], query: []) }
        if !rest.hasPrefix("/") {
            // absolute-form (RFC 9112 §3.2.2): a server must accept it; only its path and query matter here.
            guard let schemeEnd = rest.firstRange(of: "://"),
                  ["http", "https"].contains(rest[..<schemeEnd.lowerBound].lowercased()) else {
                throw .badRequest("Malformed request target")
            }
            let afterAuthority = rest[schemeEnd.upperBound...]
            rest = afterAuthority.firstIndex(where: { $0 == "/" || $0 == "?" }).map { afterAuthority[$0...] } ?? "/"
            if rest.hasPrefix("?") { rest = "/" + rest }
        }
        // Found and split by their bytes ('?' and '/' are ASCII, and so one character each): walking the
        // target by Character was a visible share of every small request.
        let pathPart: Substring
        let queryPart: Substring?
        if let mark = rest.utf8.firstIndex(of: 63) {
            pathPart = rest[..<mark]
            queryPart = rest[rest.utf8.index(after: mark)...]
        } else {
            pathPart = rest
            queryPart = nil
        }
        var segments: [String] = []
        var segmentStart = pathPart.utf8.index(after: pathPart.utf8.startIndex)
        var position = segmentStart
        while true {
            let atEnd = position == pathPart.utf8.endIndex
            if atEnd || pathPart.utf8[position] == 47 {
                guard let segment = PercentDecoding.decode(pathPart[segmentStart..<position], plusAsSpace: false), !segment.utf8.contains(0) else {
                    throw .badRequest("Malformed percent-encoding in path")
                }
                segments.append(segment)
                if atEnd { break }
                segmentStart = pathPart.utf8.index(after: position)
            }
            position = pathPart.utf8.index(after: position)
        }
        if segments.last == "" && segments.count > 1 { segments.removeLast() }
        var query: [(String, String)] = []
        if let queryPart {
            for pair in queryPart.split(separator: "&", omittingEmptySubsequences: true) {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard let name = PercentDecoding.decode(parts[0], plusAsSpace: true),
                      let value = PercentDecoding.decode(parts.count > 1 ? parts[1] : "", plusAsSpace: true) else {
                    throw .badRequest("Malformed percent-encoding in query")
                }
                query.append((name, value))
            }
        }
        return Components(path: String(pathPart), segments: segments, query: query)
    }
}

enum PercentDecoding {
    /// nil when a `%` is not followed by two hex digits or the result is not UTF-8.
    static func decode(_ text: Substring, plusAsSpace: Bool) -> String? {
        let utf8 = text.utf8
        if !utf8.contains(where: { $0 == 37 || (plusAsSpace && $0 == 43) }) { return String(text) }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count)
        var index = utf8.startIndex
        while index != utf8.endIndex {
            let byte = utf8[index]
            if byte == 37 {
                let first = utf8.index(after: index)
                guard first != utf8.endIndex else { return nil }
                let second = utf8.index(after: first)
                guard second != utf8.endIndex, let high = hexValue(utf8[first]), let low = hexValue(utf8[second]) else {
                    return nil
                }
                out.append(high << 4 | low)
                index = utf8.index(after: second)
            } else {
                out.append(plusAsSpace && byte == 43 ? 32 : byte)
                index = utf8.index(after: index)
            }
        }
        return String(validating: out, as: UTF8.self)
    }
}

@inline(__always) func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case 48...57: byte - 48
    case 65...70: byte - 55
    case 97...102: byte - 87
    default: nil
    }
}
