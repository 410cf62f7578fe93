import ArgumentParser
import Containers
import ImageStore
import SystemSupport

struct Top: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "top", _superCommandName: Swctr.commandName, abstract: "Show the processes of a running container.")

    @Argument(help: "The container.") var container: String

    func run() throws {
        do {
            let service = try Session.containerService()
            let record = try service.find(container)
            var rows = [["PID", "PPID", "UID", "TIME", "COMMAND"]]
            for process in try service.processes(record) {
                let seconds = Int(process.seconds)
                let time = String(format2(seconds / 3600)) + ":" + format2((seconds / 60) % 60) + ":" + format2(seconds % 60)
                rows.append([String(process.pid), String(process.ppid), String(process.uid), time, process.command])
            }
            printTable(rows)
        } catch {
            throw fail(error, exitCode: 1)
        }
    }

    func format2(_ value: Int) -> String { value < 10 ? "0\(value)" : String(value) }
}

struct Port: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "port", _superCommandName: Swctr.commandName, abstract: "List a container's published ports.")

    @Argument(help: "The container.") var container: String
    @Argument(help: "Only this container port: PORT[/tcp|/udp].") var port: String?

    func run() throws {
        let service: ContainerService
        let record: ContainerRecord
        do {
            service = try Session.containerService()
            record = try service.find(container)
        } catch {
            throw fail(error, exitCode: 1)
        }
        guard record.status == .running else { return }
        var ports = PublishedPortsFile.read(record, context: service.context)
        if let port {
            let (number, transport) = port.contains("/") ? (String(port.split(separator: "/")[0]), String(port.split(separator: "/")[1])) : (port, "tcp")
            ports = ports.filter { String($0.containerPort) == number && $0.transport.rawValue == transport }
            guard !ports.isEmpty else {
                throw fail(CLIError("no public port \(number)/\(transport) published for \(container)"), exitCode: 1)
            }
            for mapping in ports { print("\(mapping.hostIP.isEmpty ? "0.0.0.0" : mapping.hostIP):\(mapping.hostPort)") }
            return
        }
        for mapping in ports { print(mapping.description) }
    }
}

struct PruneContainers: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove all stopped containers.")

    @Flag(name: .shortAndLong, help: "Do not ask for confirmation (swctr never asks).")
    var force = false

    func run() throws {
        do { printPruned(try Session.containerService().prune()) } catch { throw fail(error, exitCode: 1) }
    }
}

struct ContainerCommands: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "container", abstract: "Manage containers (the same verbs as at the top level).",
        subcommands: [ListContainers.self, Create.self, Start.self, Stop.self, Restart.self, Kill.self, Remove.self, Logs.self, Attach.self,
                      Exec.self, Copy.self, Diff.self, Commit.self, Export.self, Wait.self, Inspect.self, Rename.self, Top.self, Port.self,
                      PruneContainers.self])
}

struct SystemDiskUsage: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "df", abstract: "Show disk space used by images and containers.")

    func run() throws {
        do {
            let session = try Session.open(quiet: true)
            let service = try session.containers()
            let images = try session.store.images()
            let containers = try service.list()
            let usedImages = Set(containers.map { $0.settings.imageID })
            let imageSize = images.reduce(Int64(0)) { $0 + $1.size }
            let reclaimableImages = images.filter { !usedImages.contains($0.id.description) }.reduce(Int64(0)) { $0 + $1.size }
            let sizes = containers.map { service.diskUsage($0) }
            let containerSize = sizes.reduce(0, +)
            let stoppedSize = zip(containers, sizes).filter { !$0.0.isRunning }.reduce(Int64(0)) { $0 + $1.1 }
            printTable([
                ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
                ["Images", String(images.count), String(usedImages.count), ImageStore.formatSize(imageSize), ImageStore.formatSize(reclaimableImages)],
                ["Containers", String(containers.count), String(containers.filter(\.isRunning).count), ImageStore.formatSize(containerSize),
                 ImageStore.formatSize(stoppedSize)],
                ["Local Volumes", "0", "0", "0B", "0B"],
            ])
        } catch {
            throw fail(error, exitCode: 1)
        }
    }
}

struct SystemPrune: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove stopped containers, and what interrupted pulls left in the store.")

    @Flag(name: .shortAndLong, help: "Do not ask for confirmation (swctr never asks).")
    var force = false

    func run() throws {
        do {
            let session = try Session.open(quiet: true)
            printPruned(try session.containers().prune())
            let leftovers = session.store.removeLeftovers(remover: UserNamespaceTools(idMaps: session.idMaps))
            if leftovers > 0 { print("Removed \(leftovers) leftover\(leftovers == 1 ? "" : "s") of interrupted pulls") }
        } catch {
            throw fail(error, exitCode: 1)
        }
    }
}

struct SystemCommands: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "system", abstract: "Disk usage and clean-up.",
                                                    subcommands: [SystemDiskUsage.self, SystemPrune.self])
}

struct Copy: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cp", _superCommandName: Swctr.commandName, abstract: "Copy files between a container and the host (permissions and times kept).",
        discussion: "swctr cp CONTAINER:SRC DEST copies out; swctr cp SRC CONTAINER:DEST copies in. The container may be running or stopped.")

    @Argument(help: "The source: CONTAINER:PATH or a host path.") var source: String
    @Argument(help: "The destination: a host path or CONTAINER:PATH.") var destination: String

    func run() throws {
        do { try Session.containerService().copy(from: source, to: destination) } catch { throw fail(error, exitCode: 1) }
    }
}

/// Docker's report of a prune: a heading, then one id per line.
func printPruned(_ ids: [String]) {
    if !ids.isEmpty { print("Deleted Containers:") }
    ids.forEach { print($0) }
}
