import ArgumentParser
import Cgroups

/// The resource flags `run`, `create` and `update` share, as Docker spells them.
struct ResourceOptions: ParsableArguments {
    @Option(name: [.customShort("m"), .long], help: "Memory limit (e.g. 64m, 1g): memory.max.")
    var memory: String?

    @Option(name: .customLong("memory-swap"), parsing: .unconditional, help: "Memory plus swap (-1: unlimited swap): memory.swap.max.")
    var memorySwap: String?

    @Option(name: .customLong("memory-reservation"), help: "Memory soft limit: memory.low.")
    var memoryReservation: String?

    @Option(help: "Number of CPUs (e.g. 0.5): cpu.max.")
    var cpus: String?

    @Option(name: [.customShort("c"), .customLong("cpu-shares")], help: "Relative CPU weight, cgroup v1 scale (1024 default): cpu.weight.")
    var cpuShares: String?

    @Option(name: .customLong("cpu-weight"), help: "Relative CPU weight, 1-10000 (100 default): cpu.weight.")
    var cpuWeight: String?

    @Option(name: .customLong("cpuset-cpus"), help: "CPUs the container may use (e.g. 0-1, 0,2): cpuset.cpus.")
    var cpusetCpus: String?

    @Option(name: .customLong("pids-limit"), parsing: .unconditional, help: "Most processes at once (-1: no limit): pids.max.")
    var pidsLimit: String?

    @Option(name: .customLong("oom-score-adj"), parsing: .unconditional, help: "OOM killer preference of the container's processes (-1000 to 1000).")
    var oomScoreAdj: String?

    /// The flags as limits; a bad value is a one-line error.
    func limits() throws -> ResourceLimits {
        var limits = ResourceLimits()
        do {
            if let memory { try limits.setMemory(memory) }
            if let memorySwap { try limits.setMemorySwap(memorySwap) }
            if let memoryReservation { try limits.setMemoryReservation(memoryReservation) }
            if let cpus { try limits.setCPUs(cpus) }
            if let cpuShares { try limits.setCPUShares(cpuShares) }
            if let cpuWeight { try limits.setCPUWeight(cpuWeight) }
            if let cpusetCpus { try limits.setCPUSet(cpusetCpus) }
            if let pidsLimit { try limits.setPidsLimit(pidsLimit) }
            if let oomScoreAdj { try limits.setOOMScoreAdjustment(oomScoreAdj) }
        } catch {
            throw CLIError(error.userMessage)
        }
        if let swap = limits.memorySwap, swap >= 0, let memory = limits.memory, swap < memory {
            throw CLIError("--memory-swap \(swap) is less than --memory \(memory): give memory plus swap, or -1")
        }
        if limits.memorySwap != nil && limits.memory == nil && limits.memorySwap != -1 {
            throw CLIError("--memory-swap needs --memory as well (it counts memory plus swap)")
        }
        return limits
    }
}
