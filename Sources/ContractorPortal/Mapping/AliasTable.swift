import AgentOS
import Foundation
import JSON

/// Where a model field's value may come from upstream. Tried in table order; the first that reads wins.
public enum Source: Sendable {
    /// One upstream field, read with the rule's reader.
    case field(String)
    /// Several parts joined with a separator, each part the first present of its alternative names
    /// (an address from its lines and postcode, a name from forename and surname).
    case joined([[String]], separator: String)
    /// A flag that is true when the field's text equals this value (`Status` = `"Active"`).
    case equals(String, String)
    /// The magnitude of a signed amount when it has this sign: a statement's signed `Amount` is a credit
    /// when positive and a debit when negative.
    case signedPart(String, positive: Bool)
}

extension Source: ExpressibleByStringLiteral {
    /// A plain name is one upstream field: `.text("title", \.title, "Title", "IssueTitle")`.
    public init(stringLiteral name: String) { self = .field(name) }
}

/// One model field: its camelCase name, its upstream sources in order, and the key path it is read into
/// and written from. The name is written once, here, for both directions, and the key path is checked by
/// the compiler: a misspelt field cannot compile into a value silently left out.
public struct FieldRule<Model>: Sendable {
    public let name: String
    public let sources: [Source]
    /// How the value is read, which also says its JSON type (the API description is made from these).
    public let reader: ValueReader
    /// Whether seed 003 types it as nullable (`null` when absent) rather than giving a default.
    public let nullable: Bool
    let keyPath: PartialKeyPath<Model> & Sendable
    let assign: @Sendable (inout Model, MappedValue) -> Void
    /// nil for a field read but not printed (a job's owner).
    let emit: (@Sendable (Model) -> JSONValue)?

    /// Whether the field is printed in the portal's JSON (a job's owner is read only).
    public var isWritten: Bool { emit != nil }

    init<Value>(
        _ name: String, _ reader: ValueReader, _ path: WritableKeyPath<Model, Value> & Sendable, _ sources: [Source], written: Bool,
        nullable: Bool, read: @escaping @Sendable (MappedValue) -> Value?, write: @escaping @Sendable (Value) -> JSONValue
    ) {
        self.name = name
        self.sources = sources
        self.reader = reader
        self.nullable = nullable
        keyPath = path
        assign = { model, value in
            if let typed = read(value) { model[keyPath: path] = typed }
        }
        if written {
            emit = { model in write(model[keyPath: path]) }
        } else {
            emit = nil
        }
    }
}

extension FieldRule {
    static func textValue(_ value: MappedValue) -> String? { if case .text(let text) = value { text } else { nil } }

    /// Text that is `null` when absent.
    public static func text(_ name: String, _ path: WritableKeyPath<Model, String?> & Sendable, _ sources: Source...) -> FieldRule {
        FieldRule(name, .text, path, sources, written: true, nullable: true, read: textValue) { $0.map(JSONValue.string) ?? .null }
    }

    /// Text the seed types as non-null: the model's default (`""`) when absent.
    public static func text(_ name: String, _ path: WritableKeyPath<Model, String> & Sendable, _ sources: Source...) -> FieldRule {
        FieldRule(name, .text, path, sources, written: true, nullable: false, read: textValue) { .string($0) }
    }

    /// An identifier (a number or a string upstream), `null` when absent; `written: false` reads it only.
    public static func id(_ name: String, _ path: WritableKeyPath<Model, String?> & Sendable, _ sources: Source..., written: Bool = true) -> FieldRule {
        FieldRule(name, .id, path, sources, written: written, nullable: true, read: textValue) { $0.map(JSONValue.string) ?? .null }
    }

    /// An identifier the seed types as non-null.
    public static func id(_ name: String, _ path: WritableKeyPath<Model, String> & Sendable, _ sources: Source...) -> FieldRule {
        FieldRule(name, .id, path, sources, written: true, nullable: false, read: textValue) { .string($0) }
    }

    public static func date(_ name: String, _ path: WritableKeyPath<Model, Date?> & Sendable, _ sources: Source...) -> FieldRule {
        FieldRule(name, .date, path, sources, written: true, nullable: true, read: { if case .date(let date) = $0 { date } else { nil } }) {
            $0.map(OutputFormat.date) ?? .null
        }
    }

    public static func money(_ name: String, _ path: WritableKeyPath<Model, Decimal?> & Sendable, _ sources: Source...) -> FieldRule {
        FieldRule(name, .money, path, sources, written: true, nullable: true, read: { if case .money(let amount) = $0 { amount } else { nil } }) {
            $0.map(OutputFormat.money) ?? .null
        }
    }

    /// A flag: the model's default when absent.
    public static func bool(_ name: String, _ path: WritableKeyPath<Model, Bool> & Sendable, _ sources: Source...) -> FieldRule {
        FieldRule(name, .bool, path, sources, written: true, nullable: false, read: { if case .bool(let flag) = $0 { flag } else { nil } }) { .bool($0) }
    }

    /// A list of texts: empty when absent.
    public static func textList(_ name: String, _ path: WritableKeyPath<Model, [String]> & Sendable, _ sources: Source...) -> FieldRule {
        FieldRule(name, .textList, path, sources, written: true, nullable: false, read: { if case .textList(let list) = $0 { list } else { nil } }) {
            .array($0.map(JSONValue.string))
        }
    }
}

/// A model's mapping, declared as data and read top to bottom like the upstream contract's table; the
/// same rules read a record into the model and write the model as the portal's JSON.
public struct AliasTable<Model>: Sendable {
    public let rules: [FieldRule<Model>]

    public init(_ rules: [FieldRule<Model>]) { self.rules = rules }

    /// Reads every rule from the record into `model`. Values that cannot be read are simply absent (the
    /// model keeps its default); the raw record is kept whole as metadata by the model, so nothing
    /// AgentOS sent is lost.
    public func read(_ record: [String: JSONValue], into model: inout Model) {
        for rule in rules {
            if let value = rule.sources.lazy.compactMap({ Self.read($0, rule.reader, record) }).first { rule.assign(&model, value) }
        }
    }

    /// The model's fields as seed 003 writes them (every written rule, `null` where absent), with the raw
    /// record it was read from as `metadata`.
    public func write(_ model: Model, metadata: [String: JSONValue]) -> [String: JSONValue] {
        var fields: [String: JSONValue] = ["metadata": .object(metadata)]
        for rule in rules {
            if let emit = rule.emit { fields[rule.name] = emit(model) }
        }
        return fields
    }

    /// One field alone, for callers that need one or two fields of many records (insights count jobs by
    /// status and owner; mapping whole jobs for that spent most of the dashboard's time).
    public func value(_ field: PartialKeyPath<Model>, in record: [String: JSONValue]) -> MappedValue? {
        guard let rule = rules.first(where: { $0.keyPath == field }) else { return nil }
        return rule.sources.lazy.compactMap { Self.read($0, rule.reader, record) }.first
    }

    /// The upstream names each field may come from, for `contractor-bff doctor`.
    public var names: AliasNames {
        AliasNames(fields: rules.map { rule in
            (rule.name, rule.sources.flatMap { source -> [String] in
                switch source {
                case .field(let name), .equals(let name, _), .signedPart(let name, _): [name]
                case .joined(let parts, _): parts.flatMap { $0 }
                }
            })
        })
    }

    private static func read(_ source: Source, _ reader: ValueReader, _ record: [String: JSONValue]) -> MappedValue? {
        switch source {
        case .field(let name):
            return record[name].flatMap(reader.read)
        case .joined(let parts, let separator):
            let texts = parts.compactMap { names in names.lazy.compactMap { record[$0].flatMap(ValueReader.text) }.first }
            return texts.isEmpty ? nil : reader.read(.string(texts.joined(separator: separator)))
        case .equals(let name, let expected):
            guard let text = record[name].flatMap(ValueReader.text) else { return nil }
            return .bool(text.caseInsensitiveCompare(expected) == .orderedSame)
        case .signedPart(let name, let positive):
            guard let amount = record[name].flatMap(ValueReader.money) else { return nil }
            if positive { return amount > 0 ? .money(amount) : .money(0) }
            return amount < 0 ? .money(-amount) : .money(0)
        }
    }
}

/// A table's fields with the upstream names each may come from (whatever the model).
public struct AliasNames: Sendable {
    public let fields: [(field: String, names: [String])]

    /// Every upstream name a rule may read.
    public var upstream: Set<String> { Set(fields.flatMap(\.names)) }

    /// The fields none of whose upstream names appear among `seen`, with the names they look for.
    public func unmatched(_ seen: Set<String>) -> [(field: String, names: [String])] {
        fields.filter { !$0.names.contains(where: seen.contains) }
    }
}

/// Builds the portal's JSON for a model: absent values as `null`, money and dates in their output format.
struct JSONFields {
    private(set) var fields: [String: JSONValue] = [:]

    mutating func money(_ name: String, _ value: Decimal?) { fields[name] = value.map(OutputFormat.money) ?? .null }
    mutating func bool(_ name: String, _ value: Bool) { fields[name] = .bool(value) }
    mutating func int(_ name: String, _ value: Int?) { fields[name] = value.map { .number(String($0)) } ?? .null }
    mutating func value(_ name: String, _ value: JSONValue) { fields[name] = value }

    var json: JSONValue { .object(fields) }
}
