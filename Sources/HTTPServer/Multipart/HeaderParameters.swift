/// `value; name=token; name="quoted string"` (RFC 9110 §5.6.6), as Content-Type and Content-Disposition
/// write their parameters. The value and parameter names are lower-cased; parameter values are kept as
/// bytes, unescaped (a quoted-pair stands for its character). A repeated parameter, an empty one, an
/// unterminated quote or stray bytes are refused.
enum HeaderParameters {
    struct Parameter {
        var name: String
        var value: [UInt8]
    }

    static func parse(_ bytes: [UInt8], what: String) throws(MultipartError) -> (value: String, parameters: [Parameter]) {
        var index = 0
        func skipOWS() { while index < bytes.count && (bytes[index] == 32 || bytes[index] == 9) { index += 1 } }
        func token() -> [UInt8] {
            let start = index
            while index < bytes.count && (isTokenByte(bytes[index]) || bytes[index] == 47) { index += 1 }
            return Array(bytes[start..<index])
        }
        skipOWS()
        let value = token()
        guard !value.isEmpty else { throw .malformed("\(what) is malformed") }
        var parameters: [Parameter] = []
        skipOWS()
        while index < bytes.count {
            guard bytes[index] == 59 else { throw .malformed("\(what) is malformed") }
            index += 1
            skipOWS()
            let start = index
            while index < bytes.count && isTokenByte(bytes[index]) { index += 1 }
            let name = String(decoding: bytes[start..<index], as: UTF8.self).lowercased()
            guard !name.isEmpty, index < bytes.count, bytes[index] == 61 else { throw .malformed("\(what) has a malformed parameter") }
            index += 1
            var parameterValue: [UInt8] = []
            if index < bytes.count && bytes[index] == 34 {
                index += 1
                var closed = false
                while index < bytes.count {
                    let byte = bytes[index]
                    index += 1
                    if byte == 34 { closed = true; break }
                    if byte == 92 {
                        guard index < bytes.count else { break }
                        parameterValue.append(bytes[index])
                        index += 1
                    } else {
                        parameterValue.append(byte)
                    }
                }
                guard closed else { throw .malformed("\(what) has an unterminated quoted parameter") }
            } else {
                let valueStart = index
                while index < bytes.count && isTokenByte(bytes[index]) { index += 1 }
                parameterValue = Array(bytes[valueStart..<index])
                guard !parameterValue.isEmpty else { throw .malformed("\(what) has an empty parameter") }
            }
            guard !parameters.contains(where: { $0.name == name }) else { throw .malformed("\(what) repeats its \(name) parameter") }
            parameters.append(Parameter(name: name, value: parameterValue))
            skipOWS()
        }
        return (String(decoding: value, as: UTF8.self).lowercased(), parameters)
    }
}
