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

/// One model field: its camelCase name, how its value is read, and its upstream sources in order.
public struct FieldRule: Sendable {
    public let name: String
    public let reader: ValueReader
    public let sources: [Source]

    public init(_ name: String, _ reader: ValueReader, _ sources: [Source]) {
        self.name = name
        self.reader = reader
        self.sources = sources
    }

    /// The common case: a field known by several names.
    public init(_ name: String, _ reader: ValueReader, names: String...) {
        self.init(name, reader, names.map(Source.field))
    }
}

/// A model's mapping, declared as data and read top to bottom like the upstream contract's table.
public struct AliasTable: Sendable {
    public let rules: [FieldRule]

    public init(_ rules: [FieldRule]) { self.rules = rules }

    /// Reads every rule from the record. Values that cannot be read are simply absent; the raw record is
    /// kept whole as metadata, so nothing AgentOS sent is lost.
    public func map(_ record: [String: JSONValue]) -> MappedRecord {
        var values: [String: MappedValue] = [:]
        for rule in rules {
            for source in rule.sources {
                if let value = Self.read(source, rule.reader, record) {
                    values[rule.name] = value
                    break
                }
            }
        }
        return MappedRecord(values: values, metadata: record)
    }

    /// One field alone, for callers that need one or two fields of many records (insights count jobs by
    /// status and owner; mapping whole jobs for that spent most of the dashboard's time).
    public func value(_ name: String, in record: [String: JSONValue]) -> MappedValue? {
        guard let rule = rules.first(where: { $0.name == name }) else { return nil }
        return rule.sources.lazy.compactMap { Self.read($0, rule.reader, record) }.first
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

/// A record after its alias table: typed values by model field name, and the raw upstream fields.
public struct MappedRecord: Sendable, Equatable {
    public var values: [String: MappedValue]
    public let metadata: [String: JSONValue]

    public func text(_ name: String) -> String? {
        if case .text(let text)? = values[name] { return text }
        return nil
    }

    public func money(_ name: String) -> Decimal? {
        if case .money(let amount)? = values[name] { return amount }
        return nil
    }

    public func date(_ name: String) -> Date? {
        if case .date(let date)? = values[name] { return date }
        return nil
    }

    public func bool(_ name: String) -> Bool? {
        if case .bool(let flag)? = values[name] { return flag }
        return nil
    }

    public func textList(_ name: String) -> [String]? {
        if case .textList(let list)? = values[name] { return list }
        return nil
    }
}

/// Builds the portal's JSON for a model: absent values as `null`, money and dates in their output format.
struct JSONFields {
    private(set) var fields: [String: JSONValue] = [:]

    mutating func text(_ name: String, _ value: String?) { fields[name] = value.map(JSONValue.string) ?? .null }
    mutating func money(_ name: String, _ value: Decimal?) { fields[name] = value.map(OutputFormat.money) ?? .null }
    mutating func date(_ name: String, _ value: Date?) { fields[name] = value.map(OutputFormat.date) ?? .null }
    mutating func bool(_ name: String, _ value: Bool) { fields[name] = .bool(value) }
    mutating func int(_ name: String, _ value: Int?) { fields[name] = value.map { .number(String($0)) } ?? .null }
    mutating func list(_ name: String, _ values: [String]) { fields[name] = .array(values.map(JSONValue.string)) }
    mutating func value(_ name: String, _ value: JSONValue) { fields[name] = value }
    mutating func metadata(_ raw: [String: JSONValue]) { fields["metadata"] = .object(raw) }

    var json: JSONValue { .object(fields) }
}

extension AliasTable {
    /// Every upstream name a rule may read.
    public var upstreamNames: Set<String> {
        Set(rules.flatMap { rule in rule.sources.flatMap { source -> [String] in
            switch source {
            case .field(let name), .equals(let name, _), .signedPart(let name, _): [name]
            case .joined(let parts, _): parts.flatMap { $0 }
            }
        } })
    }

    /// The fields none of whose upstream names appear among `seen`, with the names they look for.
    public func unmatched(_ seen: Set<String>) -> [(field: String, names: [String])] {
        rules.compactMap { rule in
            let names = rule.sources.flatMap { source -> [String] in
                switch source {
                case .field(let name), .equals(let name, _), .signedPart(let name, _): [name]
                case .joined(let parts, _): parts.flatMap { $0 }
                }
            }
            return names.contains(where: seen.contains) ? nil : (rule.name, names)
        }
    }
}
