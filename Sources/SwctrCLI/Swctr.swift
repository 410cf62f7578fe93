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
    static let commandName = "swctr"

    public static let configuration = CommandConfiguration(
        commandName: commandName,
        abstract: "Rootless, daemonless containers: pull images and run them as an ordinary user.",
        version: "0.1.0",
        subcommands: [
            Run.self, Create.self, Start.self, Stop.self, Restart.self, Kill.self, Remove.self, ListContainers.self,
            Logs.self, Attach.self, Exec.self, Copy.self, Diff.self, Commit.self, Export.self, Wait.self, Inspect.self, Rename.self, Top.self,
            Port.self, Pause.self, Unpause.self, Stats.self, Update.self, ContainerCommands.self,
            Login.self, Logout.self, Pull.self, Push.self, Images.self, RemoveImages.self, TagImage.self, ImageHistory.self, Save.self, Load.self, Import.self,
            ImageCommands.self, VolumeCommands.self, SystemCommands.self, Doctor.self, Info.self,
        ])

    public init() {}

    /// Runs the top-level command that the first argument names without building the whole command
    /// tree, when that command's configuration names `swctr` as its super-command. Parsing from the root
    /// builds every subcommand's argument set and tries the completion-script flags first: a few
    /// milliseconds of reflection that `swctr run` would pay before it starts a container. Anything the
    /// command cannot parse alone (help, a wrong flag, no arguments) returns false, and the root parser
    /// reads the arguments again and reports them exactly as before. A command that runs does not
    /// return: swctr exits with its status.
    public static func runStandaloneCommand(_ arguments: [String], early: EarlyRunStart? = nil) -> Bool {
        guard let name = arguments.first,
              let command = configuration.subcommands.first(where: {
                  $0.configuration.commandName == name && $0.configuration._superCommandName == commandName
                      && $0.configuration.subcommands.isEmpty
              })
        else { return false }
        // A request for help parses as ArgumentParser's own help command, which would print this
        // command's help without the root's lines: leave it to the root.
        guard let parsed = try? command.parseAsRoot(Array(arguments.dropFirst())),
              ObjectIdentifier(type(of: parsed)) == ObjectIdentifier(command)
        else {
            early?.settle()
            return false
        }
        execute(parsed, early: early)
    }

    /// A `run` whose arguments `Run.parsedDirectly` covers, run without swift-argument-parser;
    /// false (and nothing done) for any other arguments; once the run is done, swctr exits.
    public static func runDirectlyParsedRun(_ arguments: [String], early: EarlyRunStart? = nil) -> Bool {
        guard let run = Run.parsedDirectly(arguments) else { return false }
        execute(run, early: early)
    }

    /// Runs the command and exits (`ProcessExit.leavingTeardown`: whoever waits for swctr hears of
    /// its exit without waiting for its address space to be torn down).
    private static func execute(_ parsed: ParsableCommand, early: EarlyRunStart?) -> Never {
        var parsed = parsed
        do {
            if let run = parsed as? Run { try run.run(early: early) } else { try parsed.run() }
        } catch let code as ExitCode {
            early?.settle()
            // What exit(withError:) does with an exit code, without building a message first.
            ProcessExit.leavingTeardown(code.rawValue)
        } catch {
            early?.settle()
            exit(withError: error)
        }
        early?.settle()
        ProcessExit.leavingTeardown(0)
    }
}

/// Shared state for one invocation: directories, store, id maps.
struct Session {
    let directories: UserDirectories
    let store: ImageStore
    let idMaps: IDMapPlan

    static func open(quiet: Bool = false, idMaps: IDMapPlan = IDMapPlan.current()) throws -> Session {
        let session = try openSilently(quiet: quiet, idMaps: idMaps)
        session.announce()
        return session
    }

    /// `open` without the id-map warning, for a session opened ahead of the caller (`announce()`
    /// prints it when the session is taken).
    static func openSilently(quiet: Bool = false, idMaps: IDMapPlan) throws -> Session {
        let directories = UserDirectories.current()
        let store = try ImageStore(layout: StoreLayout(root: directories.data)) { line in
            if !quiet { printError(line) }
        }
        return Session(directories: directories, store: store, idMaps: idMaps)
    }

    func announce() {
        if let warning = idMaps.warning { printError("swctr: warning: " + warning) }
    }

    func containers() throws -> ContainerService {
        ContainerService(context: try ContainerContext(directories: directories, idMaps: idMaps, layoutPrepared: true), warn: printError)
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

/// How to reach registries: `--tls-verify`, `--authfile`, `--creds`, as Podman spells them.
struct RegistryOptions: ParsableArguments {
    // Optional, for the reason given in CreateOptions.
    @Option(name: .customLong("tls-verify"), help: "Require HTTPS with a verified certificate (false also allows plain HTTP) (default: true).")
    var tlsVerifyGiven: Bool?
    var tlsVerify: Bool { tlsVerifyGiven ?? true }

    @Option(help: "The credentials file to use (default: the containers auth.json files, then ~/.docker/config.json).")
    var authfile: String?

    @Option(help: "Credentials for the registry: USER[:PASSWORD] (the password is asked for when left out).")
    var creds: String?

    var access: RegistryAccess {
        get throws {
            var access = RegistryAccess()
            access.tlsVerify = tlsVerify
            access.authFile = authfile
            if let creds {
                let parts = creds.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                guard !parts[0].isEmpty else { throw CLIError("--creds needs USER[:PASSWORD], not \"\(creds)\"") }
                let password = parts.count > 1 ? parts[1] : try Self.askPassword()
                access.credentials = RegistryCredentials(username: parts[0], password: password)
            }
            return access
        }
    }

    /// Reads a password from the terminal without echo.
    static func askPassword() throws -> String {
        guard isatty(STDIN_FILENO) == 1 else { throw CLIError("no password given and stdin is not a terminal — use --password-stdin or USER:PASSWORD") }
        guard let entered = getpass("Password: ") else { throw CLIError("no password entered") }
        return String(cString: entered)
    }
}

/// `--platform OS/ARCH[/VARIANT]` (or ARCH alone), as Docker writes it.
func parsePlatform(_ text: String?) throws -> Platform? {
    guard let text, !text.isEmpty else { return nil }
    let parts = text.lowercased().split(separator: "/", omittingEmptySubsequences: false).map(String.init)
    guard !parts.contains(where: \.isEmpty), parts.count <= 3 else {
        throw CLIError("--platform \(text) is not OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm/v7")
    }
    if parts.count == 1 { return Platform(architecture: parts[0], os: "linux") }
    guard parts[0] == "linux" else { throw CLIError("--platform \(text): swctr runs linux images only") }
    return Platform(architecture: parts[1], os: "linux", variant: parts.count == 3 ? parts[2] : nil)
}

/// A flag's value that is wrong in a way only found while reading it (a file, a profile).
struct CLIError: Error, UserFacingError {
    let userMessage: String
    init(_ message: String) { userMessage = message }
}
