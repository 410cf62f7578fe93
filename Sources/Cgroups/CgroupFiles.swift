import SystemSupport
#if canImport(Glibc)
    import Glibc
#endif

/// Reads and writes of cgroup interface files: one write(2) per value, as the kernel wants.
enum CgroupFiles {
    static func write(_ path: String, _ value: String) throws(CgroupError) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .file(SystemCallError("open", on: path)) }
        defer { close(fd) }
        let bytes = Array(value.utf8)
        var written = 0
        repeat { written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } } while written < 0 && errno == EINTR
        guard written == bytes.count else { throw .file(SystemCallError("write \"\(value)\" to", on: path)) }
    }

    static func read(_ path: String) throws(CgroupError) -> String {
        do { return try FileSystem.readText(path) } catch { throw .file(error) }
    }

    /// "key value" lines (cpu.stat, memory.events, memory.stat, cgroup.events).
    static func keyedValues(_ text: String) -> [String: Int64] {
        var values: [String: Int64] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let number = Int64(parts[1]) { values[String(parts[0])] = number }
        }
        return values
    }

    /// A single number, or nil for "max" (or an unreadable file).
    static func number(_ path: String) -> Int64? {
        guard let text = try? FileSystem.readText(path) else { return nil }
        return Int64(text.trimmingWhitespace())
    }

    static func makeDirectory(_ path: String) throws(CgroupError) {
        if mkdir(path, 0o755) != 0 && errno != EEXIST { throw .file(SystemCallError("mkdir", on: path)) }
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while let last = scalars.last, last == "\n" || last == " " || last == "\t" { scalars = scalars.dropLast() }
        while let first = scalars.first, first == "\n" || first == " " || first == "\t" { scalars = scalars.dropFirst() }
        return String(scalars)
    }
}

/// Monotonic time for the short bounded waits here (freezing, removing).
enum MonotonicClock {
    static var now: Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    static func sleep(_ seconds: Double) {
        var spec = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
        var remaining = timespec()
        while nanosleep(&spec, &remaining) != 0 && errno == EINTR { spec = remaining }
    }
}
