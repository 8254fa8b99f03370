import CLinux
import Glibc

/// Bytes kept on disk instead of in memory: a request body that outgrew its route's memory threshold,
/// or one part of a multipart body. The file is created unlinked (`O_TMPFILE`, or created and removed at
/// once where the file system lacks it), so it has no name and nothing is left behind however the
/// process ends; it lives as long as this object.
///
/// Written by one owner (the connection's loop, or the multipart reader) and only read once handed on:
/// `pread` takes no shared position, so readers on several threads cannot disturb each other. That
/// hand-over discipline is why it may be marked Sendable.
public final class SpoolFile: @unchecked Sendable {
    public let fd: Int32
    public private(set) var count = 0

    public enum Failure: Error, Sendable, Equatable {
        case cannotCreate(directory: String, errno: Int32)
        case cannotWrite(errno: Int32)
        case cannotRead(errno: Int32)

        public var message: String {
            switch self {
            case .cannotCreate(let directory, let code): "cannot create a spool file in \(directory): \(String(cString: strerror(code)))"
            case .cannotWrite(let code): "cannot write a spool file: \(String(cString: strerror(code)))"
            case .cannotRead(let code): "cannot read a spool file: \(String(cString: strerror(code)))"
            }
        }
    }

    public init(directory: String) throws(Failure) {
        var fd = clinux_open_tmpfile(directory)
        if fd < 0 {
            var template = Array((directory.hasSuffix("/") ? directory : directory + "/").utf8CString.dropLast()) + Array("spool-XXXXXX".utf8CString)
            fd = template.withUnsafeMutableBufferPointer { clinux_mkstemp_cloexec($0.baseAddress!) }
            guard fd >= 0 else { throw .cannotCreate(directory: directory, errno: errno) }
            _ = template.withUnsafeBufferPointer { unlink($0.baseAddress!) }
        }
        self.fd = fd
    }

    deinit { close(fd) }

    public func append(_ bytes: ArraySlice<UInt8>) throws(Failure) {
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { buffer in
                Glibc.write(fd, buffer.baseAddress! + written, buffer.count - written)
            }
            if result < 0 {
                if errno == EINTR { continue }
                throw .cannotWrite(errno: errno)
            }
            written += result
        }
        count += bytes.count
    }

    public func append(_ bytes: [UInt8]) throws(Failure) { try append(bytes[...]) }

    /// Up to `length` bytes from `offset` (fewer only at the end of the file).
    public func read(at offset: Int, length: Int) throws(Failure) -> [UInt8] {
        let wanted = max(0, min(length, count - offset))
        var out = [UInt8](repeating: 0, count: wanted)
        var done = 0
        while done < wanted {
            let result = out.withUnsafeMutableBytes { buffer in
                pread(fd, buffer.baseAddress! + done, wanted - done, off_t(offset + done))
            }
            if result < 0 {
                if errno == EINTR { continue }
                throw .cannotRead(errno: errno)
            }
            if result == 0 { break }
            done += result
        }
        return done == wanted ? out : Array(out[0..<done])
    }

    /// Every byte, in chunks of at most `size`.
    public func forEachChunk(size: Int = 64 * 1024, _ body: (ArraySlice<UInt8>) throws -> Void) throws {
        var offset = 0
        while offset < count {
            let chunk = try read(at: offset, length: size)
            guard !chunk.isEmpty else { break }
            try body(chunk[...])
            offset += chunk.count
        }
    }
}
