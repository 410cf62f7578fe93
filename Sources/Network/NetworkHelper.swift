import CLinux
import CNetwork
import FoundationEssentials
import RuntimeSpec
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

public enum NetworkError: Error, Equatable, Sendable {
    case slirpUnavailable(String)
    case portInUse(PortMapping)
    case portNotAllowed(PortMapping, lowest: Int)
    case bindFailed(PortMapping, errno: Int32)
    case setup(step: String, errno: Int32)
    case helperFailed(String)

    public var message: String {
        switch self {
        case .slirpUnavailable(let why):
            return "the slirp network needs libslirp (\(why)): install it (apt install libslirp0) or use --network none"
        case .portInUse(let mapping):
            return "cannot publish \(Self.describe(mapping)): the host port is already in use; choose another host port (-p OTHER:\(mapping.containerPort))"
        case .portNotAllowed(let mapping, let lowest):
            return "cannot publish \(Self.describe(mapping)): ports below \(lowest) need privileges; use a higher host port or lower net.ipv4.ip_unprivileged_port_start"
        case .bindFailed(let mapping, let code):
            return "cannot publish \(Self.describe(mapping)): \(String(cString: strerror(code)))"
        case .setup(let step, let code):
            return "network setup failed: \(step): \(String(cString: strerror(code)))"
        case .helperFailed(let message):
            return "network setup failed: \(message)"
        }
    }

    static func describe(_ mapping: PortMapping) -> String {
        "\(mapping.hostIP.isEmpty ? "0.0.0.0" : mapping.hostIP):\(mapping.hostPort)/\(mapping.transport.rawValue)"
    }
}

/// What the starting side tells the helper, as its arguments: one `key=value` each
/// (`arguments`, `init?(arguments:)`). Not JSON: Foundation's first encode and decode cost about
/// 0.15 and 0.25 ms, the one on `swctr run`'s way to the container's init, the other on the
/// helper's way to tap0, which the container's command waits for.
public struct NetworkHelperConfiguration: Equatable, Sendable {
    public var allowHostLoopback: Bool
    public var mtu: Int
    public var ipv6: Bool
    /// The published ports, in the order of their listening sockets (fds 4, 5, …).
    public var ports: [PortMapping]
    /// The host's resolver configuration, whose nameservers answer the container's DNS.
    public var resolvConfPath: String

    public init(allowHostLoopback: Bool, mtu: Int, ipv6: Bool, ports: [PortMapping], resolvConfPath: String) {
        self.allowHostLoopback = allowHostLoopback
        self.mtu = mtu
        self.ipv6 = ipv6
        self.ports = ports
        self.resolvConfPath = resolvConfPath
    }

    /// `loopback=0|1`, `mtu=N`, `ipv6=0|1`, `resolv=PATH`, then `port=PROTOCOL/HOSTPORT/CONTAINERPORT/HOSTIP`
    /// for each port (the address last: it may hold anything but a NUL).
    public var arguments: [String] {
        var result = ["loopback=" + (allowHostLoopback ? "1" : "0"), "mtu=" + String(mtu), "ipv6=" + (ipv6 ? "1" : "0"),
                      "resolv=" + resolvConfPath]
        for port in ports {
            result.append("port=" + port.transport.rawValue + "/" + String(port.hostPort) + "/" + String(port.containerPort) + "/" + port.hostIP)
        }
        return result
    }

    /// The configuration `arguments` give; nil for anything else.
    public init?(arguments: [String]) {
        var loopback: Bool?, mtu: Int?, ipv6: Bool?, resolv: String?
        var ports: [PortMapping] = []
        for argument in arguments {
            guard let equals = argument.utf8.firstIndex(of: UInt8(ascii: "=")) else { return nil }
            let key = String(argument[..<equals])
            let value = String(argument[argument.index(after: equals)...])
            switch key {
            case "loopback", "ipv6":
                guard value == "0" || value == "1" else { return nil }
                if key == "loopback" { loopback = value == "1" } else { ipv6 = value == "1" }
            case "mtu": mtu = Int(value)
            case "resolv": resolv = value
            case "port":
                let fields = value.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false)
                guard fields.count == 4, let transport = PortMapping.TransportProtocol(rawValue: String(fields[0])),
                      let hostPort = Int(fields[1]), let containerPort = Int(fields[2]) else { return nil }
                ports.append(PortMapping(hostIP: String(fields[3]), hostPort: hostPort, containerPort: containerPort, transport: transport))
            default: return nil
            }
        }
        guard let loopback, let mtu, let ipv6, let resolv else { return nil }
        self.init(allowHostLoopback: loopback, mtu: mtu, ipv6: ipv6, ports: ports, resolvConfPath: resolv)
    }
}

/// The network helper: `swctr __net KEY=VALUE…` (`NetworkHelperConfiguration.arguments`). It is started before the container, loads libslirp,
/// then waits on its control socket for the container: its init's pid with its user and network
/// namespace fds. It makes tap0 inside, answers "ok", and stays on the host side carrying the
/// container's traffic to host sockets until the container's init ends.
public enum NetworkHelper {
    public static let roleName = "__net"
    static let controlFD: Int32 = 3
    static let firstListenerFD: Int32 = 4

    public static func main(arguments: [String]) -> Never {
        let control = FileDescriptor(rawValue: controlFD)
        _ = fcntl(controlFD, F_SETFD, FD_CLOEXEC)
        func giveUp(_ message: String) -> Never {
            try? control.writeAll("error " + message)
            _exit(1)
        }
        signal(SIGPIPE, SIG_IGN)
        signal(SIGHUP, SIG_IGN)
        guard let configuration = NetworkHelperConfiguration(arguments: arguments) else {
            giveUp("the network helper was started without its configuration")
        }
        // Ready before the container is: libslirp loaded, the host's resolvers read.
        var error = [CChar](repeating: 0, count: 256)
        guard swctr_slirp_load(&error, error.count) == 0 else { giveUp(NetworkError.slirpUnavailable(cText(error)).message) }
        let resolvConf = (try? FileSystem.readText(configuration.resolvConfPath)) ?? ""
        let pingAllowed = PingSockets.available()

        // The stack and the DNS forwarder too, while the container is being made: once tap0 is
        // up, only its fd is left to give them.
        let polls = PollSet()
        let engine: SlirpEngine
        do {
            engine = try SlirpEngine(tap: -1, polls: polls, settings: .init(
                allowHostLoopback: configuration.allowHostLoopback, mtu: configuration.mtu, ipv6: configuration.ipv6))
        } catch {
            giveUp(error.message)
        }
        let send: ([UInt8]) -> Void = { frame in _ = frame.withUnsafeBytes { write(engine.tap, $0.baseAddress, $0.count) } }
        let dns = DNSForwarder(server: IPv4(SlirpAddresses.dns)!, resolvConf: resolvConf, send: send)

        // The container: its init's pid, then its user and network namespaces.
        var pid: Int32 = 0
        var namespaces: [Int32] = [-1, -1]
        guard swctr_net_receive_fds(controlFD, &pid, &namespaces, 2) == 2 else { _exit(0) }
        let pidfd = swctr_pidfd_open(pid)
        guard pidfd >= 0 else { giveUp("the container's init is gone") }

        var tapConfig = swctr_tap_config()
        withUnsafeMutableBytes(of: &tapConfig.name) { raw in
            let name = Array(SlirpAddresses.interface.utf8)
            raw.copyBytes(from: name)
            raw[name.count] = 0
        }
        tapConfig.mtu = Int32(configuration.mtu)
        withUnsafeMutableBytes(of: &tapConfig.mac) { $0.copyBytes(from: LinkAddress.container) }
        tapConfig.address = SlirpEngine.address(SlirpAddresses.container)
        tapConfig.netmask = SlirpEngine.address(SlirpAddresses.netmask)
        tapConfig.gateway = SlirpEngine.address(SlirpAddresses.gateway)
        if configuration.ipv6 {
            tapConfig.ipv6 = 1
            tapConfig.address6 = SlirpEngine.address6(SlirpAddresses.container6)
            tapConfig.prefix6 = 64
            tapConfig.gateway6 = SlirpEngine.address6(SlirpAddresses.gateway6)
        }
        let tap = swctr_net_open_tap(namespaces[0], namespaces[1], &tapConfig, &error, error.count)
        guard tap >= 0 else { giveUp("\(cText(error)): \(String(cString: strerror(errno)))") }
        _ = fcntl(tap, F_SETFL, fcntl(tap, F_GETFL) | O_NONBLOCK)
        engine.tap = tap

        var connector: Int32 = -1
        if configuration.ports.contains(where: { $0.transport == .tcp }) {
            var child: pid_t = 0
            connector = swctr_net_start_connector(namespaces[0], namespaces[1], &child, &error, error.count)
            guard connector >= 0 else { giveUp("\(cText(error)): \(String(cString: strerror(errno)))") }
        }
        close(namespaces[0])
        close(namespaces[1])
        let listeners = configuration.ports.enumerated().map { (FileDescriptor(rawValue: firstListenerFD + Int32($0.offset)), $0.element) }
        let ports = PortForwarder(listeners: listeners, connector: connector, container: IPv4(SlirpAddresses.container)!,
                                  gateway: IPv4(SlirpAddresses.gateway)!, send: send)
        try? control.writeAll("ok")
        control.close()

        var loop = Loop(tap: tap, pidfd: pidfd, polls: polls, engine: engine, dns: dns, ports: ports, pingAllowed: pingAllowed)
        loop.run()
        dns.closeAll()
        ports.closeAll()
        _exit(0)
    }

    /// One poll(2) per turn over the TAP, the container's pidfd, the published ports, pending DNS
    /// queries and libslirp's sockets.
    struct Loop {
        let tap: Int32
        let pidfd: Int32
        let polls: PollSet
        let engine: SlirpEngine
        let dns: DNSForwarder
        let ports: PortForwarder
        /// Whether libslirp can open ICMP sockets for the container's pings.
        let pingAllowed: Bool
        var warnedAboutPing = false

        mutating func run() {
            var frame = [UInt8](repeating: 0, count: 65536 + 64)
            while true {
                polls.entries.removeAll(keepingCapacity: true)
                let tapIndex = polls.add(tap, Int16(POLLIN))
                let pidIndex = polls.add(pidfd, Int16(POLLIN))
                ports.addPolls(polls)
                dns.addPolls(polls)
                let now = SlirpEngine.nowNanoseconds() / 1_000_000
                let timeout = engine.fill(timeout: min(dns.timeout(now: now), 60_000))
                let result = poll(&polls.entries, nfds_t(polls.entries.count), timeout)
                if result < 0 && errno != EINTR { return }
                if polls.revents(pidIndex) != 0 { return }
                engine.dispatch(pollFailed: result < 0)
                if polls.revents(tapIndex) & Int16(POLLIN) != 0 {
                    // A bounded batch per turn, so sockets get their share.
                    for _ in 0..<256 {
                        let n = frame.withUnsafeMutableBytes { swctr_net_read_frame(tap, $0.baseAddress!.assumingMemoryBound(to: UInt8.self), $0.count) }
                        if n <= 0 { if n < 0 { return }; break }
                        frame.withUnsafeBytes { raw in
                            let bytes = UnsafeRawBufferPointer(rebasing: raw[0..<n])
                            if let udp = UDPFrame(bytes), dns.intercept(udp, bytes: bytes) || ports.intercept(udp, bytes: bytes) { return }
                            if !pingAllowed, let echo = ICMPEchoRequest(bytes), refusePing(echo, bytes) { return }
                            engine.input(bytes)
                        }
                    }
                }
                ports.serve(polls)
                dns.serve(polls)
            }
        }

        /// A ping that cannot leave the host: answered "administratively prohibited" at once
        /// (instead of silence), and swctr's stderr told why, once.
        mutating func refusePing(_ echo: ICMPEchoRequest, _ bytes: UnsafeRawBufferPointer) -> Bool {
            let gateway = IPv4(SlirpAddresses.gateway)!
            // libslirp answers pings to its own addresses itself.
            guard echo.destination.value >> 8 != gateway.value >> 8 else { return false }
            let answer = echo.prohibited(from: gateway, frame: bytes)
            _ = answer.withUnsafeBytes { write(tap, $0.baseAddress, $0.count) }
            if !warnedAboutPing {
                warnedAboutPing = true
                try? FileDescriptor(rawValue: 2).writeAll(PingSockets.warning() + "\r\n")
            }
            return true
        }
    }
}

/// Unprivileged ICMP sockets (what libslirp uses for the container's pings), allowed for the
/// groups in net.ipv4.ping_group_range.
enum PingSockets {
    static func available() -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), Int32(IPPROTO_ICMP))
        if fd < 0 { return false }
        close(fd)
        return true
    }

    static func warning() -> String {
        let text = ((try? FileSystem.readText("/proc/sys/net/ipv4/ping_group_range")) ?? "").trimmed
        let bounds = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).compactMap { Int64($0) }
        let allowed = bounds.count == 2 && bounds[0] <= bounds[1] ? "only to groups \(bounds[0])-\(bounds[1])" : "to no group"
        return "swctr: ping from the container cannot reach the network: this host allows unprivileged ping \(allowed) "
            + "(net.ipv4.ping_group_range); to allow it: sudo sysctl -w net.ipv4.ping_group_range=\"0 2147483647\""
    }
}
