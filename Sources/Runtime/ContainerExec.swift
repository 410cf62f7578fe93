import FoundationEssentials
import RuntimeSpec
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// The `exec` role: started by the pre-exec stage inside a running container's namespaces (joined,
/// not made), it launches one more process there. Its root and working directory are already the
/// container's: setns into the mount namespace put them there.
public enum ContainerExec {
    public static let roleName = "__exec"

    /// - Parameter program: the compiled seccomp program, base64 ("" for none).
    public static func main(processJSON: String, program: String) -> Never {
        guard let channel = RoleChannel.current else {
            try? FileDescriptor.standardError.writeAll("swctr: internal role started without its namespaces\n")
            _exit(125)
        }
        // The sealed copy this role may have been started from: not for the container to see.
        close(SealedExecutable.childDescriptor)
        guard let process = try? JSONDecoder().decode(ProcessSpec.self, from: Data(processJSON.utf8)) else {
            channel.fail("decode the exec process")
        }
        if chdir("/") != 0 { channel.fail("chdir /", errno: errno) }
        let seccompProgram = Data(base64Encoded: program).map { Array($0) }
        ProcessLauncher(process: process, channel: channel, seccompProgram: seccompProgram).launch()
    }
}
