#if canImport(Glibc)
import Glibc
#endif

/// ICMP echo sockets (net.ipv4.ping_group_range): `ping` inside containers needs them.
struct PingGroupCheck: Check {
    let name = "ping"

    func run(on host: HostContext) -> CheckResult {
        let range = KernelSetting.read("net.ipv4.ping_group_range")?.split(whereSeparator: \.isWhitespace).joined(separator: " ") ?? "?"
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), Int32(IPPROTO_ICMP))
        if fd >= 0 {
            close(fd)
            return result(.ok, "ping sockets are allowed (net.ipv4.ping_group_range is \"\(range)\")")
        }
        let reason = String(cString: strerror(errno))
        return result(.warning, "cannot open a ping socket (\(reason); net.ipv4.ping_group_range is \"\(range)\"): ping in containers fails",
                      fix: "sudo sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"")
    }
}

/// net.ipv4.ip_unprivileged_port_start: host ports below it cannot be published (-p 80:80).
struct UnprivilegedPortCheck: Check {
    let name = "unprivileged ports"

    func run(on host: HostContext) -> CheckResult {
        guard let start = KernelSetting.integer("net.ipv4.ip_unprivileged_port_start") else {
            return result(.notApplicable, "net.ipv4.ip_unprivileged_port_start is not there: ports below 1024 cannot be published")
        }
        if start == 0 || host.uid == 0 { return result(.ok, "any host port can be published") }
        return result(.ok, "host ports below \(start) cannot be published (sudo sysctl -w net.ipv4.ip_unprivileged_port_start=80 would allow 80 and up)")
    }
}
