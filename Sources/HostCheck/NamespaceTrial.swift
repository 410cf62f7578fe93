import Runtime
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// Runs a short probe as root of a new user namespace (a re-execution of swctr in the hidden
/// role `__host-probe`), for the checks that must try the real thing.
enum NamespaceTrial {
    static let roleName = "__host-probe"
    /// A probe ends itself (SIGALRM) after this long: no check can hang.
    static let timeLimitSeconds: UInt32 = 10

    /// What the probe does inside.
    enum Task {
        /// Nothing: making the namespace and mapping it was the test.
        case nothing
        /// Waits for the parent's go-ahead, so the parent can read the namespace's id maps.
        case hold
        /// Mounts a kernel overlay with userxattr over the directories made in this scratch directory.
        case overlay(scratch: String)
        /// Mounts FUSE (an unserved mount, unmounted at once) on the scratch directory's merged/.
        case fuse(scratch: String)

        var arguments: [String] {
            switch self {
            case .nothing: return ["nothing"]
            case .hold: return ["hold"]
            case .overlay(let scratch): return ["overlay", scratch]
            case .fuse(let scratch): return ["fuse", scratch]
            }
        }
    }

    /// Runs `task` in `namespaces` mapped by `idMaps`; `whileHeld` sees the probe's pid during `.hold`.
    /// Returns nil on success, else the one-line reason.
    static func run(_ task: Task, namespaces: NamespaceSet, idMaps: IDMapPlan,
                    whileHeld: (ProcessID) -> Void = { _ in }) -> String? {
        let process: NamespacedProcess
        do {
            process = try NamespacedProcess.start(arguments: [roleName] + task.arguments,
                                                  environment: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
                                                  namespaces: namespaces, idMaps: idMaps)
        } catch {
            return error.userMessage
        }
        if case .hold = task {
            whileHeld(process.pid)
            process.release()
        }
        var reported: String?
        do { try process.waitForExec() } catch {
            if case .initFailed(let step, let code) = error {
                reported = code == 0 ? step : step + ": " + String(cString: strerror(code))
            } else {
                reported = error.userMessage
            }
        }
        let status = (try? ChildProcess.wait(process.pid)) ?? .exited(125)
        if let reported { return reported }
        if status == .signaled(SIGALRM) { return "the probe did not finish within \(timeLimitSeconds) s" }
        if status != .exited(0) { return "the probe ended with \(status)" }
        return nil
    }

    /// A map of just the user's own ids, written by swctr itself: needs no helpers or subordinate ids.
    static func singleIDMap(for host: HostContext) -> IDMapPlan {
        IDMapPlan.forCurrentUser(subuidText: nil, subgidText: nil, userName: host.userName, uid: host.uid, gid: host.gid,
                                 newuidmap: nil, newgidmap: nil)
    }
}

/// The body of the probe role, inside the namespaces. Never returns.
public enum HostProbeRole {
    public static let name = NamespaceTrial.roleName

    public static func main(arguments: [String]) -> Never {
        guard let channel = RoleChannel.current else { _exit(125) }
        alarm(NamespaceTrial.timeLimitSeconds)
        switch arguments.first {
        case "hold":
            channel.waitForGo()
        case "overlay":
            guard arguments.count == 2 else { channel.fail("bad arguments to \(name)") }
            OverlayTrial(scratch: arguments[1]).mountAndUse(channel: channel)
        case "fuse":
            guard arguments.count == 2 else { channel.fail("bad arguments to \(name)") }
            OverlayTrial(scratch: arguments[1]).mountFuse(channel: channel)
        default:
            break
        }
        _exit(0)
    }
}
