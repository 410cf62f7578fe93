// The few Ethernet/IPv4/UDP frames the helper reads or writes itself (DNS answers and published
// UDP ports); everything else goes to libslirp untouched.

/// An IPv4 address in host byte order.
public struct IPv4: Hashable, Sendable, CustomStringConvertible {
    public var value: UInt32

    public init(_ value: UInt32) { self.value = value }

    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).compactMap { UInt8($0) }
        guard parts.count == 4 else { return nil }
        value = parts.reduce(0) { $0 << 8 | UInt32($1) }
    }

    public var description: String {
        "\(value >> 24).\(value >> 16 & 0xff).\(value >> 8 & 0xff).\(value & 0xff)"
    }

    public var isLoopback: Bool { value >> 24 == 127 }

    /// Network byte order.
    var bytes: [UInt8] { [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)] }
}

/// Hardware addresses on the container's link.
enum LinkAddress {
    /// What the helper gives tap0 (locally administered).
    static let container: [UInt8] = [0x02, 0x53, 0x57, 0x00, 0x02, 0x64]
    /// What libslirp answers ARP with for its own addresses: 52:55 then the IPv4 address.
    static func slirp(_ address: IPv4) -> [UInt8] { [0x52, 0x55] + address.bytes }
}

/// An IPv4 UDP datagram seen in an Ethernet frame (no options beyond the header length, not a fragment).
struct UDPFrame {
    static let ethernetHeader = 14
    static let udpHeader = 8

    var sourceMAC: [UInt8]
    var source: IPv4
    var sourcePort: UInt16
    var destination: IPv4
    var destinationPort: UInt16
    /// Where the UDP payload lies in the frame.
    var payload: Range<Int>

    /// Parses `frame` when it is an unfragmented IPv4 UDP datagram; nil otherwise (cheaply).
    init?(_ frame: UnsafeRawBufferPointer) {
        guard frame.count >= Self.ethernetHeader + 20 + Self.udpHeader,
              frame[12] == 0x08, frame[13] == 0x00 else { return nil }
        let ip = Self.ethernetHeader
        guard frame[ip] >> 4 == 4, frame[ip + 9] == 17 else { return nil }
        let headerLength = Int(frame[ip] & 0x0f) * 4
        // More-fragments flag or a fragment offset: not ours to take apart.
        guard headerLength >= 20, frame[ip + 6] & 0x3f == 0, frame[ip + 7] == 0 else { return nil }
        let totalLength = Int(frame[ip + 2]) << 8 | Int(frame[ip + 3])
        let udp = ip + headerLength
        guard totalLength >= headerLength + Self.udpHeader, ip + totalLength <= frame.count else { return nil }
        func word(_ at: Int) -> UInt32 {
            UInt32(frame[at]) << 24 | UInt32(frame[at + 1]) << 16 | UInt32(frame[at + 2]) << 8 | UInt32(frame[at + 3])
        }
        func half(_ at: Int) -> UInt16 { UInt16(frame[at]) << 8 | UInt16(frame[at + 1]) }
        sourceMAC = Array(frame[6..<12])
        source = IPv4(word(ip + 12))
        destination = IPv4(word(ip + 16))
        sourcePort = half(udp)
        destinationPort = half(udp + 2)
        let udpLength = Int(half(udp + 4))
        guard udpLength >= Self.udpHeader, udp + udpLength <= ip + totalLength else { return nil }
        payload = (udp + Self.udpHeader)..<(udp + udpLength)
    }

    /// An Ethernet frame carrying `payload` from `source` to `destination` (UDP checksum left 0,
    /// which IPv4 allows).
    static func build(fromMAC: [UInt8], toMAC: [UInt8], source: IPv4, sourcePort: UInt16,
                      destination: IPv4, destinationPort: UInt16, payload: UnsafeRawBufferPointer) -> [UInt8] {
        var frame = [UInt8]()
        frame.reserveCapacity(ethernetHeader + 20 + udpHeader + payload.count)
        frame += toMAC
        frame += fromMAC
        frame += [0x08, 0x00]
        frame += Checksum.ipv4Header(protocol: 17, tos: 0, payloadLength: udpHeader + payload.count, from: source, to: destination)
        let udpLength = udpHeader + payload.count
        frame += [UInt8(sourcePort >> 8), UInt8(sourcePort & 0xff), UInt8(destinationPort >> 8), UInt8(destinationPort & 0xff),
                  UInt8(udpLength >> 8), UInt8(udpLength & 0xff), 0, 0]
        frame += payload
        return frame
    }
}

/// An ICMP echo request from the container, and the "communication administratively prohibited"
/// answer the helper gives it where the host allows no unprivileged ping sockets.
struct ICMPEchoRequest {
    var sourceMAC: [UInt8]
    var source: IPv4
    var destination: IPv4
    /// The IP header and what follows, as the answer quotes it.
    var quoted: Range<Int>

    init?(_ frame: UnsafeRawBufferPointer) {
        let ip = UDPFrame.ethernetHeader
        guard frame.count >= ip + 28, frame[12] == 0x08, frame[13] == 0x00, frame[ip] >> 4 == 4, frame[ip + 9] == 1 else { return nil }
        let headerLength = Int(frame[ip] & 0x0f) * 4
        guard headerLength >= 20, frame.count >= ip + headerLength + 8, frame[ip + headerLength] == 8 else { return nil }
        func word(_ at: Int) -> UInt32 {
            UInt32(frame[at]) << 24 | UInt32(frame[at + 1]) << 16 | UInt32(frame[at + 2]) << 8 | UInt32(frame[at + 3])
        }
        sourceMAC = Array(frame[6..<12])
        source = IPv4(word(ip + 12))
        destination = IPv4(word(ip + 16))
        quoted = ip..<(ip + headerLength + 8)
    }

    /// Destination unreachable, code 13, from `gateway`.
    func prohibited(from gateway: IPv4, frame: UnsafeRawBufferPointer) -> [UInt8] {
        var icmp: [UInt8] = [3, 13, 0, 0, 0, 0, 0, 0] + Array(frame[quoted])
        let checksum = Checksum.of(icmp)
        icmp[2] = UInt8(checksum >> 8)
        icmp[3] = UInt8(checksum & 0xff)
        let header = Checksum.ipv4Header(protocol: 1, tos: 0xc0, payloadLength: icmp.count, from: gateway, to: source)
        return sourceMAC + LinkAddress.slirp(gateway) + [0x08, 0x00] + header + icmp
    }
}

/// The Internet checksum (RFC 1071), and the IPv4 header that carries one.
enum Checksum {
    /// A 20-byte IPv4 header (don't-fragment, TTL 64) with its checksum.
    static func ipv4Header(protocol number: UInt8, tos: UInt8, payloadLength: Int, from source: IPv4, to destination: IPv4) -> [UInt8] {
        let total = 20 + payloadLength
        var header: [UInt8] = [0x45, tos, UInt8(total >> 8), UInt8(total & 0xff), 0, 0, 0x40, 0, 64, number, 0, 0]
        header += source.bytes + destination.bytes
        let checksum = of(header)
        header[10] = UInt8(checksum >> 8)
        header[11] = UInt8(checksum & 0xff)
        return header
    }

    static func of(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var index = 0
        while index + 1 < bytes.count {
            sum += UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1])
            index += 2
        }
        if index < bytes.count { sum += UInt32(bytes[index]) << 8 }
        while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
        return ~UInt16(sum)
    }
}
