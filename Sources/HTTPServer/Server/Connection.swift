/// One client connection. Confined to the event loop that accepted it: only that loop's thread reads or
/// writes its fields. Handler tasks carry the reference back to the loop (`EventLoop.execute`) and touch
/// nothing themselves; that is the whole reason it may be marked Sendable.
final class Connection: @unchecked Sendable {
    /// Where the connection is in its life; each case carries the deadline that applies to it, so the
    /// sweep needs no other bookkeeping and an impossible mix (reading while handling) cannot be written.
    enum Phase {
        /// Waiting for a request head. `idle` is a kept-alive connection between requests (keep-alive
        /// timeout); otherwise a head is being read (header timeout).
        case awaitingHead(deadline: UInt64, idle: Bool)
        /// A head with a body was read; `deadline` is for the next body bytes, at the latest `ends`, by
        /// when the whole body must be in.
        case readingBody(deadline: UInt64, ends: UInt64)
        /// A handler is running; no more input is read until it answered (pipelined requests wait).
        case handling(deadline: UInt64)
        /// A streamed (chunked) response is being sent as its chunks arrive.
        case streaming(chunked: Bool)
        /// A whole response is queued; once it is sent the connection reads again or closes.
        case flushing
        /// Output is shut down; input is read and dropped until the client closes or the deadline.
        case lingering(deadline: UInt64)
        case closed
    }

    /// What the access log needs of the request being answered.
    struct Exchange {
        var method: String
        var path: String
        /// The request-target as received (for a refusal rendered in the shape of the API it names).
        var target: String
        var requestID: String
        var startedAt: UInt64
        var isHead: Bool
        var version: HTTPVersion
        var status = 0
        var bytes = 0
    }

    let fd: Int32
    let remoteAddress: String
    var phase: Phase
    var parser: RequestParser
    var inbound: [UInt8] = []
    var inboundStart = 0
    var outbound: [UInt8] = []
    var outboundStart = 0
    /// When queued output must have been taken by the client.
    var sendDeadline: UInt64 = 0
    /// Edge-triggered epoll: true until a read meets EAGAIN.
    var readable = true
    var peerClosedInput = false
    var keepAlive = true
    /// Bumped for every request, so a late answer for an earlier one is recognised and dropped.
    var serial: UInt64 = 0
    var task: Task<Void, Never>?
    var exchange: Exchange?
    var discarded = 0

    init(fd: Int32, remoteAddress: String, parser: RequestParser, phase: Phase) {
        self.fd = fd
        self.remoteAddress = remoteAddress
        self.parser = parser
        self.phase = phase
    }

    var hasUnreadInput: Bool { inboundStart < inbound.count }
    var hasPendingOutput: Bool { outboundStart < outbound.count }

    /// A handler is working on the request, or its answer is still being streamed.
    var isAnswering: Bool {
        switch phase {
        case .handling, .streaming: true
        default: false
        }
    }

    var isClosed: Bool {
        if case .closed = phase { return true }
        return false
    }

    /// Drops consumed input; keeps a small buffer's capacity for the next request, frees a large one.
    func releaseConsumedInput() {
        if inboundStart == inbound.count {
            inbound.removeAll(keepingCapacity: inbound.capacity <= 16 * 1024)
            inboundStart = 0
        } else if inboundStart > 64 * 1024 {
            inbound.removeFirst(inboundStart)
            inboundStart = 0
        }
    }
}
