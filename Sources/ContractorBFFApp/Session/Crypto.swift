import COpenSSL
import Foundation

/// The few primitives the server needs, from OpenSSL's libcrypto; nothing here is hand-rolled.
enum Crypto {
    static func hmacSHA256(key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let ok = key.withUnsafeBufferPointer { keyBytes in
            data.withUnsafeBufferPointer { dataBytes in
                HMAC(EVP_sha256(), keyBytes.baseAddress, Int32(keyBytes.count), dataBytes.baseAddress, dataBytes.count, &digest, &length)
            }
        }
        // HMAC fails only on allocation failure inside OpenSSL; a process in that state cannot sign anything.
        precondition(ok != nil, "HMAC-SHA256 failed")
        return Array(digest.prefix(Int(length)))
    }

    static func sha256(_ data: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let ok = data.withUnsafeBufferPointer { EVP_Digest($0.baseAddress, $0.count, &digest, &length, EVP_sha256(), nil) }
        precondition(ok == 1, "SHA-256 failed")
        return Array(digest.prefix(Int(length)))
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes { out += [digits[Int(byte >> 4)], digits[Int(byte & 15)]] }
        return String(decoding: out, as: UTF8.self)
    }

    /// Equal contents, in time that depends on the length only (CRYPTO_memcmp).
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        return a.withUnsafeBytes { x in b.withUnsafeBytes { y in CRYPTO_memcmp(x.baseAddress, y.baseAddress, a.count) == 0 } }
    }

    /// PBKDF2-HMAC-SHA256 (RFC 8018) through libcrypto's PKCS5_PBKDF2_HMAC.
    static func pbkdf2SHA256(password: [UInt8], salt: [UInt8], iterations: Int, length: Int = 32) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: length)
        let ok = password.withUnsafeBufferPointer { pass in
            salt.withUnsafeBufferPointer { salt in
                out.withUnsafeMutableBufferPointer { out in
                    pass.withMemoryRebound(to: CChar.self) { pass in
                        PKCS5_PBKDF2_HMAC(pass.baseAddress, Int32(pass.count), salt.baseAddress, Int32(salt.count), Int32(iterations),
                                          EVP_sha256(), Int32(length), out.baseAddress)
                    }
                }
            }
        }
        precondition(ok == 1, "PBKDF2 failed")
        return out
    }

    static func randomBytes(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let ok = bytes.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32(count)) }
        precondition(ok == 1, "the system CSPRNG failed")
        return bytes
    }
}

/// RFC 4648 §5 base64url without padding, as JWTs use it.
enum Base64URL {
    static func encode(_ bytes: [UInt8]) -> String {
        var text = Data(bytes).base64EncodedString()
        text = text.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        while text.hasSuffix("=") { text.removeLast() }
        return text
    }

    /// nil for anything but the unpadded alphabet.
    static func decode(_ text: Substring) -> [UInt8]? {
        guard text.utf8.allSatisfy({ byte in
            (65...90).contains(byte) || (97...122).contains(byte) || (48...57).contains(byte) || byte == 45 || byte == 95
        }), text.utf8.count % 4 != 1 else { return nil }
        // The URL-safe alphabet mapped to the standard one byte by byte (Foundation's replacingOccurrences was
        // a twentieth of a request, on every session check).
        var standardBytes = text.utf8.map { $0 == UInt8(ascii: "-") ? UInt8(ascii: "+") : $0 == UInt8(ascii: "_") ? UInt8(ascii: "/") : $0 }
        standardBytes += Array(repeating: UInt8(ascii: "="), count: (4 - standardBytes.count % 4) % 4)
        let standard = String(decoding: standardBytes, as: UTF8.self)
        guard let bytes = Data(base64Encoded: standard).map(Array.init) else { return nil }
        // Canonical only (RFC 4648 §3.5): the last character's unused bits must be zero, or four texts
        // would decode to the same bytes (and one signature verify in four spellings).
        guard encode(bytes) == text else { return nil }
        return bytes
    }
}
