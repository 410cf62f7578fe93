import Rootfs
import SystemSupport

/// A new container's id, its lock and its directory (with the writable layer's directories), made
/// before the request is known: `swctr run` makes them while it parses its arguments, and its
/// create then takes them instead of making its own. Unused, `discard()` removes them. A process
/// that dies holding one leaves a directory with no record and a lock nobody holds, which
/// `ContainerService.list()` removes.
public final class ContainerReservation: @unchecked Sendable {
    let id: String
    private let lock: ContainerLock
    private let directory: ContainerDirectory
    private let runtime: String
    private var settled = false

    init(id: String, lock: ContainerLock, directory: ContainerDirectory, runtime: String) {
        self.id = id
        self.lock = lock
        self.directory = directory
        self.runtime = runtime
    }

    /// The lock, for the create that takes the container over (and with it the directory).
    func take() -> ContainerLock {
        settled = true
        return lock
    }

    /// Removes the directory and the lock file unless a create took them.
    public func discard() {
        guard !settled else { return }
        settled = true
        // Still empty: nothing of another user's ids can be in it.
        try? FileSystem.removeTree(directory.path)
        ContainerLock.removeFile(runtime: runtime, id: id)
        lock.release()
    }
}

extension ContainerService {
    /// Reserves a new container: an id, its lock held, its directory made. nil when any of it
    /// fails (the create then makes its own, and reports what goes wrong).
    public func reserveContainer() -> ContainerReservation? {
        let id = FileSystem.randomHex(bytes: 32)
        guard let lock = try? ContainerLock.acquire(runtime: context.runtime, id: id, wait: true) else { return nil }
        let directory = context.directory(of: id)
        do {
            try directory.create(reusing: context.spareContainers)
            // This thread has the time: the main thread parses meanwhile.
            directory.removeStaleWork()
        } catch {
            try? FileSystem.removeTree(directory.path)
            ContainerLock.removeFile(runtime: context.runtime, id: id)
            lock.release()
            return nil
        }
        return ContainerReservation(id: id, lock: lock, directory: directory, runtime: context.runtime)
    }

    /// Container directories with no record whose lock nobody holds: left by a process that
    /// reserved a container (`reserveContainer`) and died before recording it.
    func removeOrphanDirectories(known: Set<String>) {
        for id in (try? FileSystem.listDirectory(context.layout.containersDirectory)) ?? [] where !known.contains(id) {
            guard id.utf8.count == 64, !ContainerLock.isHeld(runtime: context.runtime, id: id) else { continue }
            // Checked again under the lock: a reservation or create that just took it is left alone.
            guard let lock = try? ContainerLock.acquire(runtime: context.runtime, id: id) else { continue }
            if (try? database.get(id: id)) == nil {
                try? removeFiles(of: id)
                ContainerLock.removeFile(runtime: context.runtime, id: id)
            }
            lock.release()
        }
    }
}
