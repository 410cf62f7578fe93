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

    /// Reads until end of file.
    public func readAll(limit: Int = .max) throws(SystemCallError) -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = try systemCall("read") { chunk.withUnsafeMutableBytes { Glibc.read(rawValue, $0.baseAddress, $0.count) } }
            if n == 0 { return result }
            result.append(contentsOf: chunk[0..<n])
            if result.count > limit { throw SystemCallError("read", errno: EFBIG) }
        }
    }

    public func sync() throws(SystemCallError) {
        try systemCall("fsync") { Glibc.fsync(rawValue) }
    }

    public var isTerminal: Bool { isatty(rawValue) == 1 }
}
