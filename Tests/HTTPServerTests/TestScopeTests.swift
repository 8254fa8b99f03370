import Synchronization
import TestSupport
import Testing

/// The harness's own guarantee: what a test started ends before the test does, in reverse order, also
/// when the test throws; and a server started in a scoped test really is stopped by then.
@Suite("Test scope", .scoped)
struct TestScopeTests {
    struct Thrown: Error {}

    @Test func endsRunInReverseAndBeforeTheScopeReturnsEvenWhenTheBodyThrows() async throws {
        let ended = Mutex<[Int]>([])
        let test = try #require(Test.current)
        await #expect(throws: Thrown.self) {
            try await ScopedResources().provideScope(for: test, testCase: Test.Case.current) {
                for index in 1...3 { TestScope.onEnd { ended.withLock { $0.append(index) } } }
                throw Thrown()
            }
        }
        #expect(ended.withLock { $0 } == [3, 2, 1])
    }

    @Test func aServerStartedInTheScopeIsStoppedWhenItEnds() async throws {
        let test = try #require(Test.current)
        let port = Mutex<Int>(0)
        try await ScopedResources().provideScope(for: test, testCase: Test.Case.current) {
            let running = try RunningServer.start(router: TestRoutes.router)
            port.withLock { $0 = running.port }
            #expect(await exchange(port: running.port, "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", readTimeout: 5, closeWithin: 0).response != nil)
        }
        let after = await exchange(port: port.withLock { $0 }, "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", readTimeout: 2, closeWithin: 0)
        #expect(after.response == nil, "nothing listens once the scope ended")
    }
}
