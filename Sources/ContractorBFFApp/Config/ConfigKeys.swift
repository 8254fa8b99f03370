/// Every configuration key, its type and range, and what it means. One table: the loader, the help text
/// and the README's reference are all read from it; the values themselves come from config/default.json.
public struct ConfigKey: Sendable {
    public enum Kind: Sendable {
        case integer(ClosedRange<Int>)
        case milliseconds(ClosedRange<Int>)
        case text
        /// May be empty (meaning: not set).
        case optionalText
        /// Like optionalText, and never printed.
        case secret
        case flag
        case choice([String])
    }

    public let name: String
    public let kind: Kind
    public let help: String

    public static let all: [ConfigKey] = [
        ConfigKey(name: "HOST", kind: .text, help: "address to listen on (IPv4 or IPv6 literal, or a name)"),
        ConfigKey(name: "PORT", kind: .integer(0...65535), help: "port to listen on; 0 picks a free one"),
        ConfigKey(name: "EVENT_LOOPS", kind: .integer(0...256), help: "event loop threads; 0 = one per core"),
        ConfigKey(name: "MAX_CONNECTIONS", kind: .integer(1...1_000_000), help: "open connections above which new ones are closed at once"),
        ConfigKey(name: "MAX_BODY_BYTES", kind: .integer(0...(64 << 20)), help: "largest request body (413 above)"),
        ConfigKey(name: "MAX_REQUEST_TARGET_BYTES", kind: .integer(16...(64 << 10)), help: "longest request target (414 above)"),
        ConfigKey(name: "MAX_HEADER_BYTES", kind: .integer(256...(1 << 20)), help: "largest header section (431 above)"),
        ConfigKey(name: "MAX_HEADER_FIELDS", kind: .integer(1...10_000), help: "most header fields (431 above)"),
        ConfigKey(name: "HEADER_TIMEOUT_MS", kind: .milliseconds(1...3_600_000), help: "time to receive a request head"),
        ConfigKey(name: "BODY_TIMEOUT_MS", kind: .milliseconds(1...3_600_000), help: "longest pause between body bytes"),
        ConfigKey(name: "SEND_TIMEOUT_MS", kind: .milliseconds(1...3_600_000), help: "longest wait for a client to take response bytes"),
        ConfigKey(name: "KEEPALIVE_TIMEOUT_MS", kind: .milliseconds(1...3_600_000), help: "idle keep-alive connection lifetime"),
        ConfigKey(name: "HANDLER_TIMEOUT_MS", kind: .milliseconds(1...3_600_000), help: "time a request may take before 503"),
        ConfigKey(name: "LINGER_TIMEOUT_MS", kind: .milliseconds(0...60_000), help: "draining of unread input before closing after an error"),
        ConfigKey(name: "DRAIN_TIMEOUT_MS", kind: .milliseconds(0...3_600_000), help: "on SIGTERM/SIGINT, time in-flight requests get to finish"),
        ConfigKey(name: "ACCESS_LOG", kind: .flag, help: "one JSON access-log line per request on stdout"),
        ConfigKey(name: "LOG_LEVEL", kind: .choice(["debug", "info", "warning", "error"]), help: "least severe log level written"),
        ConfigKey(name: "AGENTOS_BASE_URL", kind: .optionalText, help: "AgentOS base URL, e.g. https://live-api.letmc.com; empty = not configured"),
        ConfigKey(name: "AGENTOS_API_KEY", kind: .secret, help: "the agency's AgentOS API key; empty = not configured (never logged or printed)"),
        ConfigKey(name: "AGENTOS_KEY_HEADER", kind: .text, help: "header that carries the key (api_key; the Swagger says ApiKey)"),
        ConfigKey(name: "AGENTOS_KEY_IN", kind: .choice(["header", "query"]), help: "send the key as a header or as ?api_key="),
        ConfigKey(name: "AGENTOS_MAX_ATTEMPTS", kind: .integer(1...10), help: "attempts per call, first one included"),
        ConfigKey(name: "AGENTOS_TIMEOUT_MS", kind: .milliseconds(1...600_000), help: "per-attempt timeout"),
        ConfigKey(name: "AGENTOS_DEADLINE_MS", kind: .milliseconds(1...600_000), help: "overall deadline of a call, retries included"),
        ConfigKey(name: "AGENTOS_BACKOFF_BASE_MS", kind: .milliseconds(1...60_000), help: "first retry's backoff ceiling (full jitter, doubling)"),
        ConfigKey(name: "AGENTOS_BACKOFF_CAP_MS", kind: .milliseconds(1...600_000), help: "largest backoff ceiling"),
        ConfigKey(name: "AGENTOS_RETRY_BUDGET_PERCENT", kind: .integer(0...100), help: "retries may add at most this share of calls (per 10 s)"),
        ConfigKey(name: "AGENTOS_BREAKER_FAILURES", kind: .integer(1...1000), help: "consecutive failures that open the breaker"),
        ConfigKey(name: "AGENTOS_BREAKER_COOLDOWN_MS", kind: .milliseconds(1...3_600_000), help: "open breaker's wait before a probe"),
        ConfigKey(name: "AGENTOS_MAX_IN_FLIGHT", kind: .integer(1...10_000), help: "calls in flight to AgentOS at once"),
        ConfigKey(name: "AGENTOS_QUEUE_WAIT_MS", kind: .milliseconds(0...600_000), help: "longest wait for an in-flight place"),
        ConfigKey(name: "AGENTOS_RATE_LIMIT", kind: .integer(1...100_000), help: "requests per rolling minute per key (AgentOS documents 50)"),
        ConfigKey(name: "AGENTOS_RATE_MARGIN_MS", kind: .milliseconds(0...60_000), help: "added to the rolling minute our budget keeps, for the time between our send and AgentOS counting the call"),
        ConfigKey(name: "AGENTOS_WRITE_RESERVE", kind: .integer(0...10_000), help: "slots of the per-minute budget only writes may take"),
        ConfigKey(name: "AGENTOS_BACKGROUND_HEADROOM", kind: .integer(0...10_000), help: "slots background refreshes leave to contractors' reads, beyond the write reserve"),
        ConfigKey(name: "AGENTOS_SUPPORTING_HEADROOM", kind: .integer(0...10_000), help: "slots reads a page can do without (insights' parts) leave to contractors' reads, beyond the write reserve"),
        ConfigKey(name: "AGENTOS_BUDGET_WARMUP_MS", kind: .milliseconds(0...3_600_000), help: "after start, background refreshes wait this long so cold pages get the budget first"),
        ConfigKey(name: "AGENTOS_BUDGET_WAIT_MS", kind: .milliseconds(0...60_000), help: "longest a contractor's read waits for budget before stale data or 503/TOO_MANY_REQUESTS"),
        ConfigKey(name: "CACHE_TTL_ACCOUNT_SECONDS", kind: .integer(0...86_400), help: "fresh lifetime of cached account and contacts reads; 0 = not cached"),
        ConfigKey(name: "CACHE_TTL_JOBS_SECONDS", kind: .integer(0...86_400), help: "fresh lifetime of cached jobs, job and notes reads; 0 = not cached"),
        ConfigKey(name: "CACHE_TTL_STATEMENTS_SECONDS", kind: .integer(0...86_400), help: "fresh lifetime of cached statements; 0 = not cached"),
        ConfigKey(name: "CACHE_TTL_PENDING_SECONDS", kind: .integer(0...86_400), help: "fresh lifetime of cached pending entries; 0 = not cached"),
        ConfigKey(name: "CACHE_STALE_WHILE_REVALIDATE_SECONDS", kind: .integer(0...86_400), help: "past its TTL, an entry is served (X-Cache: STALE) this long while one refresh runs"),
        ConfigKey(name: "CACHE_STALE_IF_ERROR_SECONDS", kind: .integer(0...(30 * 86_400)), help: "past its TTL, an entry is served this long when AgentOS cannot answer"),
        ConfigKey(name: "CACHE_MAX_ENTRIES", kind: .integer(1...10_000_000), help: "most cached reads (least recently used out first)"),
        ConfigKey(name: "CACHE_MAX_BYTES", kind: .integer(1_024...(16 << 30)), help: "most bytes of cached reads (least recently used out first)"),
        ConfigKey(name: "SESSION_SECRET", kind: .secret, help: "HS256 key of session tokens, at least 32 bytes; the file's value is a development default"),
        ConfigKey(name: "PORTAL_NOTES_CONCURRENCY", kind: .integer(1...64), help: "notes calls in flight at once for one jobs view"),
        ConfigKey(name: "PORTAL_NOTES_CALLS_PER_VIEW", kind: .integer(0...200), help: "notes calls one jobs view may spend; other jobs' notes come from the cache or show notesLoaded: false"),
        ConfigKey(name: "PORTAL_INSIGHTS_JOB_CAP", kind: .integer(1...100_000), help: "most jobs insights count across pages"),
        ConfigKey(name: "PORTAL_INSIGHTS_TIMEOUT_MS", kind: .milliseconds(1...600_000), help: "insights answer by then with the parts that are in"),
        ConfigKey(name: "TRPC_MAX_BATCH", kind: .integer(1...100), help: "most calls in one tRPC batch (a larger batch is refused whole, with one error)"),
        ConfigKey(name: "TRPC_TRANSFORMER", kind: .choice(["none", "superjson"]), help: "the data transformer the portal's tRPC client links use: none (plain JSON) or superjson"),
        ConfigKey(name: "TRPC_ALLOW_METHOD_OVERRIDE", kind: .flag, help: "accept tRPC queries sent by POST (the client's methodOverride: 'POST')"),
        ConfigKey(name: "EVENTS_PING_MS", kind: .milliseconds(0...300_000), help: "keep-alive ping on job-event streams (SSE); 0 = none"),
        ConfigKey(name: "EVENTS_MAX_PER_SESSION", kind: .integer(1...100), help: "job-event streams one session may hold open at once"),
        ConfigKey(name: "EVENTS_MAX_SUBSCRIBERS", kind: .integer(1...1_000_000), help: "job-event streams open at once across the process"),
        ConfigKey(name: "EVENTS_BUFFER_PER_CONTRACTOR", kind: .integer(1...100_000), help: "a contractor's latest job events kept for Last-Event-ID resume"),
        ConfigKey(name: "CORS_EXTRA_HEADERS", kind: .optionalText, help: "comma-separated request headers portals may send cross-origin beyond the built-in list"),
        ConfigKey(name: "DATA_DIR", kind: .text, help: "directory of the durable files: idempotency records, audit log, users, refresh tokens"),
        ConfigKey(name: "IDEMPOTENCY_TTL_SECONDS", kind: .integer(60...(7 * 86_400)), help: "how long a write's outcome is replayed for its Idempotency-Key (and invoices' natural key holds)"),
        ConfigKey(name: "ACCESS_TOKEN_TTL_SECONDS", kind: .integer(60...3_600), help: "lifetime of the session (access) token that sign-in issues"),
        ConfigKey(name: "REFRESH_TOKEN_TTL_SECONDS", kind: .integer(3_600...(90 * 86_400)), help: "lifetime of a refresh token (each use rotates it)"),
        ConfigKey(name: "SESSION_MAX_LIFETIME_SECONDS", kind: .integer(60...(30 * 86_400)), help: "longest a session token may be valid (exp beyond it is refused, whoever minted the token)"),
        ConfigKey(name: "REFRESH_REUSE_GRACE_SECONDS", kind: .integer(0...60), help: "a refresh token spent this recently is answered with the same new pair (two tabs refreshing at once), not taken for theft"),
        ConfigKey(name: "LOGIN_ACCOUNT_LOCKOUT_THRESHOLD", kind: .integer(1...10_000), help: "failed sign-ins to one account, from all addresses, before the account itself locks (one address locks only itself out)"),
        ConfigKey(name: "MAX_CONNECTIONS_PER_ADDRESS", kind: .integer(1...1_000_000), help: "open connections one client address may hold (trusted proxies exempt)"),
        ConfigKey(name: "BODY_DEADLINE_MS", kind: .milliseconds(1...3_600_000), help: "time from the end of a request head to the end of its body, however steadily it trickles"),
        ConfigKey(name: "AGENTOS_CONTRACTOR_SHARE", kind: .integer(1...100_000), help: "slots of the per-minute budget one contractor's reads may take, so no tenant starves the others"),
        ConfigKey(name: "PORTAL_ORIGINS", kind: .text, help: "comma-separated origins of the portal: CORS with credentials, and the Origin check of cookie writes"),
        ConfigKey(name: "HSTS_MAX_AGE_SECONDS", kind: .integer(0...63_072_000), help: "Strict-Transport-Security max-age; 0 = header not sent (set it behind HTTPS)"),
        ConfigKey(name: "TRUSTED_PROXIES", kind: .optionalText, help: "comma-separated proxy addresses or CIDR blocks whose X-Forwarded-For is believed"),
        ConfigKey(name: "RATE_LIMIT_IP_PER_MINUTE", kind: .integer(1...1_000_000), help: "requests per minute per client address (429 above)"),
        ConfigKey(name: "RATE_LIMIT_SESSION_PER_MINUTE", kind: .integer(1...1_000_000), help: "requests per minute per session (429 above)"),
        ConfigKey(name: "LOGIN_LIMIT_PER_MINUTE", kind: .integer(1...1_000), help: "sign-in attempts per minute per client address and per account"),
        ConfigKey(name: "LOGIN_LOCKOUT_MAX_SECONDS", kind: .integer(1...86_400), help: "longest lock-out of an account after repeated failed sign-ins (doubling from 1 s)"),
        ConfigKey(name: "PASSWORD_HASH_CONCURRENCY", kind: .integer(1...64), help: "password hashes computed at once (each PBKDF2 at 600,000 rounds); more sign-ins wait with 503"),
        ConfigKey(name: "FIXTURE_MODE", kind: .choice(["auto", "off"]), help: "auto: serve runs an in-process fixture AgentOS when none is configured"),
        ConfigKey(name: "FIXTURE_DATA", kind: .text, help: "the fixture AgentOS's data file"),
        ConfigKey(name: "FIXTURE_RATE_LIMIT", kind: .integer(0...1_000_000), help: "the fixture AgentOS's requests per rolling minute per key, like the real one (429, then 403); 0 = off"),
    ]

    public static func named(_ name: String) -> ConfigKey? { all.first { $0.name == name } }
}
