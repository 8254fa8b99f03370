import Foundation
import Glibc
import PostgreSQL

/// `contractor-bff users add|list|disable|enable|set-password`: the portal's users in DATA_DIR. Passwords are
/// read from the terminal (not echoed) or, when stdin is not a terminal, from its first line; never from
/// an argument, which other users of the machine could read in the process list.
enum UsersCommand {
    static let usage = """
        contractor-bff users add --email E --agency NAME --contractor ID [--role R]
        contractor-bff users list
        contractor-bff users disable --email E
        contractor-bff users enable --email E
        contractor-bff users set-password --email E

        Manages who may sign in (POST /api/auth/login) in DATA_DIR/users.jsonl. `add` and `set-password`
        read the password from the terminal without echo, or from the first line of stdin when it is not
        a terminal (at least 12 characters). Stored as PBKDF2-HMAC-SHA256, 600,000 rounds, per-user salt.
        A running server sees changes at the next sign-in or refresh; set-password and disable end every
        earlier sign-in of the user (its refresh tokens stop working at their next use).
        """

    static func run(_ arguments: [String]) async -> Int32 {
        guard let action = arguments.first else {
            CLI.printError("users needs an action\n\n\(usage)")
            return 64
        }
        var options: [String: String] = [:], rest: [String] = []
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            if ["--email", "--agency", "--contractor", "--role"].contains(argument) {
                guard let value = iterator.next(), !value.isEmpty else {
                    CLI.printError("\(argument) takes a value")
                    return 64
                }
                options[argument] = value
            } else {
                rest.append(argument)
            }
        }
        guard let configuration = CLI.loadConfiguration(rest) else { return 78 }
        // The users `serve` signs in: PostgreSQL's with DATABASE_URL, else DATA_DIR's file.
        let store: any UserStore
        if let database = configuration.database {
            let pool = PGPool(conninfo: database.url, size: 1, statementTimeoutMs: database.statementTimeoutMs)
            do { try await Migrations.apply(pool, deadline: .now + .seconds(60)) } catch {
                CLI.printError("cannot reach the user store (DATABASE_URL): \(error)")
                return 69
            }
            store = PostgresUserStore(pool: pool)
        } else {
            do { store = try FileUserStore(directory: configuration.dataDirectory) } catch {
                CLI.printError("cannot open the user store in \(configuration.dataDirectory): \(error)")
                return 73
            }
        }
        let email = options["--email"].map(PortalUser.normalize)
        if action != "list" {
            guard let email, PortalUser.isValidEmail(email) else {
                CLI.printError("users \(action) needs --email with a valid address")
                return 64
            }
        }
        do {
            switch action {
            case "list":
                for user in await store.all() {
                    print([user.email, user.agency, user.contractorId, user.role, user.disabled ? "disabled" : "active"].joined(separator: "\t"))
                }
            case "add":
                guard let email, let agency = options["--agency"], let contractor = options["--contractor"] else {
                    CLI.printError("users add needs --email, --agency and --contractor")
                    return 64
                }
                guard (try? await store.user(email: email)) == nil else {
                    CLI.printError("\(email) already exists (use set-password, disable or enable)")
                    return 65
                }
                guard let hash = readNewPassword() else { return 65 }
                try await store.save(PortalUser(email: email, passwordHash: hash, agency: agency, contractorId: contractor, role: options["--role"] ?? "contractor"))
                print("added \(email) (\(agency) \(contractor))")
            case "disable", "enable", "set-password":
                guard let email, var user = try? await store.user(email: email) else {
                    CLI.printError("no user \(email ?? "")")
                    return 65
                }
                // A new password or a disabled account ends every sign-in made before it: their refresh
                // tokens are refused (and their families revoked) at the next refresh.
                if action == "set-password" {
                    guard let hash = readNewPassword() else { return 65 }
                    user.setPassword(hash: hash)
                } else {
                    user.setDisabled(action == "disable")
                }
                try await store.save(user)
                print("\(action == "set-password" ? "password set for" : action + "d") \(email)")
            default:
                CLI.printError("unknown users action \(action.debugDescription)\n\n\(usage)")
                return 64
            }
        } catch {
            CLI.printError("\(error)")
            return 73
        }
        return 0
    }

    /// The new password's hash, or nil (with the reason printed) when none acceptable was given.
    static func readNewPassword() -> String? {
        guard let password = readPassword(prompt: "password: ") else {
            CLI.printError("no password given")
            return nil
        }
        if let problem = Passwords.problem(with: password) {
            CLI.printError("password \(problem)")
            return nil
        }
        return Passwords.hash(password)
    }

    static func readPassword(prompt: String) -> String? {
        guard isatty(STDIN_FILENO) == 1 else { return readLine(strippingNewline: true) }
        FileHandle.standardError.write(Data(prompt.utf8))
        var saved = termios()
        tcgetattr(STDIN_FILENO, &saved)
        var silent = saved
        silent.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
        defer {
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved)
            FileHandle.standardError.write(Data("\n".utf8))
        }
        return readLine(strippingNewline: true)
    }
}
