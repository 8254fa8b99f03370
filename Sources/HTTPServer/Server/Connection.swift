/// One client connection as its event loop sees it: the socket, the machine that decides what happens on
/// it, and the handler task running for it. Confined to the loop that accepted it: only that loop's thread
/// reads or writes its fields. Handler tasks carry the reference back to the loop (`EventLoop.execute`)
/// and touch nothing themselves; that is the whole reason it may be marked Sendable.
final class Connection: @unchecked Sendable {
    let fd: Int32
    var machine: ConnectionMachine
    /// Edge-triggered epoll: true until a read meets EAGAIN.
    var readable = true
    /// The descriptor was closed; whatever actions remain are moot.
    var socketClosed = false
    var task: Task<Void, Never>?

    init(fd: Int32, machine: ConnectionMachine) {
        self.fd = fd
        self.machine = machine
    }

    var remoteAddress: String { machine.remoteAddress }
}
