import Synchronization
import Testing

/// What a test started (servers, child processes, database clusters), ended before the test itself ends:
/// in reverse order of starting, awaited, whether the test returned or threw. Nothing a test starts
/// outlives it, and no teardown runs detached where a failure could not be told to the test that
/// caused it.
public final class TestScope: Sendable {
    @TaskLocal public static var current: TestScope?
    private let endings = Mutex<[@Sendable () async -> Void]>([])

    init() {}

    /// Ends `end` with the running test. Outside a scoped test (a suite without `.scoped`) that test is
    /// told, since what it started would outlive it.
    public static func onEnd(
        fileID: String = #fileID, filePath: String = #filePath, line: Int = #line, column: Int = #column, _ end: @escaping @Sendable () async -> Void
    ) {
        guard let scope = current else {
            Issue.record(
                "a server or process started outside a scoped test: give its suite the .scoped trait",
                sourceLocation: SourceLocation(fileID: fileID, filePath: filePath, line: line, column: column))
            return
        }
        scope.endings.withLock { $0.append(end) }
    }

    func end() async {
        while let next = endings.withLock({ $0.popLast() }) { await next() }
    }
}

/// The trait that gives each test of a suite (nested suites included) its own `TestScope`.
public struct ScopedResources: TestTrait, SuiteTrait, TestScoping {
    public init() {}

    public var isRecursive: Bool { true }

    /// One scope per test case: not one around a whole suite, which would keep its tests' servers to the end.
    public func scopeProvider(for test: Test, testCase: Test.Case?) -> ScopedResources? {
        testCase == nil ? nil : self
    }

    public func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let scope = TestScope()
        do {
            try await TestScope.$current.withValue(scope) { try await function() }
        } catch {
            await scope.end()
            throw error
        }
        await scope.end()
    }
}

extension Trait where Self == ScopedResources {
    /// Everything the suite's tests start is stopped before each test ends.
    public static var scoped: ScopedResources { ScopedResources() }
}

/// True the first time only: a stop a test calls itself and the one its scope calls at the end do the
/// work once.
public final class Once: Sendable {
    private let done = Atomic<Bool>(false)
    public init() {}
    public var first: Bool { !done.exchange(true, ordering: .acquiringAndReleasing) }
}

/// A value the tasks of one test share (a Mutex itself cannot be captured by their closures).
public final class Locked<Value: Sendable>: Sendable {
    private let value: Mutex<Value>
    public init(_ value: Value) { self.value = Mutex(value) }
    public func withLock<Result>(_ body: (inout Value) -> Result) -> Result { value.withLock { body(&$0) } }
}
