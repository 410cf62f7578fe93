import CLinux
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// The lock that backs a container's busy states: held (an open-file-description lock on
/// `$XDG_RUNTIME_DIR/swctr/containers/ID.lock`) by whichever process is creating, starting,
/// supervising or removing the container. It goes away with that process, however it ends, and
/// with the runtime directory at reboot; so a busy state whose lock nobody holds is known stale.
public struct ContainerLock {
    public let fd: FileDescriptor

    static func path(runtime: String, id: String) -> String { runtime + "/containers/" + id + ".lock" }

    /// Takes the lock; nil when another process holds it. With `wait`, waits for it instead (for a
    /// new container's id, which only `ps`'s orphan sweep may hold, for an instant).
    public static func acquire(runtime: String, id: String, wait: Bool = false) throws(SystemCallError) -> ContainerLock? {
        let directory = runtime + "/containers"
        try FileSystem.makeDirectories(directory, mode: 0o700)
        let path = path(runtime: runtime, id: id)
        while true {
            let fd = try FileDescriptor.open(path, O_RDWR | O_CREAT, mode: 0o600)
            if swctr_ofd_lock(fd.rawValue, 1, wait ? 1 : 0) != 0 {
                let code = errno
                fd.close()
                if code == EINTR { continue }
                if code == EAGAIN || code == EACCES { return nil }
                throw SystemCallError("lock", on: path, errno: code)
            }
            // The file may have been removed between our open and our lock (by the process that
            // removed the container): a lock on an unlinked file protects nothing, so start over.
            var held = stat()
            var named = stat()
            if fstat(fd.rawValue, &held) == 0 && stat(path, &named) == 0 && held.st_ino == named.st_ino && held.st_dev == named.st_dev {
                return ContainerLock(fd: fd)
            }
            fd.close()
        }
    }

    /// Wraps a lock fd handed down by the process that took it (the monitor gets it this way).
    public static func inherited(_ fd: FileDescriptor) -> ContainerLock {
        _ = fcntl(fd.rawValue, F_SETFD, FD_CLOEXEC)
        return ContainerLock(fd: fd)
    }

    public func release() { fd.close() }

    /// Whether any process holds the lock now.
    public static func isHeld(runtime: String, id: String) -> Bool {
        let fd = open(path(runtime: runtime, id: id), O_RDONLY | O_CLOEXEC)
        if fd < 0 { return false }
        defer { close(fd) }
        return swctr_ofd_is_locked(fd) == 1
    }

    /// Blocks until nobody holds the lock (or `timeout` seconds pass); true when free.
    public static func waitUntilFree(runtime: String, id: String, timeout: Double? = nil) -> Bool {
        let fd = open(path(runtime: runtime, id: id), O_RDONLY | O_CLOEXEC)
        if fd < 0 { return true }
        defer { close(fd) }
        guard let timeout else {
            while swctr_ofd_lock(fd, 0, 1) != 0 { if errno != EINTR { return false } }
            return true
        }
        let deadline = MonotonicClock.now + timeout
        var delay = 0.002
        while swctr_ofd_is_locked(fd) == 1 {
            if MonotonicClock.now >= deadline { return false }
            MonotonicClock.sleep(delay)
            delay = min(delay * 2, 0.05)
        }
        return true
    }

    public static func removeFile(runtime: String, id: String) {
        unlink(path(runtime: runtime, id: id))
    }
}

/// Seconds on CLOCK_MONOTONIC, for timeouts.
public enum MonotonicClock {
    public static var now: Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    public static func sleep(_ seconds: Double) {
        var spec = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
        var remaining = timespec()
        while nanosleep(&spec, &remaining) != 0 && errno == EINTR { spec = remaining }
    }
}
