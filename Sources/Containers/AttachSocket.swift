import CLinux
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// The monitor's attach socket, `$XDG_RUNTIME_DIR/swctr/containers/ID12.attach` (a unix stream
/// socket; the id is shortened so the path fits in sun_path). Every client gets the container's
/// output as frames: one byte for the stream (1 stdout, 2 stderr), four bytes of big-endian
/// length, then the bytes. What a client writes goes to the container's stdin (or its pty).
final class AttachServer {
    let path: String
    let listener: Int32
    private(set) var clients: [Int32] = []

    static func path(runtime: String, id: String) -> String { runtime + "/containers/" + id.prefix(12) + ".attach" }

    init?(runtime: String, id: String) {
        path = Self.path(runtime: runtime, id: id)
        listener = swctr_unix_listen(path)
        if listener < 0 { return nil }
    }

    func acceptClients() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 { return }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            clients.append(client)
        }
    }

    /// Sends output to every client; a client that cannot take it at once is dropped (the monitor
    /// never blocks on a slow reader).
    func broadcast(stream: UInt8, _ bytes: ArraySlice<UInt8>) {
        guard !clients.isEmpty, !bytes.isEmpty else { return }
        let length = UInt32(bytes.count)
        var frame: [UInt8] = [stream, UInt8(length >> 24), UInt8((length >> 16) & 0xff), UInt8((length >> 8) & 0xff), UInt8(length & 0xff)]
        frame.append(contentsOf: bytes)
        for client in clients {
            let sent = send(client, frame, frame.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL))
            if sent != frame.count { drop(client) }
        }
    }

    func drop(_ client: Int32) {
        close(client)
        clients.removeAll { $0 == client }
    }

    func closeAll() {
        for client in clients { close(client) }
        clients = []
        close(listener)
        unlink(path)
    }
}

/// The client side: frames from the monitor decoded back into stdout and stderr bytes.
struct AttachFrameDecoder {
    private var buffer: [UInt8] = []

    mutating func feed(_ bytes: ArraySlice<UInt8>, deliver: (UInt8, ArraySlice<UInt8>) -> Void) {
        buffer.append(contentsOf: bytes)
        var offset = 0
        while buffer.count - offset >= 5 {
            let length = Int(buffer[offset + 1]) << 24 | Int(buffer[offset + 2]) << 16 | Int(buffer[offset + 3]) << 8 | Int(buffer[offset + 4])
            guard buffer.count - offset - 5 >= length else { break }
            deliver(buffer[offset], buffer[(offset + 5)..<(offset + 5 + length)])
            offset += 5 + length
        }
        buffer.removeFirst(offset)
    }
}

extension ContainerService {
    /// Attaches this terminal to a running detached container: its output here, this input to it
    /// (with `forwardInput`), until it stops. Returns its exit code.
    public func attach(_ text: String, forwardInput: Bool) throws -> Int32 {
        let record = try find(text)
        guard record.status == .running else { throw ContainerError.notRunning(text) }
        let socket = swctr_unix_connect(AttachServer.path(runtime: context.runtime, id: record.id))
        guard socket >= 0 else { throw ContainerError.notRunning(text) }
        defer { close(socket) }
        var saved = termios()
        var raw = false
        if forwardInput && record.settings.process.terminal && isatty(0) == 1 && tcgetattr(0, &saved) == 0 {
            var mode = saved
            cfmakeraw(&mode)
            raw = tcsetattr(0, TCSANOW, &mode) == 0
        }
        defer { if raw { tcsetattr(0, TCSANOW, &saved) } }
        var decoder = AttachFrameDecoder()
        var buffer = [UInt8](repeating: 0, count: 65536)
        var inputOpen = forwardInput
        loop: while true {
            var fds = [pollfd(fd: socket, events: Int16(POLLIN), revents: 0)]
            if inputOpen { fds.append(pollfd(fd: 0, events: Int16(POLLIN), revents: 0)) }
            if poll(&fds, nfds_t(fds.count), -1) < 0 { if errno == EINTR { continue } else { break } }
            if fds[0].revents != 0 {
                let n = read(socket, &buffer, buffer.count)
                if n <= 0 { break loop }
                decoder.feed(buffer[0..<n]) { stream, bytes in
                    let target = stream == 2 ? FileDescriptor.standardError : FileDescriptor.standardOutput
                    _ = bytes.withUnsafeBytes { try? target.writeAll($0) }
                }
            }
            if fds.count > 1 && fds[1].revents != 0 {
                let n = read(0, &buffer, buffer.count)
                if n <= 0 { inputOpen = false; continue }
                _ = buffer.withUnsafeBytes { try? FileDescriptor(rawValue: socket).writeAll(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            }
        }
        _ = ContainerLock.waitUntilFree(runtime: context.runtime, id: record.id, timeout: 10)
        return (try database.get(id: record.id))?.exitCode ?? 0
    }
}
