// Copy-up: before a lower-layer entry changes, the upper layer gets a copy of it (data, mode,
// owner, times, xattrs), made in the work directory and renamed into place, so a half-made copy is
// never visible. Directories above it are copied first.
import CFuse
import CLinux
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

extension OverlayFilesystem {
    /// Puts `node` in the upper layer (its parents first). `withData: false` for a file about to
    /// be truncated to nothing.
    func copyUp(_ node: OverlayNode, withData: Bool = true) throws(FilesystemError) {
        try copyUpLock.withLock { () throws(FilesystemError) in
            let (path, layer, parent, isDirectory) = table { ($0.path(of: node), node.layer, node.links.first?.parent, node.isDirectory) }
            guard layer != OverlayLayers.upper else { return }
            if let parent { try upperDirectoryLocked(parent) }
            try copyEntry(path, from: layer, withData: withData)
            let info = try? layers.attributes(OverlayLayers.upper, path)
            table {
                node.layer = OverlayLayers.upper
                if isDirectory {
                    node.directoryLayers.insert(OverlayLayers.upper, at: 0)
                } else if let info {
                    $0.moved(node, to: info.st_nlink > 1 ? FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino)) : nil)
                }
            }
        }
    }

    /// Makes sure the directory `node` exists in the upper layer (for a new entry in it).
    func upperDirectory(_ node: OverlayNode) throws(FilesystemError) {
        if table({ _ in node.directoryLayers.first == OverlayLayers.upper }) { return }
        try copyUpLock.withLock { () throws(FilesystemError) in try upperDirectoryLocked(node) }
    }

    private func upperDirectoryLocked(_ node: OverlayNode) throws(FilesystemError) {
        let (path, hasUpper, parent, layer) = table { ($0.path(of: node), node.directoryLayers.first == OverlayLayers.upper,
                                                      node.links.first?.parent, node.layer) }
        if hasUpper { return }
        if let parent { try upperDirectoryLocked(parent) }
        try copyEntry(path, from: layer, withData: false)
        table { _ in
            node.layer = OverlayLayers.upper
            node.directoryLayers.insert(OverlayLayers.upper, at: 0)
        }
    }

    /// Copies a whole merged directory tree into the upper layer (before a rename moves it:
    /// after that nothing of it may still come from below).
    func copyUpTree(_ node: OverlayNode) throws(FilesystemError) {
        try copyUpLock.withLock { () throws(FilesystemError) in
            try upperDirectoryLocked(node)
            let (path, layersOfDirectory) = table { ($0.path(of: node), node.directoryLayers) }
            var links: [FileIdentity: String] = [:]
            try copyTreeContents(path, layers: layersOfDirectory, links: &links)
            table {
                node.directoryLayers = [OverlayLayers.upper]
                for descendant in $0.descendants(of: node) {
                    descendant.layer = OverlayLayers.upper
                    if descendant.isDirectory { descendant.directoryLayers = [OverlayLayers.upper] }
                }
            }
        }
    }

    /// Copies what the lower layers show under `path` into the upper layer. With `markOpaque`,
    /// merged directories are marked so the lower ones stop showing through; `links` keeps hard
    /// links together (first path copied, by identity in its layer).
    private func copyTreeContents(_ path: String, layers directoryLayers: [Int], markOpaque: Bool = true,
                                  links: inout [FileIdentity: String]) throws(FilesystemError) {
        for entry in try layers.list(path, in: directoryLayers) {
            let child = RelativePath.join(path, entry.name)
            guard let found = try layers.find(child, in: directoryLayers) else { continue }
            if found.layer != OverlayLayers.upper {
                let identity = FileIdentity(device: UInt64(found.info.st_dev), inode: UInt64(found.info.st_ino))
                if !found.isDirectory && found.info.st_nlink > 1, let first = links[identity] {
                    let upper = layers.descriptors[OverlayLayers.upper]
                    try check(linkat(upper, first, upper, child, 0))
                } else {
                    try copyEntry(child, from: found.layer, withData: true)
                    if !found.isDirectory && found.info.st_nlink > 1 { links[identity] = child }
                }
            }
            if found.isDirectory {
                try copyTreeContents(child, layers: found.directoryLayers, markOpaque: markOpaque, links: &links)
            }
        }
        // Everything below is in the upper now: the lower directories must not show through.
        if markOpaque && directoryLayers.count > 1 { try layers.markOpaque(path) }
        // A full copy: the directory's times as in the image (making its entries changed them).
        if !markOpaque && path != ".", let source = directoryLayers.first(where: { $0 != OverlayLayers.upper }) {
            let info = try layers.attributes(source, path)
            _ = utimensat(layers.descriptors[OverlayLayers.upper], path, [info.st_atim, info.st_mtim], AT_SYMLINK_NOFOLLOW)
        }
    }

    /// The copy driver's rootfs: the whole merged tree of the lower layers made in the (empty)
    /// upper directory, hard links kept, no overlay markers.
    public func materialize() throws(SystemCallError) {
        var links: [FileIdentity: String] = [:]
        let rootLayers = table { _ in nodes.root.directoryLayers }
        do throws(FilesystemError) {
            try copyTreeContents(".", layers: rootLayers, markOpaque: false, links: &links)
            // The root's own owner, mode and times.
            if let top = rootLayers.first(where: { $0 != OverlayLayers.upper }) {
                let info = try layers.attributes(top, ".")
                let upper = layers.descriptors[OverlayLayers.upper]
                _ = fchown(upper, info.st_uid, info.st_gid)
                _ = fchmod(upper, info.st_mode & 0o7777)
                _ = futimens(upper, [info.st_atim, info.st_mtim])
            }
        } catch {
            throw SystemCallError("copy the image's layers into the container", on: layers.paths[OverlayLayers.upper], errno: error.code)
        }
    }

    /// One entry from `layer` into the upper layer at the same path (its parent exists there).
    func copyEntry(_ path: String, from layer: Int, withData: Bool) throws(FilesystemError) {
        let source = try layers.attributes(layer, path)
        let upper = layers.descriptors[OverlayLayers.upper]
        let temporary = "copyup-\(getpid())-\(nextTemporary())"
        let times = [source.st_atim, source.st_mtim]
        switch source.st_mode & S_IFMT {
        case S_IFDIR:
            if mkdirat(upper, path, 0o700) != 0 && errno != EEXIST { throw .current }
            try check(fchownat(upper, path, source.st_uid, source.st_gid, AT_SYMLINK_NOFOLLOW))
            try check(fchmodat(upper, path, source.st_mode & 0o7777, 0))
            try copyAttributes(from: layers.absolute(layer, path), to: layers.absolute(OverlayLayers.upper, path))
            _ = utimensat(upper, path, times, AT_SYMLINK_NOFOLLOW)
            return
        case S_IFREG:
            let input = openat(layers.descriptors[layer], path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            guard input >= 0 else { throw .current }
            defer { close(input) }
            let output = openat(layers.work, temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard output >= 0 else { throw .current }
            do {
                if withData { try copyData(from: input, to: output, size: source.st_size) }
                try check(fchown(output, source.st_uid, source.st_gid))
                try check(fchmod(output, source.st_mode & 0o7777))
                try copyAttributes(from: input, to: output)
                _ = futimens(output, times)
                close(output)
            } catch {
                close(output)
                unlinkat(layers.work, temporary, 0)
                throw error
            }
        case S_IFLNK:
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let length = readlinkat(layers.descriptors[layer], path, &buffer, buffer.count - 1)
            guard length >= 0 else { throw .current }
            buffer[length] = 0
            try check(symlinkat(buffer, layers.work, temporary))
            _ = fchownat(layers.work, temporary, source.st_uid, source.st_gid, AT_SYMLINK_NOFOLLOW)
            _ = utimensat(layers.work, temporary, times, AT_SYMLINK_NOFOLLOW)
        default:
            try check(swctr_fuse_mknodat(layers.work, temporary, source.st_mode, source.st_rdev))
            _ = fchownat(layers.work, temporary, source.st_uid, source.st_gid, AT_SYMLINK_NOFOLLOW)
            _ = fchmodat(layers.work, temporary, source.st_mode & 0o7777, 0)
            _ = utimensat(layers.work, temporary, times, AT_SYMLINK_NOFOLLOW)
        }
        if renameat(layers.work, temporary, upper, path) != 0 {
            let error = FilesystemError.current
            unlinkat(layers.work, temporary, 0)
            throw error
        }
    }

    /// Copies the data, keeping holes (a sparse file stays sparse): copy_file_range over each
    /// data extent, read/write where the kernel cannot.
    private func copyData(from input: Int32, to output: Int32, size: off_t) throws(FilesystemError) {
        var offset: off_t = 0
        while offset < size {
            let dataStart = lseek(input, offset, 3 /* SEEK_DATA */)
            if dataStart < 0 {
                if errno == ENXIO { break }  // only a hole is left
                try copyPlain(from: input, to: output, start: offset, end: size)
                break
            }
            var holeStart = lseek(input, dataStart, 4 /* SEEK_HOLE */)
            if holeStart < 0 { holeStart = size }
            try copyRange(from: input, to: output, start: dataStart, end: min(holeStart, size))
            offset = holeStart
        }
        try check(ftruncate(output, size))
    }

    private func copyRange(from input: Int32, to output: Int32, start: off_t, end: off_t) throws(FilesystemError) {
        var inputOffset = Int64(start)
        var outputOffset = Int64(start)
        while inputOffset < Int64(end) {
            let chunk = Int(min(Int64(end) - inputOffset, 1 << 30))
            let copied = swctr_copy_file_range_at(input, &inputOffset, output, &outputOffset, chunk)
            if copied < 0 {
                if errno == EINTR { continue }
                if errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP {
                    try copyPlain(from: input, to: output, start: off_t(inputOffset), end: end)
                    return
                }
                throw .current
            }
            if copied == 0 { break }
        }
    }

    private func copyPlain(from input: Int32, to output: Int32, start: off_t, end: off_t) throws(FilesystemError) {
        let size = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 4096)
        defer { buffer.deallocate() }
        var offset = start
        while offset < end {
            let count = pread(input, buffer, min(size, Int(end - offset)), offset)
            if count < 0 {
                if errno == EINTR { continue }
                throw .current
            }
            if count == 0 { break }
            var written = 0
            while written < count {
                let n = pwrite(output, buffer + written, count - written, offset + off_t(written))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw .current
                }
                written += n
            }
            offset += off_t(count)
        }
    }

    /// Extended attributes of an open file, except the overlay's own.
    private func copyAttributes(from input: Int32, to output: Int32) throws(FilesystemError) {
        try copyAttributes(list: { flistxattr(input, $0, $1) }, get: { fgetxattr(input, $0, $1, $2) },
                           set: { fsetxattr(output, $0, $1, $2, 0) })
    }

    private func copyAttributes(from input: String, to output: String) throws(FilesystemError) {
        try copyAttributes(list: { llistxattr(input, $0, $1) }, get: { lgetxattr(input, $0, $1, $2) },
                           set: { lsetxattr(output, $0, $1, $2, 0) })
    }

    private func copyAttributes(list: (UnsafeMutablePointer<CChar>?, Int) -> Int,
                                get: (String, UnsafeMutableRawPointer?, Int) -> Int,
                                set: (String, UnsafeRawPointer?, Int) -> Int32) throws(FilesystemError) {
        let size = list(nil, 0)
        guard size > 0 else { return }
        var names = [CChar](repeating: 0, count: size)
        let listed = list(&names, size)
        guard listed > 0 else { return }
        for nameBytes in names[..<listed].split(separator: 0) {
            let name = String(decoding: nameBytes.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if name.hasPrefix(OverlayLayers.privatePrefix) { continue }
            let valueSize = get(name, nil, 0)
            guard valueSize >= 0 else { continue }
            var value = [UInt8](repeating: 0, count: max(valueSize, 1))
            let read = get(name, &value, valueSize)
            guard read >= 0 else { continue }
            if set(name, value, read) != 0 {
                // The kernel's own namespaces may refuse us (trusted.*, security.* of another
                // module); a user's xattrs must come along.
                if name.hasPrefix("user.") && errno != ENOTSUP { throw .current }
            }
        }
    }
}
