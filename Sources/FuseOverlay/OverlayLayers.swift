// FuseOverlay is swctr's own overlay filesystem, served over FUSE (libfuse3's low-level API) by the
// `__fuse-overlay` role: the same layer directories and the same on-disk format as the kernel
// overlay with `userxattr`, so a container's writable layer reads the same whichever of the two
// made it. This file: the layer directories and how a path is found across them.
import CFuse
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// An errno, what a FUSE reply carries back to the kernel.
struct FilesystemError: Error {
    let code: Int32
    init(_ code: Int32) { self.code = code }
    static var current: FilesystemError { FilesystemError(errno) }
}

@inline(__always)
func check(_ result: Int32) throws(FilesystemError) {
    if result < 0 { throw .current }
}

/// Relative paths inside a layer: "." is the root, otherwise "a/b/c" without leading slash.
enum RelativePath {
    static func join(_ parent: String, _ name: String) -> String {
        parent == "." ? name : parent + "/" + name
    }
}

/// An entry as the merged view shows it: the topmost layer holding it, its attributes there, and
/// for a directory every layer (top first) whose directory of that path merges into it.
struct FoundEntry {
    var layer: Int
    var info: stat
    var directoryLayers: [Int]

    var isDirectory: Bool { (info.st_mode & S_IFMT) == S_IFDIR }
}

/// The directories an overlay is made of. Layer 0 is the writable upper directory; 1… are the
/// read-only lower ones, topmost first. The work directory (same filesystem as the upper) holds
/// copy-ups until they are renamed into place.
final class OverlayLayers: @unchecked Sendable {
    static let upper = 0
    static let opaqueAttribute = "user.overlay.opaque"
    /// Extended attributes the overlay keeps for itself, never shown through it.
    static let privatePrefix = "user.overlay."

    let descriptors: [Int32]
    let paths: [String]
    let work: Int32
    let workPath: String

    /// `lowers` topmost first, as overlayfs' lowerdir option lists them.
    init(upper: String, work: String, lowers: [String]) throws(SystemCallError) {
        var descriptors: [Int32] = []
        for path in [upper] + lowers {
            let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if fd < 0 {
                let error = SystemCallError("open the layer directory", on: path)
                for open in descriptors { close(open) }
                throw error
            }
            descriptors.append(fd)
        }
        let workFD = open(work, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if workFD < 0 {
            let error = SystemCallError("open the work directory", on: work)
            for open in descriptors { close(open) }
            throw error
        }
        self.descriptors = descriptors
        // Absolute: the xattr calls take paths, and a background daemon works from "/".
        self.paths = ([upper] + lowers).map { path in
            guard let resolved = realpath(path, nil) else { return path }
            defer { free(resolved) }
            return String(cString: resolved)
        }
        self.work = workFD
        self.workPath = work
    }

    deinit {
        for fd in descriptors { close(fd) }
        close(work)
    }

    var count: Int { descriptors.count }

    /// The path for calls that take no directory fd (the xattr calls).
    func absolute(_ layer: Int, _ path: String) -> String {
        path == "." ? paths[layer] : paths[layer] + "/" + path
    }

    static func isWhiteout(_ info: stat) -> Bool {
        (info.st_mode & S_IFMT) == S_IFCHR && info.st_rdev == 0
    }

    func attributes(_ layer: Int, _ path: String) throws(FilesystemError) -> stat {
        var info = stat()
        try check(fstatat(descriptors[layer], path, &info, AT_SYMLINK_NOFOLLOW))
        return info
    }

    /// Whether the directory at `path` in `layer` hides the layers below it.
    func isOpaque(_ layer: Int, _ path: String) -> Bool {
        var value: UInt8 = 0
        let size = lgetxattr(absolute(layer, path), Self.opaqueAttribute, &value, 1)
        return size == 1 && value == UInt8(ascii: "y")
    }

    /// Looks `path` up in `layers` (top first; the layers its parent directory merges): the
    /// topmost entry wins; a whiteout hides everything below it; directories merge downwards
    /// until an opaque one or a non-directory. Nil when the merged view has no such entry.
    func find(_ path: String, in layers: [Int]) throws(FilesystemError) -> FoundEntry? {
        var found: FoundEntry?
        for (position, layer) in layers.enumerated() {
            var info = stat()
            if fstatat(descriptors[layer], path, &info, AT_SYMLINK_NOFOLLOW) != 0 {
                let code = errno
                if code == ENOENT || code == ENOTDIR { continue }
                throw FilesystemError(code)
            }
            if Self.isWhiteout(info) { break }
            let isDirectory = (info.st_mode & S_IFMT) == S_IFDIR
            if found == nil {
                found = FoundEntry(layer: layer, info: info, directoryLayers: isDirectory ? [layer] : [])
                if !isDirectory { break }
            } else {
                // Below a directory only directories merge; anything else is hidden.
                if !isDirectory { break }
                found?.directoryLayers.append(layer)
            }
            if position + 1 < layers.count && isOpaque(layer, path) { break }
        }
        return found
    }

    /// Whether any of `layers` has an entry (or a whiteout) at `path`: what a new upper entry
    /// there must hide.
    func anyEntry(_ path: String, in layers: some Sequence<Int>) -> Bool {
        for layer in layers {
            var info = stat()
            if fstatat(descriptors[layer], path, &info, AT_SYMLINK_NOFOLLOW) == 0 { return true }
        }
        return false
    }

    /// The merged listing of the directory at `path` (without "." and ".."): names from every
    /// layer it merges, the topmost occurrence of a name wins, whiteouts remove names below.
    func list(_ path: String, in layers: [Int]) throws(FilesystemError) -> [DirectoryEntry] {
        var entries: [DirectoryEntry] = []
        var seen = Set<String>()
        for layer in layers {
            let fd = openat(descriptors[layer], path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
            if fd < 0 {
                if errno == ENOENT || errno == ENOTDIR { continue }
                throw .current
            }
            guard let stream = fdopendir(fd) else {
                close(fd)
                throw .current
            }
            defer { closedir(stream) }
            while let entry = readdir(stream) {
                let name = Self.name(of: entry)
                if name == "." || name == ".." { continue }
                if layers.count > 1 {
                    guard seen.insert(name).inserted else { continue }
                }
                var type = entry.pointee.d_type
                if type == UInt8(DT_CHR) || type == UInt8(DT_UNKNOWN) {
                    var info = stat()
                    guard fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
                    if Self.isWhiteout(info) { continue }
                    type = UInt8((info.st_mode & S_IFMT) >> 12)
                }
                entries.append(DirectoryEntry(name: name, inode: UInt64(entry.pointee.d_ino), type: type))
            }
        }
        return entries
    }

    static func name(of entry: UnsafeMutablePointer<dirent>) -> String {
        withUnsafeBytes(of: entry.pointee.d_name) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// Removes what may be left at `path` in the upper layer: a whiteout. Returns whether there was one.
    func removeWhiteout(_ path: String) throws(FilesystemError) -> Bool {
        var info = stat()
        if fstatat(descriptors[Self.upper], path, &info, AT_SYMLINK_NOFOLLOW) != 0 { return false }
        guard Self.isWhiteout(info) else { throw FilesystemError(EEXIST) }
        try check(unlinkat(descriptors[Self.upper], path, 0))
        return true
    }

    func makeWhiteout(_ path: String) throws(FilesystemError) {
        try check(swctr_fuse_mknod_whiteout(descriptors[Self.upper], path))
    }

    func markOpaque(_ path: String) throws(FilesystemError) {
        let value: [UInt8] = [UInt8(ascii: "y")]
        try check(lsetxattr(absolute(Self.upper, path), Self.opaqueAttribute, value, 1, 0))
    }

    /// Empties an upper directory that the merged view shows empty: it can hold only whiteouts.
    func removeWhiteouts(inside path: String) throws(FilesystemError) {
        let fd = openat(descriptors[Self.upper], path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw .current }
        guard let stream = fdopendir(fd) else {
            close(fd)
            throw .current
        }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = Self.name(of: entry)
            if name != "." && name != ".." { names.append(name) }
        }
        for name in names {
            var info = stat()
            guard fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            guard Self.isWhiteout(info) else { throw FilesystemError(ENOTEMPTY) }
            try check(unlinkat(fd, name, 0))
        }
    }
}

/// One name of a merged directory listing.
struct DirectoryEntry {
    let name: String
    let inode: UInt64
    /// DT_* type.
    let type: UInt8
}
