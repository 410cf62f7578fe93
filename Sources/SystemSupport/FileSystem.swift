import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// File operations swctr needs everywhere, as plain calls with typed errors.
public enum FileSystem {
    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(SystemCallError) {
        if isDirectory(path) { return }
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, mode) != 0 && errno != EEXIST {
                throw SystemCallError("mkdir", on: prefix)
            }
        }
    }

    public static func readFile(_ path: String, limit: Int = 64 << 20) throws(SystemCallError) -> [UInt8] {
        let fd = try FileDescriptor.open(path, O_RDONLY)
        defer { fd.close() }
        do { return try fd.readAll(limit: limit) } catch { throw SystemCallError("read", on: path, errno: error.errno) }
    }

    public static func readText(_ path: String) throws(SystemCallError) -> String {
        String(decoding: try readFile(path), as: UTF8.self)
    }

    /// Writes through a temp file in the same directory, fsyncs, then renames over `path`. With
    /// `durable: false` there is no fsync (about 0.4 ms on ext4): readers still see the old or the
    /// new content, but after a power cut the file may be empty. For what can be made again.
    public static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644, durable: Bool = true) throws(SystemCallError) {
        let temp = path + ".tmp-\(randomHex(bytes: 6))"
        let fd = try FileDescriptor.open(temp, O_WRONLY | O_CREAT | O_EXCL, mode: mode)
        do {
            try fd.writeAll(bytes)
            if durable { try fd.sync() }
            fd.close()
            try systemCall("rename", on: path) { rename(temp, path) }
        } catch {
            fd.close()
            unlink(temp)
            throw error
        }
    }

    /// Writes a file that must not exist yet (O_EXCL, not through a symlink), for files of a
    /// directory this process has just made: no temporary name and rename are needed there.
    /// `durable`: synced before it returns. A file left partly written is removed.
    public static func writeNew(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644, durable: Bool = false) throws(SystemCallError) {
        let fd = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: mode)
        do {
            try fd.writeAll(bytes)
            if durable { try fd.sync() }
            fd.close()
        } catch {
            fd.close()
            unlink(path)
            throw error
        }
    }

    /// Writes `bytes` as the whole content of `path`, made with `mode` if missing (never through a
    /// symlink). An existing file is overwritten and then cut to length rather than truncated
    /// first, so a rewrite of about the same size keeps its block (on ext4 without a journal,
    /// freeing a block can wait for a discard).
    public static func writeOver(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644, durable: Bool = false) throws(SystemCallError) {
        let fd = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_NOFOLLOW, mode: mode)
        defer { fd.close() }
        try systemCall("fchmod", on: path) { fchmod(fd.rawValue, mode) }
        try fd.writeAll(bytes)
        try systemCall("ftruncate", on: path) { ftruncate(fd.rawValue, off_t(bytes.count)) }
        if durable { try fd.sync() }
    }

    public static func writeAtomically(_ path: String, _ text: String, mode: mode_t = 0o644, durable: Bool = true) throws(SystemCallError) {
        try writeAtomically(path, Array(text.utf8), mode: mode, durable: durable)
    }

    public static func listDirectory(_ path: String) throws(SystemCallError) -> [String] {
        guard let dir = opendir(path) else { throw SystemCallError("opendir", on: path) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Removes a tree this user owns, making directories writable on the way where needed (overlay
    /// work directories are mode 000). Throws EPERM/EACCES for entries owned by other ids (files a
    /// container's subordinate users created): those need removal inside the user namespace.
    public static func removeTree(_ path: String) throws(SystemCallError) {
        var info = stat()
        if lstat(path, &info) != 0 {
            if errno == ENOENT { return }
            throw SystemCallError("lstat", on: path)
        }
        guard (info.st_mode & S_IFMT) == S_IFDIR else {
            try systemCall("unlink", on: path) { unlink(path) }
            return
        }
        if info.st_mode & 0o700 != 0o700 { _ = chmod(path, info.st_mode & 0o7777 | 0o700) }
        let directory = try systemCall("open", on: path) { open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        defer { close(directory) }
        try removeContents(of: directory, path: path)
        try systemCall("rmdir", on: path) { rmdir(path) }
    }

    /// Empties an open directory, entry by entry relative to it: the types come from the
    /// directory listing, so no entry is looked up by its whole path or stat'ed.
    private static func removeContents(of directory: Int32, path: String) throws(SystemCallError) {
        for (name, type) in try entries(of: directory, path: path) {
            let child = path + "/" + name
            var isDirectory = type == UInt8(DT_DIR)
            if type == UInt8(DT_UNKNOWN) {
                var info = stat()
                guard fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { throw SystemCallError("lstat", on: child) }
                isDirectory = (info.st_mode & S_IFMT) == S_IFDIR
            }
            if isDirectory {
                var fd = openat(directory, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                if fd < 0 && errno == EACCES && fchmodat(directory, name, 0o700, 0) == 0 {
                    fd = openat(directory, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                }
                guard fd >= 0 else { throw SystemCallError("open", on: child) }
                defer { close(fd) }
                try removeContents(of: fd, path: child)
                try systemCall("rmdir", on: child) { unlinkat(directory, name, AT_REMOVEDIR) }
            } else {
                try systemCall("unlink", on: child) { unlinkat(directory, name, 0) }
            }
        }
    }

    /// The names and types (DT_*) in an open directory, without "." and "..".
    private static func entries(of directory: Int32, path: String) throws(SystemCallError) -> [(String, UInt8)] {
        let copy = dup(directory)
        guard copy >= 0, let stream = fdopendir(copy) else {
            if copy >= 0 { close(copy) }
            throw SystemCallError("opendir", on: path)
        }
        defer { closedir(stream) }
        var result: [(String, UInt8)] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name != "." && name != ".." { result.append((name, entry.pointee.d_type)) }
        }
        return result
    }

    public static func randomHex(bytes count: Int) -> String {
        var buffer = [UInt8](repeating: 0, count: count)
        let filled = buffer.withUnsafeMutableBytes { swctr_getrandom($0.baseAddress, count) }
        if filled != count {
            var generator = SystemRandomNumberGenerator()
            for i in 0..<count { buffer[i] = UInt8.random(in: 0...255, using: &generator) }
        }
        return hex(buffer)
    }

    /// Lowercase hex of `bytes`, two digits each (built as ASCII: no Character work).
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0xf)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}

/// An exclusive advisory lock on a file, held until `unlock()`.
public struct FileLock {
    private let fd: FileDescriptor

    public static func acquire(_ path: String) throws(SystemCallError) -> FileLock {
        let fd = try FileDescriptor.open(path, O_RDWR | O_CREAT, mode: 0o600)
        do {
            try systemCall("flock", on: path) { flock(fd.rawValue, LOCK_EX) }
        } catch {
            fd.close()
            throw error
        }
        return FileLock(fd: fd)
    }

    public func unlock() { fd.close() }

    /// Takes a lock whose file the holder removes when done (`unlockAndRemove`), so no lock files
    /// pile up. A lock taken on a file that was removed meanwhile is taken again on the new file.
    public static func acquireRemovable(_ path: String) throws(SystemCallError) -> FileLock {
        while true {
            let lock = try acquire(path)
            var held = stat()
            var current = stat()
            if fstat(lock.fd.rawValue, &held) == 0, stat(path, &current) == 0, held.st_ino == current.st_ino, held.st_dev == current.st_dev {
                return lock
            }
            lock.unlock()
        }
    }

    /// `acquireRemovable` without waiting: nil when another process holds the lock.
    public static func tryAcquireRemovable(_ path: String) throws(SystemCallError) -> FileLock? {
        while true {
            let fd = try FileDescriptor.open(path, O_RDWR | O_CREAT, mode: 0o600)
            if flock(fd.rawValue, LOCK_EX | LOCK_NB) != 0 {
                let code = errno
                fd.close()
                if code == EWOULDBLOCK { return nil }
                throw SystemCallError("flock", on: path, errno: code)
            }
            var held = stat()
            var current = stat()
            if fstat(fd.rawValue, &held) == 0, stat(path, &current) == 0, held.st_ino == current.st_ino, held.st_dev == current.st_dev {
                return FileLock(fd: fd)
            }
            fd.close()
        }
    }

    /// Removes the lock file, then releases the lock (waiters then retry on a new file).
    public func unlockAndRemove(_ path: String) {
        unlink(path)
        fd.close()
    }
}

extension FileSystem {
    /// Bytes allocated under a path (files we cannot read are skipped).
    public static func diskUsage(_ path: String) -> Int64 {
        var info = stat()
        guard lstat(path, &info) == 0 else { return 0 }
        var total = Int64(info.st_blocks) * 512
        if (info.st_mode & S_IFMT) == S_IFDIR {
            for entry in (try? listDirectory(path)) ?? [] { total += diskUsage(path + "/" + entry) }
        }
        return total
    }
}

extension String {
    /// Without leading and trailing whitespace (spaces, tabs, newlines).
    public var trimmed: String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        return String(scalars[first...last])
    }
}

extension Array where Element == String {
    /// The strings one after the other, `separator` between them: what `joined(separator:)` gives,
    /// without its generic entry point. The standard library's is not inlinable, so a call from
    /// here goes through the collection's witness tables, and the first such call in a process
    /// makes the Swift runtime scan every protocol conformance record of the binary (about
    /// 0.06-0.1 ms, on the path of every `swctr run`).
    public func concatenated(separator: String = "") -> String {
        var result = ""
        var first = true
        for part in self {
            if !first { result += separator }
            result += part
            first = false
        }
        return result
    }
}

extension FileSystem {
    public static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return "." }
        return String(cString: buffer)
    }
}
