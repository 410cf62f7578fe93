import Runtime
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// Kernel overlayfs with `userxattr`, as containers' root filesystems are mounted: in a user and
/// mount namespace, on a scratch directory on the store's filesystem, used (a file written, one
/// deleted into a whiteout), then removed.
struct OverlayCheck: Check {
    let name = "overlay"
    let userNamespacesWork: Bool

    func run(on host: HostContext) -> CheckResult {
        guard userNamespacesWork else { return result(.notApplicable, "needs a user namespace (see above)") }
        let parent = FileSystem.isDirectory(host.storeRoot + "/tmp") ? host.storeRoot + "/tmp" : host.existingStoreAncestor
        let scratch: String
        do { scratch = try OverlayTrial.prepare(in: parent) } catch {
            return result(.failed, "cannot make a scratch directory in \(parent): \(error.description)",
                          fix: "sudo chown \(host.userName) \(parent)")
        }
        defer { try? FileSystem.removeTree(scratch) }
        let failure = NamespaceTrial.run(.overlay(scratch: scratch), namespaces: [.user, .mount], idMaps: NamespaceTrial.singleIDMap(for: host))
        guard let failure else {
            return result(.ok, "kernel overlay with userxattr mounted and used on the store's filesystem (\(parent))")
        }
        let hasOverlay = ((try? FileSystem.readText("/proc/filesystems")) ?? "").contains("\toverlay\n")
        if !hasOverlay {
            return result(.failed, "the kernel has no overlay filesystem: \(failure)", fix: "sudo modprobe overlay")
        }
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return result(.failed, "kernel overlay with userxattr does not work on \(parent) (Linux \(release)): \(failure)",
                      fix: "use Linux 5.11 or later, with the store on a local filesystem (ext4, xfs, btrfs); see the storage filesystem check")
    }
}

/// The overlay mounted by the probe: lower/upper/work/merged under a scratch directory.
struct OverlayTrial {
    let scratch: String

    /// Makes the scratch directory (with a file in the lower layer) in `parent`.
    static func prepare(in parent: String) throws(SystemCallError) -> String {
        var template = Array((parent + "/.swctr-doctor-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { $0.baseAddress.flatMap { mkdtemp($0) } }
        guard made != nil else { throw SystemCallError("mkdtemp", on: parent) }
        let scratch = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        for directory in ["lower", "upper", "work", "merged"] {
            try systemCall("mkdir", on: scratch + "/" + directory) { mkdir(scratch + "/" + directory, 0o700) }
        }
        try FileSystem.writeAtomically(scratch + "/lower/old", "lower\n")
        return scratch
    }

    /// In the probe: mount, write a file, delete the lower one, check the upper layer shows both.
    func mountAndUse(channel: RoleChannel) -> Never {
        let merged = scratch + "/merged"
        let options = "lowerdir=\(scratch)/lower,upperdir=\(scratch)/upper,workdir=\(scratch)/work,userxattr"
        if mount("overlay", merged, "overlay", 0, options) != 0 { channel.fail("mount overlay with userxattr", errno: errno) }
        let file = open(merged + "/new", O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        if file < 0 { channel.fail("create a file in the overlay", errno: errno) }
        close(file)
        if unlink(merged + "/old") != 0 { channel.fail("delete a lower file in the overlay", errno: errno) }
        var info = stat()
        if stat(scratch + "/upper/new", &info) != 0 { channel.fail("the new file did not reach the upper layer", errno: errno) }
        if lstat(scratch + "/upper/old", &info) != 0 || info.st_mode & S_IFMT != S_IFCHR || info.st_rdev != 0 {
            channel.fail("deleting a lower file left no whiteout in the upper layer")
        }
        if umount2(merged, Int32(MNT_DETACH)) != 0 { channel.fail("unmount the overlay", errno: errno) }
        _exit(0)
    }

    /// In the probe: what the FUSE overlay's mount needs (/dev/fuse, a FUSE mount in this user
    /// namespace); nothing serves it, so it is unmounted at once.
    func mountFuse(channel: RoleChannel) -> Never {
        let device = open("/dev/fuse", O_RDWR | O_CLOEXEC)
        if device < 0 { channel.fail("open /dev/fuse", errno: errno) }
        let merged = scratch + "/merged"
        let options = "fd=\(device),rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions"
        if mount("swctr-probe", merged, "fuse.swctr-probe", 0, options) != 0 { channel.fail("mount FUSE in a user namespace", errno: errno) }
        if umount2(merged, Int32(MNT_DETACH)) != 0 { channel.fail("unmount FUSE", errno: errno) }
        _exit(0)
    }
}
