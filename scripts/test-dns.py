#!/usr/bin/env python3
"""A minimal authoritative DNS server for the network tests: answers A queries for the names given
as NAME=IPV4, NXDOMAIN for anything else, and prints one line per query ("query NAME") so a test can
see that the question really arrived. Prints "ready" once listening.

    test-dns.py ADDRESS PORT NAME=IP [NAME=IP ...]
"""
import socket
import struct
import sys


def parse_name(packet, offset):
    labels = []
    while True:
        length = packet[offset]
        offset += 1
        if length == 0:
            return ".".join(labels), offset
        labels.append(packet[offset:offset + length].decode("ascii", "replace"))
        offset += length


def answer(packet, records):
    ident, flags, qdcount = struct.unpack("!HHH", packet[:6])
    name, end = parse_name(packet, 12)
    qtype, qclass = struct.unpack("!HH", packet[end:end + 4])
    question = packet[12:end + 4]
    address = records.get(name.lower().rstrip("."))
    rd = flags & 0x0100
    if address is None:
        header = struct.pack("!HHHHHH", ident, 0x8400 | rd | 3, 1, 0, 0, 0)
        return name, header + question
    if qtype != 1:
        header = struct.pack("!HHHHHH", ident, 0x8400 | rd, 1, 0, 0, 0)
        return name, header + question
    header = struct.pack("!HHHHHH", ident, 0x8400 | rd, 1, 1, 0, 0)
    record = struct.pack("!HHHLH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton(address)
    return name, header + question + record


def main():
    address, port = sys.argv[1], int(sys.argv[2])
    records = dict(item.split("=", 1) for item in sys.argv[3:])
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((address, port))
    print("ready", flush=True)
    while True:
        packet, peer = sock.recvfrom(4096)
        try:
            name, reply = answer(packet, records)
        except (IndexError, struct.error):
            continue
        print("query %s" % name, flush=True)
        sock.sendto(reply, peer)


if __name__ == "__main__":
    main()
