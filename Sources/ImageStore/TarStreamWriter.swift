import CArchive
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// Writes a tar stream to a file descriptor one entry at a time, nothing held in memory beyond a
/// chunk. Entries are pax headers that stay plain ustar when names and sizes fit (as `docker
/// save` writes them), owned by 0:0 with time 0 so the same images give the same archive.
final class TarStreamWriter {
    private let archive: OpaquePointer
    private var finished = false

    init(fd: FileDescriptor) throws(ImageArchiveError) {
        guard let archive = archive_write_new() else { throw .io(SystemCallError("archive_write_new", errno: ENOMEM)) }
        self.archive = archive
        archive_write_set_format_pax_restricted(archive)
        archive_write_set_bytes_in_last_block(archive, 1)
        if archive_write_open_fd(archive, fd.rawValue) != ARCHIVE_OK { throw failure("open") }
    }

    deinit {
        if !finished { archive_write_fail(archive) }
        archive_write_free(archive)
    }

    func addDirectory(_ name: String) throws(ImageArchiveError) {
        try writeHeader(name.hasSuffix("/") ? name : name + "/", type: 0o040000, permissions: 0o755, size: 0)
    }

    func addFile(_ name: String, bytes: [UInt8]) throws(ImageArchiveError) {
        try writeHeader(name, type: 0o100000, permissions: 0o644, size: Int64(bytes.count))
        let failed = bytes.withUnsafeBytes { buffer in !write(buffer) }
        if failed { throw failure("write \(name)") }
    }

    /// Adds a file of `size` bytes whose content `produce` hands over in chunks (false from the
    /// chunk callback: the archive could not be written). Exactly `size` bytes must come.
    func addFile(_ name: String, size: Int64, produce: ((UnsafeRawBufferPointer) -> Bool) throws -> Int64) throws {
        try writeHeader(name, type: 0o100000, permissions: 0o644, size: size)
        var writeFailed = false
        let produced = try produce { chunk in
            if writeFailed || !write(chunk) { writeFailed = true }
            return !writeFailed
        }
        if writeFailed { throw failure("write \(name)") }
        if produced != size {
            throw ImageArchiveError.io(SystemCallError("changed while it was written (\(produced) bytes, expected \(size))", on: name, errno: EIO))
        }
    }

    func finish() throws(ImageArchiveError) {
        finished = true
        if archive_write_close(archive) != ARCHIVE_OK { throw failure("close") }
    }

    private func writeHeader(_ name: String, type: mode_t, permissions: mode_t, size: Int64) throws(ImageArchiveError) {
        guard let entry = archive_entry_new() else { throw .io(SystemCallError("archive_entry_new", errno: ENOMEM)) }
        defer { archive_entry_free(entry) }
        archive_entry_set_pathname(entry, name)
        archive_entry_set_filetype(entry, UInt32(type))
        archive_entry_set_perm(entry, permissions)
        archive_entry_set_size(entry, size)
        archive_entry_set_mtime(entry, 0, 0)
        archive_entry_set_uid(entry, 0)
        archive_entry_set_gid(entry, 0)
        if archive_write_header(archive, entry) != ARCHIVE_OK { throw failure("write \(name)") }
    }

    private func write(_ chunk: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < chunk.count {
            let n = archive_write_data(archive, chunk.baseAddress! + offset, chunk.count - offset)
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    private func failure(_ what: String) -> ImageArchiveError {
        let code = archive_errno(archive)
        let reason = archive_error_string(archive).map { String(cString: $0) } ?? "error"
        return .io(SystemCallError("\(what) (\(reason))", errno: code > 0 ? code : EIO))
    }
}
