import AgentOS
@testable import ContractorBFFApp
import Foundation
import TestSupport
import Testing

/// HS256 session tokens: what is accepted, and every way one is refused.
@Suite("Session tokens (HS256 JWT)", .scoped)
struct SessionTokenTests {
    let tokens = SessionTokens(secret: "unit-test-secret-that-is-32-bytes-long")
    let now = 1_800_000_000

    func claims(exp: Int? = nil) -> SessionClaims {
        SessionClaims(subject: "C-1001", agency: "demo", issuedAt: now, expiresAt: exp ?? now + 900, role: "engineer")
    }

    /// A token with any header and payload, signed with the test secret (or not signed at all).
    func forge(header: String, payload: String, sign: Bool = true) -> String {
        let input = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(payload.utf8))
        let signature = sign ? Base64URL.encode(Crypto.hmacSHA256(key: Array("unit-test-secret-that-is-32-bytes-long".utf8), Array(input.utf8))) : ""
        return input + "." + signature
    }

    @Test func signedTokenVerifies() throws {
        let token = tokens.sign(claims())
        let verified = try tokens.verify(token, now: now + 10)
        #expect(verified == claims())
    }

    /// RFC 4231 test case 2: HMAC-SHA256("Jefe", "what do ya want for nothing?").
    @Test func hmacMatchesTheRFC4231Vector() {
        let mac = Crypto.hmacSHA256(key: Array("Jefe".utf8), Array("what do ya want for nothing?".utf8))
        #expect(mac.map { String(format: "%02x", $0) }.joined() == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func expiredTokenIsRefused() {
        let token = tokens.sign(claims(exp: now))
        #expect(throws: SessionTokenError.expired) { try tokens.verify(token, now: now) }
    }

    @Test(arguments: [
        (#"{"alg":"none","typ":"JWT"}"#, false),
        (#"{"alg":"none"}"#, true),
        (#"{"alg":"HS512"}"#, true),
        (#"{"alg":"RS256"}"#, true),
        (#"{"alg":"hs256"}"#, true),
        (#"{"typ":"JWT"}"#, true),
        (#"{"alg":"HS256","crit":["exp"]}"#, true),
    ])
    func onlyHS256IsAccepted(_ header: String, _ signed: Bool) {
        let token = forge(header: header, payload: #"{"sub":"C-1001","agency":"demo","exp":1900000000}"#, sign: signed)
        #expect(throws: SessionTokenError.self) { try tokens.verify(token, now: now) }
    }

    @Test(arguments: [
        (#"{"agency":"demo","exp":1900000000}"#, SessionTokenError.missingClaim("sub")),
        (#"{"sub":"C-1001","exp":1900000000}"#, .missingClaim("agency")),
        (#"{"sub":"C-1001","agency":"demo"}"#, .missingClaim("exp")),
        (#"{"sub":"C-1001","agency":"demo","exp":"1900000000"}"#, .missingClaim("exp")),
        (#"{"sub":"","agency":"demo","exp":1900000000}"#, .missingClaim("sub")),
        (#"{"sub":42,"agency":"demo","exp":1900000000}"#, .missingClaim("sub")),
        (#"{"sub":"C-1001","agency":"demo","exp":1900000000,"iat":1900000000}"#, .notYetValid),
        (#"{"sub":"C-1001","agency":"demo","exp":1900000000,"nbf":1850000000}"#, .notYetValid),
        (#"[1,2]"#, .malformed),
    ])
    func claimsAreChecked(_ payload: String, _ expected: SessionTokenError) {
        let token = forge(header: #"{"alg":"HS256","typ":"JWT"}"#, payload: payload)
        #expect(throws: expected) { try tokens.verify(token, now: now) }
    }

    @Test func tamperingIsDetected() {
        let token = tokens.sign(claims())
        let parts = token.split(separator: ".").map(String.init)
        let otherPayload = Base64URL.encode(Array(#"{"sub":"C-2002","agency":"demo","exp":1900000000}"#.utf8))
        #expect(throws: SessionTokenError.badSignature) { try tokens.verify(parts[0] + "." + otherPayload + "." + parts[2], now: now) }
        let otherSecret = SessionTokens(secret: "another-secret-that-is-32-bytes-long!!").sign(claims())
        #expect(throws: SessionTokenError.badSignature) { try tokens.verify(otherSecret, now: now) }
        var flipped = Array(token.utf8)
        flipped[flipped.count - 2] = flipped[flipped.count - 2] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect(throws: SessionTokenError.self) { try tokens.verify(String(decoding: flipped, as: UTF8.self), now: now) }
    }

    @Test(arguments: ["", "a.b", "a.b.c.d", "!!!.e30.abc", "e30.e30.a+b/", String(repeating: "a", count: 5_000) + ".e30.e30"])
    func malformedTokensAreRefused(_ token: String) {
        #expect(throws: SessionTokenError.self) { try tokens.verify(token, now: now) }
    }

    @Test(arguments: [("15m", 900), ("90s", 90), ("8h", 28_800), ("30d", 2_592_000)])
    func ttlParses(_ text: String, _ seconds: Int) { #expect(TokenCommand.parseTTL(text) == seconds) }

    @Test(arguments: ["", "15", "0m", "-5m", "31d", "m", "1w", "99999999999999999d"])
    func badTTLIsRefused(_ text: String) { #expect(TokenCommand.parseTTL(text) == nil) }

    /// The hand-written base64url against Foundation's standard alphabet, for every length of a few
    /// blocks and every byte value; and only canonical texts decode.
    @Test func base64URLMatchesFoundation() {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<70 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let expected = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            #expect(Base64URL.encode(bytes) == expected)
            #expect(Base64URL.decode(Substring(expected)) == bytes)
        }
        #expect(Base64URL.encode(Array(0...255)).count == 342)
        #expect(Base64URL.decode(Substring(Base64URL.encode(Array(0...255)))) == Array(0...255))
        for refused in ["A", "QR", "QUJ", "QUI=", "Q+==", "Q/", "ab cd", "é"] { #expect(Base64URL.decode(Substring(refused)) == nil, "\(refused)") }
        #expect(Base64URL.decode("QUI") == Array("AB".utf8) && Base64URL.decode("") == [])
    }
}
