import JSON
/// A list as AgentOS answered it, read from any of its envelopes.
public struct UpstreamList: Sendable, Equatable {
    public var items: [JSONValue]
    /// `Count` of `{"Count","Data"}`: the total across all pages. nil for the envelopes that do not say.
    public var total: Int?

    /// `{"Count": n, "Data": [...]}`, `{"Jobs": [...]}` (or any one-array object), or a bare array.
    static func read(_ value: JSONValue) -> UpstreamList? {
        switch value {
        case .array(let items):
            return UpstreamList(items: items, total: nil)
        case .object(let fields):
            if case .array(let items)? = fields["Data"] {
                var total: Int?
                if case .number(let literal)? = fields["Count"] { total = Int(literal) }
                return UpstreamList(items: items, total: total)
            }
            let arrays = fields.values.compactMap(\.arrayValue)
            if let jobs = fields["Jobs"]?.arrayValue { return UpstreamList(items: jobs, total: nil) }
            return arrays.count == 1 ? UpstreamList(items: arrays[0], total: nil) : nil
        default:
            return nil
        }
    }
}
