import ArgumentParser
import Containers
import RuntimeSpec

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a command in a new container.",
        discussion: "Options go before the image; everything after the image is the command and its arguments.",
        helpNames: [.long])

    @Flag(help: "Remove the container when it exits.")
    var rm = false

    @Flag(name: .shortAndLong, help: "Keep standard input open (pass it to the container).")
    var interactive = false

    @Flag(name: .shortAndLong, help: "Allocate a pseudo-terminal.")
    var tty = false

    @Option(name: .shortAndLong, help: "Set an environment variable (NAME=VALUE, or NAME to pass the host's value).")
    var env: [String] = []

    @Option(name: .shortAndLong, help: "Working directory inside the container.")
    var workdir: String?

    @Option(name: .shortAndLong, help: "User to run as: name, uid, name:group or uid:gid.")
    var user: String?

    @Option(help: "Replace the image's entrypoint (\"\" clears it).")
    var entrypoint: String?

    @Option(name: [.customShort("h"), .long], help: "Container host name.")
    var hostname: String?

    @Option(help: "Network: none (loopback only, the default for now) or host.")
    var network: String = "none"

    @OptionGroup var tls: TLSOptions

    @Argument(help: "The image to run.")
    var image: String

    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments (default: the image's).")
    var command: [String] = []

    func validate() throws {
        guard NetworkMode(rawValue: network) != nil else {
            throw ValidationError("unknown network mode \"\(network)\": use none or host")
        }
    }

    func run() throws {
        var request = RunRequest(image: image)
        request.removeWhenDone = rm
        request.interactive = interactive
        request.network = NetworkMode(rawValue: network) ?? .none
        request.tlsVerify = tls.tlsVerify
        request.process.command = command
        request.process.entrypoint = entrypoint
        request.process.environment = env
        request.process.workingDirectory = workdir
        request.process.user = user
        request.process.terminal = tty
        request.process.hostname = hostname
        let code: Int32
        do {
            let session = try Session.open()
            let runner = ContainerRunner(store: session.store, idMaps: session.idMaps, warn: printError)
            code = try runner.run(request)
        } catch let error as RuntimeErrorCode {
            throw fail(error, exitCode: error.exitCode)
        } catch {
            throw fail(error, exitCode: 125)
        }
        throw ExitCode(code)
    }
}
