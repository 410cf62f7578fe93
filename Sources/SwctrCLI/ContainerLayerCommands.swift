import ArgumentParser
import Containers
import FoundationEssentials
import ImageReference
import ImageStore
import SystemSupport

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff", _superCommandName: Swctr.commandName,
        abstract: "List what a container added (A), changed (C) and deleted (D) against its image.")

    @Option(help: "json, or one line per change (the default).") var format: String?
    @Argument(help: "The container.") var container: String?

    func run() throws {
        do {
            let container = try requiredContainer(container, usage: "swctr diff [--format json] CONTAINER")
            if let format, format != "json" { throw CLIError("--format \(format): give json, or leave it out for one line per change") }
            let changes = try Session.containerService().changes(of: container)
            if format == "json" {
                try FileDescriptor.standardOutput.writeAll(try Self.json(changes) + "\n")
            } else {
                var output: [UInt8] = []
                for change in changes { output += Array((change.kind.letter + " ").utf8) + change.path + [0x0A] }
                try FileDescriptor.standardOutput.writeAll(output)
            }
        } catch {
            throw fail(error, exitCode: 1)
        }
    }

    /// Podman's shape: the paths by kind, kinds without any left out.
    static func json(_ changes: [ContainerChange]) throws -> String {
        struct Report: Encodable {
            var changed: [String]?
            var added: [String]?
            var deleted: [String]?
        }
        func paths(_ kind: ChangeKind) -> [String]? {
            let selected = changes.filter { $0.kind == kind }.map(\.pathText)
            return selected.isEmpty ? nil : selected
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(Report(changed: paths(.changed), added: paths(.added), deleted: paths(.deleted))), as: UTF8.self)
    }
}

struct Commit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "commit", _superCommandName: Swctr.commandName,
        abstract: "Make an image of a container's changes: its image plus one layer.",
        discussion: "The container may be running or stopped. Prints the new image's id.")

    @Option(name: .shortAndLong, help: "A message for the image's history.") var message: String?
    @Option(name: .shortAndLong, help: "The author (e.g. \"Name <email>\").") var author: String?
    @Option(name: .shortAndLong, help: "A Dockerfile instruction to apply: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME or WORKDIR.")
    var change: [String] = []
    @Flag(name: .shortAndLong, help: "Freeze a running container while its changes are read.") var pause = false
    @Flag(name: .shortAndLong, help: "Print nothing but the image id.") var quiet = false
    @Argument(help: "The container.") var container: String?
    @Argument(help: "The image's name: REPOSITORY[:TAG].") var name: String?

    func run() throws {
        do {
            let container = try requiredContainer(container, usage: "swctr commit [-m MESSAGE] [-a AUTHOR] [-c CHANGE]... [-p] CONTAINER [REPOSITORY[:TAG]]")
            var request = CommitRequest(container: container, name: try Self.normalizedName(name))
            request.changes = try change.map { try ConfigurationChange(parsing: $0, command: "commit") }
            request.message = message
            request.author = author
            request.pause = pause
            let session = try Session.open(quiet: true)
            let image = try session.containers().commit(request, store: session.store)
            print(image.id.description)
        } catch {
            throw fail(error, exitCode: 1)
        }
    }

    /// `REPOSITORY[:TAG]` as the store names images; a digest cannot be given to a new image.
    static func normalizedName(_ name: String?) throws -> String? {
        guard let name else { return nil }
        let reference = try ImageReference.parse(name)
        if reference.digest != nil { throw CLIError("the name \"\(name)\" has a digest — give REPOSITORY[:TAG]") }
        return reference.description
    }
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", _superCommandName: Swctr.commandName,
        abstract: "Write a container's filesystem (its image's layers with its changes) as a tar archive.")

    @Option(name: .shortAndLong, help: "Write to this file instead of standard output.") var output: String?
    @Argument(help: "The container.") var container: String?

    func run() throws {
        do {
            let container = try requiredContainer(container, usage: "swctr export [-o FILE] CONTAINER")
            let service = try Session.containerService()
            if let output {
                try service.export(container, toFile: output)
            } else {
                if FileDescriptor.standardOutput.isTerminal { throw ContainerLayerError.refusingTerminal }
                try service.export(container, to: .standardOutput)
            }
        } catch ContainerLayerError.outputClosed {
            // As a program killed by SIGPIPE ends: quietly, status 128+13.
            throw ExitCode(141)
        } catch {
            throw fail(error, exitCode: 1)
        }
    }
}

/// The container argument, or a one-line error with the command's usage (the container is
/// optional to the parser only so that its absence gets swctr's one-line message).
private func requiredContainer(_ container: String?, usage: String) throws -> String {
    guard let container, !container.isEmpty else { throw CLIError("give a container — usage: \(usage)") }
    return container
}
