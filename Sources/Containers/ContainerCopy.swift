import CArchive
import CLinux
import FoundationEssentials
import Runtime
import RuntimeSpec
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

public enum CopyError: Error, UserFacingError {
    case archive(String)
    case badPath(String)

    /// The reason alone (what the copy role reports to its parent).
    var reason: String {
        if case .archive(let reason) = self { return reason }
        return userMessage
    }

    public var userMessage: String {
        switch self {
        case .archive(let reason): return "copy failed: \(reason)"
        case .badPath(let path): return "\"\(path)\": give CONTAINER:PATH on exactly one side, with an absolute path inside the container"
        }
    }
}

/// Files as tar streams (libarchive): what `swctr cp` carries between the host and a container.
/// The sending side names entries after the source's last component; the receiving side renames
/// that first component to the destination's, as `docker cp` does when the destination is new.
enum TarStream {
    /// Writes `path` (a file or a tree, symlinks not followed) to `fd` as a tar stream.
    static func write(path: String, to fd: Int32) throws(CopyError) {
        guard let writer = archive_write_new(), let disk = archive_read_disk_new() else { throw .archive("libarchive could not start") }
        defer { archive_write_free(writer); archive_read_free(disk) }
        archive_write_set_format_pax_restricted(writer)
        guard archive_write_open_fd(writer, fd) == ARCHIVE_OK else { throw .archive(message(writer)) }
        archive_read_disk_set_symlink_physical(disk)
        archive_read_disk_set_standard_lookup(disk)
        let trimmed = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        guard archive_read_disk_open(disk, trimmed) == ARCHIVE_OK else { throw .archive(message(disk)) }
        let parentLength = trimmed == "/" ? 0 : (trimmed.lastIndex(of: "/").map { trimmed.distance(from: trimmed.startIndex, to: $0) + 1 } ?? 0)
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            guard let entry = archive_entry_new() else { throw .archive("out of memory") }
            defer { archive_entry_free(entry) }
            let status = archive_read_next_header2(disk, entry)
            if status == ARCHIVE_EOF { break }
            guard status == ARCHIVE_OK || status == ARCHIVE_WARN else { throw .archive(message(disk)) }
            archive_read_disk_descend(disk)
            guard let raw = archive_entry_pathname(entry) else { continue }
            var name = String(String(cString: raw).dropFirst(parentLength))
            if name.isEmpty { name = "." }
            archive_entry_set_pathname(entry, name)
            guard archive_write_header(writer, entry) == ARCHIVE_OK else { throw .archive(message(writer)) }
            if archive_entry_filetype(entry) == 0o100000 {
                while true {
                    let n = archive_read_data(disk, &buffer, buffer.count)
                    if n == 0 { break }
                    guard n > 0 else { throw .archive(message(disk)) }
                    guard archive_write_data(writer, buffer, n) == n else { throw .archive(message(writer)) }
                }
            }
        }
        guard archive_write_close(writer) == ARCHIVE_OK else { throw .archive(message(writer)) }
    }

    /// Reads a tar stream from `fd` into `destination`: into it when it is an existing directory,
    /// else as that new name. Refuses entries that climb out (`..`, absolute names, symlinks).
    static func extract(from fd: Int32, to destination: String, keepOwners: Bool) throws(CopyError) {
        var info = stat()
        let intoDirectory = stat(destination, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
        let directory = intoDirectory ? destination : (destination.lastIndex(of: "/").map { String(destination[..<$0]) } ?? ".")
        let newName: String? = intoDirectory ? nil : String(destination.split(separator: "/").last ?? "")
        guard chdir(directory.isEmpty ? "/" : directory) == 0 else { throw .archive("cannot enter \(directory): \(String(cString: strerror(errno)))") }
        guard let reader = archive_read_new(), let writer = archive_write_disk_new() else { throw .archive("libarchive could not start") }
        defer { archive_read_free(reader); archive_write_free(writer) }
        archive_read_support_format_tar(reader)
        var flags = ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT
            | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS | ARCHIVE_EXTRACT_UNLINK
        if keepOwners { flags |= ARCHIVE_EXTRACT_OWNER }
        archive_write_disk_set_options(writer, flags)
        guard archive_read_open_fd(reader, fd, 65536) == ARCHIVE_OK else { throw .archive(message(reader)) }
        var entry: OpaquePointer?
        var first: String?
        func rename(_ name: String) -> String {
            guard let newName, let first else { return name }
            if name == first { return newName }
            if name.hasPrefix(first + "/") { return newName + name.dropFirst(first.count) }
            return name
        }
        while true {
            let status = archive_read_next_header(reader, &entry)
            if status == ARCHIVE_EOF { break }
            guard status == ARCHIVE_OK || status == ARCHIVE_WARN, let entry else { throw .archive(message(reader)) }
            guard let raw = archive_entry_pathname(entry) else { continue }
            let name = String(cString: raw)
            if first == nil { first = name.split(separator: "/").first.map(String.init) ?? name }
            archive_entry_set_pathname(entry, rename(name))
            if let link = archive_entry_hardlink(entry) { archive_entry_set_hardlink(entry, rename(String(cString: link))) }
            let written = archive_write_header(writer, entry)
            guard written == ARCHIVE_OK || written == ARCHIVE_WARN else { throw .archive(message(writer)) }
            var block: UnsafeRawPointer?
            var size = 0
            var offset: la_int64_t = 0
            while true {
                let read = archive_read_data_block(reader, &block, &size, &offset)
                if read == ARCHIVE_EOF { break }
                guard read == ARCHIVE_OK else { throw .archive(message(reader)) }
                guard archive_write_data_block(writer, block, size, offset) == ARCHIVE_OK else { throw .archive(message(writer)) }
            }
            archive_write_finish_entry(writer)
        }
        guard archive_write_close(writer) == ARCHIVE_OK else { throw .archive(message(writer)) }
    }

    static func message(_ archive: OpaquePointer) -> String {
        archive_error_string(archive).map { String(cString: $0) } ?? "unknown archive error"
    }
}

/// The `cp` role: inside the container's user and mount namespaces (joined when it runs; made,
/// with its root filesystem mounted, when it does not), rooted in the container's filesystem,
/// it writes a path as tar to stdout (`out`) or extracts tar from stdin into a path (`in`).
public enum ContainerCopyRole {
    public static let roleName = "__cp"

    public static func main(arguments: [String]) -> Never {
        guard let channel = RoleChannel.current else { _exit(125) }
        guard arguments.count == 3 else { channel.fail("bad arguments to \(roleName)") }
        let (direction, path, specPath) = (arguments[0], arguments[1], arguments[2])
        var root = "/"
        if !specPath.isEmpty {
            guard let spec = try? JSONDecoder().decode(ContainerSpec.self, from: Data(FileSystem.readFile(specPath))) else {
                channel.fail("read the container spec \(specPath)")
            }
            do {
                _ = Glibc.mount(nil, "/", nil, UInt(MS_REC | MS_PRIVATE), nil)
                try ContainerInit.mountOverlay(spec.rootfs)
            } catch {
                channel.fail(error.description)
            }
            root = spec.rootfs.mountPoint
        }
        guard chroot(root) == 0, chdir("/") == 0 else { channel.fail("enter the container's root \(root)", errno: errno) }
        do {
            if direction == "out" {
                var info = stat()
                guard lstat(path, &info) == 0 else { channel.fail("no such file or directory in the container: \(path)") }
                try TarStream.write(path: path, to: 1)
            } else {
                try TarStream.extract(from: 0, to: path, keepOwners: false)
            }
        } catch {
            channel.fail(error.reason)
        }
        _exit(0)
    }
}

extension ContainerService {
    /// `swctr cp`: one side is `CONTAINER:PATH`, the other a host path (`-` is not supported).
    public func copy(from source: String, to destination: String) throws {
        Glibc.signal(SIGPIPE, SIG_IGN)
        let sourceParts = Self.splitContainerPath(source)
        let destinationParts = Self.splitContainerPath(destination)
        switch (sourceParts, destinationParts) {
        case (let (container, path)?, nil):
            try copyOut(container: container, path: path, hostDestination: destination)
        case (nil, let (container, path)?):
            try copyIn(hostSource: source, container: container, path: path)
        default:
            throw CopyError.badPath(sourceParts == nil ? source : destination)
        }
    }

    static func splitContainerPath(_ text: String) -> (String, String)? {
        guard !text.hasPrefix("/"), !text.hasPrefix("."), let colon = text.firstIndex(of: ":") else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }

    private func startCopyRole(_ record: ContainerRecord, direction: String, path: String, stdio: [Int32: FileDescriptor]) throws -> NamespacedProcess {
        guard path.hasPrefix("/") else { throw CopyError.badPath(path) }
        if record.status == .running, let pid = record.pid {
            return try NamespacedProcess.start(arguments: [ContainerCopyRole.roleName, direction, path, ""], environment: [],
                                               namespaces: [.user, .mount], idMaps: context.idMaps, stdio: stdio, joining: ProcessID(rawValue: pid))
        }
        return try NamespacedProcess.start(arguments: [ContainerCopyRole.roleName, direction, path, context.directory(of: record.id).specPath],
                                           environment: [], namespaces: [.user, .mount], idMaps: try context.idMaps(for: record), stdio: stdio)
    }

    private func finish(_ process: NamespacedProcess, streamError: Error?) throws {
        var reported: Error?
        do { try process.waitForExec() } catch { reported = error }
        let status = (try? ChildProcess.wait(process.pid)) ?? .exited(1)
        if let reported {
            if case RuntimeError.initFailed(let step, _) = reported { throw CopyError.archive(step) }
            throw reported
        }
        if let streamError { throw streamError }
        if status != .exited(0) { throw CopyError.archive("the copy ended with \(status)") }
    }

    private func pipePair() throws -> (read: FileDescriptor, write: FileDescriptor) {
        var ends: [Int32] = [0, 0]
        try systemCall("pipe2") { swctr_pipe2(&ends, O_CLOEXEC) }
        return (FileDescriptor(rawValue: ends[0]), FileDescriptor(rawValue: ends[1]))
    }

    private func copyOut(container: String, path: String, hostDestination: String) throws {
        let record = try find(container)
        let pipe = try pipePair()
        let process: NamespacedProcess
        do { process = try startCopyRole(record, direction: "out", path: path, stdio: [1: pipe.write]) } catch {
            pipe.read.close(); pipe.write.close()
            throw error
        }
        pipe.write.close()
        let absolute = hostDestination.hasPrefix("/") ? hostDestination : FileSystem.currentDirectory() + "/" + hostDestination
        var streamError: Error?
        do { try TarStream.extract(from: pipe.read.rawValue, to: absolute, keepOwners: false) } catch { streamError = error }
        pipe.read.close()
        try finish(process, streamError: streamError)
    }

    private func copyIn(hostSource: String, container: String, path: String) throws {
        let record = try find(container)
        var info = stat()
        guard lstat(hostSource, &info) == 0 else { throw CopyError.archive("no such file or directory: \(hostSource)") }
        let pipe = try pipePair()
        let process: NamespacedProcess
        do { process = try startCopyRole(record, direction: "in", path: path, stdio: [0: pipe.read]) } catch {
            pipe.read.close(); pipe.write.close()
            throw error
        }
        pipe.read.close()
        var streamError: Error?
        do { try TarStream.write(path: hostSource, to: pipe.write.rawValue) } catch { streamError = error }
        pipe.write.close()
        try finish(process, streamError: streamError)
    }
}
