@testable import AgentOS
import FixtureAgentOS
import Foundation
import HTTPServer
import JSON
import Logging
import TestSupport
import Testing

/// Each rule of the retry policy against the fixture with short configured times; the fixture's counters
/// prove how many times a request really reached it.
@Suite("AgentOS client: retry policy, breaker, limiter, budget, in-flight bound", .scoped)
struct RetryPolicyTests {
    static let contractor = Operation.contractor(shortName: "demo", contractorId: "C-1001")
    static let note = Operation.addNote(shortName: "demo", jobId: "J-0001", text: "once", author: "A")

    @Test(arguments: [502, 503, 504, 408])
    func readIsRetriedOnRetryableStatus(status: Int) async throws {
        let upstream = try await Upstream.start()
        upstream.faults(.on("contractor") { $0.status = status; $0.times = 2 })
        let client = upstream.client()
        let record = try await client.record(Self.contractor, context())
        let received = await upstream.received("contractor")
        await upstream.stop()
        #expect(record != nil)
        #expect(received == 3)
        #expect(client.counterSnapshot.retriesByReason[String(status)] == 2)
    }

    @Test func readGivesUpAfterMaxAttempts() async throws {
        let upstream = try await Upstream.start()
        upstream.faults(.on("contractor") { $0.status = 503 })
        await #expect(throws: AgentOSError.upstream(status: 503)) { try await upstream.client().record(Self.contractor, context()) }
        let received = await upstream.received("contractor")
        await upstream.stop()
        #expect(received == 3)
    }

    @Test(arguments: [500, 400, 409, 422])
    func otherStatusesAreNeverRetried(status: Int) async throws {
        let upstream = try await Upstream.start()
        upstream.faults(.on("contractor") { $0.status = status })
        await #expect(throws: AgentOSError.self) { try await upstream.client().record(Self.contractor, context()) }
        let received = await upstream.received("contractor")
        await upstream.stop()
        #expect(received == 1)
    }

    @Test func readIsRetriedAfterATimeout() async throws {
        let upstream = try await Upstream.start()
        upstream.faults(.on("contractor") { $0.hang = true; $0.times = 1 })
        let client = upstream.client { $0.attemptTimeout = .seconds(2) }
        let record = try await client.record(Self.contractor, context())
        let received = await upstream.received("contractor")
        await upstream.stop()
        #expect(record != nil)
        #expect(received == 2)
        #expect(client.counterSnapshot.timeouts == 1)
    }

    @Test func readIsRetriedAfterAReset() async throws {
        let upstream = try await Upstream.start()
        upstream.faults(.on("contractor") { $0.reset = true; $0.times = 1 })
        let record = try await upstream.client().record(Self.contractor, context())
        let received = await upstream.received("contractor")
        await upstream.stop()
        #expect(record != nil)
        #expect(received == 2)
    }

    @Test func postThatTimesOutIsSentOnceAndOnlyOnce() async throws {
        let upstream = try await Upstream.start()
        upstream.faults(.on("addNote") { $0.hang = true; $0.afterApplying = true })
        await #expect(throws: AgentOSError.timeout) { try await upstream.client { $0.attemptTimeout = .seconds(2) }.write(Self.note, context()) }
        let (received, applied) = (await upstream.received("addNote"), await upstream.writes("addNote"))
        await upstream.stop()
        #expect(received == 1)
        #expect(applied == 1)
    }

    @Test(arguments: [502, 503, 504, 429])
    func postIsNotRetriedOnStatuses(status: Int) async throws {
        let upstream = try await Upstream.start()
        upstream.faults(.on("addNote") { $0.status = status; $0.retryAfter = "1" })
        await #expect(throws: AgentOSError.self) { try await upstream.client().write(Self.note, context()) }
        let received = await upstream.received("addNote")
        await upstream.stop()
        #expect(received == 1)
    }

    @Test func postIsNotRetriedAfterAResetOnceSent() async throws {
        let upstream = try await Upstream.start()
        upstream.faults(.on("addNote") { $0.reset = true; $0.afterApplying = true })
        await #expect(throws: AgentOSError.self) { try await upstream.client().write(Self.note, context()) }
        let (received, applied) = (await upstream.received("addNote"), await upstream.writes("addNote"))
        await upstream.stop()
        #expect(received == 1 && applied == 1)
    }

    @Test func postIsRetriedWhenTheConnectionWasNeverMade() async throws {
        // A port nobody listens on: connection refused, so the request provably never left.
        let client = AgentOSClient(configuration: Upstream.testConfiguration(port: 1), logger: .discard)
        await #expect(throws: AgentOSError.self) { try await client.write(Self.note, context()) }
        #expect(client.counterSnapshot.attempts == 3)
        #expect(client.counterSnapshot.retriesByReason["connect"] == 2)
    }

    @Test func retryAfterIsHonouredWhenItFits() async throws {
        let upstream = try await Upstream.start()
        upstream.faults(.on("contractor") { $0.status = 429; $0.retryAfter = "1"; $0.times = 1 })
        let started = ContinuousClock.now
        let record = try await upstream.client().record(Self.contractor, context())
        let took = ContinuousClock.now - started
        let received = await upstream.received("contractor")
        await upstream.stop()
        #expect(record != nil)
        #expect(received == 2)
        #expect(took >= .milliseconds(900), "the retry waited for Retry-After")
    }

    @Test func retryAfterThatDoesNotFitFailsFastAndCoolsTheKeyDown() async throws {
        let upstream = try await Upstream.start()
        upstream.faults(.on("contractor") { $0.status = 429; $0.retryAfter = "30" })
        let client = upstream.client()
        let started = ContinuousClock.now
        await #expect(throws: AgentOSError.rateLimited(retryAfter: .seconds(30))) { try await client.record(Self.contractor, context()) }
        #expect(ContinuousClock.now - started < .seconds(10), "failed fast instead of sleeping to the 20 s deadline or Retry-After")
        // During the cool-down nothing is sent at all.
        do {
            _ = try await client.record(Self.contractor, context())
            Issue.record("a call went through during the cool-down")
        } catch {
            guard case .rateLimited(let wait) = error else { throw error }
            #expect(wait > .seconds(25))
        }
        let received = await upstream.received("contractor")
        await upstream.stop()
        #expect(received == 1)
        let line = upstream.log.events("agentos_call").first
        #expect(line?["status"] as? Int == 429, "the log says what AgentOS answered")
        #expect(line?["outcome"] as? String == "rate_limited")
    }

    @Test func httpDateRetryAfterIsRead() {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        let date = formatter.string(from: Date().addingTimeInterval(20))
        let wait = AgentOSClient.retryAfter(TransportResponse(status: 429, headers: ["Retry-After": date], body: []))
        #expect(wait.map { $0 > .seconds(17) && $0 <= .seconds(20) } == true)
        #expect(AgentOSClient.retryAfter(TransportResponse(status: 429, headers: ["retry-after": "7"], body: [])) == .seconds(7))
        #expect(AgentOSClient.retryAfter(TransportResponse(status: 429, headers: ["Retry-After": "soon"], body: [])) == nil)
    }

    @Test func forbiddenAfter429sIsABlockedKeyAndOpensTheBreaker() async throws {
        let upstream = try await Upstream.start()
        let client = upstream.client { $0.maxAttempts = 1 }
        upstream.faults(.on("contractor") { $0.status = 429; $0.retryAfter = "0"; $0.times = 1 }, .on("contractor") { $0.status = 403 })
        await #expect(throws: AgentOSError.self) { try await client.record(Self.contractor, context()) }
        try await Task.sleep(for: .milliseconds(50))
        do {
            _ = try await client.record(Self.contractor, context())
            Issue.record("expected keyBlocked")
        } catch {
            guard case .keyBlocked = error else { throw error }
        }
        let state = await client.breakerState
        await upstream.stop()
        #expect(state == .open)
        #expect(upstream.log.events("agentos_key_blocked").first?["level"] as? String == "error")
    }

    @Test func breakerOpensFailsFastThenProbesAndCloses() async throws {
        let upstream = try await Upstream.start()
        let client = upstream.client {
            $0.maxAttempts = 1
            $0.breakerFailureThreshold = 3
            $0.breakerCoolDown = .seconds(3)  // longer than the failing calls take, however loaded the machine
        }
        upstream.faults(.on("contractor") { $0.status = 500 })
        for _ in 0..<3 {
            await #expect(throws: AgentOSError.upstream(status: 500)) { try await client.record(Self.contractor, context()) }
        }
        #expect(await client.breakerState == .open)
        do {
            _ = try await client.record(Self.contractor, context())
            Issue.record("expected circuitOpen")
        } catch {
            guard case .circuitOpen = error else { throw error }
        }
        #expect(await upstream.received("contractor") == 3, "an open breaker sends nothing")
        upstream.faults()
        try await Task.sleep(for: .milliseconds(3_100))
        let record = try await client.record(Self.contractor, context())
        #expect(record != nil)
        #expect(await client.breakerState == .closed)
        await upstream.stop()
        #expect(client.counterSnapshot.breakerTransitions == ["closed->open": 1, "open->half-open": 1, "half-open->closed": 1])
    }

    @Test func failedProbeReopensTheBreaker() async throws {
        let upstream = try await Upstream.start()
        let client = upstream.client {
            $0.maxAttempts = 1
            $0.breakerFailureThreshold = 2
        }
        upstream.faults(.on("contractor") { $0.status = 502 })
        for _ in 0..<2 { _ = try? await client.record(Self.contractor, context()) }
        try await Task.sleep(for: .milliseconds(450))
        _ = try? await client.record(Self.contractor, context())
        let received = await upstream.received("contractor")
        #expect(await client.breakerState == .open)
        await upstream.stop()
        #expect(received == 3, "the probe reached AgentOS and failed")
    }

    @Test func retryBudgetStopsARetryStorm() async throws {
        let upstream = try await Upstream.start()
        let client = upstream.client {
            $0.retryBudgetMinimum = 0
            $0.retryBudgetRatio = 0.2
            $0.breakerFailureThreshold = 1000
            $0.breakerFailureRate = 1.1
        }
        upstream.faults(.on("contractor") { $0.status = 503 })
        for _ in 0..<20 { _ = try? await client.record(Self.contractor, context()) }
        let received = await upstream.received("contractor")
        await upstream.stop()
        #expect(received <= 24, "20 calls may add at most 20 % retries, not 40")
        #expect(received >= 20)
    }

    @Test func inFlightBoundRefusesWhatCannotWait() async throws {
        let upstream = try await Upstream.start()
        let client = upstream.client {
            $0.maxInFlight = 1
            $0.queueWait = .milliseconds(100)
            $0.attemptTimeout = .seconds(5)
            $0.maxAttempts = 1
        }
        upstream.faults(.on("contractor") { $0.hang = true })
        async let first: JSONValue?? = try? await client.record(Self.contractor, context())
        // The first call holds the only place once the fixture has it.
        let until = ContinuousClock.now + .seconds(4)
        while await upstream.received("contractor") == 0 && ContinuousClock.now < until { try await Task.sleep(for: .milliseconds(5)) }
        await #expect(throws: AgentOSError.overloaded) { try await client.record(Self.contractor, context()) }
        _ = await first
        await upstream.stop()
    }

    @Test func manyCallsAgainstAHangingUpstreamAllEndByTheDeadline() async throws {
        let upstream = try await Upstream.start()
        let client = upstream.client {
            $0.maxInFlight = 256
            // Far beyond the deadline, so only the deadline can have ended the calls in time.
            $0.attemptTimeout = .seconds(60)
            // This test is about deadlines: the breaker (which 200 timeouts would open, failing late
            // starters fast with circuitOpen) is kept out of reach.
            $0.breakerFailureThreshold = 1000
            $0.breakerFailureRate = 1.1
        }
        upstream.faults(.on("contractor") { $0.hang = true })
        let started = ContinuousClock.now
        let errors = await withTaskGroup(of: AgentOSError?.self) { group in
            for _ in 0..<200 {
                group.addTask {
                    do throws(AgentOSError) {
                        _ = try await client.record(Self.contractor, CallContext(requestID: "many", deadline: .now + .milliseconds(700)))
                        return nil
                    } catch { return error }
                }
            }
            return await group.reduce(into: [AgentOSError?]()) { $0.append($1) }
        }
        let took = ContinuousClock.now - started
        #expect(errors.count == 200)
        #expect(errors.allSatisfy { $0 == .timeout }, "\(Set(errors.map { String(describing: $0) }))")
        #expect(took < .seconds(20), "every call ended by its 0.7 s deadline, none by the 60 s attempt timeout")
        // The client hung up on every attempt; the fixture sees the connections go and closes them.
        let deadline = ContinuousClock.now + .seconds(5)
        while upstream.server.openConnections > 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(upstream.server.openConnections == 0)
        await upstream.stop()
    }
}

@Suite("Sliding-window rate limiter", .scoped)
struct RateLimiterTests {
    @Test func neverMoreThanTheLimitInAnyWindow() async throws {
        let limiter = SlidingWindowLimiter(limit: 3, window: .milliseconds(300))
        var granted: [ContinuousClock.Instant] = []
        // A deadline no loaded run reaches: the spacing of the grants is what is tested.
        for _ in 0..<7 {
            granted.append(try await limiter.acquire(deadline: .now + .seconds(60), priority: .write).slot)
        }
        for index in 3..<granted.count {
            #expect(granted[index] - granted[index - 3] >= .milliseconds(300), "a 4th call inside one window")
        }
    }

    @Test func waitThatDoesNotFitFailsFastWithTheWait() async throws {
        let limiter = SlidingWindowLimiter(limit: 2, window: .seconds(60))
        try await limiter.acquire(deadline: .now + .seconds(1), priority: .write)
        try await limiter.acquire(deadline: .now + .seconds(1), priority: .write)
        do {
            try await limiter.acquire(deadline: .now + .seconds(1), priority: .write)
            Issue.record("a third call was allowed")
        } catch {
            guard case .rateLimited(let wait) = error else { throw error }
            #expect(wait > .seconds(58) && wait <= .seconds(60))
        }
    }

    /// A call held after its slot was granted (waiting for an in-flight place, say) is counted from when
    /// it went out: the next window's call is a whole window after the send, not after the grant.
    @Test func aSlotCountsFromTheSend() async throws {
        let time = ManualTime()
        let limiter = SlidingWindowLimiter(limit: 1, window: .milliseconds(500), time: time.timekeeper)
        let first = try await limiter.acquire(deadline: time.now + .seconds(5), priority: .write)
        time.advance(by: .milliseconds(300))
        let sent = time.now
        await limiter.sending(first, at: sent)
        let second = Task { try await limiter.acquire(deadline: time.now + .seconds(5), priority: .write) }
        #expect(await time.settle { time.sleeping == 1 }, "the second call waits for its slot")
        time.advance(by: .milliseconds(499))
        #expect(time.sleeping == 1, "not before the send's window has passed")
        time.advance(by: .milliseconds(1))
        let granted = try await second.value
        #expect(granted.slot == sent + .milliseconds(500))
        #expect(granted.waited == .milliseconds(500))
    }

    @Test func coolDownRefusesEverything() async throws {
        let limiter = SlidingWindowLimiter(limit: 100, window: .seconds(60))
        await limiter.coolDown(for: .seconds(10))
        await #expect(throws: AgentOSError.self) { try await limiter.acquire(deadline: .now + .seconds(30), priority: .write) }
    }
}

@Suite("Sliding-window rate limiter under concurrency", .scoped)
struct ConcurrentLimiterTests {
    @Test func concurrentCallersNeverExceedTheLimitInAnyWindow() async throws {
        let limiter = SlidingWindowLimiter(limit: 4, window: .milliseconds(250))
        let times = await withTaskGroup(of: ContinuousClock.Instant?.self) { group in
            for _ in 0..<16 {
                group.addTask {
                    try? await limiter.acquire(deadline: .now + .seconds(10), priority: .write).slot
                }
            }
            return await group.reduce(into: [ContinuousClock.Instant]()) { if let time = $1 { $0.append(time) } }
        }.sorted()
        #expect(times.count == 16)
        for index in 4..<times.count {
            #expect(times[index] - times[index - 4] >= .milliseconds(250), "a 5th call inside one window")
        }
    }
}
