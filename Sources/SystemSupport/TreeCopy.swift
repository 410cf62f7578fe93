import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// Copies a directory tree between two open directories, keeping modes, owners, times and
/// symlinks (what `cp -a` keeps, less hard links and device nodes). Never follows a symlink:
/// every step is relative to a directory fd, with O_NOFOLLOW.
public enum TreeCopy {
    /// Copies the entries of `source` into `destination` (both directories, already open).
    public static func copyContents(from source: Int32, to destination: Int32) throws(SystemCallError) {
        guard let stream = fdopendir(dup(source)) else { throw SystemCallError("fdopendir", errno: errno) }
        defer { closedir(stream) }
        rewinddir(stream)
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            try copyEntry(name, from: source, to: destination)
        }
    }

    /// Gives `destination` the mode, owner and times of `source`.
    public static func copyAttributes(of source: Int32, to destination: Int32) {
        var info = stat()
        guard fstat(source, &info) == 0 else { return }
        _ = fchown(destination, info.st_uid, info.st_gid)
        _ = fchmod(destination, info.st_mode & 0o7777)
    }

    private static func copyEntry(_ name: String, from source: Int32, to destination: Int32) throws(SystemCallError) {
        var info = stat()
        guard fstatat(source, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { throw SystemCallError("stat", on: name, errno: errno) }
        let mode = info.st_mode & 0o7777
        var times = [info.st_atim, info.st_mtim]
        switch info.st_mode & S_IFMT {
        case S_IFDIR:
            if mkdirat(destination, name, 0o700) != 0 && errno != EEXIST { throw SystemCallError("mkdir", on: name, errno: errno) }
            let from = openat(source, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard from >= 0 else { throw SystemCallError("open", on: name, errno: errno) }
            defer { close(from) }
            let to = openat(destination, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard to >= 0 else { throw SystemCallError("open", on: name, errno: errno) }
            defer { close(to) }
            try copyContents(from: from, to: to)
            _ = fchown(to, info.st_uid, info.st_gid)
            _ = fchmod(to, mode)
            _ = futimens(to, &times)
        case S_IFREG:
            let from = openat(source, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            guard from >= 0 else { throw SystemCallError("open", on: name, errno: errno) }
            defer { close(from) }
            let to = openat(destination, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard to >= 0 else { throw SystemCallError("create", on: name, errno: errno) }
            defer { close(to) }
            var remaining = Int(info.st_size)
            while remaining > 0 {
                let copied = swctr_copy_file_range(from, to, remaining)
                if copied < 0 && errno == EINTR { continue }
                if copied <= 0 {
                    if copied < 0 && errno != EXDEV && errno != ENOSYS && errno != EINVAL { throw SystemCallError("copy", on: name, errno: errno) }
                    try copyByReading(from, to, name: name)
                    break
                }
                remaining -= copied
            }
            _ = fchown(to, info.st_uid, info.st_gid)
            _ = fchmod(to, mode)
            _ = futimens(to, &times)
        case S_IFLNK:
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let length = readlinkat(source, name, &buffer, buffer.count - 1)
            guard length >= 0 else { throw SystemCallError("readlink", on: name, errno: errno) }
            buffer[length] = 0
            if symlinkat(buffer, destination, name) != 0 { throw SystemCallError("symlink", on: name, errno: errno) }
            _ = fchownat(destination, name, info.st_uid, info.st_gid, AT_SYMLINK_NOFOLLOW)
            _ = utimensat(destination, name, &times, AT_SYMLINK_NOFOLLOW)
        case S_IFIFO:
            if mkfifoat(destination, name, mode) == 0 {
                _ = fchownat(destination, name, info.st_uid, info.st_gid, AT_SYMLINK_NOFOLLOW)
            }
        default:
            break  // device nodes and sockets cannot be made (or make no sense) here
        }
    }

    private static func copyByReading(_ from: Int32, _ to: Int32, name: String) throws(SystemCallError) {
        _ = lseek(from, 0, SEEK_SET)
        _ = lseek(to, 0, SEEK_SET)
        _ = ftruncate(to, 0)
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = read(from, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            if count < 0 { throw SystemCallError("read", on: name, errno: errno) }
            if count == 0 { return }
            var offset = 0
            while offset < count {
                let written = buffer[offset..<count].withUnsafeBytes { write(to, $0.baseAddress, $0.count) }
                if written < 0 && errno == EINTR { continue }
                if written < 0 { throw SystemCallError("write", on: name, errno: errno) }
                offset += written
            }
        }
    }
}
