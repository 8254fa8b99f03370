import CLibPQ
import Foundation

/// What a database call can end in, typed so callers can tell "retry later" from "your input is wrong".
public enum PGError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No connection could be made, or it was lost (the server is down or unreachable).
    case unavailable(String)
    /// The statement failed on the server: its SQLSTATE and message (57014 is a statement timeout).
    case failed(sqlState: String, message: String)
    /// No connection of the pool came free before the caller's deadline.
    case timedOut

    public var description: String {
        switch self {
        case .unavailable(let message): "PostgreSQL is unavailable: \(message)"
        case .failed(let state, let message): "PostgreSQL refused the statement (\(state)): \(message)"
        case .timedOut: "PostgreSQL did not answer in time"
        }
    }

    /// A serialization failure or deadlock: the transaction may simply be run again.
    public var isRetryable: Bool {
        if case .failed(let state, _) = self { return state == "40001" || state == "40P01" }
        return false
    }
}

/// A statement's rows, every value as PostgreSQL's text form (nil for NULL).
public struct PGRows: Sendable {
    public let columns: [String]
    public let rows: [[String?]]
    /// Rows inserted, updated or deleted (`PQcmdTuples`).
    public let affected: Int

    public subscript(row: Int, column: String) -> String? {
        guard let index = columns.firstIndex(of: column), row < rows.count else { return nil }
        return rows[row][index]
    }

    public var isEmpty: Bool { rows.isEmpty }
}

/// One libpq connection. Blocking: used by one thread at a time (the pool's), never on the cooperative
/// pool. Parameters are always sent apart from the statement text (`PQexecParams`), never interpolated.
final class PGConnection {
    private var handle: OpaquePointer?
    let conninfo: String
    /// A call failed for want of the server: the connection is made again before the next statement
    /// (libpq may still call it OK until it next reads from the socket).
    private var broken = false

    init(conninfo: String) throws(PGError) {
        self.conninfo = conninfo
        try connect()
    }

    deinit { if let handle { PQfinish(handle) } }

    private func connect() throws(PGError) {
        if let handle { PQfinish(handle) }
        handle = PQconnectdb(conninfo)
        guard let handle, PQstatus(handle) == CONNECTION_OK else {
            let message = handle.map { String(cString: PQerrorMessage($0)) } ?? "out of memory"
            throw .unavailable(PGError.redacting(message))
        }
    }

    var isOK: Bool { handle.map { PQstatus($0) == CONNECTION_OK } ?? false }

    /// Runs `sql` with `$1…` bound to `parameters` (text; nil is NULL). A connection found broken is made
    /// again once before the statement is sent; a statement whose connection breaks while it runs is not
    /// sent again (it may have been applied): the caller gets `unavailable`.
    func execute(_ sql: String, _ parameters: [String?]) throws(PGError) -> PGRows {
        try reconnectIfBroken()
        let copies = parameters.map { $0.map { strdup($0) } ?? nil }
        defer { copies.forEach { free($0) } }
        let pointers = copies.map { UnsafePointer<CChar>($0) }
        let result = pointers.withUnsafeBufferPointer { values in
            PQexecParams(handle, sql, Int32(parameters.count), nil, values.baseAddress, nil, nil, 0)
        }
        defer { PQclear(result) }
        let answered = try succeeded(result)
        let columnCount = Int(PQnfields(answered)), rowCount = Int(PQntuples(answered))
        let columns = (0..<columnCount).map { String(cString: PQfname(answered, Int32($0))) }
        let rows = (0..<rowCount).map { row in
            (0..<columnCount).map { column -> String? in
                PQgetisnull(answered, Int32(row), Int32(column)) == 1 ? nil : String(cString: PQgetvalue(answered, Int32(row), Int32(column)))
            }
        }
        return PGRows(columns: columns, rows: rows, affected: Int(String(cString: PQcmdTuples(answered))) ?? 0)
    }

    /// Several statements without parameters (a migration): `PQexec`, which takes a script, where
    /// `PQexecParams` takes one statement.
    func executeScript(_ sql: String) throws(PGError) {
        try reconnectIfBroken()
        let result = PQexec(handle, sql)
        defer { PQclear(result) }
        _ = try succeeded(result)
    }

    private func reconnectIfBroken() throws(PGError) {
        guard broken || !isOK else { return }
        PQreset(handle)
        guard isOK else { throw .unavailable(PGError.redacting(String(cString: PQerrorMessage(handle)))) }
        broken = false
    }

    /// The result when the statement succeeded; else the server's error (with its SQLSTATE) or, for one
    /// libpq made up because the connection went (no SQLSTATE), `unavailable`.
    private func succeeded(_ result: OpaquePointer?) throws(PGError) -> OpaquePointer {
        guard let result else { throw lost() }
        switch PQresultStatus(result) {
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK: return result
        default:
            guard isOK, let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map({ String(cString: $0) }) else { throw lost() }
            throw .failed(sqlState: state, message: PQresultErrorField(result, Int32(UInt8(ascii: "M"))).map { String(cString: $0) } ?? "error")
        }
    }

    private func lost() -> PGError {
        broken = true
        return .unavailable(PGError.redacting(String(cString: PQerrorMessage(handle))))
    }
}

extension PGError {
    /// libpq's messages can quote the connection string; a password in it never reaches a log.
    public static func redacting(_ message: String) -> String {
        var text = message.trimmingCharacters(in: .whitespacesAndNewlines)
        for pattern in [#"password=\S+"#, #"://([^:/@]+):[^@/]+@"#] {
            text = text.replacingOccurrences(of: pattern, with: pattern.hasPrefix("password") ? "password=***" : "://$1:***@", options: .regularExpression)
        }
        return text
    }
}
