import ArgumentParser
import Cgroups
import Containers
import ImageStore
#if canImport(Glibc)
    import Glibc
#endif

struct Pause: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pause", _superCommandName: Swctr.commandName, abstract: "Freeze every process of running containers (the cgroup freezer).")

    @Argument(help: "Containers (name, id or id prefix).") var containers: [String]

    func run() throws {
        try forEachContainer(containers) { service, name in try service.setPaused(name, true) }
    }
}

struct Unpause: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unpause", _superCommandName: Swctr.commandName, abstract: "Thaw paused containers.")

    @Argument(help: "Containers (name, id or id prefix).") var containers: [String]

    func run() throws {
        try forEachContainer(containers) { service, name in try service.setPaused(name, false) }
    }
}

struct Update: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "update", _superCommandName: Swctr.commandName,
        abstract: "Change the resource limits of containers (at once if running; kept for the next start).")

    @OptionGroup(title: "Resources") var resources: ResourceOptions

    @Argument(help: "Containers (name, id or id prefix).") var containers: [String]

    func run() throws {
        let change: ResourceLimits
        do { change = try resources.limits() } catch { throw fail(error, exitCode: 125) }
        guard !change.isEmpty else { throw fail(CLIError("give a limit to change, such as --memory 64m or --pids-limit 100"), exitCode: 125) }
        try forEachContainer(containers) { service, name in try service.update(name, change) }
    }
}

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", _superCommandName: Swctr.commandName,
        abstract: "Show running containers' resource use: CPU %, memory, network and block I/O, processes.")

    @Flag(name: .customLong("no-stream"), help: "Print one reading and exit (default: a new one every second).")
    var noStream = false

    @Argument(help: "Containers (default: all running).") var containers: [String] = []

    func run() throws {
        let service: ContainerService
        do { service = try Session.containerService() } catch { throw fail(error, exitCode: 125) }
        let names: [String]
        if containers.isEmpty {
            do { names = try service.list().filter(\.isRunning).map(\.id) } catch { throw fail(error, exitCode: 125) }
        } else {
            names = containers
        }
        var previous: [String: ContainerStatsSample] = [:]
        func read() throws -> [ContainerStatsSample] {
            var samples: [ContainerStatsSample] = []
            for name in names {
                do { samples.append(try service.stats(name)) } catch {
                    // A container that ended while streaming drops out; named ones must be there.
                    if !containers.isEmpty && previous.isEmpty { throw fail(error, exitCode: 125) }
                }
            }
            return samples
        }
        // CPU % needs two readings: the first is a short interval.
        for sample in try read() { previous[sample.record.id] = sample }
        usleep(noStream ? 500_000 : 1_000_000)
        while true {
            let samples = try read()
            if !noStream { print("\u{1B}[2J\u{1B}[H", terminator: "") }
            var rows = [["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"]]
            for sample in samples {
                rows.append(Self.row(sample, previous: previous[sample.record.id]))
                previous[sample.record.id] = sample
            }
            printTable(rows)
            fflush(nil)
            if noStream || samples.isEmpty { return }
            usleep(1_000_000)
        }
    }

    static func row(_ sample: ContainerStatsSample, previous: ContainerStatsSample?) -> [String] {
        let stats = sample.stats
        var cpu = 0.0
        if let previous, sample.time > previous.time {
            cpu = Double(stats.cpuUsageMicroseconds - previous.stats.cpuUsageMicroseconds) / ((sample.time - previous.time) * 1e6) * 100
        }
        let limit = stats.memoryLimit ?? Self.physicalMemory()
        let memoryPercent = limit > 0 ? Double(stats.memoryCurrent) / Double(limit) * 100 : 0
        func size(_ bytes: Int64) -> String { ImageStore.formatSize(bytes) }
        return [
            sample.record.shortID, sample.record.name, percent(cpu), "\(size(stats.memoryCurrent)) / \(size(limit))", percent(memoryPercent),
            "\(size(stats.networkReceived)) / \(size(stats.networkSent))", "\(size(stats.blockRead)) / \(size(stats.blockWritten))",
            stats.pidsLimit.map { "\(stats.pidsCurrent) / \($0)" } ?? String(stats.pidsCurrent),
        ]
    }

    static func percent(_ value: Double) -> String {
        let hundredths = Int((max(0, value) * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)%"
    }

    static func physicalMemory() -> Int64 { Int64(sysconf(Int32(_SC_PHYS_PAGES))) * Int64(sysconf(Int32(_SC_PAGESIZE))) }
}
