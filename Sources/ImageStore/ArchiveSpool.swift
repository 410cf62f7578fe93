import CArchive
import FoundationEssentials
import ImageReference
import Registry
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// One entry of an image archive: a regular file copied to the store's temporary area (hashed on
/// the way), or a symbolic link, recorded only so that naming it can be refused.
struct SpooledEntry {
    let name: String
    /// The copy; nil for a link.
    let path: String?
    let size: Int64
    /// The sha256 of the content; nil for a link.
    let digest: Digest?
}

/// An image archive read once, front to back (it may come from a pipe, and the entry that says
/// what is where often comes last): every regular file is copied under the store's temporary
/// directory and hashed, so blobs can later be checked and renamed into the store. Entries that
/// could be used to escape (absolute paths, "..", hard links, devices) refuse the whole archive.
final class ArchiveSpool {
    static let documentLimit: Int64 = 8 << 20

    let directory: String
    private(set) var entries: [String: SpooledEntry] = [:]

    private init(directory: String) { self.directory = directory }

    /// Reads the tar stream from `fd` (plain or compressed) into a new directory under `temporaryDirectory`.
    static func read(fd: FileDescriptor, source: String, temporaryDirectory: String) throws -> ArchiveSpool {
        let directory = temporaryDirectory + "/load-" + FileSystem.randomHex(bytes: 6)
        do { try systemCall("mkdir", on: directory) { mkdir(directory, 0o700) } } catch { throw ImageArchiveError.io(error) }
        let spool = ArchiveSpool(directory: directory)
        do {
            try spool.readEntries(fd: fd, source: source)
        } catch {
            spool.remove()
            throw error
        }
        return spool
    }

    func remove() { try? FileSystem.removeTree(directory) }

    private func readEntries(fd: FileDescriptor, source: String) throws {
        guard let archive = archive_read_new() else { throw ImageArchiveError.io(SystemCallError("archive_read_new", errno: ENOMEM)) }
        defer { archive_read_free(archive) }
        archive_read_support_format_tar(archive)
        for support in [archive_read_support_filter_none, archive_read_support_filter_gzip, archive_read_support_filter_bzip2,
                        archive_read_support_filter_xz, archive_read_support_filter_zstd] {
            _ = support(archive)
        }
        if archive_read_open_fd(archive, fd.rawValue, 1 << 16) != ARCHIVE_OK {
            throw ImageArchiveError.notATarArchive(source: source, reason: LayerUnpacker.archiveError(archive))
        }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 17, alignment: 16)
        defer { buffer.deallocate() }
        var entry: OpaquePointer?
        while true {
            let status = archive_read_next_header(archive, &entry)
            if status == ARCHIVE_EOF { break }
            if status < ARCHIVE_WARN {
                let reason = LayerUnpacker.archiveError(archive)
                if entries.isEmpty { throw ImageArchiveError.notATarArchive(source: source, reason: reason) }
                throw ImageArchiveError.damaged(source: source, reason: reason)
            }
            guard let entry, let rawName = archive_entry_pathname(entry) else { continue }
            let raw = String(cString: rawName)
            let name = try Self.normalize(raw)
            if archive_entry_hardlink(entry) != nil { throw ImageArchiveError.unsafeEntry(entry: raw, reason: "is a hard link") }
            switch archive_entry_filetype(entry) {
            case 0o040000:
                continue
            case 0o120000:
                // Never followed; Podman writes them for old readers next to the real files.
                try record(SpooledEntry(name: name, path: nil, size: 0, digest: nil))
            case 0o100000:
                try record(try copy(archive: archive, name: name, source: source, buffer: buffer))
            default:
                throw ImageArchiveError.unsafeEntry(entry: raw, reason: "is a device, FIFO or socket")
            }
        }
    }

    private func record(_ entry: SpooledEntry) throws {
        if entries[entry.name] != nil { throw ImageArchiveError.duplicateEntry(entry.name) }
        entries[entry.name] = entry
    }

    private func copy(archive: OpaquePointer, name: String, source: String, buffer: UnsafeMutableRawPointer) throws -> SpooledEntry {
        let path = directory + "/entry-\(entries.count)"
        let fd: FileDescriptor
        do { fd = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_EXCL, mode: 0o600) } catch { throw ImageArchiveError.io(error) }
        defer { fd.close() }
        let hasher = ContentHasher()
        var size: Int64 = 0
        while true {
            let n = archive_read_data(archive, buffer, 1 << 17)
            if n == 0 { break }
            if n < 0 { throw ImageArchiveError.damaged(source: source, reason: "\(name): " + LayerUnpacker.archiveError(archive)) }
            let chunk = UnsafeRawBufferPointer(start: buffer, count: n)
            hasher.update(chunk)
            do { try fd.writeAll(chunk) } catch { throw ImageArchiveError.io(error) }
            size += Int64(n)
        }
        return SpooledEntry(name: name, path: path, size: size, digest: hasher.finish())
    }

    /// An entry's path in clean form (`./a//b` → `a/b`); absolute paths and ".." are refused.
    static func normalize(_ raw: String) throws(ImageArchiveError) -> String {
        if raw.hasPrefix("/") { throw .unsafeEntry(entry: raw, reason: "has an absolute path") }
        var parts: [Substring] = []
        for part in raw.split(separator: "/", omittingEmptySubsequences: true) where part != "." {
            if part == ".." { throw .unsafeEntry(entry: raw, reason: "has \"..\" in its path") }
            parts.append(part)
        }
        if parts.isEmpty && !raw.isEmpty && raw.allSatisfy({ $0 == "." || $0 == "/" }) { return "." }
        if parts.isEmpty { throw .unsafeEntry(entry: raw, reason: "has an empty path") }
        return parts.joined(separator: "/")
    }

    /// The regular file that a document (`namedBy`) names; missing entries and links are refused.
    func file(_ rawName: String, namedBy: String) throws -> SpooledEntry {
        let name = try Self.normalize(rawName)
        guard let entry = entries[name] else { throw ImageArchiveError.missingEntry(rawName, namedBy: namedBy) }
        if entry.path == nil { throw ImageArchiveError.linkEntry(rawName, namedBy: namedBy) }
        return entry
    }

    /// The bytes of a JSON document the archive holds (at most 8 MiB).
    func document(_ entry: SpooledEntry) throws -> [UInt8] {
        guard let path = entry.path else { throw ImageArchiveError.linkEntry(entry.name, namedBy: "the archive") }
        if entry.size > Self.documentLimit { throw ImageArchiveError.documentTooLarge(entry.name, size: entry.size) }
        do { return try FileSystem.readFile(path, limit: Int(Self.documentLimit)) } catch { throw ImageArchiveError.io(error) }
    }

    func decode<T: Decodable>(_ type: T.Type, from entry: SpooledEntry) throws -> T {
        let bytes = try document(entry)
        do { return try JSONDecoder().decode(type, from: Data(bytes)) } catch {
            throw ImageArchiveError.invalidDocument(entry.name, reason: "it is not a valid \(T.self) JSON document")
        }
    }

    func has(_ name: String) -> Bool { entries[name] != nil }
}
