/// How to reach AgentOS and how hard to try. Built by the app from its configuration; defaults are the
/// documented ones.
public struct AgentOSConfiguration: Sendable, Equatable {
    public enum KeyPlacement: String, Sendable, Equatable {
        /// `api_key: KEY` (or the configured header name).
        case header
        /// `?api_key=KEY`, for proxies that drop headers with underscores.
        case query
    }

    public var baseURL: String?
    public var apiKey: String?
    public var keyHeader = "api_key"
    public var keyPlacement = KeyPlacement.header
    public var paths = OperationPaths()

    public var maxAttempts = 3
    public var backoffBase: Duration = .milliseconds(100)
    public var backoffCap: Duration = .seconds(2)
    public var attemptTimeout: Duration = .seconds(5)
    public var deadline: Duration = .seconds(10)
    /// Retries may add at most this share of calls over `retryBudgetWindow`.
    public var retryBudgetRatio = 0.2
    /// Retries always allowed in a window, so that a quiet server can still retry at all.
    public var retryBudgetMinimum = 3
    public var retryBudgetWindow: Duration = .seconds(10)
    public var breakerFailureThreshold = 5
    /// Opens too when this share of the last `breakerWindow` calls failed (with at least that many calls).
    public var breakerFailureRate = 0.5
    public var breakerWindow = 20
    public var breakerCoolDown: Duration = .seconds(30)
    public var maxInFlight = 32
    public var queueWait: Duration = .seconds(2)
    /// Upload calls whose bodies are assembled in memory at once; the rest wait (at most their deadline).
    /// The key's 50 calls a minute make more pointless, and this is what bounds an upload's memory.
    public var maxUploadsInFlight = 2
    /// AgentOS's documented limit: 50 requests per rolling 60 s per key.
    public var rateLimit = 50
    public var rateWindow: Duration = .seconds(60)
    /// Added to the window our budget keeps, for the varying time between our send and AgentOS's count.
    public var rateMargin: Duration = .seconds(1)
    /// After a 429 without Retry-After, AgentOS's documented advice.
    public var defaultCoolDown: Duration = .seconds(60)
    public var cache = CachePolicy()
    /// How the per-key budget is shared: writes first, then interactive reads, then background refreshes.
    public var budget = BudgetShares()

    public init(baseURL: String? = nil, apiKey: String? = nil) {
        self.baseURL = baseURL
        self.apiKey = apiKey
    }

    public var isConfigured: Bool {
        guard let baseURL, let apiKey else { return false }
        return !baseURL.isEmpty && !apiKey.isEmpty
    }
}

/// The upstream path of each operation, with `{shortName}`, `{contractorId}` and `{jobId}` placeholders.
/// The contractor endpoints are modelled, not documented, so they are configuration.
public struct OperationPaths: Sendable, Equatable {
    // Documented V4 Maintenance calls; `{offset}`/`{count}` in a template page in the path.
    public var branches = "/v4/maintenance/{shortName}/company/branches/{offset}/{count}"
    public var branchContractors = "/v4/maintenance/{shortName}/contacts/contractors/{branchId}/{offset}/{count}"
    public var branchJobs = "/v4/maintenance/{shortName}/jobs/{branchId}/{offset}/{count}"
    public var statusTypes = "/v4/maintenance/{shortName}/jobs/statusTypes/{offset}/{count}"
    public var updateJob = "/v4/maintenance/{shortName}/jobs/{jobId}"
    public var invoiceSubmit = "/v4/maintenance/{shortName}/invoice/submit"
    public var attachDocument = "/v4/maintenance/{shortName}/jobs/{jobId}/attachdocument"
    // Modelled calls (not documented by the vendor).
    public var contractor = "/v4/maintenance/{shortName}/contractors/{contractorId}"
    public var contacts = "/v4/maintenance/{shortName}/contractors/{contractorId}/contacts"
    public var jobs = "/v4/maintenance/{shortName}/contractors/{contractorId}/jobs"
    public var job = "/v4/maintenance/{shortName}/jobs/{jobId}"
    public var notes = "/v4/maintenance/{shortName}/jobs/{jobId}/notes"
    public var completion = "/v4/maintenance/{shortName}/jobs/{jobId}/completion"
    public var addNote = "/v4/maintenance/{shortName}/jobs/{jobId}/notes"
    public var statement = "/v4/accounts/{shortName}/contractors/{contractorId}/statement"
    public var pending = "/v4/accounts/{shortName}/contractors/{contractorId}/pending"
    public var invoices = "/v4/accounts/{shortName}/contractors/{contractorId}/invoices"
    public var jobDocuments = "/v4/maintenance/{shortName}/jobs/{jobId}/documents"

    public init() {}

    /// Each path's configuration key suffix (`AGENTOS_PATH_…`), the field it sets, and whether the vendor
    /// documents the call (docs/agentos-contract.md has the sources). Immutable; key paths are not
    /// Sendable in this toolchain, hence the annotation.
    public nonisolated(unsafe) static let fields: [(key: String, path: WritableKeyPath<OperationPaths, String>, documented: Bool)] = [
        ("BRANCHES", \.branches, true),
        ("BRANCH_CONTRACTORS", \.branchContractors, true),
        ("BRANCH_JOBS", \.branchJobs, true),
        ("STATUS_TYPES", \.statusTypes, true),
        ("UPDATE_JOB", \.updateJob, true),
        ("INVOICE_SUBMIT", \.invoiceSubmit, true),
        ("ATTACH_DOCUMENT", \.attachDocument, true),
        ("CONTRACTOR", \.contractor, false),
        ("CONTACTS", \.contacts, false),
        ("JOBS", \.jobs, false),
        ("JOB", \.job, true),
        ("NOTES", \.notes, false),
        ("COMPLETION", \.completion, false),
        ("ADD_NOTE", \.addNote, false),
        ("STATEMENT", \.statement, false),
        ("PENDING", \.pending, false),
        ("INVOICES", \.invoices, false),
        ("JOB_DOCUMENTS", \.jobDocuments, false),
    ]
}
