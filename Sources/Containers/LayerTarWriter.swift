import CArchive
import SystemSupport
#if canImport(Glibc)
    import Glibc
#endif

/// Writes entries of a layer stack as a tar stream (pax headers where plain ustar does not fit),
/// with the owners, modes, times and extended attributes the files have in the user namespace,
/// hard links between files written as links, and OCI whiteouts (`.wh.NAME`, `.wh..wh..opq`).
final class LayerTarWriter {
    private let archive: OpaquePointer
    private var finished = false
    /// The first path written for each inode with more than one link.
    private var linkTargets: [FileIdentity: [UInt8]] = [:]
    private let buffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 17, alignment: 16)

    private struct FileIdentity: Hashable {
        let device: UInt64
        let inode: UInt64
    }

    init(fd: FileDescriptor) throws(SystemCallError) {
        guard let archive = archive_write_new() else { throw SystemCallError("archive_write_new", errno: ENOMEM) }
        self.archive = archive
        archive_write_set_format_pax_restricted(archive)
        archive_write_set_bytes_in_last_block(archive, 1)
        if archive_write_open_fd(archive, fd.rawValue) != ARCHIVE_OK { throw failure("start the tar stream") }
    }

    deinit {
        if !finished { archive_write_fail(archive) }
        archive_write_free(archive)
        buffer.deallocate()
    }

    /// Writes the entry (a regular file with its content read now, a directory, a symbolic link
    /// or a FIFO) under the name `path`.
    func write(_ path: EntryPath, source: EntrySource) throws(SystemCallError) {
        var info = source.entry.info
        var opened: FileDescriptor?
        var attributes: [(name: String, value: [UInt8])] = []
        defer { opened?.close() }
        switch source.entry.kind {
        case .regular, .directory:
            // Opened without blocking (a FIFO swapped in by a running container must not hang
            // the walk), and described by what was opened, not by what was listed.
            let flags = O_RDONLY | O_NONBLOCK | (source.entry.kind == .directory ? O_DIRECTORY : 0)
            let file: FileDescriptor
            do { file = try source.stack.open(path, layer: source.entry.layer, flags: flags) } catch {
                // Removed since it was listed (the container runs): it is not there to write.
                if error.errno == ENOENT { return }
                throw error
            }
            opened = file
            guard fstat(file.rawValue, &info) == 0 else { throw SystemCallError("stat", on: path.displayName, errno: errno) }
            if EntryKind(info) != source.entry.kind {
                throw SystemCallError("read", on: path.displayName + " (it changed while it was read: try again, or pause the container)", errno: EAGAIN)
            }
            attributes = source.stack.contentAttributes(of: file, info: info)
        case .symlink, .fifo:
            break
        case .whiteout, .other:
            return
        }
        var content = source.entry.kind == .regular ? opened : nil

        guard let entry = archive_entry_new() else { throw SystemCallError("archive_entry_new", errno: ENOMEM) }
        defer { archive_entry_free(entry) }
        var name = path.relative
        if source.entry.kind == .directory { name.append(UInt8(ascii: "/")) }
        setPathname(entry, name)
        archive_entry_copy_stat(entry, &info)
        // Only the modification time: the same files give the same layer.
        archive_entry_unset_atime(entry)
        archive_entry_unset_ctime(entry)
        archive_entry_unset_birthtime(entry)
        for attribute in attributes {
            attribute.value.withUnsafeBytes { archive_entry_xattr_add_entry(entry, attribute.name, $0.baseAddress, $0.count) }
        }
        if source.entry.kind == .symlink {
            let target = try source.stack.linkTarget(path, layer: source.entry.layer)
            (target.map { CChar(bitPattern: $0) } + [0]).withUnsafeBufferPointer { archive_entry_set_symlink(entry, $0.baseAddress) }
        }
        if source.entry.kind != .regular { archive_entry_set_size(entry, 0) }
        if source.entry.kind == .regular && info.st_nlink > 1 {
            let identity = FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
            if let target = linkTargets[identity] {
                (target.map { CChar(bitPattern: $0) } + [0]).withUnsafeBufferPointer { archive_entry_set_hardlink(entry, $0.baseAddress) }
                archive_entry_set_size(entry, 0)
                content = nil
            } else {
                linkTargets[identity] = name
            }
        }
        if archive_write_header(archive, entry) < ARCHIVE_WARN { throw failure("write the header of \(path.displayName)") }
        if let content { try copyContent(from: content, size: Int64(info.st_size), path: path) }
    }

    /// `.wh.NAME` beside the deleted path: the OCI form of a deletion.
    func writeWhiteout(_ path: EntryPath) throws(SystemCallError) {
        try writeMarker(path.parent.appending(Array(".wh.".utf8) + path.name), for: path)
    }

    /// `.wh..wh..opq` inside the directory: the OCI form of an opaque directory.
    func writeOpaqueMarker(_ directory: EntryPath) throws(SystemCallError) {
        try writeMarker(directory.appending(Array(".wh..wh..opq".utf8)), for: directory)
    }

    func finish() throws(SystemCallError) {
        finished = true
        if archive_write_close(archive) != ARCHIVE_OK { throw failure("end the tar stream") }
    }

    private func writeMarker(_ marker: EntryPath, for path: EntryPath) throws(SystemCallError) {
        guard let entry = archive_entry_new() else { throw SystemCallError("archive_entry_new", errno: ENOMEM) }
        defer { archive_entry_free(entry) }
        setPathname(entry, marker.relative)
        archive_entry_set_filetype(entry, 0o100000)  // a regular file
        archive_entry_set_perm(entry, 0o644)
        archive_entry_set_size(entry, 0)
        archive_entry_set_mtime(entry, 0, 0)
        if archive_write_header(archive, entry) < ARCHIVE_WARN { throw failure("write the whiteout of \(path.displayName)") }
    }

    private func setPathname(_ entry: OpaquePointer, _ name: [UInt8]) {
        (name.map { CChar(bitPattern: $0) } + [0]).withUnsafeBufferPointer { archive_entry_set_pathname(entry, $0.baseAddress) }
    }

    /// Copies `size` bytes: a file that shrank while it was read is padded with zeros (by
    /// libarchive, to the size in its header), one that grew is cut at that size.
    private func copyContent(from file: FileDescriptor, size: Int64, path: EntryPath) throws(SystemCallError) {
        var remaining = size
        while remaining > 0 {
            let wanted = Int(min(remaining, Int64(1 << 17)))
            let n = read(file.rawValue, buffer, wanted)
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemCallError("read", on: path.displayName, errno: errno)
            }
            if n == 0 { break }
            var offset = 0
            while offset < n {
                let written = archive_write_data(archive, buffer + offset, n - offset)
                if written <= 0 { throw failure("write \(path.displayName)") }
                offset += written
            }
            remaining -= Int64(n)
        }
        if archive_write_finish_entry(archive) < ARCHIVE_WARN { throw failure("write \(path.displayName)") }
    }

    private func failure(_ what: String) -> SystemCallError {
        let code = archive_errno(archive)
        let reason = archive_error_string(archive).map { String(cString: $0) } ?? "error"
        return SystemCallError("\(what) (\(reason))", errno: code > 0 ? code : EIO)
    }
}
