import CNamespaces
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// A container's user namespace, made and mapped ahead of its start: a holder process is cloned
/// into it and newuidmap/newgidmap map it while swctr writes the container's record, directory and
/// spec, instead of after. Two setuid helpers take about 2 ms; a foreground `run` would otherwise
/// wait for them with nothing else to do. With `network`, the holder also makes the container's
/// network namespace in it (about 1 ms of kernel work, on the other CPU while create runs). The
/// container's init then joins them (`open()` gives the namespaces; the holder ends). Dropped
/// unused, the holder is killed and every helper reaped.
public final class PreparedUserNamespace {
    /// The process holding the namespaces until `open()` (internal for tests).
    private(set) var holder: ProcessID?
    private let maps: PendingIDMaps
    /// Where the holder reports on its network namespace: one byte, 0 once made, else an errno.
    private var networkReady: FileDescriptor?
    /// The holder's own stack (it shares this process's memory), released once it is reaped.
    private var holderStack: UnsafeMutableRawPointer?

    /// The prepared namespaces, for the caller to close once a process has joined them.
    public struct Opened {
        public let user: FileDescriptor
        /// The network namespace, when one was asked for.
        public let network: FileDescriptor?

        public func close() {
            user.close()
            network?.close()
        }
    }

    private init(holder: ProcessID, stack: UnsafeMutableRawPointer?, maps: PendingIDMaps, networkReady: FileDescriptor?) {
        self.holder = holder
        self.holderStack = stack
        self.maps = maps
        self.networkReady = networkReady
    }

    /// Starts a user namespace mapped as `idMaps` says, and with `network` a network namespace
    /// owned by it; nil when no process could be cloned into one (the container then makes its
    /// own at start, and reports why that fails).
    public static func begin(idMaps: IDMapPlan, network: Bool = false) -> PreparedUserNamespace? {
        startHolder(network: network).flatMap { mapping($0, as: idMaps) }
    }

    /// `begin` in two steps, for a caller that works out the maps on another thread: the holder
    /// is cloned here, by the thread that is to outlive it (it gets SIGKILL when the thread that
    /// made it ends), and must then be passed to `mapping(_:as:)`.
    public struct UnmappedHolder: @unchecked Sendable {
        fileprivate let pid: ProcessID
        fileprivate let stack: UnsafeMutableRawPointer?
        fileprivate let networkReady: FileDescriptor?
        /// For the constructor's holder: what the constructor did about its maps.
        fileprivate var early: EarlyIDMaps?
    }

    /// The constructor's id-map helpers (`swctr_start_early_id_maps`): the remembered text it
    /// read, and the helpers if it started them from it.
    fileprivate struct EarlyIDMaps {
        let text: [UInt8]
        let helpers: (programs: ConcurrentPrograms, tools: [String])?

        /// Taken once, with the early holder; nil if the constructor made none.
        static func take() -> EarlyIDMaps? {
            var maps = swctr_early_id_maps()
            let state = swctr_take_early_id_maps(&maps)
            guard state >= 0 else { return nil }
            let text = maps.text.map { Array(UnsafeBufferPointer(start: UnsafeRawPointer($0).assumingMemoryBound(to: UInt8.self), count: Int(maps.length))) } ?? []
            guard state == 1, let batch = maps.batch else { return EarlyIDMaps(text: text, helpers: nil) }
            let tools = [maps.paths.0, maps.paths.1].map { $0.map { String(cString: $0) } ?? "" }
            let programs = ConcurrentPrograms.adopting(
                batch: batch, paths: tools,
                pipes: [(maps.output_read_fds.0, maps.output_write_fds.0), (maps.output_read_fds.1, maps.output_write_fds.1)],
                input: maps.stdin_fd)
            return EarlyIDMaps(text: text, helpers: (programs, tools))
        }
    }

    /// With `network`, the holder `swctr run`'s constructor cloned (nsinit.c) if there is one;
    /// otherwise that one is ended and a new one cloned.
    public static func startHolder(network: Bool) -> UnmappedHolder? {
        if network, let early = takeEarlyHolder() { return early }
        discardEarlyHolder()
        var ready: Int32 = -1
        var stack: UnsafeMutableRawPointer?
        let pid = swctr_userns_holder(network ? 1 : 0, &ready, &stack)
        guard pid > 0 else { return nil }
        return UnmappedHolder(pid: ProcessID(rawValue: pid), stack: stack, networkReady: network ? FileDescriptor(rawValue: ready) : nil)
    }

    private static func takeEarlyHolder() -> UnmappedHolder? {
        var ready: Int32 = -1
        var stack: UnsafeMutableRawPointer?
        let pid = swctr_take_early_holder(&ready, &stack)
        guard pid > 0 else { return nil }
        return UnmappedHolder(pid: ProcessID(rawValue: pid), stack: stack, networkReady: FileDescriptor(rawValue: ready),
                              early: EarlyIDMaps.take())
    }

    /// Ends the holder the constructor cloned, if nothing took it: for a `run` whose container
    /// makes or joins other namespaces, before anything is executed in this process's place.
    /// Helpers the constructor started on it are not waited for: they end on their own (a dead
    /// holder fails them), and whoever reaps orphans reaps them once swctr has exited.
    public static func discardEarlyHolder() {
        guard let early = takeEarlyHolder() else { return }
        discard(early)
    }

    private static func discard(_ holder: UnmappedHolder) {
        holder.networkReady?.close()
        kill(holder.pid.rawValue, SIGKILL)
        holder.early?.helpers?.programs.leave()
        if (try? ChildProcess.wait(holder.pid)) != nil { swctr_userns_holder_release(holder.stack) }
    }

    /// `mapping(_:as:)` with the current user's plan: the one the constructor's helpers were
    /// started from, when the file it read was written from the same sources
    /// (`IDMapPlan.init?(remembered:sources:)`), else `IDMapPlan.current()`.
    public static func mappingForCurrentUser(_ holder: UnmappedHolder?) -> (namespace: PreparedUserNamespace?, idMaps: IDMapPlan) {
        let sources = IDMapPlan.currentSources()
        if let holder, let early = holder.early, early.helpers != nil, let plan = IDMapPlan(remembered: early.text, sources: sources) {
            return (mapping(holder, as: plan, sources: sources), plan)
        }
        let plan = IDMapPlan.current()
        return (holder.flatMap { mapping($0, as: plan, sources: sources) }, plan)
    }

    /// Starts writing the maps of a holder from `startHolder` (any thread may). For the
    /// constructor's holder, whose helpers the constructor may have started from the remembered
    /// maps: those helpers are taken if the maps are `idMaps`'s; if not, the holder is discarded
    /// (nil: the container maps a user namespace of its own) and the maps remembered anew, as
    /// they are whenever they differ from what the constructor read.
    public static func mapping(_ holder: UnmappedHolder, as idMaps: IDMapPlan,
                               sources: String = IDMapPlan.currentSources()) -> PreparedUserNamespace? {
        if let early = holder.early {
            let expected = idMaps.rememberedHelpersText(sources: sources)
            let current = expected.map { Array($0.utf8) } ?? []
            if let helpers = early.helpers {
                if early.text == current {
                    return PreparedUserNamespace(holder: holder.pid, stack: holder.stack,
                                                 maps: PendingIDMaps(state: .helpers(helpers.programs, tools: helpers.tools)),
                                                 networkReady: holder.networkReady)
                }
                discard(holder)
                IDMapPlan.rememberHelpers(expected)
                return nil
            }
            if early.text != current { IDMapPlan.rememberHelpers(expected) }
        }
        return PreparedUserNamespace(holder: holder.pid, stack: holder.stack, maps: idMaps.beginApplying(to: holder.pid),
                                     networkReady: holder.networkReady)
    }

    /// Waits until the maps are written (and the network namespace is made) and returns the
    /// namespaces. Throws what kept the maps from being written, as a start that mapped its own
    /// namespace would have.
    public func open() throws(RuntimeError) -> Opened {
        // The constructor's holder waits for this to make the network namespace: this thread is
        // about to wait for the maps, and leaves its CPU to it.
        swctr_early_holder_go()
        defer { endHolder() }
        try maps.finish()
        return try openNamespaces()
    }

    /// The user namespace without waiting for its maps: for an init that is forked into it while
    /// newuidmap and newgidmap still run, and waits for `finishMaps` before it does anything in
    /// it. The holder lives on until then (the helpers write the maps of its pid). With `network`,
    /// the holder makes the network namespace now, while this thread waits for the helpers'
    /// spawning (the constructor's holder does not start on it before it is asked to), and the
    /// init joins it: made by the init's first child instead, its half millisecond of kernel work
    /// came after newgidmap's exit, on the way to the init.
    public func openBeforeMaps(network: Bool) throws(RuntimeError) -> Opened {
        if network {
            swctr_early_holder_go()
        } else {
            networkReady?.close()
            networkReady = nil
        }
        maps.settleSpawning()
        do {
            return try openNamespaces()
        } catch {
            abandon()
            throw error
        }
    }

    /// After `openBeforeMaps`: waits until the maps are written. Throws what kept the maps from
    /// being written, as `open` does, with the holder ended. Otherwise the holder lives on until
    /// `release()`: ending it waits for its exit, which the init, told of the maps, need not wait
    /// for.
    public func finishMaps() throws(RuntimeError) {
        do {
            try maps.finish()
        } catch {
            endHolder()
            throw error
        }
    }

    /// Ends the holder after `finishMaps` (dropping the last reference would too).
    public func release() {
        endHolder()
    }

    private func openNamespaces() throws(RuntimeError) -> Opened {
        guard let holder else { throw .namespaceSetup(step: "open the prepared user namespace (already taken)", errno: EBADF) }
        var network: FileDescriptor?
        if let ready = networkReady {
            networkReady = nil
            defer { ready.close() }
            var report: UInt8 = 0
            var count: Int
            repeat { count = read(ready.rawValue, &report, 1) } while count < 0 && errno == EINTR
            guard count == 1, report == 0 else {
                throw .namespaceSetup(step: "make the container's network namespace (unshare)",
                                      errno: count == 1 ? Int32(report) : count < 0 ? errno : ESRCH)
            }
            do {
                network = try FileDescriptor.open("/proc/\(holder.rawValue)/ns/net", O_RDONLY)
            } catch {
                throw .namespaceSetup(step: "open the prepared network namespace", errno: error.errno)
            }
        }
        do {
            return Opened(user: try FileDescriptor.open("/proc/\(holder.rawValue)/ns/user", O_RDONLY), network: network)
        } catch {
            network?.close()
            throw .namespaceSetup(step: "open the prepared user namespace", errno: error.errno)
        }
    }

    /// Ends the holder and reaps the helpers now, unused (as dropping the last reference would).
    /// Before this process execs another program: the holder shares its memory and would outlive
    /// the exec.
    public func abandon() {
        _ = try? maps.finish()
        endHolder()
    }

    private func endHolder() {
        networkReady?.close()
        networkReady = nil
        guard let holder else { return }
        kill(holder.rawValue, SIGKILL)
        // Its stack may go only once it is gone for sure.
        if (try? ChildProcess.wait(holder)) != nil { swctr_userns_holder_release(holderStack) }
        holderStack = nil
        self.holder = nil
    }

    deinit {
        _ = try? maps.finish()
        endHolder()
    }
}
