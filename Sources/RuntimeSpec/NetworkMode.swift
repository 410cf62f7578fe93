/// How a container is connected: `--network`.
public enum NetworkMode: Equatable, Sendable {
    /// Its own network namespace with only loopback.
    case none
    /// The host's network namespace.
    case host
    /// Its own network namespace with a TAP device carried to the host's sockets by the network
    /// helper (the default).
    case slirp(SlirpOptions)
    /// The network namespace of another container (its name or id as the user gave it).
    case container(String)

    public static let `default` = NetworkMode.slirp(SlirpOptions())

    /// Whether the container gets a network namespace of its own.
    public var needsNamespace: Bool {
        switch self {
        case .none, .slirp: return true
        case .host, .container: return false
        }
    }

    /// Whether the container sees a network namespace that is not the host's (its own, or
    /// another container's, entered through that container's user namespace).
    public var isolatesNetwork: Bool { self != .host }

    /// Parses `--network VALUE` as Podman spells it (`slirp4netns` is an alias of `slirp`).
    public init(parsing text: String) throws(NetworkOptionError) {
        let (name, options) = text.splitOnce(":")
        switch name {
        case "none":
            guard options == nil else { throw .unexpectedOptions(name) }
            self = .none
        case "host":
            guard options == nil else { throw .unexpectedOptions(name) }
            self = .host
        // `bridge` and `default` are what Docker scripts say; rootless, the default is this network.
        case "slirp", "slirp4netns", "default", "bridge":
            self = .slirp(try SlirpOptions(parsing: options ?? ""))
        case "container":
            guard let target = options, !target.isEmpty else { throw .missingContainer }
            self = .container(target)
        default:
            throw .unknownMode(text)
        }
    }

    /// The form `--network` takes, which is also how it is stored.
    public var text: String {
        switch self {
        case .none: return "none"
        case .host: return "host"
        case .slirp(let options): return options.text.isEmpty ? "slirp" : "slirp:" + options.text
        case .container(let target): return "container:" + target
        }
    }
}

extension NetworkMode: Codable {
    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { self = try NetworkMode(parsing: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }
}

/// The options of the slirp network (`--network slirp:NAME=VALUE,…`).
public struct SlirpOptions: Equatable, Sendable {
    /// Whether 10.0.2.2 reaches the host's loopback (off by default, as with slirp4netns).
    public var allowHostLoopback = false
    public var mtu = 65520
    /// An IPv6 address (fd00::100/64) next to the IPv4 one; nil: when the host has IPv6.
    public var enableIPv6: Bool?

    public init() {}

    public init(parsing text: String) throws(NetworkOptionError) {
        for item in text.split(separator: ",") where !item.isEmpty {
            let (key, value) = String(item).splitOnce("=")
            func flag() throws(NetworkOptionError) -> Bool {
                switch value ?? "true" {
                case "true": return true
                case "false": return false
                default: throw .badValue(key, value ?? "")
                }
            }
            switch key {
            case "allow_host_loopback": allowHostLoopback = try flag()
            case "enable_ipv6": enableIPv6 = try flag()
            case "mtu":
                guard let number = value.flatMap({ Int($0) }), (1280...65520).contains(number) else {
                    throw .badValue(key, value ?? "")
                }
                mtu = number
            // Podman's other slirp4netns options: named so the error says they are known but not done.
            case "port_handler", "outbound_addr", "outbound_addr6", "cidr":
                throw .unsupportedOption(key)
            default:
                throw .unknownOption(key)
            }
        }
    }

    var text: String {
        var parts: [String] = []
        if allowHostLoopback { parts.append("allow_host_loopback=true") }
        if mtu != 65520 { parts.append("mtu=\(mtu)") }
        if let enableIPv6 { parts.append("enable_ipv6=\(enableIPv6)") }
        return parts.joined(separator: ",")
    }
}

public enum NetworkOptionError: Error, Equatable, Sendable {
    case unknownMode(String)
    case unexpectedOptions(String)
    case missingContainer
    case unknownOption(String)
    case unsupportedOption(String)
    case badValue(String, String)
    case badPort(String, String)

    public var message: String {
        switch self {
        case .unknownMode(let text):
            return "unknown network mode \"\(text)\": use slirp (the default), none, host or container:NAME"
        case .unexpectedOptions(let mode):
            return "the \(mode) network takes no options"
        case .missingContainer:
            return "--network container: needs a container name or id (container:NAME)"
        case .unknownOption(let key):
            return "unknown slirp network option \"\(key)\": use allow_host_loopback, mtu or enable_ipv6"
        case .unsupportedOption(let key):
            return "the slirp network option \"\(key)\" is not supported by swctr"
        case .badValue(let key, let value):
            return "bad value \"\(value)\" for the network option \(key)"
        case .badPort(let text, let why):
            return "bad port mapping \"\(text)\": \(why) (use [IP:][HOSTPORT:]CONTAINERPORT[/tcp|/udp])"
        }
    }
}

/// One published port: `-p [IP:][HOSTPORT:]CONTAINERPORT[/PROTOCOL]`.
public struct PortMapping: Codable, Equatable, Hashable, Sendable {
    public enum TransportProtocol: String, Codable, Sendable { case tcp, udp }

    /// The host address to listen on ("" for all of them).
    public var hostIP: String
    /// 0 until a free port is picked for `-p CONTAINERPORT` and `-P`.
    public var hostPort: Int
    public var containerPort: Int
    public var transport: TransportProtocol

    public init(hostIP: String = "", hostPort: Int, containerPort: Int, transport: TransportProtocol = .tcp) {
        self.hostIP = hostIP
        self.hostPort = hostPort
        self.containerPort = containerPort
        self.transport = transport
    }

    /// `8080:80`, `127.0.0.1:8080:80/udp`, `80`, `127.0.0.1::80`, `8000-8002:80-82`: one or more mappings.
    public static func parse(_ text: String) throws(NetworkOptionError) -> [PortMapping] {
        var body = Substring(text)
        var transport = TransportProtocol.tcp
        if let slash = body.lastIndex(of: "/") {
            guard let parsed = TransportProtocol(rawValue: String(body[body.index(after: slash)...]).lowercased()) else {
                throw .badPort(text, "the protocol must be tcp or udp")
            }
            transport = parsed
            body = body[..<slash]
        }
        var hostIP = ""
        var parts = body.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        if body.hasPrefix("[") , let close = body.firstIndex(of: "]") {
            hostIP = String(body[body.index(after: body.startIndex)..<close])
            parts = body[body.index(after: close)...].split(separator: ":", omittingEmptySubsequences: false).dropFirst().map(String.init)
            guard parts.count == 2 else { throw .badPort(text, "an IPv6 address needs HOSTPORT:CONTAINERPORT after it") }
        } else if parts.count == 3 {
            hostIP = parts.removeFirst()
        }
        guard (1...2).contains(parts.count) else { throw .badPort(text, "too many colons") }
        if !hostIP.isEmpty && !IPv4Address.isValid(hostIP) && !hostIP.contains(":") {
            throw .badPort(text, "\"\(hostIP)\" is not an IP address")
        }
        let containerPorts = try portRange(parts.last!, in: text)
        var hostPorts: [Int]
        if parts.count == 2 && !parts[0].isEmpty {
            hostPorts = try portRange(parts[0], in: text)
            if hostPorts.count != containerPorts.count {
                if hostPorts.count > 1 && containerPorts.count == 1 {
                    // Podman/Docker: a host range for one container port means "any one of these".
                    throw .badPort(text, "a host port range needs a container range of the same size")
                }
                throw .badPort(text, "the host and container ranges differ in size")
            }
        } else {
            hostPorts = Array(repeating: 0, count: containerPorts.count)
        }
        return zip(hostPorts, containerPorts).map {
            PortMapping(hostIP: hostIP, hostPort: $0, containerPort: $1, transport: transport)
        }
    }

    private static func portRange(_ text: String, in whole: String) throws(NetworkOptionError) -> [Int] {
        let (first, last) = text.splitOnce("-")
        guard let low = Int(first), (1...65535).contains(low) else { throw .badPort(whole, "\"\(text)\" is not a port (1-65535)") }
        guard let last else { return [low] }
        guard let high = Int(last), (low...65535).contains(high) else { throw .badPort(whole, "\"\(text)\" is not a port range") }
        return Array(low...high)
    }

    /// As `docker port` prints it: `80/tcp -> 0.0.0.0:8080`.
    public var description: String {
        let address = hostIP.isEmpty ? "0.0.0.0" : (hostIP.contains(":") ? "[\(hostIP)]" : hostIP)
        return "\(containerPort)/\(transport.rawValue) -> \(address):\(hostPort)"
    }
}

/// The container side of the slirp network (what slirp4netns and Podman use).
public enum SlirpAddresses {
    public static let network = "10.0.2.0"
    public static let netmask = "255.255.255.0"
    public static let gateway = "10.0.2.2"
    public static let dns = "10.0.2.3"
    public static let container = "10.0.2.100"
    public static let prefix6 = "fd00::"
    public static let gateway6 = "fd00::2"
    public static let dns6 = "fd00::3"
    public static let container6 = "fd00::100"
    public static let interface = "tap0"
}

public enum IPv4Address {
    /// Dotted quad, each part 0-255.
    public static func isValid(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { part in
            !part.isEmpty && part.count <= 3 && part.allSatisfy(\.isNumber) && Int(part).map { $0 <= 255 } == true
        }
    }
}

extension String {
    /// Splits at the first `separator`: ("a", "b:c") for "a:b:c"; (self, nil) when absent.
    func splitOnce(_ separator: Character) -> (String, String?) {
        guard let found = firstIndex(of: separator) else { return (self, nil) }
        return (String(self[..<found]), String(self[index(after: found)...]))
    }
}
