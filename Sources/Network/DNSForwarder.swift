import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// Answers the container's DNS queries to 10.0.2.3 by asking the host's resolvers (the
/// nameservers of the host's resolv.conf, a stub on 127.0.0.53 included) over ordinary host
/// sockets, trying the next one when one does not answer.
final class DNSForwarder {
    struct Upstream {
        var storage: sockaddr_storage
        var length: socklen_t
        var family: Int32
    }

    struct Query {
        var socket: Int32
        var frame: UDPFrame
        var question: [UInt8]
        var upstream: Int
        var deadline: Int64
        var pollIndex = -1
    }

    static let timeoutMilliseconds: Int64 = 2000
    static let maximumPending = 256

    let server: IPv4
    let upstreams: [Upstream]
    private var queries: [Query] = []
    private let send: ([UInt8]) -> Void

    /// `resolvConf` is the host's resolver file as text; `send` writes a frame to the container.
    init(server: IPv4, resolvConf: String, send: @escaping ([UInt8]) -> Void) {
        self.server = server
        self.send = send
        upstreams = Self.nameservers(in: resolvConf).compactMap(Self.upstream)
    }

    static func nameservers(in text: String) -> [String] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, fields[0] == "nameserver" else { return nil }
            // A link-local IPv6 address with a zone (fe80::1%eth0) stays as written.
            return String(fields[1])
        }
    }

    static func upstream(_ text: String) -> Upstream? {
        var storage = sockaddr_storage()
        if text.contains(":") {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = UInt16(53).bigEndian
            let (host, zone) = (text.split(separator: "%").first.map(String.init) ?? text, text.split(separator: "%").dropFirst().first)
            guard inet_pton(AF_INET6, host, &address.sin6_addr) == 1 else { return nil }
            if let zone { address.sin6_scope_id = if_nametoindex(String(zone)) }
            withUnsafeBytes(of: address) { raw in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: raw) } }
            return Upstream(storage: storage, length: socklen_t(MemoryLayout<sockaddr_in6>.size), family: AF_INET6)
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(53).bigEndian
        guard inet_pton(AF_INET, text, &address.sin_addr) == 1 else { return nil }
        withUnsafeBytes(of: address) { raw in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: raw) } }
        return Upstream(storage: storage, length: socklen_t(MemoryLayout<sockaddr_in>.size), family: AF_INET)
    }

    /// Takes the frame when it is a query to the DNS address; false otherwise.
    func intercept(_ frame: UDPFrame, bytes: UnsafeRawBufferPointer) -> Bool {
        guard frame.destination == server, frame.destinationPort == 53 else { return false }
        guard !upstreams.isEmpty, queries.count < Self.maximumPending else { return true }
        let question = Array(bytes[frame.payload])
        ask(Query(socket: -1, frame: frame, question: question, upstream: 0, deadline: 0))
        return true
    }

    private func ask(_ query: Query) {
        var query = query
        while query.upstream < upstreams.count {
            let upstream = upstreams[query.upstream]
            let fd = socket(upstream.family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            if fd >= 0 {
                let connected = withUnsafePointer(to: upstream.storage) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, upstream.length) }
                }
                if connected == 0 && Glibc.send(fd, query.question, query.question.count, 0) >= 0 {
                    query.socket = fd
                    query.deadline = SlirpEngine.nowNanoseconds() / 1_000_000 + Self.timeoutMilliseconds
                    queries.append(query)
                    return
                }
                close(fd)
            }
            query.upstream += 1
        }
    }

    func addPolls(_ polls: PollSet) {
        for index in queries.indices { queries[index].pollIndex = polls.add(queries[index].socket, Int16(POLLIN)) }
    }

    /// Milliseconds until the next query gives up on its resolver.
    func timeout(now: Int64) -> Int32 {
        queries.map { Int32(clamping: max(0, $0.deadline - now)) }.min() ?? Int32.max
    }

    func serve(_ polls: PollSet) {
        guard !queries.isEmpty else { return }
        let now = SlirpEngine.nowNanoseconds() / 1_000_000
        var retry: [Query] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        queries.removeAll { query in
            if polls.revents(query.pollIndex) & Int16(POLLIN) != 0 {
                let n = recv(query.socket, &buffer, buffer.count, 0)
                close(query.socket)
                if n > 0 { answer(query, Array(buffer[0..<n])) }
                return true
            }
            if polls.revents(query.pollIndex) & Int16(POLLERR) != 0 || query.deadline <= now {
                close(query.socket)
                var next = query
                next.upstream += 1
                retry.append(next)
                return true
            }
            return false
        }
        for query in retry { ask(query) }
    }

    private func answer(_ query: Query, _ payload: [UInt8]) {
        let frame = payload.withUnsafeBytes {
            UDPFrame.build(fromMAC: LinkAddress.slirp(server), toMAC: query.frame.sourceMAC, source: server, sourcePort: 53,
                           destination: query.frame.source, destinationPort: query.frame.sourcePort, payload: $0)
        }
        send(frame)
    }

    func closeAll() {
        for query in queries { close(query.socket) }
        queries.removeAll()
    }
}
