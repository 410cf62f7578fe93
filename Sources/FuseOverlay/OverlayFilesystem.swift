// The overlay's operations, one per FUSE request, in terms of layers and nodes; FuseServer turns
// requests into these calls and their results (or errno) into replies. Calls run on several of
// libfuse's threads at once: the node table is behind one lock, copy-ups behind another (always
// taken before the table's), and file I/O happens outside both.
import CFuse
import CLinux
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// renameat2(2) flags.
private let renameNoReplace: UInt32 = 1
private let renameExchange: UInt32 = 2

/// Who asked (the caller's ids as the user namespace of the mount sees them): new entries are theirs.
struct Caller {
    var uid: uid_t
    var gid: gid_t
}

/// An open file: its fd, and whether that fd is in the upper layer (only those may be changed).
struct OpenFile {
    static func handle(fd: Int32, upper: Bool) -> UInt64 { UInt64(UInt32(bitPattern: fd)) | (upper ? 1 << 32 : 0) }
    static func fd(_ handle: UInt64) -> Int32 { Int32(bitPattern: UInt32(truncatingIfNeeded: handle)) }
    static func isUpper(_ handle: UInt64) -> Bool { handle & (1 << 32) != 0 }
}

/// A directory's merged listing, made at opendir and read in pieces by readdir.
final class DirectoryHandle {
    let entries: [DirectoryEntry]
    init(entries: [DirectoryEntry]) { self.entries = entries }
}

public final class OverlayFilesystem: @unchecked Sendable {
    let layers: OverlayLayers
    private let tableLock = Lock()
    let copyUpLock = Lock()
    let nodes: NodeTable
    private var temporaryCounter: UInt64 = 0
    /// With the kernel's writeback cache, files open write-only are read too, and O_APPEND is the kernel's job.
    var writebackCache = false
    /// The kernel can open directories without asking (Linux 5.1+).
    var zeroMessageOpendir = false

    /// `lowers` topmost first.
    public init(upper: String, work: String, lowers: [String]) throws(SystemCallError) {
        layers = try OverlayLayers(upper: upper, work: work, lowers: lowers)
        let all = Array(0..<layers.count)
        let root: FoundEntry
        do {
            guard let found = try layers.find(".", in: all), found.isDirectory else { throw SystemCallError("the upper directory is not a directory", on: upper, errno: ENOTDIR) }
            root = found
        } catch let error as FilesystemError {
            throw SystemCallError("read the layer roots", on: upper, errno: error.code)
        } catch let error as SystemCallError {
            throw error
        } catch {
            throw SystemCallError("read the layer roots", on: upper, errno: EIO)
        }
        nodes = NodeTable(root: root)
    }

    func table<T, E: Error>(_ body: (NodeTable) throws(E) -> T) throws(E) -> T {
        try tableLock.withLock { () throws(E) -> T in try body(nodes) }
    }

    func nextTemporary() -> UInt64 {
        table { _ in
            temporaryCounter += 1
            return temporaryCounter
        }
    }

    private func node(_ id: UInt64) throws(FilesystemError) -> OverlayNode {
        guard let node = table({ $0[id] }) else { throw FilesystemError(ESTALE) }
        return node
    }

    /// (path, layer) of a node, read together.
    private func location(_ node: OverlayNode) -> (path: String, layer: Int) {
        table { ($0.path(of: node), node.layer) }
    }

    private func directory(_ id: UInt64) throws(FilesystemError) -> (node: OverlayNode, path: String, layers: [Int]) {
        let node = try node(id)
        let (path, directoryLayers, isDirectory) = table { ($0.path(of: node), node.directoryLayers, node.isDirectory) }
        guard isDirectory else { throw FilesystemError(ENOTDIR) }
        return (node, path, directoryLayers)
    }

    // MARK: - Names

    func lookup(parent: UInt64, name: String) throws(FilesystemError) -> (OverlayNode, stat) {
        let (parentNode, parentPath, parentLayers) = try directory(parent)
        let path = RelativePath.join(parentPath, name)
        guard let found = try layers.find(path, in: parentLayers) else { throw FilesystemError(ENOENT) }
        let node = table { $0.remember(found, name: name, parent: parentNode) }
        return (node, found.info)
    }

    func forget(_ id: UInt64, count: UInt64) {
        table { $0.forget(id, count: count) }
    }

    func attributes(_ id: UInt64, handle: UInt64?) throws(FilesystemError) -> stat {
        if let handle {
            var info = stat()
            try check(fstat(OpenFile.fd(handle), &info))
            return info
        }
        let (path, layer) = location(try node(id))
        return try layers.attributes(layer, path)
    }

    func setAttributes(_ id: UInt64, _ wanted: stat, fields: Int32, handle: UInt64?) throws(FilesystemError) -> stat {
        let node = try node(id)
        let truncatesToZero = fields & FUSE_SET_ATTR_SIZE != 0 && wanted.st_size == 0
        try copyUp(node, withData: !truncatesToZero)
        let path = location(node).path
        let upper = layers.descriptors[OverlayLayers.upper]
        let fd = handle.flatMap { OpenFile.isUpper($0) ? OpenFile.fd($0) : nil }
        if fields & FUSE_SET_ATTR_MODE != 0 {
            if let fd { try check(fchmod(fd, wanted.st_mode & 0o7777)) } else { try check(fchmodat(upper, path, wanted.st_mode & 0o7777, 0)) }
        }
        if fields & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID) != 0 {
            let uid = fields & FUSE_SET_ATTR_UID != 0 ? wanted.st_uid : uid_t.max
            let gid = fields & FUSE_SET_ATTR_GID != 0 ? wanted.st_gid : gid_t.max
            if let fd { try check(fchown(fd, uid, gid)) } else { try check(fchownat(upper, path, uid, gid, AT_SYMLINK_NOFOLLOW)) }
        }
        if fields & FUSE_SET_ATTR_SIZE != 0 {
            if let fd {
                try check(ftruncate(fd, wanted.st_size))
            } else {
                let opened = openat(upper, path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)
                guard opened >= 0 else { throw .current }
                defer { close(opened) }
                try check(ftruncate(opened, wanted.st_size))
            }
        }
        let timeFields = FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW
        if fields & timeFields != 0 {
            func time(_ set: Int32, _ now: Int32, _ value: timespec) -> timespec {
                if fields & now != 0 { return timespec(tv_sec: 0, tv_nsec: (1 << 30) - 1) }
                if fields & set != 0 { return value }
                return timespec(tv_sec: 0, tv_nsec: (1 << 30) - 2)
            }
            let times = [time(FUSE_SET_ATTR_ATIME, FUSE_SET_ATTR_ATIME_NOW, wanted.st_atim),
                         time(FUSE_SET_ATTR_MTIME, FUSE_SET_ATTR_MTIME_NOW, wanted.st_mtim)]
            if let fd { try check(futimens(fd, times)) } else { try check(utimensat(upper, path, times, AT_SYMLINK_NOFOLLOW)) }
        }
        if let fd {
            var info = stat()
            try check(fstat(fd, &info))
            return info
        }
        return try layers.attributes(OverlayLayers.upper, path)
    }

    func readLink(_ id: UInt64) throws(FilesystemError) -> [CChar] {
        let (path, layer) = location(try node(id))
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlinkat(layers.descriptors[layer], path, &buffer, buffer.count - 1)
        guard length >= 0 else { throw .current }
        buffer[length] = 0
        return buffer
    }

    // MARK: - Making entries

    /// Prepares a new name in a directory: the directory in the upper layer, a whiteout there
    /// removed. Returns the path and whether a whiteout was there (lower entries are hidden).
    private func prepareNewEntry(parent: UInt64, name: String) throws(FilesystemError) -> (OverlayNode, String, Bool) {
        let (parentNode, parentPath, _) = try directory(parent)
        try upperDirectory(parentNode)
        let path = RelativePath.join(parentPath, name)
        let hadWhiteout = try layers.removeWhiteout(path)
        return (parentNode, path, hadWhiteout)
    }

    /// Gives a new entry to its caller (the overlay runs as root of the user namespace).
    private func own(_ path: String, fd: Int32?, caller: Caller, parentPath: String) {
        var gid = caller.gid
        var parentInfo = stat()
        if fstatat(layers.descriptors[OverlayLayers.upper], parentPath, &parentInfo, 0) == 0, parentInfo.st_mode & S_ISGID != 0 {
            gid = parentInfo.st_gid
        }
        guard caller.uid != getuid() || gid != getgid() else { return }
        if let fd { _ = fchown(fd, caller.uid, gid) } else { _ = fchownat(layers.descriptors[OverlayLayers.upper], path, caller.uid, gid, AT_SYMLINK_NOFOLLOW) }
    }

    private func parentPath(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return String(path[..<slash])
    }

    private func rememberNew(_ path: String, name: String, parent: OverlayNode, isDirectory: Bool) throws(FilesystemError) -> (OverlayNode, stat) {
        let info = try layers.attributes(OverlayLayers.upper, path)
        let entry = FoundEntry(layer: OverlayLayers.upper, info: info, directoryLayers: isDirectory ? [OverlayLayers.upper] : [])
        return (table { $0.remember(entry, name: name, parent: parent) }, info)
    }

    func makeDirectory(parent: UInt64, name: String, mode: mode_t, caller: Caller) throws(FilesystemError) -> (OverlayNode, stat) {
        let (parentNode, path, hadWhiteout) = try prepareNewEntry(parent: parent, name: name)
        try check(mkdirat(layers.descriptors[OverlayLayers.upper], path, mode))
        own(path, fd: nil, caller: caller, parentPath: parentPath(of: path))
        if hadWhiteout { try layers.markOpaque(path) }
        return try rememberNew(path, name: name, parent: parentNode, isDirectory: true)
    }

    func makeNode(parent: UInt64, name: String, mode: mode_t, device: dev_t, caller: Caller) throws(FilesystemError) -> (OverlayNode, stat) {
        let (parentNode, path, _) = try prepareNewEntry(parent: parent, name: name)
        try check(swctr_fuse_mknodat(layers.descriptors[OverlayLayers.upper], path, mode, device))
        own(path, fd: nil, caller: caller, parentPath: parentPath(of: path))
        return try rememberNew(path, name: name, parent: parentNode, isDirectory: false)
    }

    func makeSymlink(target: String, parent: UInt64, name: String, caller: Caller) throws(FilesystemError) -> (OverlayNode, stat) {
        let (parentNode, path, _) = try prepareNewEntry(parent: parent, name: name)
        try check(symlinkat(target, layers.descriptors[OverlayLayers.upper], path))
        own(path, fd: nil, caller: caller, parentPath: parentPath(of: path))
        return try rememberNew(path, name: name, parent: parentNode, isDirectory: false)
    }

    func create(parent: UInt64, name: String, mode: mode_t, flags: Int32, caller: Caller) throws(FilesystemError) -> (OverlayNode, stat, UInt64) {
        let (parentNode, path, _) = try prepareNewEntry(parent: parent, name: name)
        let fd = openat(layers.descriptors[OverlayLayers.upper], path, openFlags(flags) | O_CREAT | O_CLOEXEC | O_NOFOLLOW, mode)
        guard fd >= 0 else { throw .current }
        own(path, fd: fd, caller: caller, parentPath: parentPath(of: path))
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let error = FilesystemError.current
            close(fd)
            throw error
        }
        let entry = FoundEntry(layer: OverlayLayers.upper, info: info, directoryLayers: [])
        let node = table { $0.remember(entry, name: name, parent: parentNode) }
        return (node, info, OpenFile.handle(fd: fd, upper: true))
    }

    func link(_ id: UInt64, newParent: UInt64, newName: String) throws(FilesystemError) -> (OverlayNode, stat) {
        let node = try node(id)
        try copyUp(node)
        let (parentNode, path, _) = try prepareNewEntry(parent: newParent, name: newName)
        let source = location(node).path
        let upper = layers.descriptors[OverlayLayers.upper]
        try check(linkat(upper, source, upper, path, 0))
        let info = try layers.attributes(OverlayLayers.upper, path)
        table { $0.addLink(node, parent: parentNode, name: newName, identity: FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))) }
        return (node, info)
    }

    // MARK: - Removing and renaming

    func unlink(parent: UInt64, name: String) throws(FilesystemError) {
        let (parentNode, parentPath, parentLayers) = try directory(parent)
        let path = RelativePath.join(parentPath, name)
        guard let found = try layers.find(path, in: parentLayers) else { throw FilesystemError(ENOENT) }
        if found.isDirectory { throw FilesystemError(EISDIR) }
        try remove(path, found: found, parentNode: parentNode, parentLayers: parentLayers, directory: false)
        table { if let child = parentNode.children[name] { $0.unlink(child, from: parentNode, name: name) } }
    }

    func removeDirectory(parent: UInt64, name: String) throws(FilesystemError) {
        let (parentNode, parentPath, parentLayers) = try directory(parent)
        let path = RelativePath.join(parentPath, name)
        guard let found = try layers.find(path, in: parentLayers) else { throw FilesystemError(ENOENT) }
        guard found.isDirectory else { throw FilesystemError(ENOTDIR) }
        let listing = try layers.list(path, in: found.directoryLayers)
        guard listing.isEmpty else { throw FilesystemError(ENOTEMPTY) }
        try remove(path, found: found, parentNode: parentNode, parentLayers: parentLayers, directory: true)
        table { if let child = parentNode.children[name] { $0.unlink(child, from: parentNode, name: name) } }
    }

    /// Removes the upper entry (if any), and hides lower ones with a whiteout.
    private func remove(_ path: String, found: FoundEntry, parentNode: OverlayNode, parentLayers: [Int], directory: Bool) throws(FilesystemError) {
        let upper = layers.descriptors[OverlayLayers.upper]
        let lowerLayers = parentLayers.filter { $0 != OverlayLayers.upper }
        let lowerVisible = lowerLayers.isEmpty ? false : try layers.find(path, in: lowerLayers) != nil
        if found.layer == OverlayLayers.upper {
            if directory { try layers.removeWhiteouts(inside: path) }
            try check(unlinkat(upper, path, directory ? AT_REMOVEDIR : 0))
        }
        if lowerVisible {
            try upperDirectory(parentNode)
            try layers.makeWhiteout(path)
        }
    }

    func rename(parent: UInt64, name: String, newParent: UInt64, newName: String, flags: UInt32) throws(FilesystemError) {
        let (parentNode, parentPath, parentLayers) = try directory(parent)
        let (newParentNode, newParentPath, newParentLayers) = try directory(newParent)
        let path = RelativePath.join(parentPath, name)
        let newPath = RelativePath.join(newParentPath, newName)
        guard let source = try layers.find(path, in: parentLayers) else { throw FilesystemError(ENOENT) }
        let target = try layers.find(newPath, in: newParentLayers)
        let sourceLowers = parentLayers.filter { $0 != OverlayLayers.upper }
        let targetLowers = newParentLayers.filter { $0 != OverlayLayers.upper }
        let upper = layers.descriptors[OverlayLayers.upper]
        let exchange = flags & renameExchange != 0
        if exchange {
            // Both sides must be wholly in the upper layer; anything else would need copy-ups
            // of both trees and whiteouts that one rename cannot make atomically.
            guard let target, source.layer == OverlayLayers.upper, target.layer == OverlayLayers.upper,
                  source.directoryLayers.count <= 1, target.directoryLayers.count <= 1,
                  !layers.anyEntry(path, in: sourceLowers), !layers.anyEntry(newPath, in: targetLowers) else { throw FilesystemError(EXDEV) }
            try check(swctr_renameat2(upper, path, upper, newPath, renameExchange))
            table { nodes in
                let first = parentNode.children[name]
                let second = newParentNode.children[newName]
                if let first { nodes.rename(first, from: parentNode, name: name, to: newParentNode, newName: newName) }
                if let second { nodes.rename(second, from: newParentNode, name: newName, to: parentNode, newName: name) }
            }
            return
        }
        if let target {
            if flags & renameNoReplace != 0 { throw FilesystemError(EEXIST) }
            if target.isDirectory && !source.isDirectory { throw FilesystemError(EISDIR) }
            if !target.isDirectory && source.isDirectory { throw FilesystemError(ENOTDIR) }
            if target.isDirectory {
                let listing = try layers.list(newPath, in: target.directoryLayers)
                if !listing.isEmpty { throw FilesystemError(ENOTEMPTY) }
            }
        }
        // The source wholly in the upper layer.
        let sourceNode = table { _ in parentNode.children[name] }
        if source.isDirectory && (source.layer != OverlayLayers.upper || source.directoryLayers.count > 1) {
            let node: OverlayNode
            if let sourceNode { node = sourceNode } else { node = try lookup(parent: parent, name: name).0; forget(node.id, count: 1) }
            try copyUpTree(node)
        } else if source.layer != OverlayLayers.upper {
            if let sourceNode {
                try copyUp(sourceNode)
            } else {
                let (node, _) = try lookup(parent: parent, name: name)
                defer { forget(node.id, count: 1) }
                try copyUp(node)
            }
        }
        try upperDirectory(newParentNode)
        // What the upper has at the target: a whiteout goes, an empty-looking directory loses
        // the whiteouts inside it.
        var hidesLower = false
        var targetInfo = stat()
        if fstatat(upper, newPath, &targetInfo, AT_SYMLINK_NOFOLLOW) == 0 {
            if OverlayLayers.isWhiteout(targetInfo) {
                hidesLower = true
                if source.isDirectory { try check(unlinkat(upper, newPath, 0)) }
            } else if (targetInfo.st_mode & S_IFMT) == S_IFDIR {
                try layers.removeWhiteouts(inside: newPath)
            }
        }
        if source.isDirectory && !hidesLower { hidesLower = layers.anyEntry(newPath, in: targetLowers) }
        let sourceLowerVisible = sourceLowers.isEmpty ? false : try layers.find(path, in: sourceLowers) != nil
        try check(swctr_renameat2(upper, path, upper, newPath, 0))
        if sourceLowerVisible { try layers.makeWhiteout(path) }
        if source.isDirectory && hidesLower { try layers.markOpaque(newPath) }
        table { nodes in
            if let moved = parentNode.children[name] {
                nodes.rename(moved, from: parentNode, name: name, to: newParentNode, newName: newName)
                moved.layer = OverlayLayers.upper
                if moved.isDirectory { moved.directoryLayers = [OverlayLayers.upper] }
            } else if let replaced = newParentNode.children[newName] {
                nodes.unlink(replaced, from: newParentNode, name: newName)
            }
        }
    }

    // MARK: - Files

    private func openFlags(_ flags: Int32) -> Int32 {
        var result = flags & ~(O_CREAT | O_EXCL | O_NOCTTY)
        if writebackCache {
            if result & O_ACCMODE == O_WRONLY { result = (result & ~O_ACCMODE) | O_RDWR }
            result &= ~O_APPEND
        }
        return result
    }

    func open(_ id: UInt64, flags: Int32) throws(FilesystemError) -> UInt64 {
        let node = try node(id)
        let writes = flags & O_ACCMODE != O_RDONLY || flags & O_TRUNC != 0
        if writes { try copyUp(node, withData: flags & O_TRUNC == 0) }
        let (path, layer) = location(node)
        let fd = openat(layers.descriptors[layer], path, openFlags(flags) | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw .current }
        return OpenFile.handle(fd: fd, upper: layer == OverlayLayers.upper)
    }

    func write(_ handle: UInt64, buffer: UnsafeMutablePointer<fuse_bufvec>, offset: off_t) throws(FilesystemError) -> Int {
        guard OpenFile.isUpper(handle) else { throw FilesystemError(EBADF) }
        let written = swctr_fuse_write_buf(buffer, OpenFile.fd(handle), offset)
        if written < 0 { throw FilesystemError(Int32(-written)) }
        return written
    }

    func release(_ handle: UInt64) {
        close(OpenFile.fd(handle))
    }

    func sync(_ handle: UInt64, dataOnly: Bool) throws(FilesystemError) {
        let fd = OpenFile.fd(handle)
        try check(dataOnly ? fdatasync(fd) : fsync(fd))
    }

    func allocate(_ handle: UInt64, mode: Int32, offset: off_t, length: off_t) throws(FilesystemError) {
        guard OpenFile.isUpper(handle) else { throw FilesystemError(EBADF) }
        try check(swctr_fallocate(OpenFile.fd(handle), mode, Int64(offset), Int64(length)))
    }

    func seek(_ handle: UInt64, offset: off_t, whence: Int32) throws(FilesystemError) -> off_t {
        let result = lseek(OpenFile.fd(handle), offset, whence)
        guard result >= 0 else { throw .current }
        return result
    }

    // MARK: - Directories

    func openDirectory(_ id: UInt64) throws(FilesystemError) -> DirectoryHandle {
        let (node, path, directoryLayers) = try directory(id)
        var entries = try layers.list(path, in: directoryLayers)
        let info = try layers.attributes(table { _ in node.layer }, path)
        entries.insert(DirectoryEntry(name: ".", inode: UInt64(info.st_ino), type: UInt8(DT_DIR)), at: 0)
        entries.insert(DirectoryEntry(name: "..", inode: UInt64(info.st_ino), type: UInt8(DT_DIR)), at: 1)
        return DirectoryHandle(entries: entries)
    }

    /// The listing readdir reads when the kernel opens directories without asking us (no
    /// opendir): made afresh at offset 0, kept on the node for the following pieces.
    func listing(_ id: UInt64, fresh: Bool) throws(FilesystemError) -> DirectoryHandle {
        let node = try node(id)
        if !fresh, let kept = table({ _ in node.listing }) { return kept }
        let made = try openDirectory(id)
        table { _ in node.listing = made }
        return made
    }

    func syncDirectory(_ id: UInt64) throws(FilesystemError) {
        let (node, path, _) = try directory(id)
        guard table({ _ in node.directoryLayers.first == OverlayLayers.upper }) else { return }
        let fd = openat(layers.descriptors[OverlayLayers.upper], path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .current }
        defer { close(fd) }
        try check(fsync(fd))
    }

    // MARK: - Extended attributes

    func getAttribute(_ id: UInt64, name: String, size: Int) throws(FilesystemError) -> [UInt8] {
        if name.hasPrefix(OverlayLayers.privatePrefix) { throw FilesystemError(ENODATA) }
        let (path, layer) = location(try node(id))
        let file = layers.absolute(layer, path)
        if size == 0 {
            let needed = lgetxattr(file, name, nil, 0)
            guard needed >= 0 else { throw .current }
            return [UInt8](repeating: 0, count: needed)
        }
        var value = [UInt8](repeating: 0, count: size)
        let read = lgetxattr(file, name, &value, size)
        guard read >= 0 else { throw .current }
        return Array(value[..<read])
    }

    func listAttributes(_ id: UInt64) throws(FilesystemError) -> [UInt8] {
        let (path, layer) = location(try node(id))
        let file = layers.absolute(layer, path)
        let size = llistxattr(file, nil, 0)
        guard size >= 0 else { throw .current }
        guard size > 0 else { return [] }
        var names = [CChar](repeating: 0, count: size)
        let listed = llistxattr(file, &names, size)
        guard listed >= 0 else { throw .current }
        var result: [UInt8] = []
        for name in names[..<listed].split(separator: 0, omittingEmptySubsequences: true) {
            let bytes = name.map { UInt8(bitPattern: $0) }
            if bytes.starts(with: Array(OverlayLayers.privatePrefix.utf8)) { continue }
            result += bytes + [0]
        }
        return result
    }

    func setAttribute(_ id: UInt64, name: String, value: UnsafeRawPointer?, size: Int, flags: Int32) throws(FilesystemError) {
        if name.hasPrefix(OverlayLayers.privatePrefix) { throw FilesystemError(EPERM) }
        let node = try node(id)
        try copyUp(node)
        let path = location(node).path
        try check(lsetxattr(layers.absolute(OverlayLayers.upper, path), name, value, size, flags))
    }

    func removeAttribute(_ id: UInt64, name: String) throws(FilesystemError) {
        if name.hasPrefix(OverlayLayers.privatePrefix) { throw FilesystemError(ENODATA) }
        let node = try node(id)
        try copyUp(node)
        let path = location(node).path
        try check(lremovexattr(layers.absolute(OverlayLayers.upper, path), name))
    }

    func filesystemStatistics() throws(FilesystemError) -> statvfs {
        var info = statvfs()
        try check(fstatvfs(layers.descriptors[OverlayLayers.upper], &info))
        return info
    }
}
