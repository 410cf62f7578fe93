import ArgumentParser
import Cgroups
import Containers
import Runtime
import SystemSupport
import RuntimeSpec

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", _superCommandName: Swctr.commandName,
        abstract: "Run a command in a new container.",
        discussion: "Options go before the image; everything after the image is the command and its arguments.",
        helpNames: [.long])

    @Flag(name: .shortAndLong, help: "Run in the background under a monitor process; print the container id.")
    var detach = false

    @OptionGroup var options: CreateOptions

    @Argument(help: "The image to run.")
    var image: String

    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments (default: the image's).")
    var command: [String] = []

    func validate() throws {
        if detach && options.rm && options.restart != "no" {
            throw ValidationError("--rm and --restart cannot be used together")
        }
    }

    func run() throws {
        try run(early: nil)
    }

    /// `early`: namespaces begun before the arguments were parsed (`EarlyRunStart`), used where
    /// they fit what was parsed.
    func run(early: EarlyRunStart?) throws {
        if !detach, (try? options.resources.limits().requirements.isEmpty) == false, !SystemdScope.isInside(),
           case .systemdScope(let systemdRun) = CgroupHost.current().placement {
            // In the foreground this process is the container's monitor: for limits it needs a
            // delegated cgroup of its own, a new systemd scope (returns only if systemd-run cannot
            // be run). Without limits a foreground run skips systemd-run's cost at start-up.
            early?.namespaces?.abandon()
            early?.settle()
            PreparedUserNamespace.discardEarlyHolder()
            SystemdScope.reexecute(systemdRun: systemdRun, unit: "swctr-run-\(FileSystem.randomHex(bytes: 6))", arguments: CommandLine.arguments)
        }
        do {
            let idMaps = early?.idMaps ?? IDMapPlan.current()
            // In the foreground the container's namespaces are begun first of all: newuidmap,
            // newgidmap (two setuid programs) and the network namespace then overlap building the
            // request and opening the store as well as create (bad flags drop them unused).
            var prepared: PreparedUserNamespace?
            if !detach, let network = try? options.networkRequest() {
                let keepUserID = options.userns == "keep-id"
                if let made = early?.namespaces, EarlyRunStart.fits(keepUserID: keepUserID, network: network.mode) {
                    prepared = made
                } else {
                    early?.namespaces?.abandon()
                    prepared = ContainerService.prepareUserNamespace(keepUserID: keepUserID, network: network.mode, idMaps: idMaps)
                }
            }
            // Detached, or a container with other namespaces: the holder begun at start is not needed.
            PreparedUserNamespace.discardEarlyHolder()
            let request = try options.request(image: image, command: command)
            let session: Session
            let service: ContainerService
            var reservation: ContainerReservation?
            if let opened = early?.takeSession() {
                (session, service, reservation) = (opened.session, opened.containers, opened.reservation)
            } else {
                session = try Session.open(idMaps: idMaps)
                service = try session.containers()
            }
            guard detach else { throw ExitCode(try service.runForeground(creating: request, store: session.store, prepared: prepared, reservation: reservation)) }
            let (record, lock) = try service.create(request, store: session.store, keepLock: true)
            guard let lock else { throw ContainerError.busy(record.name) }
            defer { lock.release() }
            _ = try service.startDetached(record.id, lock: lock, name: record.name)
            print(record.id)
        } catch let error as ExitCode {
            throw error
        } catch let error as RuntimeError {
            throw fail(error, exitCode: error.exitCode)
        } catch let error as StartFailure {
            throw fail(error, exitCode: error.exitCode)
        } catch {
            throw fail(error, exitCode: 125)
        }
    }
}

struct Create: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", _superCommandName: Swctr.commandName,
        abstract: "Create a container (start it with swctr start).", helpNames: [.long])

    @OptionGroup var options: CreateOptions

    @Argument(help: "The image.")
    var image: String

    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments (default: the image's).")
    var command: [String] = []

    func run() throws {
        do {
            let session = try Session.open()
            let (record, _) = try session.containers().create(try options.request(image: image, command: command), store: session.store)
            print(record.id)
        } catch {
            throw fail(error, exitCode: 125)
        }
    }
}
