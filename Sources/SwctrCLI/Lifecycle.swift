import ArgumentParser
import Containers
#if canImport(Glibc)
import Glibc
#endif

/// Runs `body` for each named container, printing what Docker prints (the name as given) and one
/// error line per failure; exits 1 if any failed.
func forEachContainer(_ names: [String], _ body: (ContainerService, String) throws -> Void) throws {
    let service: ContainerService
    do { service = try Session.containerService() } catch { throw fail(error, exitCode: 125) }
    var failed = false
    for name in names {
        do {
            try body(service, name)
            print(name)
        } catch {
            _ = fail(error, exitCode: 1)
            failed = true
        }
    }
    if failed { throw ExitCode(1) }
}

struct Start: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "start", _superCommandName: Swctr.commandName, abstract: "Start one or more created or stopped containers.")

    @Flag(name: .shortAndLong, help: "Attach: wait for the container and print its output, exit with its code.")
    var attach = false

    @Argument(help: "Containers (name, id or id prefix).")
    var containers: [String]

    func validate() throws {
        if containers.isEmpty { throw ValidationError("give at least one container") }
        if attach && containers.count > 1 { throw ValidationError("--attach takes one container") }
    }

    func run() throws {
        if attach {
            let service: ContainerService
            do { service = try Session.containerService() } catch { throw fail(error, exitCode: 125) }
            let record: ContainerRecord
            do { record = try service.start(containers[0]) } catch let error as StartFailure {
                throw fail(error, exitCode: error.exitCode)
            } catch { throw fail(error, exitCode: 125) }
            let code = try service.followLogs(record, fromStart: true, output: writeLogEntry)
            throw ExitCode(code)
        }
        try forEachContainer(containers) { service, name in _ = try service.start(name) }
    }
}

struct Stop: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stop", _superCommandName: Swctr.commandName, abstract: "Stop running containers: the stop signal, then SIGKILL after the timeout.")

    @Option(name: [.customShort("t"), .long], help: "Seconds to wait before SIGKILL (default: the container's stop timeout, 10).")
    var time: Int?

    @Argument(help: "Containers (name, id or id prefix).")
    var containers: [String]

    func run() throws {
        try forEachContainer(containers) { service, name in try service.stop(try service.find(name), timeout: time) }
    }
}

struct Restart: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "restart", _superCommandName: Swctr.commandName, abstract: "Stop, then start, containers.")

    @Option(name: [.customShort("t"), .long], help: "Seconds to wait before SIGKILL.")
    var time: Int?

    @Argument(help: "Containers (name, id or id prefix).")
    var containers: [String]

    func run() throws {
        try forEachContainer(containers) { service, name in
            try service.stop(try service.find(name), timeout: time)
            _ = try service.start(name)
        }
    }
}

struct Kill: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "kill", _superCommandName: Swctr.commandName, abstract: "Send a signal (default SIGKILL) to running containers.")

    @Option(name: .shortAndLong, help: "The signal: name (SIGTERM, TERM) or number.")
    var signal: String = "SIGKILL"

    @Argument(help: "Containers (name, id or id prefix).")
    var containers: [String]

    func validate() throws {
        guard SignalName.parse(signal) != nil else { throw ValidationError("unknown signal \"\(signal)\"") }
    }

    func run() throws {
        let number = SignalName.parse(signal) ?? SIGKILL
        try forEachContainer(containers) { service, name in try service.signal(try service.find(name), number) }
    }
}

struct Remove: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", _superCommandName: Swctr.commandName, abstract: "Remove containers.")

    @Flag(name: .shortAndLong, help: "Kill and remove running containers too.")
    var force = false

    @Flag(name: .shortAndLong, help: "Remove the container's anonymous volumes too.")
    var volumes = false

    @Argument(help: "Containers (name, id or id prefix).")
    var containers: [String]

    func run() throws {
        try forEachContainer(containers) { service, name in try service.remove(name, force: force, volumes: volumes) }
    }
}

struct Wait: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "wait", _superCommandName: Swctr.commandName, abstract: "Wait until containers stop; print their exit codes.")

    @Argument(help: "Containers (name, id or id prefix).")
    var containers: [String]

    func run() throws {
        let service: ContainerService
        do { service = try Session.containerService() } catch { throw fail(error, exitCode: 125) }
        var failed = false
        for name in containers {
            do { print(try service.wait(name)) } catch {
                _ = fail(error, exitCode: 1)
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }
}

struct Rename: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rename", _superCommandName: Swctr.commandName, abstract: "Rename a container.")

    @Argument(help: "The container.") var container: String
    @Argument(help: "Its new name.") var newName: String

    func run() throws {
        do { try Session.containerService().rename(container, to: newName) } catch { throw fail(error, exitCode: 1) }
    }
}
