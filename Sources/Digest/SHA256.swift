import COpenSSL

/// SHA-256 by OpenSSL's EVP interface, fed in pieces: a file is hashed as it is read, never held whole
/// for it. The one SHA-256 of the project (the application's `Crypto.sha256` is this).
public struct SHA256: ~Copyable {
    private let context: OpaquePointer

    public init() {
        context = EVP_MD_CTX_new()
        EVP_DigestInit_ex(context, EVP_sha256(), nil)
    }

    deinit { EVP_MD_CTX_free(context) }

    public mutating func update(_ bytes: ArraySlice<UInt8>) {
        _ = bytes.withUnsafeBytes { EVP_DigestUpdate(context, $0.baseAddress, $0.count) }
    }

    /// The 32-byte digest.
    public consuming func digest() -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let ok = EVP_DigestFinal_ex(context, &digest, &length)
        precondition(ok == 1 && length == 32, "SHA-256 failed")
        return digest
    }

    /// The digest as 64 lower-case hex digits.
    public consuming func hexDigest() -> String { Hex.lowercase(digest()) }

    public static func digest(of bytes: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(bytes[...])
        return hasher.digest()
    }

    public static func hex(of bytes: [UInt8]) -> String { Hex.lowercase(digest(of: bytes)) }
}

public enum Hex {
    /// Two lower-case hex digits a byte.
    public static func lowercase(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
