import AgentOS
import FixtureAgentOS
import ContractorPortal
import Foundation
import HTTPServer
import Logging

public enum ConfigError: Error, CustomStringConvertible, Equatable {
    case unreadableFile(path: String, reason: String)
    case malformedFile(path: String, reason: String)
    case unknownKey(String, path: String)
    case missingKey(String, path: String)
    case badValue(key: String, value: String, expected: String, source: String)

    public var description: String {
        switch self {
        case .unreadableFile(let path, let reason): "cannot read configuration file \(path): \(reason)"
        case .malformedFile(let path, let reason): "configuration file \(path) is not a JSON object of settings: \(reason)"
        case .unknownKey(let key, let path): "unknown configuration key \(key) in \(path)"
        case .missingKey(let key, let path): "configuration key \(key) has no value in \(path)"
        case .badValue(let key, let value, let expected, let source):
            "bad value for \(key) (from \(source)): \(value.debugDescription) is not \(expected)"
        }
    }
}

/// The validated configuration of the whole process, built once at start and handed down as values.
public struct AppConfiguration: Sendable {
    public var server: ServerConfiguration
    public var logLevel: Logger.Level
    public var agentOS: AgentOSConfiguration
    /// Run an in-process fixture AgentOS when none is configured.
    public var fixtureWhenUnconfigured: Bool
    public var fixtureData: String
    /// The fixture AgentOS's per-key limit (nil: off).
    public var fixtureRateLimit: Int?
    public var sessionSecret: String
    public var portal: ContractorService.Settings
    public var trpc: TRPCSettings
    public var events: EventSettings
    public var mirror: MirrorSettings
    /// Durable files live here (created 0700 on start).
    public var dataDirectory: String
    public var idempotencyTTLSeconds: Int
    public var security: SecuritySettings
    public var uploads: UploadSettings
    /// `METRICS_TOKEN`: nil, no /metrics.
    public var metricsToken: String?
    /// `PORTAL_PAGE`: whether /portal is served (auto: only with the fixture AgentOS).
    public var portalPage: PortalPage.Setting
    /// `DATABASE_URL` and its pool: nil keeps the embedded files.
    public var database: DatabaseSettings?
    /// `AGENTOS_REPLICAS`: how many share the key (each one's fallback share without the database).
    public var replicas: Int
    /// Where each value came from (file or environment), for `contractor-bff config`.
    public var sources: [String: String]
    public var values: [String: String]

    /// PostgreSQL as the shared store.
    public struct DatabaseSettings: Sendable {
        public var url: String
        public var poolSize: Int
        public var statementTimeoutMs: Int

        /// nil when `DATABASE_URL` is empty.
        init?(_ reader: Reader) throws(ConfigError) {
            guard let url = try reader.optionalText("DATABASE_URL") else { return nil }
            self.url = url
            poolSize = try reader.integer("DATABASE_POOL_SIZE")
            statementTimeoutMs = Int(try reader.duration("DATABASE_STATEMENT_TIMEOUT_MS") / .milliseconds(1))
        }
    }

    /// Which store holds the state replicas share, as `config` shows it.
    public var storeName: String { database == nil ? "embedded (files in DATA_DIR)" : "postgresql (DATABASE_URL)" }

    public static let defaultFile = "config/default.json"
    /// The secret config/default.json ships with: fine for the fixture agency, refused with a real AgentOS.
    public static let developmentSessionSecret = "contractor-bff-development-secret-not-for-production"

    /// True when sessions are signed with the published development secret.
    public var usesDevelopmentSecret: Bool { sessionSecret == Self.developmentSessionSecret }

    /// The file gives every key its value; an environment variable of the same name overrides it.
    /// Unknown keys in the file and values that do not parse are refused, naming the key.
    public static func load(file path: String, environment: [String: String]) throws(ConfigError) -> AppConfiguration {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw .unreadableFile(path: path, reason: (error as NSError).localizedDescription)
        }
        return try load(data, path: path, environment: environment)
    }

    /// With no file named: `config/default.json` when the working directory has one (the repository),
    /// else the built-in copy of it, so an installed binary runs from anywhere with no file at all.
    public static func loadDefault(environment: [String: String]) throws(ConfigError) -> AppConfiguration {
        if FileManager.default.fileExists(atPath: defaultFile) { return try load(file: defaultFile, environment: environment) }
        return try load(Data(BuiltInConfiguration.json.utf8), path: builtInSource, environment: environment)
    }

    /// What `contractor-bff config` names as the source of a value that came from the built-in defaults.
    public static let builtInSource = "built-in defaults"

    /// The shipped fixture data's path: when it keeps this value and the file is not there, the fixture
    /// runs on its built-in copy.
    public static let defaultFixtureData = "Fixtures/agentos.json"

    /// The fixture AgentOS on the configured data (the built-in agency where the default file is absent),
    /// and where its data came from.
    public func openFixture() throws -> (FixtureAgentOS, source: String) {
        try FixtureAgentOS.data(
            fixtureData, isDefault: fixtureData == Self.defaultFixtureData, keyLimit: KeyLimit.Settings(limit: fixtureRateLimit))
    }

    static func load(_ data: Data, path: String, environment: [String: String]) throws(ConfigError) -> AppConfiguration {
        let scalars: [String: FileScalar]
        do { scalars = try JSONDecoder().decode([String: FileScalar].self, from: data) } catch {
            throw .malformedFile(path: path, reason: String(describing: error))
        }
        var values: [String: String] = [:], sources: [String: String] = [:]
        for (key, scalar) in scalars {
            guard ConfigKey.named(key) != nil else { throw .unknownKey(key, path: path) }
            values[key] = scalar.text
            sources[key] = path
        }
        for key in ConfigKey.all {
            if let value = environment[key.name] {
                values[key.name] = value
                sources[key.name] = "environment"
            }
            guard values[key.name] != nil else { throw .missingKey(key.name, path: path) }
        }
        let reader = Reader(values: values, sources: sources)
        var server = ServerConfiguration()
        server.host = try reader.text("HOST")
        server.port = try reader.integer("PORT")
        server.eventLoops = try reader.integer("EVENT_LOOPS")
        server.maxConnections = try reader.integer("MAX_CONNECTIONS")
        server.maxConnectionsPerAddress = try reader.integer("MAX_CONNECTIONS_PER_ADDRESS")
        server.bodyDeadline = try reader.duration("BODY_DEADLINE_MS")
        server.limits.maxBodyBytes = try reader.integer("MAX_BODY_BYTES")
        server.limits.maxRequestTargetBytes = try reader.integer("MAX_REQUEST_TARGET_BYTES")
        server.limits.maxHeaderBytes = try reader.integer("MAX_HEADER_BYTES")
        server.limits.maxHeaderFields = try reader.integer("MAX_HEADER_FIELDS")
        server.headerTimeout = try reader.duration("HEADER_TIMEOUT_MS")
        server.bodyTimeout = try reader.duration("BODY_TIMEOUT_MS")
        server.sendTimeout = try reader.duration("SEND_TIMEOUT_MS")
        server.keepAliveTimeout = try reader.duration("KEEPALIVE_TIMEOUT_MS")
        server.handlerTimeout = try reader.duration("HANDLER_TIMEOUT_MS")
        server.lingerTimeout = try reader.duration("LINGER_TIMEOUT_MS")
        server.drainTimeout = try reader.duration("DRAIN_TIMEOUT_MS")
        server.accessLog = try reader.flag("ACCESS_LOG")
        let level = try reader.choice("LOG_LEVEL")
        var agentOS = AgentOSConfiguration(baseURL: try reader.optionalText("AGENTOS_BASE_URL"), apiKey: try reader.optionalText("AGENTOS_API_KEY"))
        if let base = agentOS.baseURL {
            guard let url = URL(string: base), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                throw .badValue(key: "AGENTOS_BASE_URL", value: base, expected: "an http(s) URL", source: sources["AGENTOS_BASE_URL"] ?? "")
            }
        }
        agentOS.keyHeader = try reader.text("AGENTOS_KEY_HEADER")
        agentOS.keyPlacement = AgentOSConfiguration.KeyPlacement(rawValue: try reader.choice("AGENTOS_KEY_IN")) ?? .header
        for field in OperationPaths.fields {
            let key = "AGENTOS_PATH_" + field.key
            let path = try reader.text(key)
            guard path.hasPrefix("/"), !path.contains("?"), !path.contains("#") else {
                throw .badValue(key: key, value: path, expected: "a path beginning with / (no query)", source: sources[key] ?? "default")
            }
            agentOS.paths[keyPath: field.path] = path
        }
        agentOS.maxAttempts = try reader.integer("AGENTOS_MAX_ATTEMPTS")
        agentOS.attemptTimeout = try reader.duration("AGENTOS_TIMEOUT_MS")
        agentOS.deadline = try reader.duration("AGENTOS_DEADLINE_MS")
        agentOS.backoffBase = try reader.duration("AGENTOS_BACKOFF_BASE_MS")
        agentOS.backoffCap = try reader.duration("AGENTOS_BACKOFF_CAP_MS")
        agentOS.retryBudgetRatio = Double(try reader.integer("AGENTOS_RETRY_BUDGET_PERCENT")) / 100
        agentOS.breakerFailureThreshold = try reader.integer("AGENTOS_BREAKER_FAILURES")
        agentOS.breakerCoolDown = try reader.duration("AGENTOS_BREAKER_COOLDOWN_MS")
        agentOS.maxInFlight = try reader.integer("AGENTOS_MAX_IN_FLIGHT")
        agentOS.queueWait = try reader.duration("AGENTOS_QUEUE_WAIT_MS")
        agentOS.maxUploadsInFlight = try reader.integer("AGENTOS_UPLOADS_IN_FLIGHT")
        agentOS.rateLimit = try reader.integer("AGENTOS_RATE_LIMIT")
        agentOS.rateMargin = try reader.duration("AGENTOS_RATE_MARGIN_MS")
        agentOS.budget.writeReserve = try reader.integer("AGENTOS_WRITE_RESERVE")
        agentOS.budget.backgroundHeadroom = try reader.integer("AGENTOS_BACKGROUND_HEADROOM")
        agentOS.budget.interactiveWait = try reader.duration("AGENTOS_BUDGET_WAIT_MS")
        agentOS.budget.supportingHeadroom = try reader.integer("AGENTOS_SUPPORTING_HEADROOM")
        agentOS.budget.warmUp = try reader.duration("AGENTOS_BUDGET_WARMUP_MS")
        agentOS.budget.perTenant = try reader.integer("AGENTOS_CONTRACTOR_SHARE")
        let account = Duration.seconds(try reader.integer("CACHE_TTL_ACCOUNT_SECONDS")), jobs = Duration.seconds(try reader.integer("CACHE_TTL_JOBS_SECONDS"))
        agentOS.cache.ttl = [
            "contractor": account, "contacts": account, "jobs": jobs, "job": jobs, "notes": jobs,
            "statement": .seconds(try reader.integer("CACHE_TTL_STATEMENTS_SECONDS")), "pending": .seconds(try reader.integer("CACHE_TTL_PENDING_SECONDS")),
            "statusTypes": .seconds(try reader.integer("CACHE_TTL_STATUS_TYPES_SECONDS")),
        ]
        agentOS.cache.staleWhileRevalidate = .seconds(try reader.integer("CACHE_STALE_WHILE_REVALIDATE_SECONDS"))
        agentOS.cache.staleIfError = .seconds(try reader.integer("CACHE_STALE_IF_ERROR_SECONDS"))
        agentOS.cache.maxEntries = try reader.integer("CACHE_MAX_ENTRIES")
        agentOS.cache.maxBytes = try reader.integer("CACHE_MAX_BYTES")
        let secret = try reader.optionalText("SESSION_SECRET") ?? ""
        // RFC 7518 §3.2: an HS256 key must be at least as long as the hash output.
        guard secret.utf8.count >= 32 else {
            throw .badValue(key: "SESSION_SECRET", value: "(\(secret.utf8.count) bytes, not shown)", expected: "at least 32 bytes", source: sources["SESSION_SECRET"] ?? "")
        }
        var portal = ContractorService.Settings()
        portal.notesConcurrency = try reader.integer("PORTAL_NOTES_CONCURRENCY")
        portal.notesCallsPerView = try reader.integer("PORTAL_NOTES_CALLS_PER_VIEW")
        portal.insightsJobCap = try reader.integer("PORTAL_INSIGHTS_JOB_CAP")
        portal.insightsTimeout = try reader.duration("PORTAL_INSIGHTS_TIMEOUT_MS")
        portal.completionByStatus = try reader.choice("COMPLETION_MODE") == "status"
        portal.invoiceByDocumentedCall = try reader.choice("INVOICE_MODE") == "documented"
        var uploads = UploadSettings()
        uploads.maxFileBytes = try reader.integer("UPLOAD_MAX_FILE_BYTES")
        uploads.maxRequestBytes = try reader.integer("UPLOAD_MAX_REQUEST_BYTES")
        uploads.maxFiles = try reader.integer("UPLOAD_MAX_FILES")
        uploads.spoolDirectory = try reader.optionalText("UPLOAD_SPOOL_DIR") ?? UploadSettings.systemTemporaryDirectory
        uploads.invoiceDocumentRequired = try reader.flag("INVOICE_DOCUMENT_REQUIRED")
        uploads.maxJSONBytes = server.limits.maxBodyBytes
        server.limits.bodyRoutes = UploadRoutes.bodyRoutes(uploads)
        server.limits.spoolDirectory = uploads.spoolDirectory
        portal.completedStatusName = try reader.optionalText("AGENTOS_COMPLETED_STATUS")
        portal.reopenStatusName = try reader.optionalText("AGENTOS_REOPEN_STATUS")
        portal.contractorJobsWhileImporting = try reader.flag("MIRROR_CONTRACTOR_JOBS_WHILE_IMPORTING")
        let slaText = try reader.text("SLA_TARGET_HOURS")
        var sla: [String: Duration] = [:]
        for part in slaText.split(separator: ",") {
            let pair = part.split(separator: ":").map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2, !pair[0].isEmpty, let hours = Double(pair[1]), hours > 0, hours <= 24 * 365 else {
                throw .badValue(key: "SLA_TARGET_HOURS", value: slaText, expected: "priority:hours pairs, e.g. high:24,low:168,default:120", source: sources["SLA_TARGET_HOURS"] ?? "default")
            }
            sla[pair[0].lowercased()] = .milliseconds(Int(hours * 3_600_000))
        }
        portal.slaTargets = sla
        var mirror = MirrorSettings()
        mirror.enabled = try reader.choice("MIRROR") == "on"
        mirror.agencies = (try reader.optionalText("MIRROR_AGENCIES") ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let share = try reader.integer("MIRROR_BUDGET_SHARE_PERCENT")
        agentOS.budget.syncShare = Double(share) / 100
        agentOS.budget.syncFloor = try reader.integer("MIRROR_BUDGET_FLOOR")
        mirror.sync.callsPerWindow = max(1, agentOS.rateLimit * share / 100)
        mirror.sync.guaranteedPerWindow = min(agentOS.budget.effectiveSyncFloor(limit: agentOS.rateLimit), mirror.sync.callsPerWindow)
        mirror.sync.window = agentOS.rateWindow + agentOS.rateMargin
        mirror.sync.ageTarget = .seconds(try reader.integer("MIRROR_AGE_TARGET_SECONDS"))
        mirror.sync.pageSize = try reader.integer("MIRROR_PAGE_SIZE")
        let security = try SecuritySettings(reader)
        server.standardHeaders = SecurityHeaders.standard(hstsMaxAge: security.hstsMaxAge)
        return AppConfiguration(
            server: server, logLevel: Logger.Level(rawValue: level) ?? .info, agentOS: agentOS,
            fixtureWhenUnconfigured: try reader.choice("FIXTURE_MODE") == "auto", fixtureData: try reader.text("FIXTURE_DATA"),
            fixtureRateLimit: try reader.integer("FIXTURE_RATE_LIMIT").nonZero,
            sessionSecret: secret, portal: portal, trpc: try TRPCSettings(reader), events: try EventSettings(reader), mirror: mirror,
            dataDirectory: try reader.text("DATA_DIR"), idempotencyTTLSeconds: try reader.integer("IDEMPOTENCY_TTL_SECONDS"),
            security: security, uploads: uploads, metricsToken: try reader.optionalText("METRICS_TOKEN"),
            portalPage: PortalPage.Setting(rawValue: try reader.choice("PORTAL_PAGE")) ?? .auto,
            database: try DatabaseSettings(reader), replicas: try reader.integer("AGENTOS_REPLICAS"),
            sources: sources, values: values)
    }

    /// The agency mirror.
    public struct MirrorSettings: Sendable {
        public var enabled = true
        /// Imported from start; other agencies from their first contractor's page.
        public var agencies: [String] = []
        public var sync = MirrorSync.Settings()
    }

    /// How tRPC clients are spoken to.
    public struct TRPCSettings: Sendable {
        public var maxBatch: Int
        public var transformer: TRPCTransformer
        public var allowMethodOverride: Bool

        init(_ reader: Reader) throws(ConfigError) {
            maxBatch = try reader.integer("TRPC_MAX_BATCH")
            transformer = TRPCTransformer(rawValue: try reader.choice("TRPC_TRANSFORMER")) ?? .none
            allowMethodOverride = try reader.flag("TRPC_ALLOW_METHOD_OVERRIDE")
        }
    }

    /// The job-event streams (tRPC subscription and REST server-sent events).
    public struct EventSettings: Sendable {
        public var pingInterval: Duration?
        public var maxPerSession: Int
        public var maxSubscribers: Int
        public var bufferPerContractor: Int

        init(_ reader: Reader) throws(ConfigError) {
            let ping = try reader.duration("EVENTS_PING_MS")
            pingInterval = ping > .zero ? ping : nil
            maxPerSession = try reader.integer("EVENTS_MAX_PER_SESSION")
            maxSubscribers = try reader.integer("EVENTS_MAX_SUBSCRIBERS")
            bufferPerContractor = try reader.integer("EVENTS_BUFFER_PER_CONTRACTOR")
        }

        public init(pingInterval: Duration? = .seconds(15), maxPerSession: Int = 4, maxSubscribers: Int = 2000, bufferPerContractor: Int = 200) {
            self.pingInterval = pingInterval
            self.maxPerSession = maxPerSession
            self.maxSubscribers = maxSubscribers
            self.bufferPerContractor = bufferPerContractor
        }
    }

    /// Sign-in, abuse protection and browser security, read from their keys.
    public struct SecuritySettings: Sendable {
        public var accessTokenTTL: Int
        public var refreshTokenTTL: Int
        public var portalOrigins: [String]
        public var hstsMaxAge: Int
        public var trustedProxies: [String]
        public var perIPPerMinute: Int
        public var perSessionPerMinute: Int
        public var loginPerMinute: Int
        public var lockoutMaxSeconds: Int
        public var passwordHashConcurrency: Int
        public var corsExtraHeaders: [String]
        public var sessionMaxLifetime: Int
        public var refreshReuseGrace: Int
        public var loginAccountLockoutThreshold: Int

        init(_ reader: Reader) throws(ConfigError) {
            func list(_ text: String?) -> [String] {
                (text ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            }
            accessTokenTTL = try reader.integer("ACCESS_TOKEN_TTL_SECONDS")
            refreshTokenTTL = try reader.integer("REFRESH_TOKEN_TTL_SECONDS")
            portalOrigins = list(try reader.text("PORTAL_ORIGINS"))
            for origin in portalOrigins where !(origin.hasPrefix("https://") || origin.hasPrefix("http://")) || origin.hasSuffix("/") {
                throw .badValue(key: "PORTAL_ORIGINS", value: origin, expected: "origins like https://portal.example.com (scheme and host, no path)",
                                source: reader.sources["PORTAL_ORIGINS"] ?? "default")
            }
            hstsMaxAge = try reader.integer("HSTS_MAX_AGE_SECONDS")
            trustedProxies = list(try reader.optionalText("TRUSTED_PROXIES"))
            for proxy in trustedProxies where ClientAddress.Network(proxy) == nil {
                throw .badValue(key: "TRUSTED_PROXIES", value: proxy, expected: "an IP address or CIDR block", source: reader.sources["TRUSTED_PROXIES"] ?? "default")
            }
            perIPPerMinute = try reader.integer("RATE_LIMIT_IP_PER_MINUTE")
            perSessionPerMinute = try reader.integer("RATE_LIMIT_SESSION_PER_MINUTE")
            loginPerMinute = try reader.integer("LOGIN_LIMIT_PER_MINUTE")
            lockoutMaxSeconds = try reader.integer("LOGIN_LOCKOUT_MAX_SECONDS")
            passwordHashConcurrency = try reader.integer("PASSWORD_HASH_CONCURRENCY")
            corsExtraHeaders = list(try reader.optionalText("CORS_EXTRA_HEADERS"))
            sessionMaxLifetime = try reader.integer("SESSION_MAX_LIFETIME_SECONDS")
            refreshReuseGrace = try reader.integer("REFRESH_REUSE_GRACE_SECONDS")
            loginAccountLockoutThreshold = try reader.integer("LOGIN_ACCOUNT_LOCKOUT_THRESHOLD")
            for name in corsExtraHeaders where name.isEmpty || !name.utf8.allSatisfy(Self.isTokenByte) {
                throw .badValue(key: "CORS_EXTRA_HEADERS", value: name, expected: "header names separated by commas", source: reader.sources["CORS_EXTRA_HEADERS"] ?? "default")
            }
        }

        /// RFC 9110 §5.6.2 tchar: what a field name may be made of.
        static func isTokenByte(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"): true
            default: Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
            }
        }
    }

    /// Reads each key by the kind the table gives it.
    struct Reader {
        let values: [String: String]
        let sources: [String: String]

        private func raw(_ name: String) -> (ConfigKey, String, String) {
            guard let key = ConfigKey.named(name) else { preconditionFailure("\(name) is not in ConfigKey.all") }
            return (key, values[name] ?? "", sources[name] ?? "default")
        }

        func integer(_ name: String) throws(ConfigError) -> Int {
            let (key, value, source) = raw(name)
            guard case .integer(let range) = key.kind else { preconditionFailure("\(name) is not an integer key") }
            guard let number = Int(value.trimmingCharacters(in: .whitespaces)), range.contains(number) else {
                throw .badValue(key: name, value: value, expected: "a whole number in \(range.lowerBound)...\(range.upperBound)", source: source)
            }
            return number
        }

        func duration(_ name: String) throws(ConfigError) -> Duration {
            let (key, value, source) = raw(name)
            guard case .milliseconds(let range) = key.kind else { preconditionFailure("\(name) is not a duration key") }
            guard let number = Int(value.trimmingCharacters(in: .whitespaces)), range.contains(number) else {
                throw .badValue(key: name, value: value, expected: "milliseconds in \(range.lowerBound)...\(range.upperBound)", source: source)
            }
            return .milliseconds(number)
        }

        func text(_ name: String) throws(ConfigError) -> String {
            let (_, value, source) = raw(name)
            guard !value.isEmpty else { throw .badValue(key: name, value: value, expected: "a non-empty text", source: source) }
            return value
        }

        /// nil when empty.
        func optionalText(_ name: String) throws(ConfigError) -> String? {
            let (key, value, _) = raw(name)
            switch key.kind {
            case .optionalText, .secret: return value.isEmpty ? nil : value
            default: preconditionFailure("\(name) is not an optional text key")
            }
        }

        func flag(_ name: String) throws(ConfigError) -> Bool {
            let (_, value, source) = raw(name)
            switch value.lowercased() {
            case "true", "1", "yes", "on": return true
            case "false", "0", "no", "off": return false
            default: throw .badValue(key: name, value: value, expected: "true or false", source: source)
            }
        }

        func choice(_ name: String) throws(ConfigError) -> String {
            let (key, value, source) = raw(name)
            guard case .choice(let options) = key.kind else { preconditionFailure("\(name) is not a choice key") }
            guard options.contains(value) else {
                throw .badValue(key: name, value: value, expected: "one of \(options.joined(separator: ", "))", source: source)
            }
            return value
        }
    }
}

/// A JSON scalar from the configuration file, kept as the text an environment variable would hold.
private enum FileScalar: Decodable {
    case text(String)

    var text: String {
        switch self { case .text(let value): value }
    }

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let flag = try? container.decode(Bool.self) {
            self = .text(flag ? "true" : "false")
        } else if let number = try? container.decode(Int.self) {
            self = .text(String(number))
        } else if let number = try? container.decode(Double.self) {
            self = .text(String(number))
        } else {
            self = .text(try container.decode(String.self))
        }
    }
}

extension Int {
    /// nil for 0 ("off" in configuration).
    var nonZero: Int? { self == 0 ? nil : self }
}
