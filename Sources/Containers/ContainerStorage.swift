// The storage drivers' moving parts on the container side: the FUSE overlay's server process
// (one per running container on fuse-overlay) and the copy driver's full copy of the image.
import CLinux
import FoundationEssentials
import FuseOverlay
import Runtime
import RuntimeSpec
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// `swctr __fuse-overlay SPEC`: serves a container's rootfs over the /dev/fuse fd its init mounted,
/// as root of the container's user namespace (so it sees and gives the ids the container sees),
/// outside the container's other namespaces (so the store's directories stay in view). It ends
/// when the container's mount namespace, and with it the mount, goes away; it dies with its parent.
public final class FuseOverlayProcess {
    public static let roleName = "__fuse-overlay"
    /// The fd the /dev/fuse device has in the server.
    static let deviceFD: Int32 = 4

    let pid: ProcessID

    private init(pid: ProcessID) { self.pid = pid }

    /// Starts the server and waits until it serves (or has failed, which it reports).
    static func start(device: FileDescriptor, userNamespace: FileDescriptor, specPath: String, idMaps: IDMapPlan) throws -> FuseOverlayProcess {
        let devNull = try FileDescriptor.open("/dev/null", O_RDWR)
        defer { devNull.close() }
        let process = try NamespacedProcess.start(
            arguments: [roleName, specPath], environment: [], namespaces: [], idMaps: idMaps,
            stdio: [0: devNull, 1: devNull, 2: .standardError, deviceFD: device], enteringUserNamespace: userNamespace)
        do {
            try process.waitForExec()
        } catch {
            kill(process.pid.rawValue, SIGKILL)
            _ = try? ChildProcess.wait(process.pid)
            throw RoleFailure(userMessage: "the FUSE overlay did not start: \(error.userMessage)")
        }
        return FuseOverlayProcess(pid: process.pid)
    }

    /// Reaps the server once its container has ended (it ends by itself when the mount goes;
    /// killed if it has not within two seconds).
    func finish() {
        ChildProcess.reap(pid, killingAfter: 2000)
    }

    /// The container did not start.
    func abandon() {
        kill(pid.rawValue, SIGKILL)
        _ = try? ChildProcess.wait(pid)
    }

    /// The body of the role. Never returns.
    public static func main(arguments: [String]) -> Never {
        guard let channel = RoleChannel.current else { _exit(125) }
        guard let specPath = arguments.first else { channel.fail("bad arguments to \(roleName)") }
        let server: FuseServer
        do {
            let spec = try JSONDecoder().decode(ContainerSpec.self, from: Data(FileSystem.readFile(specPath)))
            let plan = spec.rootfs
            let filesystem = try OverlayFilesystem(upper: plan.upperDirectory, work: plan.workDirectory, lowers: plan.lowerDirectories.reversed())
            server = try FuseServer(filesystem: filesystem, target: .descriptor(deviceFD))
        } catch let error as UserFacingError {
            channel.fail(error.userMessage)
        } catch {
            channel.fail("\(error)")
        }
        // Serving: end of file on the sync socket tells the parent so.
        close(channel.fd)
        _exit(server.run() == 0 ? 0 : 1)
    }
}

/// The copy driver: the image's layers merged into the container's own directory, once, at create.
public enum RootfsCopy {
    public static let roleName = "__copy-rootfs"

    /// The body of the role (root of the user's user namespace, so owners carry over). Never returns.
    public static func main(arguments: [String]) -> Never {
        guard let channel = RoleChannel.current else { _exit(125) }
        guard let specPath = arguments.first else { channel.fail("bad arguments to \(roleName)") }
        do {
            let spec = try JSONDecoder().decode(ContainerSpec.self, from: Data(FileSystem.readFile(specPath)))
            let plan = spec.rootfs
            let filesystem = try OverlayFilesystem(upper: plan.upperDirectory, work: plan.workDirectory, lowers: plan.lowerDirectories.reversed())
            try filesystem.materialize()
        } catch let error as UserFacingError {
            channel.fail(error.userMessage)
        } catch let error as SystemCallError {
            channel.fail(error.description)
        } catch {
            channel.fail("\(error)")
        }
        _exit(0)
    }
}
