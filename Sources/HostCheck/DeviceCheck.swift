import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// A device a rootless container needs, opened read-write as this user.
struct DeviceCheck: Check {
    let name: String
    let module: String
    let purpose: String

    static let fuse = DeviceCheck(name: "/dev/fuse", module: "fuse", purpose: "FUSE filesystems (the fallback overlay, --device /dev/fuse)")
    static let tun = DeviceCheck(name: "/dev/net/tun", module: "tun", purpose: "container networking (the TAP device of the network helper)")

    func run(on host: HostContext) -> CheckResult {
        let fd = open(name, O_RDWR | O_CLOEXEC)
        if fd >= 0 {
            close(fd)
            return result(.ok, "\(name) opens read-write for \(purpose)")
        }
        let code = errno
        let reason = String(cString: strerror(code))
        if code == EACCES || code == EPERM {
            var info = stat()
            let mode = stat(name, &info) == 0 ? " (mode 0" + String(info.st_mode & 0o777, radix: 8) + ")" : ""
            return result(.failed, "cannot open \(name) read-write\(mode): \(reason); needed for \(purpose)", fix: "sudo chmod 0666 \(name)")
        }
        return result(.failed, "cannot open \(name): \(reason); needed for \(purpose)", fix: "sudo modprobe \(module)")
    }
}
