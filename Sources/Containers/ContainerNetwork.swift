import FoundationEssentials
import Network
import Rootfs
import Runtime
import RuntimeSpec
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// What `--network`, `-p`, `-P`, `--dns*` and `--add-host` asked for.
public struct NetworkRequest: Sendable {
    public var mode: NetworkMode = .default
    public var publishedPorts: [PortMapping] = []
    public var publishAll = false
    public var dnsServers: [String] = []
    public var dnsSearch: [String] = []
    public var dnsOptions: [String] = []
    /// `NAME:IP` (or `NAME=IP`); IP may be `host-gateway`.
    public var extraHosts: [String] = []

    public init() {}
}

public enum NetworkRequestError: Error, UserFacingError {
    case portsNeedSlirp(NetworkMode)
    case badExtraHost(String)
    case badDNSServer(String)
    case containerNotRunning(String)
    case containerNetworkWithUserNamespace

    public var userMessage: String {
        switch self {
        case .portsNeedSlirp(let mode):
            return "ports cannot be published with --network \(mode.text): leave out -p/-P, or use the default slirp network"
        case .badExtraHost(let text):
            return "bad --add-host \"\(text)\": use NAME:IP (IP may be host-gateway)"
        case .badDNSServer(let text):
            return "bad --dns \"\(text)\": give an IP address"
        case .containerNotRunning(let name):
            return "container \(name) is not running: start it before joining its network"
        case .containerNetworkWithUserNamespace:
            return "--userns cannot be combined with --network container:NAME (the container shares that container's user namespace)"
        }
    }
}

/// The generated /etc/hosts and /etc/resolv.conf of a container.
enum NetworkFiles {
    /// The address that host.containers.internal names: the host's loopback through slirp when
    /// allowed, else the host's own first address.
    static func hostAddress(mode: NetworkMode) -> String? {
        if case .slirp(let options) = mode, options.allowHostLoopback { return SlirpAddresses.gateway }
        return HostNetwork.primaryIPv4()
    }

    static func hosts(hostname: String, mode: NetworkMode, extraHosts: [String]) throws -> String {
        var text = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
        switch mode {
        case .slirp: text += "\(SlirpAddresses.container)\t\(hostname)\n"
        case .none: text += "127.0.1.1\t\(hostname)\n"
        case .host, .container: break
        }
        // Looked up (getifaddrs) only where it is written.
        let needsHost = mode != .none || extraHosts.contains { $0.hasSuffix("host-gateway") }
        let host = needsHost ? hostAddress(mode: mode) : nil
        if mode != .none, let host {
            text += "\(host)\thost.containers.internal host.docker.internal\n"
        }
        for entry in extraHosts {
            let separator = entry.firstIndex(of: "=") ?? entry.firstIndex(of: ":")
            guard let separator else { throw NetworkRequestError.badExtraHost(entry) }
            let name = String(entry[..<separator])
            var address = String(entry[entry.index(after: separator)...])
            if address == "host-gateway" { address = host ?? SlirpAddresses.gateway }
            guard !name.isEmpty, IPv4Address.isValid(address) || address.contains(":") else { throw NetworkRequestError.badExtraHost(entry) }
            text += "\(address)\t\(name)\n"
        }
        return text
    }

    static func resolvConf(mode: NetworkMode, request: NetworkRequest, hostResolvConf: String) throws -> String {
        for server in request.dnsServers where !IPv4Address.isValid(server) && !server.contains(":") {
            throw NetworkRequestError.badDNSServer(server)
        }
        let hostLines = hostResolvConf.split(separator: "\n").map(String.init)
        var text = ""
        // `--dns-search .` means none at all.
        if request.dnsSearch.isEmpty {
            text += hostLines.filter { $0.hasPrefix("search ") || $0.hasPrefix("domain ") }.map { $0 + "\n" }.concatenated()
        } else if request.dnsSearch != ["."] {
            text += "search " + request.dnsSearch.concatenated(separator: " ") + "\n"
        }
        let servers: [String]
        if !request.dnsServers.isEmpty {
            servers = request.dnsServers
        } else if case .slirp = mode {
            servers = [SlirpAddresses.dns]
        } else {
            servers = hostLines.filter { $0.hasPrefix("nameserver") }.compactMap { $0.split(separator: " ").dropFirst().first.map(String.init) }
        }
        text += servers.map { "nameserver \($0)\n" }.concatenated()
        let options = request.dnsOptions.isEmpty ? hostLines.filter { $0.hasPrefix("options ") } : ["options " + request.dnsOptions.concatenated(separator: " ")]
        text += options.map { $0 + "\n" }.concatenated()
        return text
    }
}

/// Where the host's resolvers are listed: /etc/resolv.conf, or SWCTR_RESOLV_CONF (for hosts whose
/// real resolver list lives elsewhere, e.g. /run/systemd/resolve/resolv.conf).
enum HostResolver {
    static var path: String {
        ProcessEnvironment.current["SWCTR_RESOLV_CONF"].flatMap { $0.isEmpty ? nil : $0 } ?? "/etc/resolv.conf"
    }
}

/// The network half of starting a container: published ports bound before anything runs (a port
/// in use is an error before the container starts) and the helper spawned at once, so that its
/// start-up overlaps the container's; it gets the container once its namespaces exist.
struct NetworkStart {
    let helper: NetworkHelperProcess?
    /// The published ports as bound (host ports picked).
    let boundPorts: [PortMapping]

    init(record: ContainerRecord) throws(NetworkError) {
        guard case .slirp(let options) = record.settings.network else {
            helper = nil
            boundPorts = []
            return
        }
        let listeners = try NetworkHelperProcess.bind(record.settings.publishedPorts ?? [])
        boundPorts = listeners.map(\.1)
        helper = try NetworkHelperProcess.spawn(options: options, listeners: listeners, resolvConfPath: HostResolver.path)
    }

    /// The container did not start.
    func abandon() { helper?.abandon() }

    /// Hands the helper the container's namespaces; `waitUntilAttached` then waits until its
    /// network is up (see NetworkHelperProcess.handOver).
    func handOver(containerPID: ProcessID, namespaces: [Int32: FileDescriptor]) throws(NetworkError) {
        guard let helper else { return }
        guard let user = namespaces[NamespaceSet.user.rawValue], let net = namespaces[NamespaceSet.network.rawValue] else {
            helper.abandon()
            throw .helperFailed("the container did not hand over its namespaces")
        }
        // From here the helper is handOver's and waitUntilAttached's to finish or to reap.
        try helper.handOver(containerPID: containerPID, userNamespace: user, networkNamespace: net)
    }

    func waitUntilAttached() throws(NetworkError) {
        try helper?.waitUntilAttached()
    }
}

/// The published ports of a container's current run, as bound (host ports picked for `-p PORT`
/// and `-P`), for `port`, `ps` and `inspect`.
public enum PublishedPortsFile {
    static func path(_ directory: ContainerDirectory) -> String { directory.path + "/ports.json" }

    /// No ports, no file (readers fall back to the record's, none either).
    static func write(_ ports: [PortMapping], directory: ContainerDirectory) {
        if ports.isEmpty {
            unlink(path(directory))
            return
        }
        guard let data = try? JSONEncoder().encode(ports) else { return }
        try? FileSystem.writeAtomically(path(directory), Array(data), mode: 0o600, durable: false)  // rewritten at each start
    }

    /// The ports bound by the last start, else the ones asked for.
    public static func read(_ record: ContainerRecord, context: ContainerContext) -> [PortMapping] {
        if let bytes = try? FileSystem.readFile(path(context.directory(of: record.id))),
           let ports = try? JSONDecoder().decode([PortMapping].self, from: Data(bytes)) {
            return ports
        }
        return record.settings.publishedPorts ?? []
    }
}
