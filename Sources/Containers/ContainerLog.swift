import FoundationEssentials
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// One line of a container's log, in Docker's json-file format:
/// `{"log":"text\n","stream":"stdout","time":"2026-11-24T10:00:00.123456789Z"}`, one per line.
/// A line cut because it was too long (or the process ended mid-line) has no trailing "\n".
public struct LogEntry: Codable, Sendable, Equatable {
    public var log: String
    public var stream: String
    public var time: String

    public init(log: String, stream: String, time: String) {
        self.log = log
        self.stream = stream
        self.time = time
    }
}

/// Appends a container's output to its log, a line at a time, rotating to `PATH.1` when the file
/// passes `maxSize` bytes (one rotated file is kept, as Docker's json-file with max-file=2).
public final class LogWriter {
    public let path: String
    let maxSize: Int64
    private var fd: FileDescriptor
    private var size: Int64
    private var pending: [String: [UInt8]] = [:]
    static let longestLine = 16 * 1024

    public init(path: String, maxSize: Int64) throws(SystemCallError) {
        self.path = path
        self.maxSize = maxSize
        fd = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_APPEND, mode: 0o600)
        var info = stat()
        size = fstat(fd.rawValue, &info) == 0 ? Int64(info.st_size) : 0
    }

    deinit { fd.close() }

    /// Adds output of `stream` ("stdout"/"stderr"); whole lines are written at once.
    public func append(_ bytes: ArraySlice<UInt8>, stream: String) {
        var buffer = pending[stream, default: []]
        buffer.append(contentsOf: bytes)
        var start = 0
        var output: [UInt8] = []
        for index in buffer.indices where buffer[index] == UInt8(ascii: "\n") {
            output += Self.encode(buffer[start...index], stream: stream)
            start = index + 1
        }
        buffer.removeFirst(start)
        while buffer.count >= Self.longestLine {
            output += Self.encode(buffer[0..<Self.longestLine], stream: stream)
            buffer.removeFirst(Self.longestLine)
        }
        pending[stream] = buffer
        write(output)
    }

    /// Writes any unfinished lines (when the process ends).
    public func flush() {
        var output: [UInt8] = []
        for (stream, buffer) in pending.sorted(by: { $0.key < $1.key }) where !buffer.isEmpty {
            output += Self.encode(buffer[...], stream: stream)
        }
        pending = [:]
        write(output)
    }

    private func write(_ output: [UInt8]) {
        guard !output.isEmpty else { return }
        try? fd.writeAll(output)
        size += Int64(output.count)
        if maxSize > 0 && size >= maxSize { rotate() }
    }

    private func rotate() {
        guard rename(path, path + ".1") == 0,
              let reopened = try? FileDescriptor.open(path, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC, mode: 0o600) else { return }
        fd.close()
        fd = reopened
        size = 0
    }

    static func encode(_ line: ArraySlice<UInt8>, stream: String) -> [UInt8] {
        var out = Array("{\"log\":\"".utf8)
        out.reserveCapacity(line.count + 80)
        let text = String(decoding: line, as: UTF8.self)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += [0x5c, 0x22]
            case "\\": out += [0x5c, 0x5c]
            case "\n": out += [0x5c, 0x6e]
            case "\r": out += [0x5c, 0x72]
            case "\t": out += [0x5c, 0x74]
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += Array(("\\u" + String(repeating: "0", count: 4 - hex.count) + hex).utf8)
                } else {
                    out += Array(String(scalar).utf8)
                }
            }
        }
        out += Array("\",\"stream\":\"\(stream)\",\"time\":\"\(Timestamp.rfc3339(Timestamp.now))\"}\n".utf8)
        return out
    }
}

/// Reads a container's log from the beginning (the rotated file first), then follows it as it
/// grows and rotates.
public final class LogReader {
    public let path: String
    private var fd: Int32 = -1
    private var inode: ino_t = 0
    private var carry: [UInt8] = []
    private var buffer = [UInt8](repeating: 0, count: 65536)

    public init(path: String) { self.path = path }

    deinit { if fd >= 0 { close(fd) } }

    /// Everything written so far (on the first call, the rotated file's entries too).
    public func readAvailable() -> [LogEntry] {
        var result: [LogEntry] = []
        if fd < 0 {
            if let bytes = try? FileSystem.readFile(path + ".1", limit: 1 << 30) { result += Self.decode(bytes[...]).entries }
            openCurrent()
        }
        result += readCurrent()
        // Rotated since we opened it: finish the old file, then start on the new one.
        var current = stat()
        if stat(path, &current) == 0 && current.st_ino != inode {
            openCurrent()
            result += readCurrent()
        }
        return result
    }

    private func openCurrent() {
        if fd >= 0 { close(fd) }
        fd = open(path, O_RDONLY | O_CLOEXEC)
        var info = stat()
        inode = fd >= 0 && fstat(fd, &info) == 0 ? info.st_ino : 0
        carry = []
    }

    private func readCurrent() -> [LogEntry] {
        guard fd >= 0 else { return [] }
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            carry += buffer[0..<n]
        }
        let (entries, used) = Self.decode(carry[...])
        carry.removeFirst(used)
        return entries
    }

    /// Delivers new entries as they are written until `keepGoing` returns false (asked only when
    /// there is nothing new; one last read follows).
    public func follow(keepGoing: () -> Bool, deliver: ([LogEntry]) -> Void) {
        while true {
            let entries = readAvailable()
            if !entries.isEmpty {
                deliver(entries)
                continue
            }
            if !keepGoing() {
                let last = readAvailable()
                if !last.isEmpty { deliver(last) }
                return
            }
            MonotonicClock.sleep(0.02)
        }
    }

    /// Decodes whole lines; returns how many bytes it used (a trailing partial line is left).
    static func decode(_ bytes: ArraySlice<UInt8>) -> (entries: [LogEntry], used: Int) {
        var entries: [LogEntry] = []
        var start = bytes.startIndex
        let decoder = JSONDecoder()
        for index in bytes.indices where bytes[index] == UInt8(ascii: "\n") {
            if let entry = try? decoder.decode(LogEntry.self, from: Data(bytes[start..<index])) { entries.append(entry) }
            start = index + 1
        }
        return (entries, start - bytes.startIndex)
    }
}
