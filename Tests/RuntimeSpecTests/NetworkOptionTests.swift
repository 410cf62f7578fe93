@testable import Network
import RuntimeSpec
import XCTest

final class NetworkOptionTests: XCTestCase {
    func testPortMappingsParseAsDockersFlag() throws {
        XCTAssertEqual(try PortMapping.parse("8080:80"), [PortMapping(hostPort: 8080, containerPort: 80)])
        XCTAssertEqual(try PortMapping.parse("127.0.0.1:8080:80/udp"),
                       [PortMapping(hostIP: "127.0.0.1", hostPort: 8080, containerPort: 80, transport: .udp)])
        XCTAssertEqual(try PortMapping.parse("80"), [PortMapping(hostPort: 0, containerPort: 80)])
        XCTAssertEqual(try PortMapping.parse("127.0.0.1::80"), [PortMapping(hostIP: "127.0.0.1", hostPort: 0, containerPort: 80)])
        XCTAssertEqual(try PortMapping.parse("[::1]:8080:80"), [PortMapping(hostIP: "::1", hostPort: 8080, containerPort: 80)])
        XCTAssertEqual(try PortMapping.parse("8000-8002:80-82/TCP").map { "\($0.hostPort)>\($0.containerPort)" }, ["8000>80", "8001>81", "8002>82"])
        for bad in ["99999:80", "80/sctp", "8000-8001:80", "1:2:3:4", "x:80", "0:80", "300.1.1.1:80:80", "90-80"] {
            XCTAssertThrowsError(try PortMapping.parse(bad), bad)
        }
        XCTAssertEqual(PortMapping(hostPort: 8080, containerPort: 80, transport: .udp).description, "80/udp -> 0.0.0.0:8080")
    }

    func testNetworkModesParseAndRoundTrip() throws {
        XCTAssertEqual(try NetworkMode(parsing: "slirp"), .default)
        XCTAssertEqual(try NetworkMode(parsing: "bridge"), .default)
        let allowed = try NetworkMode(parsing: "slirp4netns:allow_host_loopback=true,mtu=1500")
        guard case .slirp(let options) = allowed else { return XCTFail("\(allowed)") }
        XCTAssertTrue(options.allowHostLoopback)
        XCTAssertEqual(options.mtu, 1500)
        XCTAssertEqual(allowed.text, "slirp:allow_host_loopback=true,mtu=1500")
        XCTAssertEqual(try NetworkMode(parsing: "container:web"), .container("web"))
        XCTAssertEqual(try NetworkMode(parsing: "none").needsNamespace, true)
        XCTAssertEqual(try NetworkMode(parsing: "host").isolatesNetwork, false)
        for bad in ["container:", "none:x", "slirp:mtu=99", "slirp:port_handler=slirp4netns", "slirp:allow_host_loopback=maybe", "wifi"] {
            XCTAssertThrowsError(try NetworkMode(parsing: bad), bad)
        }
        let encoded = try JSONEncoder().encode([allowed, .none, .host, .container("abc")])
        XCTAssertEqual(try JSONDecoder().decode([NetworkMode].self, from: encoded), [allowed, .none, .host, .container("abc")])
        // Records written before the slirp network stored the bare words.
        XCTAssertEqual(try JSONDecoder().decode([NetworkMode].self, from: Data(#"["none","host"]"#.utf8)), [.none, .host])
    }

    func testUDPFramesRoundTripAndOnlyUDPIsTaken() {
        let payload = Array("question".utf8)
        let frame = payload.withUnsafeBytes {
            UDPFrame.build(fromMAC: LinkAddress.container, toMAC: LinkAddress.slirp(IPv4("10.0.2.3")!), source: IPv4("10.0.2.100")!,
                           sourcePort: 40000, destination: IPv4("10.0.2.3")!, destinationPort: 53, payload: $0)
        }
        let parsed = frame.withUnsafeBytes { UDPFrame($0) }
        XCTAssertEqual(parsed?.source, IPv4("10.0.2.100"))
        XCTAssertEqual(parsed?.destination.description, "10.0.2.3")
        XCTAssertEqual(parsed?.sourcePort, 40000)
        XCTAssertEqual(parsed?.destinationPort, 53)
        XCTAssertEqual(parsed?.sourceMAC, LinkAddress.container)
        XCTAssertEqual(parsed.map { Array(frame[$0.payload]) }, payload)
        // The IPv4 header checksum verifies (sums to 0xffff).
        var sum: UInt32 = 0
        for index in stride(from: 14, to: 34, by: 2) { sum += UInt32(frame[index]) << 8 | UInt32(frame[index + 1]) }
        while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
        XCTAssertEqual(sum, 0xffff)
        var tcp = frame
        tcp[23] = 6
        XCTAssertNil(tcp.withUnsafeBytes { UDPFrame($0) }, "TCP goes to libslirp")
        var fragment = frame
        fragment[20] |= 0x20
        XCTAssertNil(fragment.withUnsafeBytes { UDPFrame($0) }, "fragments go to libslirp")
        XCTAssertNil(Array(frame.prefix(30)).withUnsafeBytes { UDPFrame($0) }, "short frames are not read past their end")
    }

    func testResolverListsAreReadFromResolvConf() {
        let text = "# comment\nsearch example.test\nnameserver 127.0.0.53\nnameserver fe80::1%eth0\noptions edns0\nnameserver\tbogus\n"
        XCTAssertEqual(DNSForwarder.nameservers(in: text), ["127.0.0.53", "fe80::1%eth0", "bogus"])
        XCTAssertNotNil(DNSForwarder.upstream("127.0.0.53"))
        XCTAssertNotNil(DNSForwarder.upstream("fe80::1%lo"))
        XCTAssertNil(DNSForwarder.upstream("bogus"), "an unparseable nameserver is skipped")
    }

    /// The helper's configuration travels as its arguments, one `key=value` each, and comes back
    /// whole: ports with any host address (IPv6 too), a resolver path with spaces.
    func testTheHelpersConfigurationRoundTripsThroughItsArguments() {
        let configuration = NetworkHelperConfiguration(
            allowHostLoopback: true, mtu: 1500, ipv6: false,
            ports: [PortMapping(hostIP: "", hostPort: 8080, containerPort: 80),
                    PortMapping(hostIP: "::1", hostPort: 5353, containerPort: 53, transport: .udp)],
            resolvConfPath: "/run/my resolv/resolv.conf")
        XCTAssertEqual(configuration.arguments,
                       ["loopback=1", "mtu=1500", "ipv6=0", "resolv=/run/my resolv/resolv.conf", "port=tcp/8080/80/", "port=udp/5353/53/::1"])
        XCTAssertEqual(NetworkHelperConfiguration(arguments: configuration.arguments), configuration)
        XCTAssertNil(NetworkHelperConfiguration(arguments: []), "nothing given")
        XCTAssertNil(NetworkHelperConfiguration(arguments: ["loopback=0", "mtu=1500", "ipv6=1"]), "no resolver path")
        XCTAssertNil(NetworkHelperConfiguration(arguments: configuration.arguments + ["port=sctp/1/2/"]), "an unknown protocol")
        XCTAssertNil(NetworkHelperConfiguration(arguments: configuration.arguments + ["colour=blue"]), "an unknown key")
    }
}
