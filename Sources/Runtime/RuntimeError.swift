import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// What can go wrong starting or running a container; each says the step and what to do.
public enum RuntimeError: Error, UserFacingError {
    case spawn(SystemCallError)
    case namespaceSetup(step: String, errno: Int32)
    case idMapping(tool: String, output: String)
    case initFailed(step: String, errno: Int32)
    case executableNotFound(command: String)
    case notExecutable(command: String, errno: Int32)
    case childVanished(ExitStatus)
    case unsupported(String)

    public var userMessage: String {
        switch self {
        case .spawn(let error):
            return "cannot start the container process: \(error.description)"
        case .namespaceSetup(let step, let code):
            var advice = ""
            if step.contains("CLONE_NEWUSER") && (code == EPERM || code == ENOSPC || code == EACCES) {
                advice = " — unprivileged user namespaces are disabled or exhausted on this host: check `sysctl user.max_user_namespaces` (must be > 0), `kernel.unprivileged_userns_clone=1` on Debian kernels, `kernel.apparmor_restrict_unprivileged_userns=0` on Ubuntu"
            }
            return "cannot create the container's namespaces: \(step) failed: \(String(cString: strerror(code)))\(advice)"
        case .idMapping(let tool, let output):
            return "cannot map the user namespace: \(tool) failed: \(output) — check that /etc/subuid and /etc/subgid give this user a range (sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 $USER)"
        case .initFailed(let step, let code):
            return code == 0 ? "cannot set up the container: \(step)" : "cannot set up the container: \(step): \(String(cString: strerror(code)))"
        case .executableNotFound(let command):
            return "cannot run \"\(command)\": executable file not found in $PATH in the container"
        case .notExecutable(let command, let code):
            return "cannot run \"\(command)\": \(String(cString: strerror(code)))"
        case .childVanished(let status):
            return "the container process ended during setup (\(status))"
        case .unsupported(let message):
            return message
        }
    }

    /// Docker's exit codes: 127 command not found, 126 cannot execute, 125 swctr itself failed.
    public var exitCode: Int32 {
        switch self {
        case .executableNotFound: return 127
        case .notExecutable: return 126
        default: return 125
        }
    }
}
