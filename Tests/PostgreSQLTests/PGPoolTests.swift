import Foundation
import PostgreSQL
import TestSupport
import Testing

/// The libpq pool against a real server (a throwaway cluster per test).
// One cluster at a time: initdb and a server start are heavy beside the rest of the suite on two cores.
@Suite("PostgreSQL pool", .scoped, .serialized, .enabled(if: TestPostgres.runnable, "PostgreSQL is not installed here (Debian postgresql): these tests are skipped; CI runs them"))
struct PGPoolTests {
    static func deadline(_ seconds: Int = 30) -> ContinuousClock.Instant { .now + .seconds(seconds) }

    @Test func statementsTakeParametersApartFromTheText() async throws {
        let database = try await TestPostgres.start()
        let pool = PGPool(conninfo: database.conninfo, size: 2, statementTimeoutMs: 5000)
        _ = try await pool.execute("CREATE TABLE notes (id serial PRIMARY KEY, text text NOT NULL, extra text)", deadline: Self.deadline())
        // A value that would break a statement built by interpolation is only a value here.
        let hostile = "x'); DROP TABLE notes; --"
        let inserted = try await pool.execute("INSERT INTO notes (text, extra) VALUES ($1, $2) RETURNING id", [hostile, nil], deadline: Self.deadline())
        #expect(inserted.affected == 1 && inserted[0, "id"] == "1")
        let read = try await pool.execute("SELECT text, extra FROM notes WHERE id = $1", ["1"], deadline: Self.deadline())
        #expect(read[0, "text"] == hostile)
        #expect(read.rows[0][1] == nil, "NULL is nil")
        await #expect(throws: PGError.failed(sqlState: "42P01", message: #"relation "missing" does not exist"#)) {
            try await pool.execute("SELECT * FROM missing", deadline: Self.deadline())
        }
        await database.stop()
    }

    @Test func aStatementOverItsTimeoutIsCancelledByTheServer() async throws {
        let database = try await TestPostgres.start()
        let pool = PGPool(conninfo: database.conninfo, size: 1, statementTimeoutMs: 200)
        await #expect {
            try await pool.execute("SELECT pg_sleep(5)", deadline: Self.deadline())
        } throws: { ($0 as? PGError).map { if case .failed("57014", _) = $0 { true } else { false } } ?? false }
        // The connection is still good for the next statement.
        #expect(try await pool.execute("SELECT 1 AS one", deadline: Self.deadline())[0, "one"] == "1")
        await database.stop()
    }

    @Test func callersWaitForAFreeConnectionUntilTheirDeadline() async throws {
        let database = try await TestPostgres.start()
        let pool = PGPool(conninfo: database.conninfo, size: 1, statementTimeoutMs: 10_000)
        async let holding = pool.execute("SELECT pg_sleep(1.5)", deadline: Self.deadline())
        try await Task.sleep(for: .milliseconds(300))
        await #expect(throws: PGError.timedOut) { try await pool.execute("SELECT 1", deadline: .now + .milliseconds(200)) }
        // A longer deadline gets the connection once it is free.
        #expect(try await pool.execute("SELECT 2 AS two", deadline: Self.deadline())[0, "two"] == "2")
        _ = try await holding
        await database.stop()
    }

    @Test func aStoppedServerIsUnavailableAndTheNextCallReconnects() async throws {
        let database = try await TestPostgres.start()
        let pool = PGPool(conninfo: database.conninfo, size: 1, statementTimeoutMs: 5000)
        #expect(try await pool.execute("SELECT 1 AS one", deadline: Self.deadline())[0, "one"] == "1")
        try await database.pause(immediately: true)
        await #expect {
            try await pool.execute("SELECT 1", deadline: Self.deadline())
        } throws: { ($0 as? PGError).map { if case .unavailable = $0 { true } else { false } } ?? false }
        try await database.resume()
        #expect(try await pool.execute("SELECT 3 AS three", deadline: Self.deadline())[0, "three"] == "3")
        await database.stop()
    }

    @Test func passwordsNeverReachAnErrorMessage() {
        #expect(PGError.unavailable("x").description.contains("unavailable"))
        let redacted = PGError.redacting("could not connect: postgres://app:s3cret@db:5432/x and password=hunter2 host=db")
        #expect(!redacted.contains("s3cret") && !redacted.contains("hunter2"))
        #expect(redacted.contains("app:***@") && redacted.contains("password=***"))
    }
}
