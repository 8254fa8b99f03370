/// The media types a request names: its body's (`Content-Type`) and those it accepts (`Accept`), each
/// `type/subtype` lower-cased without its parameters, the way every route compares them.
extension HTTPHeaders {
    /// The body's media type, or nil without a Content-Type.
    public var contentMediaType: String? { self["Content-Type"].map { Self.bare(Substring($0)) } }

    /// Every media range of every Accept line, with its quality (1 when it gives none).
    public var acceptedMediaTypes: [(type: String, quality: Double)] {
        values("Accept").flatMap { $0.split(separator: ",") }.map { range in
            let parameters = range.split(separator: ";").dropFirst().map { $0.trimmingOWS().lowercased() }
            let quality = parameters.first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            return (Self.bare(range), quality)
        }
    }

    static func bare(_ value: Substring) -> String {
        String((value.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? "").trimmingOWS()).lowercased()
    }
}
