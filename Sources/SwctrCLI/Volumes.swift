import ArgumentParser
import Containers
import FoundationEssentials
import SystemSupport

struct VolumeCommands: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "volume", abstract: "Manage named volumes.",
        subcommands: [CreateVolume.self, ListVolumes.self, InspectVolume.self, RemoveVolume.self, PruneVolumes.self])
}

struct CreateVolume: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a volume (a random name when none is given).")

    @Argument(help: "The volume's name.") var name: String?

    func run() throws {
        do {
            let volume = try Session.containerService().volumeStore().ensure(name ?? FileSystem.randomHex(bytes: 32), exclusive: true)
            print(volume.name)
        } catch {
            throw fail(error, exitCode: 1)
        }
    }
}

struct ListVolumes: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List volumes.", aliases: ["list"])

    @Flag(name: .shortAndLong, help: "Only print names.") var quiet = false

    func run() throws {
        do {
            let volumes = try Session.containerService().volumeStore().list()
            if quiet { volumes.forEach { print($0.name) }; return }
            printTable([["DRIVER", "VOLUME NAME"]] + volumes.map { ["local", $0.name] })
        } catch {
            throw fail(error, exitCode: 1)
        }
    }
}

struct InspectVolume: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Show volumes as JSON.")

    @Argument(help: "Volume names.") var names: [String]

    func run() throws {
        let store: VolumeStore
        do { store = try Session.containerService().volumeStore() } catch { throw fail(error, exitCode: 125) }
        var documents: [VolumeInspection] = []
        var failed = false
        for name in names {
            do {
                guard let volume = try store.get(name) else { throw VolumeError.notFound(name) }
                documents.append(VolumeInspection(CreatedAt: Timestamp.rfc3339(volume.created), Driver: "local", Labels: [:],
                                                  Mountpoint: volume.mountpoint, Name: volume.name, Options: [:], Scope: "local",
                                                  Anonymous: volume.anonymous))
            } catch {
                _ = fail(error, exitCode: 1)
                failed = true
            }
        }
        if !documents.isEmpty || !failed {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(documents), as: UTF8.self))
        }
        if failed { throw ExitCode(1) }
    }
}

/// Docker's shape for `volume inspect`.
struct VolumeInspection: Encodable {
    let CreatedAt: String, Driver: String, Labels: [String: String], Mountpoint: String, Name: String
    let Options: [String: String], Scope: String, Anonymous: Bool
}

struct RemoveVolume: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove volumes no container uses.", aliases: ["remove"])

    @Flag(name: .shortAndLong, help: "Accepted for compatibility: a volume in use is never removed.") var force = false
    @Argument(help: "Volume names.") var names: [String]

    func run() throws {
        let store: VolumeStore
        do { store = try Session.containerService().volumeStore() } catch { throw fail(error, exitCode: 125) }
        var failed = false
        for name in names {
            do {
                try store.remove(name)
                print(name)
            } catch {
                _ = fail(error, exitCode: 1)
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }
}

struct PruneVolumes: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove unused anonymous volumes (all unused with -a).")

    @Flag(name: .shortAndLong, help: "Remove unused named volumes too.") var all = false
    @Flag(name: .shortAndLong, help: "Do not ask for confirmation (swctr never asks).") var force = false

    func run() throws {
        do {
            let removed = try Session.containerService().volumeStore().prune(all: all)
            if !removed.isEmpty { print("Deleted Volumes:") }
            removed.forEach { print($0) }
        } catch {
            throw fail(error, exitCode: 1)
        }
    }
}
