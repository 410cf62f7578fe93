import CArchive
import CLinux
import ImageReference
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// Why a layer could not be unpacked. Hostile entries name the entry and say the image is bad.
public enum LayerUnpackError: Error, UserFacingError {
    case pathTraversal(entry: String)
    case absolutePath(entry: String)
    case throughSymlink(entry: String)
    case hardlinkOutside(entry: String, target: String)
    case hardlinkMissing(entry: String, target: String)
    case nameTooLong(entry: String)
    case ownerNotMapped(entry: String, uid: Int64, gid: Int64)
    case corruptArchive(String)
    case diffIDMismatch(expected: Digest, actual: Digest)
    case system(SystemCallError, entry: String?)

    public var userMessage: String {
        let hostile = " — the image is malformed or hostile; nothing was unpacked"
        switch self {
        case .pathTraversal(let entry): return "layer entry \"\(entry)\" climbs out of the layer with \"..\"" + hostile
        case .absolutePath(let entry): return "layer entry \"\(entry)\" has an absolute path" + hostile
        case .throughSymlink(let entry): return "layer entry \"\(entry)\" would be written through a symbolic link" + hostile
        case .hardlinkOutside(let entry, let target): return "layer entry \"\(entry)\" is a hard link to \"\(target)\", outside the layer" + hostile
        case .nameTooLong(let entry): return "layer entry \"\(entry)\" has a name longer than Linux allows (255 bytes a name, 4096 a path)" + hostile
        case .hardlinkMissing(let entry, let target): return "layer entry \"\(entry)\" is a hard link to \"\(target)\", which the layer does not have" + hostile
        case .ownerNotMapped(let entry, let uid, let gid):
            return "layer entry \"\(entry)\" belongs to uid \(uid) gid \(gid), outside this user's subordinate id range — give the user a larger range in /etc/subuid and /etc/subgid (65536 ids or more)"
        case .corruptArchive(let reason): return "the layer is not a valid tar archive: \(reason)"
        case .diffIDMismatch(let expected, let actual):
            return "the layer's content does not match the image configuration (diff_id \(expected), content \(actual)) — the image is corrupt"
        case .system(let error, let entry):
            return entry.map { "layer entry \"\($0)\": \(error.description)" } ?? error.description
        }
    }
}

/// Unpacks a layer tar into a directory, safely: every path is checked lexically (no absolute
/// paths, no ".." out of the layer), every parent directory is opened with openat2
/// RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS so nothing is written through a symlink, and every file is
/// created relative to that directory fd with O_NOFOLLOW|O_EXCL. OCI whiteouts (`.wh.NAME`) become
/// overlay whiteouts (char 0/0) and opaque markers (`.wh..wh..opq`) the `user.overlay.opaque` xattr.
/// Runs inside the user namespace, so chown gives files their mapped owners.
public struct LayerUnpacker {
    /// With a single-id user namespace, every file becomes root's (owners cannot be kept).
    public var ignoreOwnership: Bool

    public init(ignoreOwnership: Bool) { self.ignoreOwnership = ignoreOwnership }

    private struct DirectoryMetadata {
        var path: [String]
        var mode: mode_t
        var uid: uid_t
        var gid: gid_t
        var modified: timespec
    }

    /// The name prefix of the temporary directory an unpack into `destination` works in.
    public static func temporaryPrefix(for destination: String) -> String {
        ".unpack-" + destination.split(separator: "/").last.map { String($0.prefix(16)) }! + "-"
    }

    /// Unpacks `blobPath` into `destination` (created here; must not exist). Checks the diff_id.
    public func unpack(blobPath: String, diffID: Digest, destination: String) throws(LayerUnpackError) {
        let parent = String(destination[..<(destination.lastIndex(of: "/") ?? destination.startIndex)])
        // Named after the layer, so that what a killed unpack leaves is found and removed.
        let temp = parent + "/" + Self.temporaryPrefix(for: destination) + FileSystem.randomHex(bytes: 6)
        do {
            try systemCall("mkdir", on: temp) { mkdir(temp, 0o755) }
        } catch { throw .system(error, entry: nil) }
        do throws(LayerUnpackError) {
            try unpackEntries(blobPath: blobPath, diffID: diffID, root: temp)
            if rename(temp, destination) != 0 {
                let code = errno
                // Another pull unpacked the same layer first: theirs is as good as ours.
                if code == EEXIST || code == ENOTEMPTY { try? FileSystem.removeTree(temp); return }
                throw .system(SystemCallError("rename", on: destination, errno: code), entry: nil)
            }
        } catch {
            try? FileSystem.removeTree(temp)
            throw error
        }
    }

    private func unpackEntries(blobPath: String, diffID: Digest, root: String) throws(LayerUnpackError) {
        let stream: LayerStream
        do { stream = try LayerStream(path: blobPath) } catch { throw .system(error, entry: nil) }
        let rootFD: FileDescriptor
        do { rootFD = try FileDescriptor.open(root, O_RDONLY | O_DIRECTORY) } catch { throw .system(error, entry: nil) }
        defer { rootFD.close() }

        guard let archive = archive_read_new() else { throw .corruptArchive("libarchive could not start") }
        defer { archive_read_free(archive) }
        archive_read_support_format_tar(archive)
        archive_read_support_format_gnutar(archive)
        archive_read_support_filter_none(archive)
        let context = Unmanaged.passRetained(stream)
        defer { context.release() }
        let opened = archive_read_open(archive, context.toOpaque(), nil, { _, client, buffer in
            let stream = Unmanaged<LayerStream>.fromOpaque(client!).takeUnretainedValue()
            let n = stream.read()
            buffer?.pointee = UnsafeRawPointer(stream.output)
            return n
        }, nil)
        if opened != ARCHIVE_OK { throw .corruptArchive(Self.archiveError(archive)) }

        var directories: [DirectoryMetadata] = []
        var entry: OpaquePointer?
        while true {
            let status = archive_read_next_header(archive, &entry)
            if status == ARCHIVE_EOF { break }
            if let failure = stream.failure { throw .corruptArchive(failure) }
            if status < ARCHIVE_WARN { throw .corruptArchive(Self.archiveError(archive)) }
            guard let entry else { break }
            try unpackEntry(entry, archive: archive, rootFD: rootFD, directories: &directories)
        }
        if !stream.drain() { throw .corruptArchive(stream.failure ?? "read error") }
        let actual = stream.hasher.finish()
        if actual != diffID { throw .diffIDMismatch(expected: diffID, actual: actual) }

        // Directory modes, owners and times last: writing their children changed them.
        for directory in directories.reversed() {
            let fd = try openDirectory(directory.path, rootFD: rootFD, create: false, entry: directory.path.joined(separator: "/"))
            defer { if fd != rootFD { fd.close() } }
            try applyOwnership(fd: fd, uid: directory.uid, gid: directory.gid, entry: directory.path.joined(separator: "/"))
            fchmod(fd.rawValue, directory.mode)
            var times = [directory.modified, directory.modified]
            futimens(fd.rawValue, &times)
        }
    }

    static func archiveError(_ archive: OpaquePointer) -> String {
        archive_error_string(archive).map { String(cString: $0) } ?? "unknown error"
    }

    /// Splits an entry's path into clean components; rejects absolute paths and ".." out of the root.
    static func components(of raw: String, entry: String) throws(LayerUnpackError) -> [String] {
        if raw.hasPrefix("/") { throw .absolutePath(entry: entry) }
        var result: [String] = []
        for part in raw.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                if result.isEmpty { throw .pathTraversal(entry: entry) }
                result.removeLast()
                continue
            }
            // Linux allows 255 bytes per name and 4096 per path: longer is no real file.
            if part.utf8.count > 255 { throw .nameTooLong(entry: String(entry.prefix(80)) + "…") }
            result.append(String(part))
        }
        if raw.utf8.count >= 4096 { throw .nameTooLong(entry: String(entry.prefix(80)) + "…") }
        return result
    }

    /// Opens (creating where asked) the directory at `path` under the root, never through a symlink.
    private func openDirectory(_ path: [String], rootFD: FileDescriptor, create: Bool, entry: String) throws(LayerUnpackError) -> FileDescriptor {
        if path.isEmpty { return rootFD }
        let resolve = UInt64(SWCTR_RESOLVE_BENEATH | SWCTR_RESOLVE_NO_SYMLINKS | SWCTR_RESOLVE_NO_MAGICLINKS)
        let joined = path.joined(separator: "/")
        let fd = swctr_openat2(rootFD.rawValue, joined, UInt64(O_RDONLY | O_DIRECTORY | O_CLOEXEC), 0, resolve)
        if fd >= 0 { return FileDescriptor(rawValue: fd) }
        let code = errno
        if code == ELOOP || code == EXDEV || code == ENOTDIR && !create { throw .throughSymlink(entry: entry) }
        guard create, code == ENOENT || code == ENOTDIR else {
            throw .system(SystemCallError("openat2", on: joined, errno: code), entry: entry)
        }
        // Make the missing parents one component at a time, each opened without following links.
        var current = rootFD
        for component in path {
            if mkdirat(current.rawValue, component, 0o755) != 0 && errno != EEXIST {
                let error = SystemCallError("mkdirat", on: component, errno: errno)
                if current != rootFD { current.close() }
                throw .system(error, entry: entry)
            }
            let next = openat(current.rawValue, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            let openErrno = errno
            if current != rootFD { current.close() }
            if next < 0 {
                if openErrno == ELOOP || openErrno == ENOTDIR { throw .throughSymlink(entry: entry) }
                throw .system(SystemCallError("openat", on: component, errno: openErrno), entry: entry)
            }
            current = FileDescriptor(rawValue: next)
        }
        return current
    }

    private func applyOwnership(fd: FileDescriptor, uid: uid_t, gid: gid_t, entry: String) throws(LayerUnpackError) {
        if ignoreOwnership { return }
        if fchown(fd.rawValue, uid, gid) != 0 {
            if errno == EINVAL { throw .ownerNotMapped(entry: entry, uid: Int64(uid), gid: Int64(gid)) }
            throw .system(SystemCallError("fchown", errno: errno), entry: entry)
        }
    }

    /// Removes whatever is at `name` in `parent` so the entry can take its place (a later entry
    /// replaces an earlier one, as tar does). Directories stay when the new entry is a directory.
    private func clearPlace(parent: FileDescriptor, name: String, keepDirectory: Bool, entry: String) throws(LayerUnpackError) {
        var info = stat()
        if fstatat(parent.rawValue, name, &info, AT_SYMLINK_NOFOLLOW) != 0 { return }
        let isDirectory = (info.st_mode & S_IFMT) == S_IFDIR
        if isDirectory && keepDirectory { return }
        if isDirectory {
            let fd = openat(parent.rawValue, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if fd >= 0 {
                let directory = FileDescriptor(rawValue: fd)
                defer { directory.close() }
                for child in (try? listEntries(directory)) ?? [] {
                    try clearPlace(parent: directory, name: child, keepDirectory: false, entry: entry)
                }
            }
            if unlinkat(parent.rawValue, name, AT_REMOVEDIR) != 0 {
                throw .system(SystemCallError("rmdir", on: name, errno: errno), entry: entry)
            }
        } else if unlinkat(parent.rawValue, name, 0) != 0 {
            throw .system(SystemCallError("unlink", on: name, errno: errno), entry: entry)
        }
    }

    private func listEntries(_ directory: FileDescriptor) throws(SystemCallError) -> [String] {
        let fd = dup(directory.rawValue)
        guard let handle = fdopendir(fd) else { close(fd); throw SystemCallError("fdopendir") }
        defer { closedir(handle) }
        var names: [String] = []
        while let item = readdir(handle) {
            let name = withUnsafeBytes(of: item.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    private func unpackEntry(_ entry: OpaquePointer, archive: OpaquePointer, rootFD: FileDescriptor, directories: inout [DirectoryMetadata]) throws(LayerUnpackError) {
        guard let rawPath = archive_entry_pathname(entry) else { return }
        let name = String(cString: rawPath)
        let path = try Self.components(of: name, entry: name)
        let type = archive_entry_filetype(entry)
        let mode = mode_t(archive_entry_perm(entry))
        let uid = uid_t(truncatingIfNeeded: archive_entry_uid(entry))
        let gid = gid_t(truncatingIfNeeded: archive_entry_gid(entry))
        let modified = timespec(tv_sec: archive_entry_mtime(entry), tv_nsec: archive_entry_mtime_nsec(entry))

        guard let base = path.last else {
            // "./": the layer root's own metadata.
            directories.append(DirectoryMetadata(path: [], mode: mode, uid: uid, gid: gid, modified: modified))
            return
        }
        let parentPath = Array(path.dropLast())
        let parent = try openDirectory(parentPath, rootFD: rootFD, create: true, entry: name)
        defer { if parent != rootFD { parent.close() } }

        // OCI whiteouts.
        if base == ".wh..wh..opq" {
            let value = "y"
            if swctr_fsetxattr(parent.rawValue, "user.overlay.opaque", value, value.utf8.count) != 0 {
                throw .system(SystemCallError("setxattr user.overlay.opaque", errno: errno), entry: name)
            }
            return
        }
        if base.hasPrefix(".wh..wh.") { return }  // other AUFS metadata: not content
        if base.hasPrefix(".wh.") {
            let hidden = String(base.dropFirst(4))
            if hidden.isEmpty || hidden == "." || hidden == ".." { throw .pathTraversal(entry: name) }
            try clearPlace(parent: parent, name: hidden, keepDirectory: false, entry: name)
            if swctr_mknodat(parent.rawValue, hidden, S_IFCHR | 0, 0, 0) != 0 {
                throw .system(SystemCallError("mknod (overlay whiteout)", on: hidden, errno: errno), entry: name)
            }
            return
        }

        // Hard links first: libarchive reports them with the type of their target.
        if let linkTarget = archive_entry_hardlink(entry) {
            let targetName = String(cString: linkTarget)
            let targetPath: [String]
            do { targetPath = try Self.components(of: targetName, entry: name) } catch { throw .hardlinkOutside(entry: name, target: targetName) }
            guard let targetBase = targetPath.last else { throw .hardlinkOutside(entry: name, target: targetName) }
            let targetParent = try openDirectory(Array(targetPath.dropLast()), rootFD: rootFD, create: false, entry: name)
            defer { if targetParent != rootFD { targetParent.close() } }
            try clearPlace(parent: parent, name: base, keepDirectory: false, entry: name)
            if linkat(targetParent.rawValue, targetBase, parent.rawValue, base, 0) != 0 {
                if errno == ENOENT { throw .hardlinkMissing(entry: name, target: targetName) }
                throw .system(SystemCallError("link", on: targetName, errno: errno), entry: name)
            }
            return
        }

        switch type {
        case 0o040000:
            try clearPlace(parent: parent, name: base, keepDirectory: true, entry: name)
            if mkdirat(parent.rawValue, base, 0o700) != 0 && errno != EEXIST {
                throw .system(SystemCallError("mkdir", on: base, errno: errno), entry: name)
            }
            let fd = openat(parent.rawValue, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if fd < 0 { throw .throughSymlink(entry: name) }
            let directory = FileDescriptor(rawValue: fd)
            defer { directory.close() }
            try applyExtendedAttributes(entry, fd: directory, entryName: name)
            directories.append(DirectoryMetadata(path: path, mode: mode, uid: uid, gid: gid, modified: modified))
        case 0o100000:
            try clearPlace(parent: parent, name: base, keepDirectory: false, entry: name)
            let fd = openat(parent.rawValue, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            if fd < 0 { throw .system(SystemCallError("create", on: base, errno: errno), entry: name) }
            let file = FileDescriptor(rawValue: fd)
            defer { file.close() }
            try writeData(archive: archive, to: file, size: archive_entry_size(entry), entryName: name)
            try applyOwnership(fd: file, uid: uid, gid: gid, entry: name)
            fchmod(file.rawValue, mode)  // after chown, which clears set-id bits
            try applyExtendedAttributes(entry, fd: file, entryName: name)
            var times = [modified, modified]
            futimens(file.rawValue, &times)
        case 0o120000:
            guard let target = archive_entry_symlink(entry) else { return }
            try clearPlace(parent: parent, name: base, keepDirectory: false, entry: name)
            if symlinkat(target, parent.rawValue, base) != 0 {
                throw .system(SystemCallError("symlink", on: base, errno: errno), entry: name)
            }
            if !ignoreOwnership && fchownat(parent.rawValue, base, uid, gid, AT_SYMLINK_NOFOLLOW) != 0 {
                if errno == EINVAL { throw .ownerNotMapped(entry: name, uid: Int64(uid), gid: Int64(gid)) }
            }
            var times = [modified, modified]
            utimensat(parent.rawValue, base, &times, AT_SYMLINK_NOFOLLOW)
        case 0o010000:
            try clearPlace(parent: parent, name: base, keepDirectory: false, entry: name)
            if mkfifoat(parent.rawValue, base, mode) != 0 {
                throw .system(SystemCallError("mkfifo", on: base, errno: errno), entry: name)
            }
            if !ignoreOwnership { fchownat(parent.rawValue, base, uid, gid, AT_SYMLINK_NOFOLLOW) }
        default:
            // Device nodes cannot be made in a user namespace (and /dev is the runtime's anyway);
            // sockets are not content. Both are skipped, as rootless Podman does.
            return
        }
    }

    private func writeData(archive: OpaquePointer, to file: FileDescriptor, size: Int64, entryName: String) throws(LayerUnpackError) {
        var buffer: UnsafeRawPointer?
        var length = 0
        var offset: la_int64_t = 0
        var end: Int64 = 0
        while true {
            let status = archive_read_data_block(archive, &buffer, &length, &offset)
            if status == ARCHIVE_EOF { break }
            if status < ARCHIVE_WARN { throw .corruptArchive(Self.archiveError(archive)) }
            var written = 0
            while written < length {
                let n = pwrite(file.rawValue, buffer! + written, length - written, off_t(offset) + off_t(written))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw .system(SystemCallError("write", errno: errno), entry: entryName)
                }
                written += n
            }
            end = max(end, Int64(offset) + Int64(length))
        }
        if end < size { ftruncate(file.rawValue, off_t(size)) }  // a sparse file's trailing hole
    }

    private func applyExtendedAttributes(_ entry: OpaquePointer, fd: FileDescriptor, entryName: String) throws(LayerUnpackError) {
        if archive_entry_xattr_reset(entry) == 0 { return }
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        while archive_entry_xattr_next(entry, &name, &value, &size) == ARCHIVE_OK {
            guard let name else { continue }
            let key = String(cString: name)
            // Overlay's own attributes must not come from an image.
            if key.hasPrefix("trusted.overlay.") || key.hasPrefix("user.overlay.") { continue }
            if swctr_fsetxattr(fd.rawValue, name, value, size) != 0 && key.hasPrefix("user.") {
                throw .system(SystemCallError("setxattr \(key)", errno: errno), entry: entryName)
            }
        }
    }
}
