import ImageStore
import Rootfs
import Runtime
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// What every container operation needs: the user's directories, the store layout, the state
/// database, the id maps and the user-namespace tools. One per swctr invocation.
public struct ContainerContext {
    public let directories: UserDirectories
    public let layout: StoreLayout
    public let database: ContainerDatabase
    public let idMaps: IDMapPlan
    public let tools: UserNamespaceTools
    /// `$XDG_RUNTIME_DIR/swctr`, made private to the user.
    public let runtime: String

    /// `layoutPrepared`: the store's directories were just made or checked (an `ImageStore` of
    /// this invocation did it).
    public init(directories: UserDirectories, idMaps: IDMapPlan, layoutPrepared: Bool = false) throws {
        self.directories = directories
        layout = StoreLayout(root: directories.data)
        if !layoutPrepared { try layout.prepare() }
        database = ContainerDatabase(path: layout.root + "/state.db")
        self.idMaps = idMaps
        tools = UserNamespaceTools(idMaps: idMaps)
        runtime = try directories.prepareRuntimeDirectory()
    }

    public func directory(of id: String) -> ContainerDirectory {
        ContainerDirectory(path: layout.containersDirectory + "/" + id, mountPoint: layout.rootfsMountPoint)
    }

    /// Removed containers' directories kept for new ones.
    public var spareContainers: SpareContainerDirectories { SpareContainerDirectories(path: layout.spareContainersDirectory) }

    /// The id maps a container's processes get: the user's, or keep-id's variant of them.
    public func idMaps(for record: ContainerRecord) throws(RuntimeError) -> IDMapPlan {
        guard record.settings.userNamespace == "keep-id" else { return idMaps }
        return try idMaps.keepingIDs(uid: getuid(), gid: getgid())
    }

    /// Removes the anonymous volumes a removed container made (best effort: one still used by
    /// another container stays).
    public func removeAnonymousVolumes(of settings: ContainerSettings) {
        guard let names = settings.anonymousVolumes, !names.isEmpty, let volumes = try? VolumeStore(context: self) else { return }
        for name in names { try? volumes.remove(name) }
    }

    public func isHeld(_ record: ContainerRecord) -> Bool { ContainerLock.isHeld(runtime: runtime, id: record.id) }
}
