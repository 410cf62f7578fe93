import CLinux
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

    /// Spawns the helper for the container whose init is `containerPID` and waits until it is
    /// carrying traffic. The listening sockets are handed over (and closed here).
    /// `namespaces` are the container's user and network namespace fds.
    public static func start(containerPID: ProcessID, userNamespace: FileDescriptor, networkNamespace: FileDescriptor,
                             options: SlirpOptions, listeners: [(FileDescriptor, PortMapping)],
                             resolvConfPath: String) throws(NetworkError) -> NetworkHelperProcess {
        defer { for (fd, _) in listeners { fd.close() } }
        let configuration = NetworkHelperConfiguration(
            containerPID: containerPID.rawValue, allowHostLoopback: options.allowHostLoopback, mtu: options.mtu,
            ipv6: options.enableIPv6 ?? HostNetwork.hasIPv6(), ports: listeners.map(\.1), resolvConfPath: resolvConfPath)
        guard let json = try? JSONEncoder().encode(configuration) else { throw .helperFailed("cannot encode its configuration") }
        var ends: [Int32] = [0, 0]
        guard swctr_pipe2(&ends, O_CLOEXEC) == 0 else { throw .setup(step: "pipe2", errno: errno) }
        let readEnd = FileDescriptor(rawValue: ends[0])
        let writeEnd = FileDescriptor(rawValue: ends[1])
        defer { readEnd.close() }
        var layout: [Int32: FileDescriptor] = [NetworkHelper.readyFD: writeEnd, NetworkHelper.userNamespaceFD: userNamespace,
                                               NetworkHelper.networkNamespaceFD: networkNamespace]
        for (index, listener) in listeners.enumerated() { layout[NetworkHelper.firstListenerFD + Int32(index)] = listener.0 }
        // stderr stays the caller's: the helper's one warning (ping) reaches the user's terminal.
        if let devNull = try? FileDescriptor.open("/dev/null", O_RDWR) {
            layout[0] = devNull; layout[1] = devNull
        }
        let pid: ProcessID
        do {
            pid = try ChildProcess.spawn("/proc/self/exe", arguments: ["swctr", NetworkHelper.roleName, String(decoding: json, as: UTF8.self)],
                                         environment: [], fileDescriptors: layout, newSession: true)
        } catch {
            writeEnd.close()
            layout[0]?.close()
            throw .setup(step: "start the network helper", errno: error.errno)
        }
        writeEnd.close()
        layout[0]?.close()
        // One line: its children may still hold the pipe open, so end of file is no signal.
        let answer = readLine(readEnd)
        if answer.hasPrefix("ok") { return NetworkHelperProcess(pid: pid) }
        kill(pid.rawValue, SIGKILL)
        _ = try? ChildProcess.wait(pid)
        if answer.hasPrefix("error ") {
            throw .helperFailed(String(answer.dropFirst(6)).trimmed)
        }
        throw .helperFailed("the network helper ended before the network was up")
    }

    private static func readLine(_ fd: FileDescriptor) -> String {
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while bytes.count < 4096 {
            let n = read(fd.rawValue, &byte, 1)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 || byte == UInt8(ascii: "\n") { break }
            bytes.append(byte)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Reaps the helper after its container has ended (it exits by itself then; it is killed if
    /// it has not within a second).
    public func finish() {
        for _ in 0..<100 {
            var status: Int32 = 0
            let result = waitpid(pid.rawValue, &status, WNOHANG)
            if result != 0 { return }
            usleep(10_000)
        }
        kill(pid.rawValue, SIGKILL)
        _ = try? ChildProcess.wait(pid)
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
