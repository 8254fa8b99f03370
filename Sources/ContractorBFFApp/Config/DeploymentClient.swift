import AgentOS
import Logging

extension AppConfiguration {
    /// The AgentOS client of this deployment: with DATABASE_URL, the key's budget and the read cache are
    /// shared by every replica; without, both are this process's own. `agentOS` is this configuration's,
    /// or what the fixture AgentOS started in-process made of it. `time` is a test's clock.
    public func agentOSClient(_ agentOS: AgentOSConfiguration, logger: Logger, time: Timekeeper = .system) -> AgentOSClient {
        AgentOSClient(
            configuration: agentOS, logger: logger, limiter: SharedBudgetLimiter.make(self, agentOS: agentOS), sharedCache: PostgresReadCache.make(self),
            time: time)
    }
}
