import CNetwork
import RuntimeSpec
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// Published ports. TCP: each accepted host connection is joined to a socket that the connector
/// (a child inside the container's namespaces) connects to the container's port with the client's
/// address as its source; bytes then flow kernel socket to kernel socket, never through libslirp.
/// UDP: datagrams are written into the TAP device as coming from the client, and the container's
/// answers are taken off the TAP and sent from the host port.
final class PortForwarder {
    struct Listener {
        let fd: Int32
        let mapping: PortMapping
        var pollIndex = -1
    }

    /// One proxied TCP connection.
    final class Relay {
        let outside: Int32
        let inside: Int32
        var toInside = RelayBuffer()
        var toOutside = RelayBuffer()
        var outsideIndex = -1
        var insideIndex = -1
        init(outside: Int32, inside: Int32) {
            self.outside = outside
            self.inside = inside
        }
    }

    struct FlowKey: Hashable {
        var containerPort: UInt16
        var client: IPv4
        var clientPort: UInt16
    }

    struct Flow {
        var listener: Int32
        /// The client's real address (the frame may show 10.0.2.2 for a loopback client).
        var client: IPv4
        var lastSeen: Int64
    }

    private var listeners: [Listener]
    private var relays: [Relay] = []
    private var flows: [FlowKey: Flow] = [:]
    private let udpContainerPorts: Set<UInt16>
    private let connector: Int32
    private let container: IPv4
    private let gateway: IPv4
    private let send: ([UInt8]) -> Void

    init(listeners: [(FileDescriptor, PortMapping)], connector: Int32, container: IPv4, gateway: IPv4, send: @escaping ([UInt8]) -> Void) {
        self.listeners = listeners.map { Listener(fd: $0.0.rawValue, mapping: $0.1) }
        self.connector = connector
        self.container = container
        self.gateway = gateway
        self.send = send
        udpContainerPorts = Set(listeners.filter { $0.1.transport == .udp }.map { UInt16($0.1.containerPort) })
        for listener in self.listeners { _ = fcntl(listener.fd, F_SETFL, fcntl(listener.fd, F_GETFL) | O_NONBLOCK) }
    }

    func addPolls(_ polls: PollSet) {
        for index in listeners.indices { listeners[index].pollIndex = polls.add(listeners[index].fd, Int16(POLLIN)) }
        for relay in relays {
            var outsideEvents: Int16 = 0, insideEvents: Int16 = 0
            if relay.toInside.wantsRead { outsideEvents |= Int16(POLLIN) }
            if relay.toOutside.hasData { outsideEvents |= Int16(POLLOUT) }
            if relay.toOutside.wantsRead { insideEvents |= Int16(POLLIN) }
            if relay.toInside.hasData { insideEvents |= Int16(POLLOUT) }
            relay.outsideIndex = polls.add(relay.outside, outsideEvents)
            relay.insideIndex = polls.add(relay.inside, insideEvents)
        }
    }

    func serve(_ polls: PollSet) {
        for listener in listeners where polls.revents(listener.pollIndex) & Int16(POLLIN) != 0 {
            if listener.mapping.transport == .tcp { accept(on: listener) } else { receiveDatagrams(on: listener) }
        }
        relays.removeAll { relay in
            let open = pump(relay, polls)
            if !open { close(relay.outside); close(relay.inside) }
            return !open
        }
    }

    // MARK: TCP

    private func accept(on listener: Listener) {
        for _ in 0..<64 {
            var peer = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let client = swctr_net_accept(listener.fd, &peer, &length)
            if client < 0 { return }
            var target = sockaddr_in()
            target.sin_family = sa_family_t(AF_INET)
            target.sin_port = UInt16(listener.mapping.containerPort).bigEndian
            target.sin_addr.s_addr = container.value.bigEndian
            var source: sockaddr_in?
            if peer.ss_family == sa_family_t(AF_INET) {
                source = withUnsafeBytes(of: peer) { $0.load(as: sockaddr_in.self) }
            }
            let inside: Int32
            if var source {
                inside = swctr_net_connect_inside(connector, Int32(SOCK_STREAM.rawValue), &source, &target)
            } else {
                inside = swctr_net_connect_inside(connector, Int32(SOCK_STREAM.rawValue), nil, &target)
            }
            if inside < 0 {
                close(client)
                continue
            }
            _ = fcntl(inside, F_SETFL, fcntl(inside, F_GETFL) | O_NONBLOCK)
            var one: Int32 = 1
            _ = setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            _ = setsockopt(inside, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            relays.append(Relay(outside: client, inside: inside))
        }
    }

    /// Moves bytes both ways; false once the connection is over.
    private func pump(_ relay: Relay, _ polls: PollSet) -> Bool {
        let outside = polls.revents(relay.outsideIndex)
        let inside = polls.revents(relay.insideIndex)
        let failed = Int16(POLLERR) | Int16(POLLNVAL)
        if outside & failed != 0 || inside & failed != 0 { return false }
        if !relay.toInside.move(from: relay.outside, to: relay.inside, readable: outside & Int16(POLLIN | POLLHUP) != 0,
                                writable: inside & Int16(POLLOUT) != 0) { return false }
        if !relay.toOutside.move(from: relay.inside, to: relay.outside, readable: inside & Int16(POLLIN | POLLHUP) != 0,
                                 writable: outside & Int16(POLLOUT) != 0) { return false }
        return !(relay.toInside.finished && relay.toOutside.finished)
    }

    // MARK: UDP

    private func receiveDatagrams(on listener: Listener) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let now = SlirpEngine.nowNanoseconds() / 1_000_000
        for _ in 0..<64 {
            var peer = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let n = withUnsafeMutablePointer(to: &peer) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(listener.fd, &buffer, buffer.count, 0, $0, &length) }
            }
            if n < 0 { return }
            guard peer.sin_family == sa_family_t(AF_INET) else { continue }
            let client = IPv4(UInt32(bigEndian: peer.sin_addr.s_addr))
            let clientPort = UInt16(bigEndian: peer.sin_port)
            // A loopback source cannot arrive on tap0 (the kernel drops it as martian): such a
            // client shows as the gateway, the host's own address in slirp's network.
            let shown = client.isLoopback ? gateway : client
            let key = FlowKey(containerPort: UInt16(listener.mapping.containerPort), client: shown, clientPort: clientPort)
            flows[key] = Flow(listener: listener.fd, client: client, lastSeen: now)
            if flows.count > 4096 { flows = flows.filter { now - $0.value.lastSeen < 60_000 } }
            let frame = buffer.withUnsafeBytes {
                UDPFrame.build(fromMAC: LinkAddress.slirp(gateway), toMAC: LinkAddress.container, source: shown, sourcePort: clientPort,
                               destination: container, destinationPort: UInt16(listener.mapping.containerPort),
                               payload: UnsafeRawBufferPointer(rebasing: $0[0..<n]))
            }
            send(frame)
        }
    }

    /// Takes the container's answer to a published UDP port's client off the TAP; false for
    /// anything else.
    func intercept(_ frame: UDPFrame, bytes: UnsafeRawBufferPointer) -> Bool {
        guard !udpContainerPorts.isEmpty, frame.source == container, udpContainerPorts.contains(frame.sourcePort),
              let flow = flows[FlowKey(containerPort: frame.sourcePort, client: frame.destination, clientPort: frame.destinationPort)]
        else { return false }
        var peer = sockaddr_in()
        peer.sin_family = sa_family_t(AF_INET)
        peer.sin_port = frame.destinationPort.bigEndian
        peer.sin_addr.s_addr = flow.client.value.bigEndian
        let payload = UnsafeRawBufferPointer(rebasing: bytes[frame.payload])
        _ = withUnsafePointer(to: &peer) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(flow.listener, payload.baseAddress, payload.count, Int32(MSG_DONTWAIT), $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return true
    }

    func closeAll() {
        for relay in relays { close(relay.outside); close(relay.inside) }
        relays.removeAll()
        for listener in listeners { close(listener.fd) }
        listeners.removeAll()
    }
}

/// One direction of a relay: bytes read from one socket and not yet written to the other.
struct RelayBuffer {
    static let capacity = 256 * 1024
    private var bytes = [UInt8](repeating: 0, count: 0)
    private var start = 0
    private var end = 0
    private(set) var readDone = false
    private var shutDown = false

    var hasData: Bool { end > start }
    var wantsRead: Bool { !readDone && !hasData }
    var finished: Bool { readDone && !hasData && shutDown }

    /// Reads when readable and empty, writes when there is data; false on a hard error.
    mutating func move(from source: Int32, to destination: Int32, readable: Bool, writable: Bool) -> Bool {
        if readable && wantsRead {
            if bytes.isEmpty { bytes = [UInt8](repeating: 0, count: Self.capacity) }
            let n = bytes.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
            if n > 0 {
                start = 0
                end = n
            } else if n == 0 {
                readDone = true
            } else if errno != EAGAIN && errno != EINTR {
                return false
            }
        }
        if hasData && (writable || readable) {
            let n = bytes.withUnsafeBytes { write(destination, $0.baseAddress! + start, end - start) }
            if n > 0 {
                start += n
            } else if n < 0 && errno != EAGAIN && errno != EINTR {
                return false
            }
        }
        if readDone && !hasData && !shutDown {
            _ = shutdown(destination, Int32(SHUT_WR))
            shutDown = true
        }
        return true
    }
}
