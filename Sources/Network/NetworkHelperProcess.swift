import CLinux
import CNetwork
import FoundationEssentials
import RuntimeSpec
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// The starting side of the network helper: binds the published ports (so a port in use fails
/// before the container runs), spawns `swctr __net`, and waits until tap0 is up inside.
public struct NetworkHelperProcess: Sendable {
    public let pid: ProcessID
    /// The control socket (SOCK_SEQPACKET): the container goes in, "ok" or "error …" comes back.
    let control: FileDescriptor

    /// Listening sockets for `mappings`, with a host port picked where it was 0.
    public static func bind(_ mappings: [PortMapping]) throws(NetworkError) -> [(FileDescriptor, PortMapping)] {
        var bound: [(FileDescriptor, PortMapping)] = []
        for mapping in mappings {
            do {
                bound.append(try bindOne(mapping))
            } catch {
                for (fd, _) in bound { fd.close() }
                throw error
            }
        }
        return bound
    }

    private static func bindOne(_ mapping: PortMapping) throws(NetworkError) -> (FileDescriptor, PortMapping) {
        let ipv6 = mapping.hostIP.contains(":")
        let type = mapping.transport == .tcp ? Int32(SOCK_STREAM.rawValue) : Int32(SOCK_DGRAM.rawValue)
        let fd = socket(ipv6 ? AF_INET6 : AF_INET, type | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .bindFailed(mapping, errno: errno) }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var storage = sockaddr_storage()
        var length: socklen_t
        if ipv6 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = UInt16(mapping.hostPort).bigEndian
            guard inet_pton(AF_INET6, mapping.hostIP, &address.sin6_addr) == 1 else { close(fd); throw .bindFailed(mapping, errno: EINVAL) }
            withUnsafeBytes(of: address) { raw in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: raw) } }
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        } else {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(mapping.hostPort).bigEndian
            guard inet_pton(AF_INET, mapping.hostIP.isEmpty ? "0.0.0.0" : mapping.hostIP, &address.sin_addr) == 1 else {
                close(fd); throw .bindFailed(mapping, errno: EINVAL)
            }
            withUnsafeBytes(of: address) { raw in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: raw) } }
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
        }
        let result = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, length) } }
        if result != 0 {
            let code = errno
            close(fd)
            switch code {
            case EADDRINUSE: throw .portInUse(mapping)
            case EACCES:
                let lowest = (try? FileSystem.readText("/proc/sys/net/ipv4/ip_unprivileged_port_start")).flatMap { Int($0.trimmed) } ?? 1024
                throw .portNotAllowed(mapping, lowest: lowest)
            default: throw .bindFailed(mapping, errno: code)
            }
        }
        if mapping.transport == .tcp && listen(fd, 1024) != 0 {
            let code = errno
            close(fd)
            throw .bindFailed(mapping, errno: code)
        }
        var resolved = mapping
        if mapping.hostPort == 0 {
            var actual = sockaddr_storage()
            var actualLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
            _ = withUnsafeMutablePointer(to: &actual) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &actualLength) } }
            resolved.hostPort = Int(UInt16(bigEndian: withUnsafeBytes(of: actual) { $0.load(fromByteOffset: 2, as: UInt16.self) }))
        }
        return (FileDescriptor(rawValue: fd), resolved)
    }

    /// Spawns the helper, before the container, so that its start-up overlaps the container's;
    /// `attach` then hands it the container. The listening sockets are handed over (and closed here).
    public static func spawn(options: SlirpOptions, listeners: [(FileDescriptor, PortMapping)],
                             resolvConfPath: String) throws(NetworkError) -> NetworkHelperProcess {
        defer { for (fd, _) in listeners { fd.close() } }
        let configuration = NetworkHelperConfiguration(
            allowHostLoopback: options.allowHostLoopback, mtu: options.mtu,
            ipv6: options.enableIPv6 ?? HostNetwork.hasIPv6(), ports: listeners.map(\.1), resolvConfPath: resolvConfPath)
        var pair: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw .setup(step: "socketpair", errno: errno)
        }
        let control = FileDescriptor(rawValue: pair[0])
        let childEnd = FileDescriptor(rawValue: pair[1])
        defer { childEnd.close() }
        var layout: [Int32: FileDescriptor] = [NetworkHelper.controlFD: childEnd]
        for (index, listener) in listeners.enumerated() { layout[NetworkHelper.firstListenerFD + Int32(index)] = listener.0 }
        // stderr stays the caller's: the helper's one warning (ping) reaches the user's terminal.
        let devNull = try? FileDescriptor.open("/dev/null", O_RDWR)
        if let devNull { layout[0] = devNull; layout[1] = devNull }
        defer { devNull?.close() }
        do {
            let pid = try ChildProcess.spawn("/proc/self/exe", arguments: ["swctr", NetworkHelper.roleName] + configuration.arguments,
                                             environment: [], fileDescriptors: layout, newSession: true)
            return NetworkHelperProcess(pid: pid, control: control)
        } catch {
            control.close()
            throw .setup(step: "start the network helper", errno: error.errno)
        }
    }

    /// Hands the helper the container (its init's pid, user and network namespaces), so that it
    /// sets tap0 up while the caller does something else; then `waitUntilAttached`. On failure
    /// the helper is gone.
    public func handOver(containerPID: ProcessID, userNamespace: FileDescriptor, networkNamespace: FileDescriptor) throws(NetworkError) {
        let fds = [userNamespace.rawValue, networkNamespace.rawValue]
        guard swctr_net_send_fds(control.rawValue, containerPID.rawValue, fds, 2) == 0 else {
            control.close()
            kill(pid.rawValue, SIGKILL)
            _ = try? ChildProcess.wait(pid)
            throw .helperFailed("the network helper ended before the container started")
        }
    }

    /// After `handOver`: waits until tap0 is up inside and the helper carries traffic.
    public func waitUntilAttached() throws(NetworkError) {
        defer { control.close() }
        var answer = [UInt8](repeating: 0, count: 1024)
        var n: Int
        repeat { n = read(control.rawValue, &answer, answer.count) } while n < 0 && errno == EINTR
        let text = n > 0 ? String(decoding: answer[0..<n], as: UTF8.self) : ""
        if text == "ok" { return }
        kill(pid.rawValue, SIGKILL)
        _ = try? ChildProcess.wait(pid)
        if text.hasPrefix("error ") { throw .helperFailed(String(text.dropFirst(6)).trimmed) }
        throw .helperFailed("the network helper ended before the network was up")
    }

    /// The container did not start: the helper goes (it ends by itself when its control socket
    /// closes; this reaps it).
    public func abandon() {
        control.close()
        kill(pid.rawValue, SIGKILL)
        _ = try? ChildProcess.wait(pid)
    }

    /// Reaps the helper after its container has ended (it exits by itself then; it is killed if
    /// it has not within a second).
    public func finish() {
        ChildProcess.reap(pid, killingAfter: 1000)
    }
}

public enum HostNetwork {
    /// Whether the host has an IPv6 address beyond loopback and link-local ones.
    public static func hasIPv6() -> Bool {
        guard let table = try? FileSystem.readText("/proc/net/if_inet6") else { return false }
        return table.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let address = fields.first, fields.count >= 6 else { return false }
            return address != "00000000000000000000000000000001" && !address.hasPrefix("fe80")
        }
    }

    /// The host's first IPv4 address that is not loopback (what host.containers.internal names
    /// when the host's loopback is not reachable from the container).
    public static func primaryIPv4() -> String? {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return nil }
        defer { freeifaddrs(list) }
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard let address = entry.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET),
                  entry.pointee.ifa_flags & UInt32(IFF_LOOPBACK) == 0,
                  entry.pointee.ifa_flags & UInt32(IFF_UP) != 0 else { continue }
            var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
            var inet = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
            inet_ntop(AF_INET, &inet, &text, socklen_t(text.count))
            return cText(text)
        }
        return nil
    }
}

/// A NUL-terminated C buffer as a String.
func cText(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
