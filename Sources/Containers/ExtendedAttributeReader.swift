import CArchive
import SystemSupport
#if canImport(Glibc)
    import Glibc
#endif

/// Reads the extended attributes of opened files, through libarchive's disk reader (it calls
/// flistxattr/fgetxattr on the descriptor; Swift's Glibc module has no xattr calls).
final class ExtendedAttributeReader {
    private let disk: OpaquePointer

    init() throws(SystemCallError) {
        guard let disk = archive_read_disk_new() else { throw SystemCallError("archive_read_disk_new", errno: ENOMEM) }
        self.disk = disk
        // Attributes only: no ACLs, no file flags, no sparse maps, no user or group names.
        archive_read_disk_set_behavior(disk, ARCHIVE_READDISK_NO_ACL | ARCHIVE_READDISK_NO_FFLAGS | ARCHIVE_READDISK_NO_SPARSE)
        archive_read_disk_set_symlink_physical(disk)
    }

    deinit { archive_read_free(disk) }

    /// Every attribute of the file `fd` has open (a regular file or a directory).
    func read(_ fd: FileDescriptor, info: stat) -> [(name: String, value: [UInt8])] {
        guard let entry = archive_entry_new() else { return [] }
        defer { archive_entry_free(entry) }
        archive_entry_set_pathname(entry, "/proc/self/fd/\(fd.rawValue)")
        var copy = info
        _ = archive_read_disk_entry_from_file(disk, entry, fd.rawValue, &copy)
        var result: [(name: String, value: [UInt8])] = []
        if archive_entry_xattr_reset(entry) == 0 { return result }
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        while archive_entry_xattr_next(entry, &name, &value, &size) == ARCHIVE_OK {
            guard let name else { continue }
            let bytes = value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
            result.append((String(cString: name), bytes))
        }
        return result
    }

    /// Whether a directory carries the overlay's opaque mark (`user.overlay.opaque` = "y").
    func isOpaque(_ directory: FileDescriptor) -> Bool {
        var info = stat()
        guard fstat(directory.rawValue, &info) == 0 else { return false }
        return read(directory, info: info).contains { $0.name == Self.opaqueAttribute && $0.value == [UInt8(ascii: "y")] }
    }

    static let opaqueAttribute = "user.overlay.opaque"

    /// The overlay's own attributes (opaque, origin, impure…), which say how a layer is stored,
    /// not what is in it.
    static func isOverlayBookkeeping(_ name: String) -> Bool {
        name.hasPrefix("user.overlay.") || name.hasPrefix("trusted.overlay.")
    }
}
