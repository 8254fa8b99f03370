import AgentOS
import JSON

/// The data transformer the portal's tRPC links are configured with (trpc.io/docs/server/data-transformers).
/// A server cannot tell reliably from a request which one a client uses, so it is configuration; what it
/// can tell is an input sent in the other encoding, and that is refused before anything runs, so a
/// mismatched client never gets a write applied behind an answer it cannot read.
public enum TRPCTransformer: String, Sendable {
    case none
    /// superjson 2.x: values travel as `{"json": value, "meta": {"values": annotations, "v": 1}}`.
    case superjson

    /// A call's input as the procedure reads it. `nil` is no input.
    func input(_ raw: JSONValue?) throws(TRPCError) -> JSONValue? {
        guard let raw else { return nil }
        let wrapped = Self.superjsonEnvelope(raw)
        switch (self, wrapped) {
        case (.none, .some):
            var error = TRPCError(.badRequest, "The input is superjson-encoded, but this server speaks plain JSON (TRPC_TRANSFORMER=none): configure the client link without a transformer, or the server with TRPC_TRANSFORMER=superjson")
            // Written in the encoding the client evidently speaks, so it can read why.
            error.encoding = .superjson
            throw error
        case (.none, nil):
            return raw
        case (.superjson, nil):
            var error = TRPCError(.badRequest, #"The input is not superjson-encoded ({"json": …}), but this server expects superjson (TRPC_TRANSFORMER=superjson): configure the client link with the superjson transformer, or the server with TRPC_TRANSFORMER=none"#)
            error.encoding = TRPCTransformer.none
            throw error
        case (.superjson, let envelope?):
            return try SuperjsonInput.decode(json: envelope.json, meta: envelope.meta)
        }
    }

    /// A value as the client's transformer deserializes it. Every value this gateway answers is plain JSON
    /// (dates are ISO 8601 strings, money is a number literal), so superjson needs no `meta`.
    func output(_ value: JSONValue) -> JSONValue {
        switch self {
        case .none: value
        case .superjson: .object(["json": value])
        }
    }

    /// `{"json": …}` with at most a `meta` beside it: what superjson's `serialize` writes.
    static func superjsonEnvelope(_ value: JSONValue) -> (json: JSONValue, meta: JSONValue?)? {
        guard case .object(let fields) = value, let json = fields["json"], fields.keys.allSatisfy({ $0 == "json" || $0 == "meta" }) else { return nil }
        return (json, fields["meta"])
    }
}

/// superjson's input annotations, applied to the plain JSON they describe. Honoured: `undefined` (the
/// field is absent) and `Date` (an ISO 8601 string, which the procedures read as text). Every other
/// annotation names a type no procedure here takes (Map, Set, BigInt, RegExp, NaN, a class…): refused,
/// naming the field, rather than read as something it is not.
enum SuperjsonInput {
    static func decode(json: JSONValue, meta: JSONValue?) throws(TRPCError) -> JSONValue? {
        guard let meta, meta != .null else { return json }
        guard case .object(let fields) = meta else { throw TRPCError(.badRequest, "superjson meta must be an object") }
        if let equalities = fields["referentialEqualities"], equalities != .null {
            throw TRPCError(.badRequest, "superjson referentialEqualities are not supported: send each value in full")
        }
        // Versions before 1 wrote paths without escapes (superjson's `legacyPaths`).
        let legacyPaths = fields["v"].map { if case .number(let v) = $0 { (Int(v) ?? 0) < 1 } else { true } } ?? true
        var annotations: [(path: [String], type: JSONValue)] = []
        if let values = fields["values"], values != .null {
            try walk(values, origin: [], legacyPaths: legacyPaths, into: &annotations)
        }
        var value: JSONValue? = json
        // Deepest first, so removing an undefined field never moves another annotation's target.
        for (path, type) in annotations.sorted(by: { $0.path.count > $1.path.count }) {
            let name = path.isEmpty ? "input" : "input." + path.joined(separator: ".")
            switch type {
            case .string("undefined"):
                value = try value.map { v throws(TRPCError) in try remove(path, from: v, name: name) } ?? nil
            case .string("Date"):
                guard case .string? = try value.map({ v throws(TRPCError) in try lookup(path, in: v, name: name) }) else {
                    throw TRPCError(.badRequest, "\(name) is annotated as a Date but is not an ISO 8601 string")
                }
            default:
                let described: String = switch type {
                case .string(let text): text
                case .array(let parts): parts.compactMap { if case .string(let text) = $0 { text } else { nil } }.joined(separator: " ")
                default: "unknown annotation"
                }
                throw TRPCError(.badRequest, "\(name) is a superjson \(described), which this procedure does not take")
            }
        }
        return value
    }

    /// superjson's minimised tree: a leaf `[type]`, a node `[type, {key: tree}]`, or `{key: tree}`, where
    /// each key is a dot-separated path with `\.` and `\\` escapes.
    static func walk(_ tree: JSONValue, origin: [String], legacyPaths: Bool, into out: inout [(path: [String], type: JSONValue)]) throws(TRPCError) {
        switch tree {
        case .array(let node):
            guard let type = node.first, node.count <= 2 else { throw TRPCError(.badRequest, "superjson meta.values is malformed") }
            if node.count == 2 {
                guard case .object(let children) = node[1] else { throw TRPCError(.badRequest, "superjson meta.values is malformed") }
                for (key, child) in children { try walk(child, origin: origin + parsePath(key, legacyPaths), legacyPaths: legacyPaths, into: &out) }
            }
            out.append((origin, type))
        case .object(let children):
            for (key, child) in children { try walk(child, origin: origin + parsePath(key, legacyPaths), legacyPaths: legacyPaths, into: &out) }
        default:
            throw TRPCError(.badRequest, "superjson meta.values is malformed")
        }
    }

    static func parsePath(_ text: String, _ legacyPaths: Bool) throws(TRPCError) -> [String] {
        var segments: [String] = [], segment = "", characters = Array(text), index = 0
        while index < characters.count {
            let character = characters[index]
            if character == "\\", index + 1 < characters.count, characters[index + 1] == "." {
                segment.append(".")
                index += 2
                continue
            }
            if !legacyPaths, character == "\\" {
                guard index + 1 < characters.count, characters[index + 1] == "\\" else { throw TRPCError(.badRequest, "superjson meta path \"\(text)\" is malformed") }
                segment.append("\\")
                index += 2
                continue
            }
            if character == "." {
                segments.append(segment)
                segment = ""
            } else {
                segment.append(character)
            }
            index += 1
        }
        segments.append(segment)
        return segments
    }

    static func lookup(_ path: [String], in value: JSONValue, name: String) throws(TRPCError) -> JSONValue? {
        guard let first = path.first else { return value }
        switch value {
        case .object(let fields): return try fields[first].map { v throws(TRPCError) in try lookup(Array(path.dropFirst()), in: v, name: name) } ?? nil
        case .array(let items):
            guard let index = Int(first), items.indices.contains(index) else { return nil }
            return try lookup(Array(path.dropFirst()), in: items[index], name: name)
        default: throw TRPCError(.badRequest, "\(name) does not exist in the input")
        }
    }

    /// The value without what `path` names; an undefined array element becomes null (as JSON writes it).
    static func remove(_ path: [String], from value: JSONValue, name: String) throws(TRPCError) -> JSONValue? {
        guard let first = path.first else { return nil }
        let rest = Array(path.dropFirst())
        switch value {
        case .object(var fields):
            if rest.isEmpty {
                fields[first] = nil
            } else if let child = fields[first] {
                fields[first] = try remove(rest, from: child, name: name) ?? .null
            }
            return .object(fields)
        case .array(var items):
            guard let index = Int(first), items.indices.contains(index) else { return value }
            items[index] = rest.isEmpty ? .null : (try remove(rest, from: items[index], name: name) ?? .null)
            return .array(items)
        default:
            throw TRPCError(.badRequest, "\(name) does not exist in the input")
        }
    }
}
