import CLinux
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// What a process that enters a running container is executed from. The danger (runc's
/// CVE-2019-5736): until its final execve, such a process *is* the swctr binary, and a container
/// that replaced a command with `#!/proc/self/exe` gets that binary executed inside, where its
/// /proc/PID/exe can be opened and, once it exits, written. When the user can write the binary
/// (installed under $HOME, say), the container's root — the same user — could then plant code
/// that swctr runs on the host. So in that case the process starts from a sealed in-memory copy
/// (memfd with F_SEAL_WRITE): the container reaches only the copy, and the copy cannot change.
/// When the binary is not writable by the user (a root-owned install), it runs as is.
public struct SealedExecutable {
    /// The path to spawn.
    public let path: String
    /// The fd the child must find at `childDescriptor` (the memfd), if any.
    public let descriptor: FileDescriptor?

    /// Where the memfd sits in the child; the exec role closes it first thing.
    public static let childDescriptor: Int32 = 4

    public static func forEnteringContainer() throws(SystemCallError) -> SealedExecutable {
        if access("/proc/self/exe", W_OK) != 0 { return SealedExecutable(path: "/proc/self/exe", descriptor: nil) }
        let source = try FileDescriptor.open("/proc/self/exe", O_RDONLY)
        defer { source.close() }
        let memfd = try FileDescriptor(rawValue: systemCall("memfd_create") {
            swctr_memfd_create("swctr", UInt32(0x0001 | 0x0002) /* MFD_CLOEXEC | MFD_ALLOW_SEALING */)
        })
        var info = stat()
        fstat(source.rawValue, &info)
        var remaining = Int(info.st_size)
        while remaining > 0 {
            let copied = swctr_sendfile(memfd.rawValue, source.rawValue, remaining)
            if copied < 0 && errno == EINTR { continue }
            if copied <= 0 {
                let code = copied < 0 ? errno : EIO
                memfd.close()
                throw SystemCallError("copy the swctr binary into a sealed memfd", errno: code)
            }
            remaining -= copied
        }
        if swctr_seal_all(memfd.rawValue) != 0 {
            let code = errno
            memfd.close()
            throw SystemCallError("seal the memfd copy of swctr", errno: code)
        }
        return SealedExecutable(path: "/proc/self/fd/\(childDescriptor)", descriptor: memfd)
    }
}
