/// Request ids: a client's well-formed `X-Request-Id` is kept so traces join up; otherwise a new one.
enum RequestID {
    /// 1–128 characters of letters, digits and `-_.:` — enough for UUIDs and trace ids, nothing that could
    /// break a log line or a header.
    static func isWellFormed(_ id: String) -> Bool {
        let bytes = id.utf8
        guard !bytes.isEmpty, bytes.count <= 128 else { return false }
        return bytes.allSatisfy { byte in
            switch byte {
            case 48...57, 65...90, 97...122, 45, 46, 95, 58: true
            default: false
            }
        }
    }
}

/// wyrand: a fast generator for ids that must be unique, not secret; seeded from the system's generator.
struct IDGenerator {
    private var state: UInt64

    init() {
        var system = SystemRandomNumberGenerator()
        state = system.next()
    }

    mutating func next() -> UInt64 {
        state &+= 0xA076_1D64_78BD_642F
        let product = state.multipliedFullWidth(by: state ^ 0xE703_7ED1_A0B4_28DB)
        return product.high ^ product.low
    }

    /// 32 lowercase hex digits, written in place (one allocation: this is on every request).
    mutating func requestID() -> String {
        let high = next(), low = next()
        return String(unsafeUninitializedCapacity: 32) { buffer in
            for index in 0..<16 {
                buffer[index] = Self.hex[Int(truncatingIfNeeded: high >> (60 - 4 * UInt64(index))) & 15]
                buffer[16 + index] = Self.hex[Int(truncatingIfNeeded: low >> (60 - 4 * UInt64(index))) & 15]
            }
            return 32
        }
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)
}
