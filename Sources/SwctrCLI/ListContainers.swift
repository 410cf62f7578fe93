import ArgumentParser
import Containers
import FoundationEssentials

struct ListContainers: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ps", _superCommandName: Swctr.commandName, abstract: "List containers (running ones, or all with -a).",
                                                    aliases: ["ls"])

    @Flag(name: .shortAndLong, help: "Show all containers, not only running ones.")
    var all = false

    @Flag(name: .shortAndLong, help: "Print only container ids.")
    var quiet = false

    @Flag(name: .customLong("no-trunc"), help: "Do not shorten ids and commands.")
    var noTrunc = false

    @Option(name: .shortAndLong, help: "Filter: status=, name=, id=, ancestor=, exited= (repeatable).")
    var filter: [String] = []

    @Option(help: "Output format: table (default) or json (one object per line).")
    var format: String = "table"

    func validate() throws {
        for entry in filter {
            let key = entry.prefix { $0 != "=" }
            guard entry.contains("="), ["status", "name", "id", "ancestor", "exited"].contains(String(key)) else {
                throw ValidationError("unsupported filter \"\(entry)\": use status=, name=, id=, ancestor= or exited=")
            }
        }
        guard ["table", "json"].contains(format) else { throw ValidationError("unsupported --format \"\(format)\": use table or json") }
    }

    func matches(_ record: ContainerRecord) -> Bool {
        var byKey: [String: [String]] = [:]
        for entry in filter {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            byKey[parts[0], default: []].append(parts.count > 1 ? parts[1] : "")
        }
        for (key, values) in byKey {
            let ok = values.contains { value in
                switch key {
                case "status": return ContainerPresentation.dockerState(record) == value
                case "name": return record.name.contains(value)
                case "id": return record.id.hasPrefix(value)
                case "ancestor": return record.settings.image == value || record.settings.imageID.hasSuffix(value) || record.settings.imageID.contains(":" + value)
                case "exited": return record.status == .exited && record.exitCode.map(String.init) == value
                default: return false
                }
            }
            if !ok { return false }
        }
        return true
    }

    func run() throws {
        let records: [ContainerRecord]
        let service: ContainerService
        do {
            service = try Session.containerService()
            records = try service.list()
        } catch { throw fail(error, exitCode: 125) }
        let shown = records.filter { (all || !filter.isEmpty || $0.isRunning) && matches($0) }
        if quiet {
            for record in shown { print(noTrunc ? record.id : record.shortID) }
            return
        }
        if format == "json" {
            for record in shown {
                let line = ContainerPresentation.psJSON(record, context: service.context)
                print(String(decoding: (try? JSONEncoder().encode(line)) ?? Data(), as: UTF8.self))
            }
            return
        }
        var rows = [["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]]
        let now = Timestamp.now
        for record in shown {
            var command = record.settings.process.arguments.joined(separator: " ")
            if !noTrunc && command.count > 20 { command = String(command.prefix(19)) + "…" }
            rows.append([noTrunc ? record.id : record.shortID, record.settings.image, "\"\(command)\"",
                         Timestamp.humanDuration(now - record.created) + " ago", ContainerPresentation.status(record, now: now),
                         ContainerPresentation.ports(record, context: service.context), record.name])
        }
        printTable(rows)
    }
}

/// How containers are shown: Docker's status words and JSON shapes.
enum ContainerPresentation {
    /// `0.0.0.0:8080->80/tcp, …` while it runs, as `docker ps` shows them.
    static func ports(_ record: ContainerRecord, context: ContainerContext) -> String {
        guard record.status == .running else { return "" }
        return PublishedPortsFile.read(record, context: context).map {
            "\($0.hostIP.isEmpty ? "0.0.0.0" : $0.hostIP):\($0.hostPort)->\($0.containerPort)/\($0.transport.rawValue)"
        }.joined(separator: ", ")
    }

    static func dockerState(_ record: ContainerRecord) -> String {
        switch record.status {
        case .creating, .created: return "created"
        case .starting, .running: return "running"
        case .exited: return "exited"
        case .removing: return "removing"
        }
    }

    static func status(_ record: ContainerRecord, now: Double) -> String {
        switch record.status {
        case .creating, .created: return "Created"
        case .starting: return "Starting"
        case .running: return "Up " + Timestamp.humanDuration(now - (record.started ?? now))
        case .exited: return "Exited (\(record.exitCode ?? 0)) " + Timestamp.humanDuration(now - (record.finished ?? now)) + " ago"
        case .removing: return "Removing"
        }
    }

    struct PSLine: Encodable {
        let ID: String, Image: String, ImageID: String, Command: String, CreatedAt: String, State: String, Status: String
        let ExitCode: Int32, Names: String, Ports: String, Pid: Int32
    }

    static func psJSON(_ record: ContainerRecord, context: ContainerContext) -> PSLine {
        PSLine(ID: record.id, Image: record.settings.image, ImageID: record.settings.imageID,
               Command: record.settings.process.arguments.joined(separator: " "), CreatedAt: Timestamp.rfc3339(record.created),
               State: dockerState(record), Status: status(record, now: Timestamp.now), ExitCode: record.exitCode ?? 0,
               Names: record.name, Ports: ports(record, context: context), Pid: record.pid ?? 0)
    }
}
