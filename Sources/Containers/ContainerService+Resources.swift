import Cgroups
import FoundationEssentials
import SystemSupport

/// What a container's cgroup says about it, for inspect and ps.
public struct ContainerResourceState: Sendable {
    public var paused = false
    public var oomKilled = false

    public init() {}
}

/// One `stats` reading of a running container.
public struct ContainerStatsSample: Sendable {
    public let record: ContainerRecord
    public let stats: CgroupStats
    /// When it was read (monotonic seconds), for CPU %.
    public let time: Double
}

/// pause/unpause (the cgroup freezer), stats and update: the operations that need a running
/// container's cgroup.
extension ContainerService {
    public func resourceState(of record: ContainerRecord) -> ContainerResourceState {
        let directory = context.directory(of: record.id)
        var state = ContainerResourceState()
        state.oomKilled = ContainerResources.wasOOMKilled(directory)
        if record.status == .running, let cgroup = ContainerResources.cgroup(of: directory) { state.paused = cgroup.isFrozen }
        return state
    }

    /// The running container's cgroup, or why there is none.
    func runningCgroup(_ text: String) throws -> (ContainerRecord, ContainerCgroup) {
        let record = try find(text)
        guard record.status == .running else { throw ContainerError.notRunning(text) }
        guard let cgroup = ContainerResources.cgroup(of: context.directory(of: record.id)) else {
            let reason: String
            if case .unavailable(let why) = CgroupHost.current().placement {
                reason = why
            } else {
                reason = "it was started where none could be made — start it again"
            }
            throw CgroupError.noCgroup(container: text, reason: reason)
        }
        return (record, cgroup)
    }

    /// Freezes (or thaws) every process of a running container.
    public func setPaused(_ text: String, _ paused: Bool) throws {
        let (_, cgroup) = try runningCgroup(text)
        try cgroup.setFrozen(paused)
    }

    /// One reading of each container's cgroup.
    public func stats(_ text: String) throws -> ContainerStatsSample {
        let (record, cgroup) = try runningCgroup(text)
        return ContainerStatsSample(
            record: record, stats: CgroupStats.read(cgroup, pid: record.pid.map(ProcessID.init(rawValue:))),
            time: MonotonicClock.now)
    }

    /// Changes the limits of a container: written to its cgroup at once when it runs, and kept
    /// for its next start.
    public func update(_ text: String, _ change: ResourceLimits) throws {
        let record = try find(text)
        try CgroupHost.current().check(change)
        let limits = (record.settings.resources ?? ResourceLimits()).merged(with: change)
        if record.status == .running {
            let (_, cgroup) = try runningCgroup(text)
            var live = change
            // memory.swap.max follows from memory and memory-swap together.
            if change.memory != nil || change.memorySwap != nil {
                live.memory = limits.memory
                live.memorySwap = limits.memorySwap
            }
            live.oomScoreAdjustment = nil
            try cgroup.apply(live)
        }
        var settings = record.settings
        settings.resources = limits.isEmpty ? nil : limits
        try database.update(id: record.id, set: ["settings": .text(String(decoding: try JSONEncoder().encode(settings), as: UTF8.self))])
    }
}
