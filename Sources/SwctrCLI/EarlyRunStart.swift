import CNamespaces
import Containers
import Runtime
import RuntimeSpec
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// What a foreground `swctr run` that swift-argument-parser parses (one `Run.parsedDirectly` does
/// not cover) is about to want, begun on a thread of its own before its arguments are parsed
/// (about 2 ms of swift-argument-parser on the main thread):
/// - the id maps it would use, and its namespaces: newuidmap, newgidmap (two setuid programs) and
///   the network namespace, made while the main thread parses (the process that holds them was
///   cloned by the main thread, in the constructor);
/// - the store and the container database, opened (SQLite reads back its write-ahead log at each
///   first open, and the store's JSON code is first used there; a run opens the database only
///   after its init is cloned otherwise, docs/runtime.md);
/// - the new container's id, lock and directory, reserved (`ContainerReservation`: ext4 takes
///   about 0.1 ms per directory it makes in a store full of layers).
/// A guess from the raw arguments, made only when nothing in them asks for something else
/// (detached, keep-id, another container's network, help); `Run` uses it where it fits what was
/// parsed and abandons it otherwise.
public struct EarlyRunStart {
    private enum Work {
        case background(BackgroundWork<Begun>)
        case done(Begun)
    }
    private let work: Work

    struct Begun {
        let idMaps: IDMapPlan
        let namespaces: PreparedUserNamespace?
        let session: OpenedSession?
    }

    struct OpenedSession {
        let session: Session
        let containers: ContainerService
        /// The new container's id, lock and directory (discarded by `settle()` if create does not take them).
        let reservation: ContainerReservation?
    }

    /// Only the namespaces, begun here before the direct parse (`Run.parsedDirectly`, 0.26 ms):
    /// newuidmap and newgidmap are the longest chain before the container's init can be cloned,
    /// so they start first. nil unless `arguments` look like a foreground `run`.
    /// `processArguments`: `arguments` are this process's own (after the program's name), which
    /// the constructor has looked at already.
    public static func beginNamespaces(_ arguments: [String], processArguments: Bool = false) -> EarlyRunStart? {
        guard processArguments ? swctr_process_looks_like_foreground_run() != 0 : looksLikeForegroundRun(arguments) else { return nil }
        let (namespaces, idMaps) = PreparedUserNamespace.mappingForCurrentUser(PreparedUserNamespace.startHolder(network: true))
        return EarlyRunStart(work: .done(Begun(idMaps: idMaps, namespaces: namespaces, session: nil)))
    }

    /// nil unless `arguments` (without the program's name) look like a foreground `run`.
    /// `begun`: what `beginNamespaces` began for them (the direct parse did not cover them), kept.
    public static func begin(_ arguments: [String], processArguments: Bool = false, after begun: EarlyRunStart? = nil) -> EarlyRunStart? {
        guard processArguments ? swctr_process_looks_like_foreground_run() != 0 : looksLikeForegroundRun(arguments) else { return nil }
        let earlier = begun.map { $0.begun }
        // The holder of the namespaces is taken (or cloned) here, on the main thread: it ends with
        // the thread that made it.
        let holder = earlier == nil ? PreparedUserNamespace.startHolder(network: true) : nil
        return EarlyRunStart(work: .background(BackgroundWork {
            let (namespaces, idMaps) = earlier.map { ($0.namespaces, $0.idMaps) } ?? PreparedUserNamespace.mappingForCurrentUser(holder)
            // Failures are left to the caller's own open, which reports them as usual.
            var opened: OpenedSession?
            if let session = try? Session.openSilently(idMaps: idMaps), let containers = try? session.containers() {
                _ = try? session.store.images()
                try? containers.context.database.open()
                opened = OpenedSession(session: session, containers: containers, reservation: containers.reserveContainer())
            }
            return Begun(idMaps: idMaps, namespaces: namespaces, session: opened)
        }))
    }

    private var begun: Begun {
        switch work {
        case .background(let running): return running.wait()
        case .done(let begun): return begun
        }
    }

    var idMaps: IDMapPlan { begun.idMaps }
    var namespaces: PreparedUserNamespace? { begun.namespaces }

    /// The session opened ahead (its warnings printed now), or nil if it could not be opened.
    func takeSession() -> OpenedSession? {
        guard let opened = begun.session else { return nil }
        opened.session.announce()
        return opened
    }

    /// Waits for the work begun here, before the process forks or exits, and removes a reserved
    /// container that nothing took.
    func settle() {
        begun.session?.reservation?.discard()
    }

    /// `run` with something after it and nothing that asks for a detached container, other maps,
    /// another container's network or help. Anything that merely looks like it (a value, the
    /// container's own arguments) only costs the head start.
    static func looksLikeForegroundRun(_ arguments: [String]) -> Bool {
        guard arguments.count > 1, arguments[0] == "run" else { return false }
        // The constructor's own guess (nsinit.c), so that both begin for the same runs.
        let copies = arguments.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        return swctr_looks_like_foreground_run(Int32(copies.count), copies) != 0
    }

    /// Whether namespaces begun this way are the ones a container with these settings would make:
    /// its own user namespace with the usual maps (a network namespace it does not need stays
    /// unused).
    static func fits(keepUserID: Bool, network: NetworkMode) -> Bool {
        ContainerService.joinsPreparedNamespaces(keepUserID: keepUserID, network: network)
    }
}
