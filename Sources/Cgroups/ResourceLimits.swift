/// The resource flags of `run`/`create`/`update`, as the values cgroup v2 files take. Persisted
/// with the container's settings (Codable), so a restart applies them again.
public struct ResourceLimits: Codable, Sendable, Equatable {
    /// `--memory`: memory.max, bytes.
    public var memory: Int64?
    /// `--memory-swap`: memory plus swap, bytes, as Docker counts it (-1: unlimited swap).
    public var memorySwap: Int64?
    /// `--memory-reservation`: memory.low, bytes.
    public var memoryReservation: Int64?
    /// `--cpus`: the quota in microseconds per `cpuPeriod`.
    public var cpuQuota: Int64?
    /// `--cpu-shares` (converted) or `--cpu-weight`: cpu.weight, 1-10000.
    public var cpuWeight: Int?
    /// `--cpuset-cpus`: cpuset.cpus ("0-1", "0,2").
    public var cpusetCpus: String?
    /// `--pids-limit`: pids.max (nil: unset; -1 or 0: unlimited).
    public var pidsLimit: Int64?
    /// `--oom-score-adj`: written to the init's /proc/PID/oom_score_adj (no cgroup needed).
    public var oomScoreAdjustment: Int?

    public static let cpuPeriod: Int64 = 100_000

    public init() {}

    public var isEmpty: Bool { self == ResourceLimits() }

    /// Each given flag and the controller it needs.
    public var requirements: [(flag: String, controller: CgroupController)] {
        var needed: [(String, CgroupController)] = []
        if memory != nil { needed.append(("--memory", .memory)) }
        if memorySwap != nil { needed.append(("--memory-swap", .memory)) }
        if memoryReservation != nil { needed.append(("--memory-reservation", .memory)) }
        if cpuQuota != nil { needed.append(("--cpus", .cpu)) }
        if cpuWeight != nil { needed.append(("--cpu-shares/--cpu-weight", .cpu)) }
        if cpusetCpus != nil { needed.append(("--cpuset-cpus", .cpuset)) }
        if pidsLimit != nil { needed.append(("--pids-limit", .pids)) }
        return needed
    }

    /// The given values over these (for `update`).
    public func merged(with other: ResourceLimits) -> ResourceLimits {
        var result = self
        if let value = other.memory { result.memory = value }
        if let value = other.memorySwap { result.memorySwap = value }
        if let value = other.memoryReservation { result.memoryReservation = value }
        if let value = other.cpuQuota { result.cpuQuota = value }
        if let value = other.cpuWeight { result.cpuWeight = value }
        if let value = other.cpusetCpus { result.cpusetCpus = value }
        if let value = other.pidsLimit { result.pidsLimit = value }
        if let value = other.oomScoreAdjustment { result.oomScoreAdjustment = value }
        return result
    }

    /// The cgroup files and values these limits set, in an order the kernel accepts
    /// (memory.max before memory.swap.max).
    public var fileValues: [(file: String, value: String)] {
        var values: [(String, String)] = []
        if let cpusetCpus { values.append(("cpuset.cpus", cpusetCpus)) }
        if let memory { values.append(("memory.max", String(memory))) }
        if let memoryReservation { values.append(("memory.low", String(memoryReservation))) }
        if let memorySwap {
            if memorySwap < 0 {
                values.append(("memory.swap.max", "max"))
            } else if let memory {
                values.append(("memory.swap.max", String(max(0, memorySwap - memory))))
            }
        } else if let memory {
            // Docker's default: as much swap as memory.
            values.append(("memory.swap.max", String(memory)))
        }
        if let cpuQuota { values.append(("cpu.max", "\(cpuQuota) \(Self.cpuPeriod)")) }
        if let cpuWeight { values.append(("cpu.weight", String(cpuWeight))) }
        if let pidsLimit { values.append(("pids.max", pidsLimit <= 0 ? "max" : String(pidsLimit))) }
        return values
    }
}

/// Parsing of the flags' spellings, as Docker and Podman accept them.
extension ResourceLimits {
    /// "64m", "1g", "512k", "1048576", "100b" → bytes; nil when not a size.
    public static func parseBytes(_ text: String) -> Int64? {
        let lower = text.lowercased()
        let units: [(String, Int64)] = [("kb", 1 << 10), ("mb", 1 << 20), ("gb", 1 << 30), ("k", 1 << 10), ("m", 1 << 20), ("g", 1 << 30), ("b", 1)]
        for (suffix, factor) in units where lower.hasSuffix(suffix) {
            guard let number = Int64(lower.dropLast(suffix.count)), number >= 0 else { return nil }
            let (product, overflow) = number.multipliedReportingOverflow(by: factor)
            return overflow ? nil : product
        }
        guard let number = Int64(lower), number >= 0 else { return nil }
        return number
    }

    public mutating func setMemory(_ text: String) throws(CgroupError) {
        guard let bytes = Self.parseBytes(text), bytes >= 6 << 20 else {
            throw .invalidValue(flag: "--memory", value: text, expected: "give a size of at least 6m, such as 64m or 1g")
        }
        memory = bytes
    }

    public mutating func setMemorySwap(_ text: String) throws(CgroupError) {
        if text == "-1" { memorySwap = -1; return }
        guard let bytes = Self.parseBytes(text) else {
            throw .invalidValue(flag: "--memory-swap", value: text, expected: "give a size such as 128m (memory plus swap), or -1 for unlimited swap")
        }
        memorySwap = bytes
    }

    public mutating func setMemoryReservation(_ text: String) throws(CgroupError) {
        guard let bytes = Self.parseBytes(text) else {
            throw .invalidValue(flag: "--memory-reservation", value: text, expected: "give a size such as 32m")
        }
        memoryReservation = bytes
    }

    /// `--cpus 0.5` → a quota of 50000 µs per 100000 µs.
    public mutating func setCPUs(_ text: String) throws(CgroupError) {
        guard let cpus = Self.parseDecimal(text), cpus > 0, cpus <= 1024 else {
            throw .invalidValue(flag: "--cpus", value: text, expected: "give a number of CPUs greater than 0, such as 0.5 or 2")
        }
        cpuQuota = max(1000, Int64((cpus * Double(Self.cpuPeriod)).rounded()))
    }

    /// `--cpu-shares` (cgroup v1's 2-262144, default 1024) converted to cpu.weight as crun and
    /// runc do: 1 + ((shares - 2) * 9999) / 262142.
    public mutating func setCPUShares(_ text: String) throws(CgroupError) {
        guard let shares = Int64(text), (2...262_144).contains(shares) else {
            throw .invalidValue(flag: "--cpu-shares", value: text, expected: "give a number from 2 to 262144 (1024 is the default)")
        }
        cpuWeight = Int(1 + ((shares - 2) * 9999) / 262_142)
    }

    public mutating func setCPUWeight(_ text: String) throws(CgroupError) {
        guard let weight = Int(text), (1...10_000).contains(weight) else {
            throw .invalidValue(flag: "--cpu-weight", value: text, expected: "give a number from 1 to 10000 (100 is the default)")
        }
        cpuWeight = weight
    }

    public mutating func setCPUSet(_ text: String) throws(CgroupError) {
        let valid =
            !text.isEmpty
            && text.split(separator: ",", omittingEmptySubsequences: false).allSatisfy { part in
                let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
                return (1...2).contains(bounds.count) && bounds.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) }
            }
        guard valid else { throw .invalidValue(flag: "--cpuset-cpus", value: text, expected: "give CPU numbers and ranges such as 0-1 or 0,2") }
        cpusetCpus = text
    }

    public mutating func setPidsLimit(_ text: String) throws(CgroupError) {
        guard let limit = Int64(text), limit >= -1 else {
            throw .invalidValue(flag: "--pids-limit", value: text, expected: "give a number of processes, or -1 for no limit")
        }
        pidsLimit = limit
    }

    public mutating func setOOMScoreAdjustment(_ text: String) throws(CgroupError) {
        guard let value = Int(text), (-1000...1000).contains(value) else {
            throw .invalidValue(flag: "--oom-score-adj", value: text, expected: "give a number from -1000 to 1000")
        }
        oomScoreAdjustment = value
    }

    static func parseDecimal(_ text: String) -> Double? {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, whole.allSatisfy(\.isNumber), parts.count == 1 || parts[1].allSatisfy(\.isNumber),
            !(whole.isEmpty && (parts.count == 1 || parts[1].isEmpty))
        else { return nil }
        return Double(text.hasPrefix(".") ? "0" + text : text)
    }
}
