import FoundationEssentials
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

extension ContainerService {
    /// The log's entries (those at or after `since`, the last `tail` of them), then, with
    /// `follow`, new ones until the container stops. Returns the container's exit code.
    @discardableResult
    public func logs(_ record: ContainerRecord, since: Double? = nil, tail: Int? = nil, follow: Bool,
                     output: (LogEntry) -> Void) throws -> Int32 {
        let reader = LogReader(path: context.directory(of: record.id).logPath)
        var entries = reader.readAvailable()
        if let since { entries = entries.filter { (Timestamp.parse($0.time) ?? 0) >= since } }
        if let tail { entries = Array(entries.suffix(max(0, tail))) }
        entries.forEach(output)
        if follow {
            reader.follow(keepGoing: { context.isHeld(record) }) { $0.forEach(output) }
        }
        return (try database.get(id: record.id)?.exitCode) ?? 0
    }

    /// For `start -a`: the output from the start, until the container stops.
    public func followLogs(_ record: ContainerRecord, fromStart: Bool, output: (LogEntry) -> Void) throws -> Int32 {
        let started = record.started ?? 0
        return try logs(record, since: fromStart ? started - 0.001 : nil, follow: true, output: output)
    }

    /// Processes in the container's pid namespace, from /proc (host view): pid, ppid, uid, time, command.
    public func processes(_ record: ContainerRecord) throws -> [(pid: Int32, ppid: Int32, uid: UInt32, seconds: Double, command: String)] {
        guard record.status == .running, let pid = record.pid else { throw ContainerError.notRunning(record.name) }
        var target = stat()
        guard stat("/proc/\(pid)/ns/pid", &target) == 0 else { throw ContainerError.notRunning(record.name) }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        // Owners as the container sees them: host uids through the container's uid_map.
        let map = ((try? FileSystem.readText("/proc/\(pid)/uid_map")) ?? "").split(separator: "\n").compactMap { line -> (UInt32, UInt32, UInt32)? in
            let fields = line.split(separator: " ").compactMap { UInt32($0) }
            return fields.count == 3 ? (fields[0], fields[1], fields[2]) : nil
        }
        func insideUID(_ host: UInt32) -> UInt32 {
            for (inside, outside, count) in map where host >= outside && host - outside < count { return inside + (host - outside) }
            return 65534
        }
        var result: [(pid: Int32, ppid: Int32, uid: UInt32, seconds: Double, command: String)] = []
        for entry in (try? FileSystem.listDirectory("/proc")) ?? [] {
            guard let candidate = Int32(entry) else { continue }
            var namespace = stat()
            guard stat("/proc/\(candidate)/ns/pid", &namespace) == 0, namespace.st_ino == target.st_ino, namespace.st_dev == target.st_dev else { continue }
            guard let statText = try? FileSystem.readText("/proc/\(candidate)/stat"),
                  let close = statText.lastIndex(of: ")") else { continue }
            let fields = statText[statText.index(after: close)...].split(separator: " ")
            let ppid = fields.count > 1 ? Int32(fields[1]) ?? 0 : 0
            let cpu = fields.count > 12 ? (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0) : 0
            var owner = stat()
            _ = stat("/proc/\(candidate)", &owner)
            let commandLine = (try? FileSystem.readFile("/proc/\(candidate)/cmdline")) ?? []
            var command = String(decoding: commandLine.map { $0 == 0 ? 32 : $0 }, as: UTF8.self).trimmed
            if command.isEmpty, let open = statText.firstIndex(of: "(") {
                command = "[" + statText[statText.index(after: open)..<close] + "]"
            }
            result.append((candidate, ppid, insideUID(owner.st_uid), cpu / ticks, command))
        }
        return result.sorted { $0.pid < $1.pid }
    }

    /// Removes every container that is not running; returns their ids.
    public func prune() throws -> [String] {
        var removed: [String] = []
        for record in try list() where record.status == .created || record.status == .exited {
            do {
                try remove(record.id, force: false)
                removed.append(record.id)
            } catch ContainerError.busy { continue }
        }
        return removed
    }

    /// Bytes a container's directory uses (its writable layer and log).
    public func diskUsage(_ record: ContainerRecord) -> Int64 {
        FileSystem.diskUsage(context.directory(of: record.id).path)
    }
}
