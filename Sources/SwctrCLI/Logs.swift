import ArgumentParser
import Containers
import SystemSupport

/// Writes one log entry to stdout or stderr as it was written.
func writeLogEntry(_ entry: LogEntry) {
    writeLogEntry(entry, timestamps: false)
}

func writeLogEntry(_ entry: LogEntry, timestamps: Bool) {
    let text = timestamps ? entry.time + " " + entry.log : entry.log
    let target = entry.stream == "stderr" ? FileDescriptor.standardError : FileDescriptor.standardOutput
    try? target.writeAll(text)
}

struct Logs: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logs", _superCommandName: Swctr.commandName, abstract: "Print a container's output (its log).")

    @Flag(name: .shortAndLong, help: "Follow the log until the container stops.")
    var follow = false

    @Option(name: [.customShort("n"), .long], help: "Only the last N lines (all, or a number).")
    var tail: String = "all"

    @Option(help: "Only lines since a time: RFC 3339, a Unix time, or a duration such as 10m.")
    var since: String?

    @Flag(name: .shortAndLong, help: "Prefix each line with its time.")
    var timestamps = false

    @Argument(help: "The container.")
    var container: String

    func validate() throws {
        if tail != "all" && Int(tail).map({ $0 < 0 }) ?? true { throw ValidationError("--tail takes a number or all") }
        if let since, Timestamp.parse(since) == nil {
            throw ValidationError("--since \"\(since)\" is not a time: use RFC 3339 (2026-11-24T10:00:00Z), a Unix time, or a duration such as 10m")
        }
    }

    func run() throws {
        do {
            let service = try Session.containerService()
            let record = try service.find(container)
            let stamps = timestamps
            try service.logs(record, since: since.flatMap { Timestamp.parse($0) }, tail: Int(tail), follow: follow) {
                writeLogEntry($0, timestamps: stamps)
            }
        } catch {
            throw fail(error, exitCode: 1)
        }
    }
}

struct Attach: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attach", _superCommandName: Swctr.commandName,
        abstract: "Attach this terminal to a running detached container (its output here, your input to it).")

    @Flag(name: .customLong("no-stdin"), help: "Do not send this terminal's input to the container.")
    var noStdin = false

    @Argument(help: "The container.")
    var container: String

    func run() throws {
        let code: Int32
        do { code = try Session.containerService().attach(container, forwardInput: !noStdin) } catch { throw fail(error, exitCode: 1) }
        throw ExitCode(code)
    }
}
