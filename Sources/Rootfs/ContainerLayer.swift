// Rootfs owns how a container's root filesystem is assembled: the writable layer's directories
// and the overlay plan over the image's unpacked layers.
import CLinux
import ImageStore
import RuntimeSpec
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// A container's directory in the store: its writable layer, the overlay's work directory and
/// the files generated for it. The root filesystem is mounted on `mountPoint`, a directory all
/// containers of the store share: each mounts there in its own mount namespace, so no directory
/// is made and removed per container for it.
public struct ContainerDirectory: Sendable {
    public let path: String
    public let mountPoint: String

    /// `mountPoint`: where the container's root filesystem is mounted (`StoreLayout.rootfsMountPoint`).
    public init(path: String, mountPoint: String) {
        self.path = path
        self.mountPoint = mountPoint
    }

    public var upper: String { path + "/upper" }
    public var work: String { path + "/work" }
    public var specPath: String { path + "/spec.json" }
    /// The compiled seccomp program of the container's processes.
    public var seccompProgramPath: String { path + "/seccomp.bpf" }
    /// Output of the container, in the json-file log format.
    public var logPath: String { path + "/ctr.log" }
    public var hostnameFile: String { path + "/hostname" }
    public var hostsFile: String { path + "/hosts" }
    public var resolvConfFile: String { path + "/resolv.conf" }
    /// What the last overlay left in a spare's work directory, moved aside by `take` for the new
    /// container's mount; removed once the container runs (`removeStaleWork`).
    public var staleWork: String { path + "/stale-work" }

    /// Removes the tree `take` moved aside, if there is one.
    public func removeStaleWork() {
        var info = stat()
        if lstat(staleWork, &info) == 0 { try? FileSystem.removeTree(staleWork) }
    }

    /// Makes the directories (private to this user), or takes a removed container's from
    /// `spares` (its files are rewritten by the create that follows).
    public func create(reusing spares: SpareContainerDirectories? = nil) throws(SystemCallError) {
        if let spares, spares.take(into: self) { return }
        try systemCall("mkdir", on: path) { mkdir(path, 0o700) }
        for directory in [upper, work] {
            try systemCall("mkdir", on: directory) { mkdir(directory, 0o755) }
        }
    }

    /// The kernel overlay plan: the image's layers (bottom first) under this container's writable layer.
    public func overlayPlan(layers: [String]) -> RootfsPlan {
        RootfsPlan(lowerDirectories: layers, upperDirectory: upper, workDirectory: work, mountPoint: mountPoint)
    }

    /// /etc/hostname, /etc/hosts and /etc/resolv.conf for the container (not fsynced: like
    /// Docker's, they are the container's runtime configuration, not data). Written in place: the
    /// directory is new (or a spare, whose files are overwritten), and nothing reads them before
    /// the container starts.
    public func writeNetworkFiles(hostname: String, hosts: String, resolvConf: String) throws(SystemCallError) -> [GeneratedFile] {
        try FileSystem.writeOver(hostnameFile, Array((hostname + "\n").utf8))
        try FileSystem.writeOver(hostsFile, Array(hosts.utf8))
        try FileSystem.writeOver(resolvConfFile, Array(resolvConf.utf8))
        return [
            GeneratedFile(hostPath: hostnameFile, containerPath: "etc/hostname"),
            GeneratedFile(hostPath: hostsFile, containerPath: "etc/hosts"),
            GeneratedFile(hostPath: resolvConfFile, containerPath: "etc/resolv.conf"),
        ]
    }
}

/// Directories of removed containers, kept for new ones (at most `slots`, under the store's
/// `spare-containers/`). A container's directory costs the filesystem three directories and four
/// small files, made at its create and freed at its removal; on ext4 without a journal but with
/// `discard` (this project's test VM) freeing each of their blocks waits for a discard (about
/// 0.09 ms each), and on any ext4 without a journal each new inode is searched for past those
/// freed in the last minute. A directory is kept only when what is left of it is what a new
/// container's has: an empty writable layer whose root has the mode and owner `mkdir` gives and no
/// extended attribute but the overlay's own (removed), a work directory with nothing but what the
/// kernel leaves in it (moved aside by `take`, then removed, as the next mount would have removed
/// it), and the generated files, which the next create overwrites. Other files swctr made (log,
/// seccomp link, ports, cgroup) are removed; anything else, or a writable layer with content, and
/// the caller removes the whole directory as before. Slots are taken and filled with atomic renames, so concurrent swctr processes never
/// share one.
public struct SpareContainerDirectories: Sendable {
    public let path: String
    static let slots = 4
    /// What a kept directory holds besides `upper` and `work`.
    static let keptFiles: Set<String> = ["spec.json", "hostname", "hosts", "resolv.conf"]

    public init(path: String) { self.path = path }

    func slot(_ number: Int) -> String { path + "/" + String(number) }

    /// Renames a kept directory to `directory.path`, and moves what the last overlay left in its
    /// work directory to `directory.staleWork`; false when there is none.
    public func take(into directory: ContainerDirectory) -> Bool {
        for number in 0..<Self.slots where swctr_renameat2(AT_FDCWD, slot(number), AT_FDCWD, directory.path, 1 /* RENAME_NOREPLACE */) == 0 {
            // The overlay's next mount needs `work/work` gone. It is moved aside rather than
            // removed here: freeing the blocks of these kernel-made directories waits on the disk
            // (a discard each on this project's test VM), and the caller removes it where nothing
            // waits for it (`removeStaleWork`: a foreground run once its container runs).
            let kernelTree = directory.work + "/work"
            let movedAside = swctr_renameat2(AT_FDCWD, kernelTree, AT_FDCWD, directory.staleWork, 1 /* RENAME_NOREPLACE */) == 0
                || errno == ENOENT
            guard movedAside || (try? FileSystem.removeTree(kernelTree)) != nil else {
                // Not what keep() saw: not used, and out of the way of a new directory.
                if (try? FileSystem.removeTree(directory.path)) == nil {
                    _ = swctr_renameat2(AT_FDCWD, directory.path, AT_FDCWD, slot(number), 1 /* RENAME_NOREPLACE */)
                }
                return false
            }
            // The container's root directory is the writable layer's: its times are now, as a
            // new directory's would be.
            _ = utimensat(AT_FDCWD, directory.upper, nil, 0)
            return true
        }
        return false
    }

    /// Whether the overlay's `work/work` holds only what the kernel leaves there after an unmount:
    /// nothing, or the `volatile` mount's marker (`incompat/volatile/dirty`, empty), all this
    /// user's. The kernel makes these directories mode 0; they are opened up to be read (and are
    /// moved aside by the next `take`).
    static func isKernelWorkTree(_ path: String, uid: uid_t) -> Bool {
        var level = path
        for expected in ["incompat", "volatile", "dirty"] {
            var info = stat()
            guard lstat(level, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR, info.st_uid == uid,
                  chmod(level, 0o700) == 0, let entries = try? FileSystem.listDirectory(level) else { return false }
            if entries.isEmpty { return true }
            guard entries == [expected] else { return false }
            level += "/" + expected
        }
        var marker = stat()
        return lstat(level, &marker) == 0 && (marker.st_mode & S_IFMT) == S_IFREG && marker.st_size == 0 && marker.st_uid == uid
    }

    /// Keeps the directory of a container that is gone (its lock held, no process left) for a
    /// later one; false when it does not qualify or every slot is taken (the caller removes it).
    public func keep(_ directory: ContainerDirectory) -> Bool {
        let uid = getuid(), gid = getgid()
        func status(_ path: String) -> stat? {
            var info = stat()
            return lstat(path, &info) == 0 ? info : nil
        }
        func isOwnDirectory(_ info: stat?, mode: mode_t) -> Bool {
            guard let info else { return false }
            return (info.st_mode & S_IFMT) == S_IFDIR && info.st_mode & 0o7777 == mode && info.st_uid == uid && info.st_gid == gid
        }
        guard isOwnDirectory(status(directory.path), mode: 0o700),
              isOwnDirectory(status(directory.upper), mode: 0o755), (try? FileSystem.listDirectory(directory.upper))?.isEmpty == true,
              isOwnDirectory(status(directory.work), mode: 0o755),
              let work = try? FileSystem.listDirectory(directory.work), work.allSatisfy({ $0 == "work" }),
              let entries = try? FileSystem.listDirectory(directory.path) else { return false }
        // Only what swctr makes in a container's directory: the two directories and files.
        for name in entries where name != "upper" && name != "work" {
            guard let info = status(directory.path + "/" + name), (info.st_mode & S_IFMT) == S_IFREG || (info.st_mode & S_IFMT) == S_IFLNK,
                  info.st_uid == uid else { return false }
        }
        // The overlay's uuid goes with it (the next mount makes its own); any other attribute
        // was the container's.
        guard swctr_drop_overlay_xattrs(directory.upper) == 0 else { return false }
        if !work.isEmpty && !Self.isKernelWorkTree(directory.work + "/work", uid: uid) { return false }
        for name in entries where name != "upper" && name != "work" {
            if Self.keptFiles.contains(name), let info = status(directory.path + "/" + name), (info.st_mode & S_IFMT) == S_IFREG, info.st_nlink == 1 {
                continue
            }
            guard unlink(directory.path + "/" + name) == 0 else { return false }
        }
        if mkdir(path, 0o700) != 0 && errno != EEXIST { return false }
        for number in 0..<Self.slots where swctr_renameat2(AT_FDCWD, directory.path, AT_FDCWD, slot(number), 1 /* RENAME_NOREPLACE */) == 0 {
            return true
        }
        return false
    }
}

/// The layer every container's overlay gets on top of its image's layers (as Docker's per-container
/// "init" layer, but one for the whole store): an /etc with empty hostname, hosts and resolv.conf,
/// the mount points of the container's generated files. Without it, the init makes them in the
/// writable layer at every start (a copy-up of /etc, three files), and they are removed with it.
public struct MountPointLayer: Sendable {
    public let path: String
    /// The files of the layer, relative to its root (the destinations of `GeneratedFile`s).
    public static let files = ["etc/hostname", "etc/hosts", "etc/resolv.conf"]

    public init(path: String) { self.path = path }

    /// Makes the layer unless it is there: built under `temporaryDirectory` and renamed into
    /// place, so that a concurrent `swctr` sees all of it or none.
    public func ensure(temporaryDirectory: String) throws(SystemCallError) {
        var info = stat()
        if lstat(path + "/" + Self.files[Self.files.count - 1], &info) == 0 { return }
        let temp = temporaryDirectory + "/mount-point-layer-" + FileSystem.randomHex(bytes: 6)
        do throws(SystemCallError) {
            try systemCall("mkdir", on: temp) { mkdir(temp, 0o755) }
            try systemCall("mkdir", on: temp + "/etc") { mkdir(temp + "/etc", 0o755) }
            for file in Self.files { try FileSystem.writeNew(temp + "/" + file, [], mode: 0o644) }
            try systemCall("chmod", on: temp) { chmod(temp, 0o755) }
            if rename(temp, path) != 0 {
                let code = errno
                guard code == EEXIST || code == ENOTEMPTY else { throw SystemCallError("rename", on: path, errno: code) }
                try? FileSystem.removeTree(temp)  // another swctr made it first
            }
        } catch {
            try? FileSystem.removeTree(temp)
            throw error
        }
    }

    /// Whether the layer can go over these image layers (bottom first) without changing what the
    /// image shows: its /etc must be a directory, or absent. (An /etc that is a symlink or a file
    /// would be hidden by the layer's directory.)
    public static func fits(over layers: [String]) -> Bool {
        for layer in layers.reversed() {
            var info = stat()
            guard lstat(layer + "/etc", &info) == 0 else { continue }
            let type = info.st_mode & S_IFMT
            if type == S_IFDIR { return true }
            // A whiteout (character device 0/0) deletes the /etc of the layers below.
            return type == S_IFCHR && info.st_rdev == 0
        }
        return true
    }
}
