import CNamespaces
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// A container's user namespace, made and mapped ahead of its start: a holder process is cloned
/// into it and newuidmap/newgidmap map it while swctr writes the container's record, directory and
/// spec, instead of after. Two setuid helpers take about 2 ms; a foreground `run` would otherwise
/// wait for them with nothing else to do. The container's init then joins it (`open()` gives the
/// namespace; the holder ends). Dropped unused, the holder is killed and every helper reaped.
public final class PreparedUserNamespace {
    /// The process holding the namespace until `open()` (internal for tests).
    private(set) var holder: ProcessID?
    private let maps: PendingIDMaps

    private init(holder: ProcessID, maps: PendingIDMaps) {
        self.holder = holder
        self.maps = maps
    }

    /// Starts a user namespace mapped as `idMaps` says; nil when no process could be cloned into
    /// one (the container then makes its own at start, and reports why that fails).
    public static func begin(idMaps: IDMapPlan) -> PreparedUserNamespace? {
        let pid = swctr_userns_holder()
        guard pid > 0 else { return nil }
        let holder = ProcessID(rawValue: pid)
        return PreparedUserNamespace(holder: holder, maps: idMaps.beginApplying(to: holder))
    }

    /// Waits until the maps are written and returns the namespace, for the caller to close once a
    /// process has joined it. Throws what kept the maps from being written, as a start that
    /// mapped its own namespace would have.
    public func open() throws(RuntimeError) -> FileDescriptor {
        defer { endHolder() }
        try maps.finish()
        guard let holder else { throw .namespaceSetup(step: "open the prepared user namespace (already taken)", errno: EBADF) }
        do {
            return try FileDescriptor.open("/proc/\(holder.rawValue)/ns/user", O_RDONLY)
        } catch {
            throw .namespaceSetup(step: "open the prepared user namespace", errno: error.errno)
        }
    }

    private func endHolder() {
        guard let holder else { return }
        kill(holder.rawValue, SIGKILL)
        _ = try? ChildProcess.wait(holder)
        self.holder = nil
    }

    deinit {
        _ = try? maps.finish()
        endHolder()
    }
}
