#if canImport(Glibc)
import Glibc
#endif

/// A file descriptor with its owner made visible: whoever holds it closes it once.
public struct FileDescriptor: Hashable, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let standardInput = FileDescriptor(rawValue: 0)
    public static let standardOutput = FileDescriptor(rawValue: 1)
    public static let standardError = FileDescriptor(rawValue: 2)

    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws(SystemCallError) -> FileDescriptor {
        let fd = try systemCall("open", on: path) { Glibc.open(path, flags | O_CLOEXEC, mode) }
        return FileDescriptor(rawValue: fd)
    }

    public static func open(_ path: String, relativeTo directory: FileDescriptor, _ flags: Int32, mode: mode_t = 0o644) throws(SystemCallError) -> FileDescriptor {
        let fd = try systemCall("openat", on: path) { Glibc.openat(directory.rawValue, path, flags | O_CLOEXEC, mode) }
        return FileDescriptor(rawValue: fd)
    }

    public func close() { _ = Glibc.close(rawValue) }

    /// Writes all of `bytes`, retrying short writes.
    public func writeAll(_ bytes: UnsafeRawBufferPointer) throws(SystemCallError) {
        var offset = 0
        while offset < bytes.count {
            let n = try systemCall("write") { Glibc.write(rawValue, bytes.baseAddress! + offset, bytes.count - offset) }
            offset += n
        }
    }

    public func writeAll(_ bytes: [UInt8]) throws(SystemCallError) {
        let failure: SystemCallError? = bytes.withUnsafeBytes { buffer in
            do throws(SystemCallError) { try writeAll(buffer); return Optional<SystemCallError>.none } catch { return Optional(error) }
        }
        if let failure { throw failure }
    }

    public func writeAll(_ text: String) throws(SystemCallError) {
        try writeAll(Array(text.utf8))
    }

    /// Reads to the end of file. A regular file is read into a buffer of its size (and a byte more, for
    /// the read that finds the end); anything else (a pipe, a /proc file) into one that doubles.
    public func readAll(limit: Int = .max) throws(SystemCallError) -> [UInt8] {
        var status = stat()
        let size = fstat(rawValue, &status) == 0 && status.st_mode & S_IFMT == S_IFREG ? Int(status.st_size) : 0
        var capacity = max(min(size, limit) + 1, 4096)
        var buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 1)
        defer { buffer.deallocate() }
        var count = 0
        while true {
            if count == capacity {
                let larger = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity * 2, alignment: 1)
                larger.copyMemory(from: UnsafeRawBufferPointer(buffer))
                buffer.deallocate()
                buffer = larger
                capacity *= 2
            }
            let start = buffer.baseAddress! + count
            let room = capacity - count
            let n = try systemCall("read") { Glibc.read(rawValue, start, room) }
            if n == 0 {
                let bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
                return [UInt8](unsafeUninitializedCapacity: count) { target, initialized in
                    if count > 0 { target.baseAddress!.initialize(from: bytes.bindMemory(to: UInt8.self).baseAddress!, count: count) }
                    initialized = count
                }
            }
            count += n
            if count > limit { throw SystemCallError("read", errno: EFBIG) }
        }
    }

    public func sync() throws(SystemCallError) {
        try systemCall("fsync") { Glibc.fsync(rawValue) }
    }

    public var isTerminal: Bool { isatty(rawValue) == 1 }
}
