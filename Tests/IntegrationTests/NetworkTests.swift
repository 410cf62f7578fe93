import Foundation
import XCTest

/// The slirp network end to end, as the unprivileged test user: tap0 and its addresses, the host
/// reached through 10.0.2.2 / host.containers.internal, DNS through 10.0.2.3 against a server the
/// test runs on loopback, UDP, published TCP and UDP ports with the client's real address, 200
/// parallel connections, `-P` and `port`, the other modes, bad flags, and nothing left behind.
/// Every server is on loopback, the host's own address, or inside a container.
final class NetworkTests: SwctrTestCase {
    static let scripts: String = {
        var directory = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { directory.deleteLastPathComponent() }
        return directory.path + "/scripts"
    }()

    /// A server process on the host side, stopped with the test.
    final class HostServer {
        let process = Process()
        let output: Pipe = Pipe()

        /// Starts `arguments` and waits until it prints a line containing `ready`.
        init(_ arguments: [String], ready: String = "ready") throws {
            process.executableURL = URL(fileURLWithPath: arguments[0])
            process.arguments = Array(arguments.dropFirst())
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            var seen = ""
            while !seen.contains(ready) {
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { throw HostNotPrepared(reason: "\(arguments.joined(separator: " ")) ended before it was ready") }
                seen += String(decoding: chunk, as: UTF8.self)
            }
        }

        func stop() {
            if process.isRunning { process.terminate(); process.waitUntilExit() }
        }

        deinit { stop() }
    }

    var servers: [HostServer] = []

    override func setUpWithError() throws {
        try super.setUpWithError()
        for name in ["busybox", "probe"] {
            let pulled = state.swctr("pull", "-q", state.image(name))
            XCTAssertEqual(pulled.status, 0, pulled.stderr)
        }
    }

    override func tearDown() {
        servers.forEach { $0.stop() }
        servers = []
        super.tearDown()
    }

    // MARK: - Helpers

    static func freePort(_ type: Int32 = Int32(SOCK_STREAM.rawValue)) -> Int {
        let fd = socket(AF_INET, type, 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// The host's first non-loopback IPv4 address (the one host.containers.internal names).
    static func hostAddress() throws -> String {
        let result = TestHost.execute(["/usr/bin/hostname", "-I"])
        guard let address = result.stdout.split(separator: " ").map(String.init).first(where: { $0.contains(".") && !$0.hasPrefix("127.") }) else {
            throw XCTSkip("this host has no non-loopback IPv4 address")
        }
        return address
    }

    func httpServer(bind address: String, port: Int, body: String) throws {
        let directory = state.scratch + "/www-\(port)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try body.write(toFile: directory + "/index.html", atomically: true, encoding: .utf8)
        servers.append(try HostServer(["/usr/bin/python3", "-u", "-m", "http.server", "--bind", address, "--directory", directory, String(port)],
                                      ready: "Serving"))
    }

    func client(_ arguments: String...) -> CommandResult {
        TestHost.execute(["/usr/bin/python3", Self.scripts + "/net-client.py"] + arguments)
    }

    /// Waits until the container's log shows `text` (the server inside is listening).
    func waitForLog(_ name: String, _ text: String, file: StaticString = #filePath, line: UInt = #line) {
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            if state.swctr("logs", name).stdout.contains(text) { return }
            usleep(20_000)
        }
        XCTFail("\(name)'s log never showed \(text): \(state.swctr("logs", name).stdout)", file: file, line: line)
    }

    func helperProcesses() -> [String] {
        TestHost.execute(["/usr/bin/pgrep", "-u", state.user, "-a", "-f", "__net"]).stdout.split(separator: "\n").map(String.init)
    }

    // MARK: - The container's side

    func testDefaultNetworkHasTapAddressRouteAndResolver() {
        let result = state.swctr("run", "--rm", state.image("busybox"), "sh", "-c",
                                 "ip -4 -o addr show tap0; ip route; cat /etc/resolv.conf; grep host.containers.internal /etc/hosts; ip -o link show lo")
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("inet 10.0.2.100/24"), result.stdout)
        XCTAssertTrue(result.stdout.contains("default via 10.0.2.2 dev tap0"), result.stdout)
        XCTAssertTrue(result.stdout.contains("nameserver 10.0.2.3"), result.stdout)
        XCTAssertTrue(result.stdout.contains("host.containers.internal host.docker.internal"), result.stdout)
        XCTAssertTrue(result.stdout.contains("mtu 65536") && result.stdout.contains("UP"), "loopback is up: \(result.stdout)")
        let mtu = state.swctr("run", "--rm", "--network", "slirp:mtu=1500", state.image("busybox"), "cat", "/sys/class/net/tap0/mtu")
        XCTAssertEqual(mtu.stdout, "1500\n", mtu.stderr)
    }

    func testHostLoopbackIsReachableOnlyWhenAllowed() throws {
        let port = Self.freePort()
        try httpServer(bind: "127.0.0.1", port: port, body: "hello from the host's loopback\n")
        let denied = state.swctr("run", "--rm", state.image("busybox"), "wget", "-qO-", "http://10.0.2.2:\(port)/")
        XCTAssertNotEqual(denied.status, 0, "10.0.2.2 must not reach the host's loopback by default: \(denied.stdout)")
        let allowed = state.swctr("run", "--rm", "--network", "slirp:allow_host_loopback=true", state.image("busybox"), "sh", "-c",
                                  "wget -qO- http://10.0.2.2:\(port)/ && wget -qO- http://host.containers.internal:\(port)/")
        XCTAssertEqual(allowed.status, 0, allowed.stderr)
        XCTAssertEqual(allowed.stdout, "hello from the host's loopback\n" + "hello from the host's loopback\n")
        // Podman's spelling of the mode works too.
        let alias = state.swctr("run", "--rm", "--network", "slirp4netns:allow_host_loopback=true", state.image("busybox"),
                                "wget", "-qO-", "http://10.0.2.2:\(port)/")
        XCTAssertEqual(alias.stdout, "hello from the host's loopback\n", alias.stderr)
    }

    func testHostAddressByName() throws {
        let address = try Self.hostAddress()
        let port = Self.freePort()
        try httpServer(bind: address, port: port, body: "hello from \(address)\n")
        let result = state.swctr("run", "--rm", state.image("busybox"), "wget", "-qO-", "http://host.containers.internal:\(port)/")
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "hello from \(address)\n")
    }

    func testNamesResolveThroughTheForwarderAgainstTheHostsResolver() throws {
        guard TestHost.isRoot else { throw XCTSkip("the test DNS server needs port 53 (run as root)") }
        // A loopback address of its own, so port 53 is free whatever else runs here.
        let address = "127.53.\(Int.random(in: 1...254)).\(Int.random(in: 1...254))"
        let server = try HostServer(["/usr/bin/python3", "-u", Self.scripts + "/test-dns.py", address, "53",
                                     "probe.swctr.test=192.0.2.77"])
        servers.append(server)
        let resolv = state.scratch + "/host-resolv.conf"
        try "nameserver \(address)\n".write(toFile: resolv, atomically: true, encoding: .utf8)
        chmod(resolv, 0o644)
        state.extraEnvironment = ["SWCTR_RESOLV_CONF=\(resolv)"]
        let result = state.swctr("run", "--rm", state.image("busybox"), "nslookup", "probe.swctr.test")
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        XCTAssertTrue(result.stdout.contains("Server:\t\t10.0.2.3"), result.stdout)
        XCTAssertTrue(result.stdout.contains("Address: 192.0.2.77"), result.stdout)
        let missing = state.swctr("run", "--rm", state.image("busybox"), "nslookup", "nothere.swctr.test")
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stdout.contains("NXDOMAIN"), missing.stdout)
        // The questions really reached the server on the host's loopback.
        server.process.terminate()
        server.process.waitUntilExit()
        let log = String(decoding: server.output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertTrue(log.contains("query probe.swctr.test"), log)
        XCTAssertTrue(log.contains("query nothere.swctr.test"), log)
    }

    func testUDPToTheHostAndBack() throws {
        let port = Self.freePort(Int32(SOCK_DGRAM.rawValue))
        servers.append(try HostServer(["/usr/bin/python3", "-u", Self.scripts + "/net-client.py", "udp-echo", "127.0.0.1", String(port)]))
        let result = state.swctr("run", "--rm", "--network", "slirp:allow_host_loopback=true", state.image("probe"),
                                 "probe", "udp-ask", "10.0.2.2", String(port), "datagram-there-and-back")
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        XCTAssertEqual(result.stdout, "reply datagram-there-and-back\n")
    }

    // MARK: - Published ports

    func testPublishedTCPAndUDPPortsSeeTheClientsRealAddress() throws {
        let address = try Self.hostAddress()
        let tcpPort = Self.freePort(), udpPort = Self.freePort(Int32(SOCK_DGRAM.rawValue))
        let started = state.swctr("run", "-d", "--name", "echo", "-p", "\(tcpPort):7000", "-p", "\(udpPort):7001/udp", state.image("probe"),
                                  "sh", "-c", "probe udp-echo 7001 & exec probe tcp-echo 7000")
        XCTAssertEqual(started.status, 0, started.stderr)
        waitForLog("echo", "listening 7000")
        waitForLog("echo", "listening 7001")

        let tcp = client("tcp", address, address, String(tcpPort), "over tcp")
        XCTAssertEqual(tcp.stdout, "over tcp\n", tcp.stderr)
        let udp = client("udp", address, address, String(udpPort), "over udp")
        XCTAssertEqual(udp.stdout, "over udp\n", udp.stderr)
        let local = client("tcp", "127.0.0.1", "127.0.0.1", String(tcpPort), "from loopback")
        XCTAssertEqual(local.stdout, "from loopback\n", local.stderr)

        let peers = state.swctr("logs", "echo").stdout.split(separator: "\n").filter { $0.hasPrefix("peer ") }
        XCTAssertEqual(peers.count, 3, "\(peers)")
        XCTAssertEqual(peers.filter { $0.hasPrefix("peer \(address):") }.count, 2, "TCP and UDP see the client's own address: \(peers)")
        XCTAssertTrue(peers.contains { $0.hasPrefix("peer 127.0.0.1:") }, "a loopback TCP client is 127.0.0.1: \(peers)")
        XCTAssertFalse(peers.contains { $0.hasPrefix("peer 10.0.2.100:") }, "never the container's own address: \(peers)")

        let ports = state.swctr("port", "echo")
        XCTAssertEqual(ports.stdout, "7000/tcp -> 0.0.0.0:\(tcpPort)\n7001/udp -> 0.0.0.0:\(udpPort)\n")
        XCTAssertEqual(state.swctr("port", "echo", "7001/udp").stdout, "0.0.0.0:\(udpPort)\n")
        XCTAssertTrue(state.swctr("ps").stdout.contains("0.0.0.0:\(tcpPort)->7000/tcp"))
        XCTAssertEqual(state.swctr("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "echo").stdout, "10.0.2.100\n")
    }

    func testTwoHundredParallelConnectionsThroughAPublishedPort() {
        let port = Self.freePort()
        let started = state.swctr("run", "-d", "--name", "many", "-p", "127.0.0.1:\(port):7000", state.image("probe"),
                                  "probe", "tcp-echo", "7000")
        XCTAssertEqual(started.status, 0, started.stderr)
        waitForLog("many", "listening 7000")
        let result = client("parallel", "127.0.0.1", String(port), "200", "65536")
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        XCTAssertEqual(result.stdout, "ok 200\n")
    }

    func testPublishAllUsesTheImagesExposedPorts() {
        let started = state.swctr("run", "-d", "--name", "all", "-P", state.image("probe"), "probe", "tcp-echo", "7000")
        XCTAssertEqual(started.status, 0, started.stderr)
        waitForLog("all", "listening 7000")
        let ports = state.swctr("port", "all").stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(ports.count, 2, "\(ports)")
        XCTAssertTrue(ports[0].hasPrefix("7000/tcp -> 0.0.0.0:") && ports[1].hasPrefix("7001/udp -> 0.0.0.0:"), "\(ports)")
        let hostPort = String(ports[0].split(separator: ":").last ?? "")
        XCTAssertNotEqual(Int(hostPort) ?? 0, 0)
        let echoed = client("tcp", "127.0.0.1", "127.0.0.1", hostPort, "picked port")
        XCTAssertEqual(echoed.stdout, "picked port\n", echoed.stderr)
    }

    func testAPortInUseIsAClearErrorBeforeTheContainerStarts() throws {
        let port = Self.freePort()
        servers.append(try HostServer(["/usr/bin/python3", "-u", Self.scripts + "/net-client.py", "hold", "0.0.0.0", String(port)]))
        let result = state.swctr("run", "--rm", "-p", "\(port):7000", state.image("probe"), "sh", "-c", "echo started")
        XCTAssertEqual(result.status, 125)
        XCTAssertEqual(result.stdout, "", "the command never ran")
        XCTAssertTrue(result.stderr.contains("0.0.0.0:\(port)/tcp") && result.stderr.contains("already in use"), result.stderr)
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
        XCTAssertEqual(state.swctr("ps", "-aq").stdout, "", "--rm removed the container")
        XCTAssertEqual(helperProcesses(), [])
    }

    func testNothingIsLeftAfterAHundredRuns() {
        let port = Self.freePort()
        let loop = state.shell("for i in $(seq 100); do \"$SWCTR\" run --rm -p 127.0.0.1:\(port):7000 \(state.image("probe")) true || exit 1; done; echo done")
        XCTAssertEqual(loop.stdout, "done\n", loop.stderr)
        XCTAssertEqual(helperProcesses(), [], "no network helper outlives its container")
        // The published port is free again.
        let hold = try? HostServer(["/usr/bin/python3", "-u", Self.scripts + "/net-client.py", "hold", "127.0.0.1", String(port)])
        XCTAssertNotNil(hold, "port \(port) is still bound")
        hold?.stop()
        // A container killed from outside takes its helper with it too.
        let started = state.swctr("run", "-d", "--name", "victim", "-p", "127.0.0.1:\(port):7000", state.image("probe"), "sleep", "100")
        XCTAssertEqual(started.status, 0, started.stderr)
        XCTAssertFalse(helperProcesses().isEmpty, "the helper (and its connector) while it runs")
        XCTAssertEqual(state.swctr("kill", "victim").status, 0)
        XCTAssertEqual(state.swctr("wait", "victim").stdout, "137\n")
        let deadline = Date().addingTimeInterval(5)
        while !helperProcesses().isEmpty && Date() < deadline { usleep(20_000) }
        XCTAssertEqual(helperProcesses(), [])
    }

    // MARK: - Other modes and flags

    func testNoneHasOnlyLoopbackAndHostSharesTheHostsInterfaces() {
        let none = state.swctr("run", "--rm", "--network", "none", state.image("busybox"), "sh", "-c", "ls /sys/class/net; ip -o link show lo")
        XCTAssertEqual(none.status, 0, none.stderr)
        XCTAssertTrue(none.stdout.hasPrefix("lo\n"), none.stdout)
        XCTAssertTrue(none.stdout.contains("UP"), "loopback is up: \(none.stdout)")
        let hostInterfaces = TestHost.execute(["/bin/ls", "/sys/class/net"]).stdout
        let host = state.swctr("run", "--rm", "--network", "host", state.image("busybox"), "ls", "/sys/class/net")
        XCTAssertEqual(host.stdout, hostInterfaces, host.stderr)
    }

    func testDNSFlagsAndExtraHostsLandInTheFiles() {
        let result = state.swctr("run", "--rm", "--dns", "192.0.2.53", "--dns-search", "example.test", "--dns-option", "ndots:2",
                                 "--add-host", "db.test:192.0.2.10", "--add-host", "gw.test:host-gateway", state.image("busybox"),
                                 "cat", "/etc/resolv.conf", "/etc/hosts")
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("search example.test\nnameserver 192.0.2.53\noptions ndots:2\n"), result.stdout)
        XCTAssertTrue(result.stdout.contains("192.0.2.10\tdb.test\n"), result.stdout)
        XCTAssertTrue(result.stdout.contains("\tgw.test\n"), result.stdout)
    }

    func testBadNetworkFlagsAreRefusedWithOneLine() {
        for (arguments, expected) in [
            (["--network", "bogus"], "unknown network mode \"bogus\""),
            (["--network", "slirp:colour=blue"], "unknown slirp network option \"colour\""),
            (["--network", "slirp:mtu=9"], "bad value \"9\" for the network option mtu"),
            (["-p", "99999:80"], "bad port mapping \"99999:80\""),
            (["-p", "80/sctp"], "the protocol must be tcp or udp"),
            (["--network", "none", "-p", "8080:80"], "ports cannot be published with --network none"),
            (["--add-host", "nocolon"], "bad --add-host \"nocolon\""),
        ] {
            let result = state.swctr(arguments: ["run", "--rm"] + arguments + [state.image("busybox"), "true"])
            XCTAssertEqual(result.status, 125, "\(arguments): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains(expected), "\(arguments): \(result.stderr)")
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, "\(arguments): \(result.stderr)")
        }
        XCTAssertEqual(state.swctr("ps", "-aq").stdout, "")
    }
}

extension NetworkTests {
    func testContainerModeSharesAnotherContainersNetwork() {
        let started = state.swctr("run", "-d", "--name", "owner", state.image("probe"), "probe", "udp-echo", "7001")
        XCTAssertEqual(started.status, 0, started.stderr)
        waitForLog("owner", "listening 7001")
        let guest = state.swctr("run", "--rm", "--network", "container:owner", state.image("probe"), "sh", "-c",
                                "cat /sys/class/net/tap0/address; probe udp-ask 127.0.0.1 7001 neighbour; grep nameserver /etc/resolv.conf")
        XCTAssertEqual(guest.status, 0, guest.stdout + guest.stderr)
        XCTAssertEqual(guest.stdout, "02:53:57:00:02:64\nreply neighbour\nnameserver 10.0.2.3\n")
        XCTAssertEqual(state.swctr("stop", "-t", "1", "owner").status, 0)
        let stopped = state.swctr("run", "--rm", "--network", "container:owner", state.image("busybox"), "true")
        XCTAssertEqual(stopped.status, 125)
        XCTAssertTrue(stopped.stderr.contains("is not running"), stopped.stderr)
    }
}

extension NetworkTests {
    /// Whether the test user's group may open unprivileged ping sockets on this host.
    static func pingAllowed(for user: String) -> Bool {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ping_group_range", encoding: .utf8)) ?? ""
        let bounds = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).compactMap { Int64($0) }
        guard bounds.count == 2, let entry = TestHost.passwdEntry(user) else { return false }
        return bounds[0] <= Int64(entry.gid) && Int64(entry.gid) <= bounds[1]
    }

    func testPingWorksOrSaysWhyNot() throws {
        let address = try Self.hostAddress()
        let result = state.swctr("run", "--rm", state.image("busybox"), "ping", "-c", "1", "-W", "3", address)
        if Self.pingAllowed(for: state.user) {
            XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
            XCTAssertTrue(result.stdout.contains("1 packets received"), result.stdout)
        } else {
            // This host (as the CI host) disables unprivileged ping: one line says why and how.
            XCTAssertNotEqual(result.status, 0)
            let lines = result.stderr.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, result.stderr)
            XCTAssertTrue(result.stderr.contains("net.ipv4.ping_group_range") && result.stderr.contains("sysctl -w"), result.stderr)
        }
    }
}

extension NetworkTests {
    func testIPv6ToTheHostWhereTheHostHasIt() throws {
        let table = (try? String(contentsOfFile: "/proc/net/if_inet6", encoding: .utf8)) ?? ""
        let global = table.split(separator: "\n").contains { line in
            let address = line.split(separator: " ").first ?? ""
            return address != "00000000000000000000000000000001" && !address.hasPrefix("fe80")
        }
        guard global else { throw XCTSkip("this host has no IPv6 address beyond loopback and link-local") }
        let port = Self.freePort()
        try httpServer(bind: "::1", port: port, body: "hello over IPv6\n")
        let result = state.swctr("run", "--rm", "--network", "slirp:allow_host_loopback=true", state.image("busybox"), "sh", "-c",
                                 "ip -6 -o addr show tap0 scope global; wget -qO- http://[fd00::2]:\(port)/")
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("inet6 fd00::100/64"), result.stdout)
        XCTAssertTrue(result.stdout.hasSuffix("hello over IPv6\n"), result.stdout)
    }
}
