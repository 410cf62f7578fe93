// SwctrCLI owns argument parsing and output: Docker-compatible verbs and flags, one file per verb.
// No logic lives here that a test could not reach through the binary.
import ArgumentParser
import Containers
import ImageReference
import ImageStore
import Registry
import Runtime
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

public struct Swctr: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "swctr",
        abstract: "Rootless, daemonless containers: pull images and run them as an ordinary user.",
        version: "0.1.0",
        subcommands: [
            Run.self, Create.self, Start.self, Stop.self, Restart.self, Kill.self, Remove.self, ListContainers.self,
            Logs.self, Attach.self, Exec.self, Copy.self, Wait.self, Inspect.self, Rename.self, Top.self, Port.self, ContainerCommands.self,
            Pull.self, Images.self, Save.self, Load.self, Import.self, VolumeCommands.self, SystemCommands.self,
        ])

    public init() {}
}

/// Shared state for one invocation: directories, store, id maps.
struct Session {
    let directories: UserDirectories
    let store: ImageStore
    let idMaps: IDMapPlan

    static func open(quiet: Bool = false) throws -> Session {
        let directories = UserDirectories.current()
        let store = try ImageStore(layout: StoreLayout(root: directories.data)) { line in
            if !quiet { printError(line) }
        }
        let idMaps = IDMapPlan.current()
        if let warning = idMaps.warning { printError("swctr: warning: " + warning) }
        return Session(directories: directories, store: store, idMaps: idMaps)
    }

    func containers() throws -> ContainerService {
        ContainerService(context: try ContainerContext(directories: directories, idMaps: idMaps), warn: printError)
    }

    /// The container service alone (no image store, no id-map warning): for commands on existing containers.
    static func containerService() throws -> ContainerService {
        ContainerService(context: try ContainerContext(directories: UserDirectories.current(), idMaps: IDMapPlan.current()), warn: printError)
    }
}

func printError(_ line: String) {
    try? FileDescriptor.standardError.writeAll(line + "\n")
}

/// Turns any error into the one line a user sees, and the exit code.
func fail(_ error: Error, exitCode: Int32) -> ExitCode {
    let message: String
    switch error {
    case let error as UserFacingError: message = error.userMessage
    case let error as ImageReferenceError: message = error.userMessage
    default: message = String(describing: error)
    }
    printError("swctr: " + message)
    return ExitCode(exitCode)
}

/// `--tls-verify`, as Podman spells it (`--tls-verify=false`).
struct TLSOptions: ParsableArguments {
    @Option(name: .customLong("tls-verify"), help: "Require HTTPS with a verified certificate (false also allows plain HTTP).")
    var tlsVerify: Bool = true
}

/// A flag's value that is wrong in a way only found while reading it (a file, a profile).
struct CLIError: Error, UserFacingError {
    let userMessage: String
    init(_ message: String) { userMessage = message }
}
