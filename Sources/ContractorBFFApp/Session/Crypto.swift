import COpenSSL
import Digest
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

    static func sha256(_ data: [UInt8]) -> [UInt8] { SHA256.digest(of: data) }

    static func hex(_ bytes: [UInt8]) -> String { Hex.lowercase(bytes) }

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

/// Base64url without padding (RFC 4648 §5), as JWTs use it; written out here because every session
/// check decodes three parts and signs one, and Foundation's way (standard alphabet, then replacing
/// characters) was a tenth of a cached page's time.
enum Base64URL {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    /// Each byte's value in the alphabet, or -1.
    private static let values: [Int8] = {
        var table = [Int8](repeating: -1, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = Int8(index) }
        return table
    }()

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var index = 0
        while index + 3 <= bytes.count {
            let group = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            for shift in [18, 12, 6, 0] as [UInt32] { out.append(alphabet[Int((group >> shift) & 63)]) }
            index += 3
        }
        switch bytes.count - index {
        case 1:
            let group = UInt32(bytes[index]) << 16
            out += [alphabet[Int(group >> 18)], alphabet[Int((group >> 12) & 63)]]
        case 2:
            let group = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
            out += [alphabet[Int(group >> 18)], alphabet[Int((group >> 12) & 63)], alphabet[Int((group >> 6) & 63)]]
        default: break
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// nil for anything but the unpadded alphabet, and for a text that is not canonical (RFC 4648 §3.5:
    /// the last character's unused bits must be zero, or four texts would decode to the same bytes and one
    /// signature verify in four spellings).
    static func decode(_ text: Substring) -> [UInt8]? {
        var digits: [UInt32] = []
        digits.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            let value = values[Int(byte)]
            guard value >= 0 else { return nil }
            digits.append(UInt32(value))
        }
        guard digits.count % 4 != 1 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count * 3 / 4)
        var index = 0
        while index + 4 <= digits.count {
            let group = digits[index] << 18 | digits[index + 1] << 12 | digits[index + 2] << 6 | digits[index + 3]
            out += [UInt8(group >> 16), UInt8((group >> 8) & 255), UInt8(group & 255)]
            index += 4
        }
        switch digits.count - index {
        case 2:
            guard digits[index + 1] & 15 == 0 else { return nil }
            out.append(UInt8((digits[index] << 2 | digits[index + 1] >> 4) & 255))
        case 3:
            guard digits[index + 2] & 3 == 0 else { return nil }
            let group = digits[index] << 18 | digits[index + 1] << 12 | digits[index + 2] << 6
            out += [UInt8(group >> 16), UInt8((group >> 8) & 255)]
        default: break
        }
        return out
    }
}
