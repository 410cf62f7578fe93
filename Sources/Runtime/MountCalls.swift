import CLinux
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// mount(2) flags (linux/mount.h).
enum MountFlag {
    static let readOnly: UInt = 1
    static let noSetuid: UInt = 2
    static let noDevices: UInt = 4
    static let noExec: UInt = 8
    static let remount: UInt = 32
    static let noAccessTime: UInt = 1024
    static let noDirectoryAccessTime: UInt = 2048
    static let bind: UInt = 4096
    static let recursive: UInt = 16384
    static let privatePropagation: UInt = 1 << 18
    static let slavePropagation: UInt = 1 << 19
    static let relativeAccessTime: UInt = 1 << 21
    static let strictAccessTime: UInt = 1 << 24
}

/// Mount operations for the init, each failing with the step named.
struct Mounter {
    let channel: RoleChannel

    func mount(_ source: String?, _ target: String, _ type: String?, _ flags: UInt, _ data: String?, step: String) throws(SystemCallError) {
        let result = Glibc.mount(source, target, type, flags, data)
        if result != 0 { throw SystemCallError(step, errno: errno) }
    }
}

/// A directory or file inside the new root, found without ever leaving it (openat2 RESOLVE_IN_ROOT:
/// a symlink in the image resolves inside the image), created if missing.
struct RootDirectory {
    let fd: FileDescriptor

    init(path: String) throws(SystemCallError) {
        fd = try FileDescriptor.open(path, pathOnly | O_DIRECTORY)
    }

    private static let resolve = UInt64(SWCTR_RESOLVE_IN_ROOT | SWCTR_RESOLVE_NO_MAGICLINKS)

    /// Opens `path` (relative to the root) as pathOnly, making it (and its parents) if missing.
    /// A dangling symlink on the way is followed inside the root (its target is made there), as
    /// the kernel would resolve it after pivot_root.
    func ensure(_ path: String, directory: Bool, mode: mode_t = 0o755) throws(SystemCallError) -> FileDescriptor {
        try ensure(path, directory: directory, mode: mode, depth: 0)
    }

    private func ensure(_ path: String, directory: Bool, mode: mode_t, depth: Int) throws(SystemCallError) -> FileDescriptor {
        if depth > 40 { throw SystemCallError("open in the container's root", on: "/" + path, errno: ELOOP) }
        // Most destinations exist: one lookup (the walk below resolves the same way, prefix by prefix).
        let direct = swctr_openat2(fd.rawValue, path.isEmpty ? "." : path, UInt64(pathOnly | O_CLOEXEC), 0, Self.resolve)
        if direct >= 0 { return FileDescriptor(rawValue: direct) }
        let directError = errno
        let components = path.split(separator: "/").map(String.init)
        // Most missing ones are a new entry in a directory that exists (dev/null in a new /dev):
        // start from that directory; else walk from the root.
        var first = 0
        let parent = components.count > 1
            ? swctr_openat2(fd.rawValue, Self.join(components.dropLast()), UInt64(pathOnly | O_DIRECTORY | O_CLOEXEC), 0, Self.resolve) : -1
        if parent >= 0 { first = components.count - 1 }
        // Known missing: the last component when the direct lookup found nothing and its parent is there.
        let knownMissing = directError == ENOENT && (parent >= 0 || components.count == 1)
        var current = parent >= 0 ? FileDescriptor(rawValue: parent) : try FileDescriptor(rawValue: systemCall("openat2", on: "/") {
            swctr_openat2(fd.rawValue, ".", UInt64(pathOnly | O_DIRECTORY | O_CLOEXEC), 0, Self.resolve)
        })
        for index in first..<components.count {
            let component = components[index]
            let isLast = index == components.count - 1
            let prefix = Self.join(components[0...index])
            var opened: Int32 = -1
            if !(knownMissing && isLast) {
                opened = swctr_openat2(fd.rawValue, prefix, UInt64(pathOnly | O_CLOEXEC), 0, Self.resolve)
            }
            if opened < 0 && (knownMissing && isLast || errno == ENOENT) {
                // Create it in the directory we hold (resolved inside the root; an O_PATH descriptor
                // serves as the directory of *at calls). Neither call follows a symbolic link: an
                // entry there already (a dangling link) is EEXIST, and looked at below.
                let made: Bool
                if isLast && !directory {
                    let created = openat(current.rawValue, component, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
                    if created >= 0 { close(created) }
                    made = created >= 0
                } else {
                    made = mkdirat(current.rawValue, component, mode) == 0
                }
                if !made && errno == EEXIST {
                    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                    let length = readlinkat(current.rawValue, component, &buffer, buffer.count - 1)
                    if length > 0 {
                        // A dangling symlink: make what it points to, inside the root.
                        buffer[length] = 0
                        let target = String(cString: buffer)
                        let base = target.hasPrefix("/") ? [] : Array(components[0..<index])
                        let rest = Array(components[(index + 1)...])
                        current.close()
                        return try ensure(Self.normalize(base + target.split(separator: "/").map(String.init) + rest),
                                          directory: directory, mode: mode, depth: depth + 1)
                    }
                }
                opened = swctr_openat2(fd.rawValue, prefix, UInt64(pathOnly | O_CLOEXEC), 0, Self.resolve)
            }
            current.close()
            if opened < 0 { throw SystemCallError("open in the container's root", on: "/" + prefix, errno: errno) }
            current = FileDescriptor(rawValue: opened)
        }
        return current
    }

    /// "a/b/c" from ["a", "b", "c"].
    static func join(_ components: ArraySlice<String>) -> String {
        var path = ""
        for component in components {
            if !path.isEmpty { path += "/" }
            path += component
        }
        return path
    }

    /// Joins components, dropping "." and resolving ".." without ever going above the root.
    static func normalize(_ components: [String]) -> String {
        var result: [String] = []
        for component in components {
            switch component {
            case "", ".": continue
            case "..": if !result.isEmpty { result.removeLast() }
            default: result.append(component)
            }
        }
        return result.concatenated(separator: "/")
    }

    /// Opens `path` (relative to the root) as pathOnly if it exists, following symlinks only
    /// inside the root; nil when it does not exist.
    func existing(_ path: String) -> FileDescriptor? {
        // RESOLVE_IN_ROOT takes an absolute path as relative to the root too.
        let opened = swctr_openat2(fd.rawValue, path.isEmpty ? "." : path, UInt64(pathOnly | O_CLOEXEC), 0, Self.resolve)
        return opened >= 0 ? FileDescriptor(rawValue: opened) : nil
    }

    /// The magic-link path the kernel resolves to that exact inode.
    static func procPath(_ fd: FileDescriptor) -> String { "/proc/self/fd/\(fd.rawValue)" }
}

/// O_PATH (not exported by Swift's Glibc module).
let pathOnly: Int32 = 0o10000000
