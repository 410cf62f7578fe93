import CLinux
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// The signals swctr passes on to a foreground container (and handles itself while it waits).
public enum ForwardedSignals {
    public static let all: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, SIGALRM, SIGPIPE]

    /// Blocks them in this thread (inherited by threads made later; posix_spawn children reset it).
    public static func block() { _ = swctr_sigmask(SIG_BLOCK, all, Int32(all.count)) }
    public static func unblock() { _ = swctr_sigmask(SIG_UNBLOCK, all, Int32(all.count)) }
}

/// Runs alongside a started container until it exits: forwards signals (pidfd, so never to a
/// recycled pid), copies the terminal both ways with the host terminal in raw mode, follows
/// window size changes, and restores the terminal whatever happens.
public final class ForegroundSession {
    private let pid: ProcessID
    private let terminalMaster: FileDescriptor?
    private let forwardInput: Bool

    public init(pid: ProcessID, terminalMaster: FileDescriptor?, forwardInput: Bool) {
        self.pid = pid
        self.terminalMaster = terminalMaster
        self.forwardInput = forwardInput
    }

    /// Waits for the container to end. With `reap: false` the process is left waitable (a zombie)
    /// for the caller, so it can record the exit before the pid can be reused.
    public func waitForExit(reap: Bool = true) -> ExitStatus {
        let signals = swctr_signalfd(ForwardedSignals.all, Int32(ForwardedSignals.all.count))
        let pidfd = swctr_pidfd_open(pid.rawValue)
        var savedTerminal = termios()
        var rawMode = false
        if let master = terminalMaster {
            copyWindowSize(to: master)
            if forwardInput && isatty(0) == 1 && tcgetattr(0, &savedTerminal) == 0 {
                var raw = savedTerminal
                cfmakeraw(&raw)
                rawMode = tcsetattr(0, TCSANOW, &raw) == 0
            }
            _ = fcntl(master.rawValue, F_SETFL, fcntl(master.rawValue, F_GETFL) | O_NONBLOCK)
        }
        defer {
            if rawMode { tcsetattr(0, TCSANOW, &savedTerminal) }
            if signals >= 0 { close(signals) }
            if pidfd >= 0 { close(pidfd) }
            terminalMaster?.close()
        }
        var stdinOpen = terminalMaster != nil && forwardInput
        // Only a terminal's output and input pass through here.
        var buffer = [UInt8](repeating: 0, count: terminalMaster == nil ? 0 : 65536)
        while true {
            var fds: [pollfd] = []
            if signals >= 0 { fds.append(pollfd(fd: signals, events: Int16(POLLIN), revents: 0)) }
            if pidfd >= 0 { fds.append(pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)) }
            if let master = terminalMaster { fds.append(pollfd(fd: master.rawValue, events: Int16(POLLIN), revents: 0)) }
            if stdinOpen { fds.append(pollfd(fd: 0, events: Int16(POLLIN), revents: 0)) }
            if pidfd < 0 {
                // No pidfd (very old kernel): fall back to a blocking wait.
                return (try? ChildProcess.wait(pid)) ?? .exited(125)
            }
            let ready = poll(&fds, nfds_t(fds.count), -1)
            if ready < 0 { if errno == EINTR { continue } else { break } }
            for entry in fds where entry.revents != 0 {
                if entry.fd == signals {
                    handleSignals(signals, pidfd: pidfd)
                } else if entry.fd == pidfd {
                    if let master = terminalMaster { copyAvailable(from: master.rawValue, to: 1, buffer: &buffer) }
                    return ended(pidfd: pidfd, reap: reap)
                } else if let master = terminalMaster, entry.fd == master.rawValue {
                    if !copyAvailable(from: master.rawValue, to: 1, buffer: &buffer) {
                        // The slave side is closed (EIO); the process is ending.
                        return ended(pidfd: pidfd, reap: reap)
                    }
                } else if entry.fd == 0, let master = terminalMaster {
                    let n = read(0, &buffer, buffer.count)
                    if n <= 0 { stdinOpen = false; continue }
                    _ = buffer.withUnsafeBytes { try? FileDescriptor(rawValue: master.rawValue).writeAll(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                }
            }
        }
        return ended(pidfd: pidfd, reap: reap)
    }

    private func ended(pidfd: Int32, reap: Bool) -> ExitStatus {
        if reap || pidfd < 0 { return (try? ChildProcess.wait(pid)) ?? .exited(125) }
        return ChildProcess.waitLeavingZombie(pidfd: pidfd) ?? .exited(125)
    }

    /// Copies what can be read now; false when the source is closed.
    @discardableResult
    private func copyAvailable(from source: Int32, to destination: Int32, buffer: inout [UInt8]) -> Bool {
        while true {
            let n = read(source, &buffer, buffer.count)
            if n > 0 {
                _ = buffer.withUnsafeBytes { try? FileDescriptor(rawValue: destination).writeAll(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                continue
            }
            if n < 0 && (errno == EAGAIN || errno == EINTR) { return true }
            return false
        }
    }

    private func handleSignals(_ signals: Int32, pidfd: Int32) {
        while true {
            let number = swctr_read_signal(signals)
            if number < 0 { return }
            if number == SIGWINCH {
                if let master = terminalMaster { copyWindowSize(to: master) }
            } else if number != SIGPIPE {
                _ = swctr_pidfd_send_signal(pidfd, number)
            }
        }
    }

    private func copyWindowSize(to master: FileDescriptor) {
        var size = winsize()
        if swctr_ioctl_ptr(0, UInt(TIOCGWINSZ), &size) == 0 || swctr_ioctl_ptr(1, UInt(TIOCGWINSZ), &size) == 0 {
            _ = swctr_ioctl_ptr(master.rawValue, UInt(TIOCSWINSZ), &size)
        }
    }
}
