import ArgumentParser
import Containers
import Runtime

struct Exec: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec", _superCommandName: Swctr.commandName,
        abstract: "Run a command in a running container.",
        discussion: "The command joins all of the container's namespaces, as its user unless -u says otherwise.",
        helpNames: [.long])

    @Flag(name: .shortAndLong, help: "Keep standard input open.")
    var interactive = false

    @Flag(name: .shortAndLong, help: "Allocate a pseudo-terminal.")
    var tty = false

    @Option(name: .shortAndLong, help: "User: name, uid, name:group or uid:gid.")
    var user: String?

    @Option(name: .shortAndLong, help: "Working directory.")
    var workdir: String?

    @Option(name: .shortAndLong, help: "Set an environment variable (NAME=VALUE, or NAME for the host's value).")
    var env: [String] = []

    @Argument(help: "The container.")
    var container: String

    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments.")
    var command: [String] = []

    func validate() throws {
        if command.isEmpty { throw ValidationError("give a command to run in the container") }
    }

    func run() throws {
        var request = ExecRequest(command: command)
        request.interactive = interactive
        request.terminal = tty
        request.user = user
        request.workingDirectory = workdir
        request.environment = env
        let code: Int32
        do {
            code = try Session.containerService().exec(container, request)
        } catch let error as RuntimeError {
            throw fail(error, exitCode: error.exitCode)
        } catch {
            throw fail(error, exitCode: 125)
        }
        throw ExitCode(code)
    }
}
