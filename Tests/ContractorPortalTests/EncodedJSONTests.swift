import ContractorPortal
import Foundation
import JSON
import Testing

/// Jobs written once at import and merged with a view's members per answer: the bytes must be exactly
/// what serialising the whole object would give, whatever the keys and however they interleave.
@Suite("Encoded objects: written once, answered identically")
struct EncodedJSONTests {
    static let written: [String: JSONValue] = [
        "jobId": .string("J-1"), "status": .string("Open \"quoted\"\n"), "title": .string("Leak ✓"), "metadata": .object(["Z": .null, "A": .number("0.10")]),
        "actualCost": .null, "zeta": .array([.bool(true), .number("-1e3")]),
    ]

    @Test(arguments: [
        [:],
        ["notes": JSONValue.array([]), "notesLoaded": .bool(false)],
        ["awaitingConfirmation": .bool(true), "overdue": .bool(false), "a": .string("first"), "zz": .string("last")],
        ["status": .string("Completed")],  // replaces a written member
        ["jobId": .string("J-2"), "title": .null, "metadata": .string("flat"), "zeta": .number("7")],
    ])
    func addingGivesTheSerialisedMerge(_ extra: [String: JSONValue]) {
        let answer = EncodedObject(Self.written).adding(extra)
        var whole = Self.written
        whole.merge(extra) { _, added in added }
        #expect(answer.serialized() == JSONValue.object(whole).serialized())
        #expect(answer.serialized().first == 123 && answer.serialized().last == 125)
    }

    @Test func setReplacesOrInsertsInOrder() {
        var object = EncodedObject(Self.written)
        object.set("status", .string("Closed"))
        object.set("middle", .number("3"))
        object.set("aaa", .bool(false))
        var whole = Self.written
        whole["status"] = .string("Closed")
        whole["middle"] = .number("3")
        whole["aaa"] = .bool(false)
        #expect(object.adding([:]).serialized() == JSONValue.object(whole).serialized())
    }

    /// The mirror's job (written at import) and the same job read live answer with the same bytes, with the
    /// moment's members (overdue, awaiting confirmation, a changed status) and a view's notes.
    @Test func aPreparedJobAnswersAsTheLiveOne() throws {
        let raw: JSONValue = .object([
            "OID": .string("J-9"), "ContractorID": .string("C-1"), "Status": .string("Open"), "Priority": .string("High"),
            "ReportedDate": .string("2026-05-01T09:00:00Z"), "EstimatedCost": .number("120.5"), "Title": .string("Boiler"),
        ])
        var live = try #require(ContractorMaintenanceJob(upstream: raw))
        live.dueBy = Date(timeIntervalSince1970: 1_777_000_000)
        var prepared = live.precomputed()
        #expect(prepared.encoded != nil && live.encoded == nil)
        for change in 0..<3 {
            if change == 1 { live.overdue = true; prepared.overdue = true }
            if change == 2 {
                live.show(status: "Completed"); prepared.show(status: "Completed")
                live.awaitingConfirmation = true; prepared.awaitingConfirmation = true
            }
            let extra: [String: JSONValue] = ["notes": .array([.object(["text": .string("n")])]), "notesLoaded": .bool(true)]
            #expect(prepared.answer(adding: extra).serialized() == live.answer(adding: extra).serialized(), "change \(change)")
            #expect(prepared.answer().serialized() == live.json.serialized())
        }
        // A due date set after the job was written is still answered.
        prepared.dueBy = Date(timeIntervalSince1970: 1_800_000_000)
        live.dueBy = prepared.dueBy
        #expect(prepared.answer().serialized() == live.json.serialized())
    }
}
