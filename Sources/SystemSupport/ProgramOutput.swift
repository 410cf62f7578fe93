import CLinux
#if canImport(Glibc)
    import Glibc
#endif

/// How a short helper program ended and what it printed, its two output streams kept apart.
public struct ProgramOutput: Sendable {
    public let status: ExitStatus
    public let standardOutput: String
    public let standardError: String
}

extension ChildProcess {
    /// The most `run(_:arguments:environment:input:)` feeds a program: it must fit in a pipe's buffer.
    public static let inputLimit = 16 << 10

    /// Runs a program to completion with `input` (at most `inputLimit` bytes) on its stdin, its
    /// stdout and stderr captured separately (each up to `outputLimit` bytes; the rest is dropped).
    public static func run(
        _ path: String, arguments: [String], environment: [String], input: [UInt8],
        outputLimit: Int = 1 << 20
    ) throws(SystemCallError) -> ProgramOutput {
        if input.count > inputLimit { throw SystemCallError("write", on: path, errno: EFBIG) }
        // The input goes into the pipe before the child exists: it fits in the buffer, so the write
        // cannot block, and no SIGPIPE is possible while this end still holds the read side.
        let (inputRead, inputWrite) = try makePipe()
        defer { inputRead.close() }
        do { try inputWrite.writeAll(input) } catch {
            inputWrite.close()
            throw error
        }
        inputWrite.close()
        let (outputRead, outputWrite) = try makePipe()
        defer { outputRead.close() }
        let (errorRead, errorWrite): (FileDescriptor, FileDescriptor)
        do { (errorRead, errorWrite) = try makePipe() } catch {
            outputWrite.close()
            throw error
        }
        defer { errorRead.close() }
        let pid: ProcessID
        do {
            pid = try spawn(
                path, arguments: arguments, environment: environment,
                fileDescriptors: [0: inputRead, 1: outputWrite, 2: errorWrite])
        } catch {
            outputWrite.close()
            errorWrite.close()
            throw error
        }
        outputWrite.close()
        errorWrite.close()
        let captured = readBoth(outputRead, errorRead, limit: outputLimit)
        let status = try wait(pid)
        return ProgramOutput(
            status: status, standardOutput: String(decoding: captured.0, as: UTF8.self),
            standardError: String(decoding: captured.1, as: UTF8.self))
    }

    private static func makePipe() throws(SystemCallError) -> (read: FileDescriptor, write: FileDescriptor) {
        var fds: [Int32] = [0, 0]
        try systemCall("pipe2") { swctr_pipe2(&fds, O_CLOEXEC) }
        return (FileDescriptor(rawValue: fds[0]), FileDescriptor(rawValue: fds[1]))
    }

    /// Reads two pipes until both reach end of file, so a child blocked writing one never stalls.
    private static func readBoth(_ first: FileDescriptor, _ second: FileDescriptor, limit: Int) -> ([UInt8], [UInt8]) {
        let sources = [first, second]
        var buffers: [[UInt8]] = [[], []]
        var isOpen = [true, true]
        var chunk = [UInt8](repeating: 0, count: 16384)
        while isOpen.contains(true) {
            var watched = sources.indices.filter { isOpen[$0] }.map { pollfd(fd: sources[$0].rawValue, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&watched, nfds_t(watched.count), -1)
            if ready < 0 {
                if errno == EINTR { continue }
                break
            }
            for entry in watched where entry.revents != 0 {
                guard let index = sources.firstIndex(where: { $0.rawValue == entry.fd }) else { continue }
                let count = chunk.withUnsafeMutableBytes { read(entry.fd, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                if count <= 0 {
                    isOpen[index] = false
                    continue
                }
                let room = max(0, limit - buffers[index].count)
                buffers[index].append(contentsOf: chunk[0..<min(count, room)])
            }
        }
        return (buffers[0], buffers[1])
    }
}
