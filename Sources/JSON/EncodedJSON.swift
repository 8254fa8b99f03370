/// JSON text this process wrote itself (by `EncodedObject`), copied into an answer as it is. Never made
/// from bytes read elsewhere, so it is always well-formed; nothing reads fields back out of it (a caller
/// that needs them has the model it was written from).
public struct EncodedJSON: Sendable, Equatable {
    public let bytes: [UInt8]

    fileprivate init(bytes: [UInt8]) { self.bytes = bytes }
}

/// An object whose members are already written (`"key":value` each) and kept in key order, so an answer
/// can add the few members that depend on the moment without sorting and escaping the rest again: the
/// mirror writes each job once at import, and a page of 50 jobs then costs copies, not serialisation.
public struct EncodedObject: Sendable, Equatable {
    struct Member: Sendable, Equatable {
        let key: String
        let text: [UInt8]

        init(_ key: String, _ value: JSONValue) {
            self.key = key
            var text: [UInt8] = []
            JSONText.appendString(key, to: &text)
            text.append(58)
            value.write(to: &text)
            self.text = text
        }

        static func precedes(_ a: Member, _ b: Member) -> Bool { a.key.utf8.lexicographicallyPrecedes(b.key.utf8) }
    }

    private var members: [Member]

    public init(_ fields: [String: JSONValue]) {
        members = fields.map { Member($0.key, $0.value) }.sorted(by: Member.precedes)
    }

    /// Sets one member (written now), keeping the order.
    public mutating func set(_ key: String, _ value: JSONValue) {
        let member = Member(key, value)
        if let index = members.firstIndex(where: { $0.key == key }) {
            members[index] = member
        } else {
            members.insert(member, at: members.firstIndex { Member.precedes(member, $0) } ?? members.endIndex)
        }
    }

    /// The whole object with `extra` merged in, in the same key order `JSONValue.serialized()` uses; an
    /// extra member replaces a written one of the same key.
    public func adding(_ extra: [String: JSONValue]) -> JSONValue {
        let added = extra.map { Member($0.key, $0.value) }.sorted(by: Member.precedes)
        var out: [UInt8] = [123]
        out.reserveCapacity(members.reduce(2) { $0 + $1.text.count + 1 } + added.reduce(0) { $0 + $1.text.count + 1 })
        var first = true
        func append(_ member: Member) {
            if !first { out.append(44) }
            first = false
            out.append(contentsOf: member.text)
        }
        var next = added.startIndex
        for member in members {
            while next < added.endIndex, Member.precedes(added[next], member) {
                append(added[next])
                next += 1
            }
            if next < added.endIndex, added[next].key == member.key {
                append(added[next])
                next += 1
            } else {
                append(member)
            }
        }
        while next < added.endIndex {
            append(added[next])
            next += 1
        }
        out.append(125)
        return .encoded(EncodedJSON(bytes: out))
    }
}
