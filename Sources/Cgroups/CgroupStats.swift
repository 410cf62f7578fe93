import SystemSupport

/// One reading of a container's cgroup (and its network namespace's counters).
public struct CgroupStats: Sendable, Equatable {
    /// cpu.stat usage_usec.
    public var cpuUsageMicroseconds: Int64 = 0
    /// memory.current; memory.max (nil: no limit).
    public var memoryCurrent: Int64 = 0
    public var memoryLimit: Int64?
    /// pids.current; pids.max (nil: no limit).
    public var pidsCurrent: Int64 = 0
    public var pidsLimit: Int64?
    /// io.stat rbytes and wbytes summed over devices.
    public var blockRead: Int64 = 0
    public var blockWritten: Int64 = 0
    /// /proc/PID/net/dev received and sent bytes, loopback excluded.
    public var networkReceived: Int64 = 0
    public var networkSent: Int64 = 0
    /// memory.events oom_kill.
    public var oomKills: Int64 = 0

    public init() {}

    /// Reads the cgroup's files; `pid` (the container's init) gives the network counters.
    public static func read(_ cgroup: ContainerCgroup, pid: ProcessID?) -> CgroupStats {
        let directory = cgroup.directory
        var stats = CgroupStats()
        stats.cpuUsageMicroseconds = CgroupFiles.keyedValues((try? FileSystem.readText(directory + "/cpu.stat")) ?? "")["usage_usec"] ?? 0
        stats.memoryCurrent = CgroupFiles.number(directory + "/memory.current") ?? 0
        stats.memoryLimit = CgroupFiles.number(directory + "/memory.max")
        stats.pidsCurrent = CgroupFiles.number(directory + "/pids.current") ?? 0
        stats.pidsLimit = CgroupFiles.number(directory + "/pids.max")
        (stats.blockRead, stats.blockWritten) = parseIOStat((try? FileSystem.readText(directory + "/io.stat")) ?? "")
        stats.oomKills = cgroup.oomKillCount
        if let pid {
            (stats.networkReceived, stats.networkSent) = parseNetDev((try? FileSystem.readText("/proc/\(pid.rawValue)/net/dev")) ?? "")
        }
        return stats
    }

    /// "8:0 rbytes=1 wbytes=2 rios=…" lines → total read and written bytes.
    static func parseIOStat(_ text: String) -> (Int64, Int64) {
        var read: Int64 = 0
        var written: Int64 = 0
        for line in text.split(separator: "\n") {
            for field in line.split(separator: " ") {
                if field.hasPrefix("rbytes=") { read += Int64(field.dropFirst(7)) ?? 0 }
                if field.hasPrefix("wbytes=") { written += Int64(field.dropFirst(7)) ?? 0 }
            }
        }
        return (read, written)
    }

    /// /proc/net/dev: "  eth0: RXBYTES packets … (8 receive fields) TXBYTES …" → sums without lo.
    static func parseNetDev(_ text: String) -> (Int64, Int64) {
        var received: Int64 = 0
        var sent: Int64 = 0
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].trimmingPrefix(while: { $0 == " " })
            if name == "lo" { continue }
            let fields = line[line.index(after: colon)...].split(separator: " ")
            guard fields.count >= 9 else { continue }
            received += Int64(fields[0]) ?? 0
            sent += Int64(fields[8]) ?? 0
        }
        return (received, sent)
    }
}

extension Substring {
    fileprivate func trimmingPrefix(while predicate: (Character) -> Bool) -> Substring {
        var result = self
        while let first = result.first, predicate(first) { result = result.dropFirst() }
        return result
    }
}
