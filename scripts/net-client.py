#!/usr/bin/env python3
"""Host-side clients for the network tests (one line of result on stdout, exit 1 on failure):

    net-client.py tcp SOURCE HOST PORT TEXT      connect from SOURCE, send TEXT, print the echo
    net-client.py udp SOURCE HOST PORT TEXT      one datagram from SOURCE, print the answer
    net-client.py parallel HOST PORT COUNT SIZE  COUNT connections at once, each sending SIZE
                                                 distinct bytes and checking the echo: "ok COUNT"
    net-client.py udp-echo ADDRESS PORT          a UDP echo server (prints "ready")
    net-client.py hold ADDRESS PORT              keeps a TCP port bound (prints "ready")
"""
import socket
import sys
import threading
import time


def receive_all(s):
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk


def tcp(source, host, port, text):
    with socket.create_connection((host, int(port)), timeout=10, source_address=(source, 0)) as s:
        s.sendall(text.encode())
        s.shutdown(socket.SHUT_WR)
        data = receive_all(s)
    print(data.decode())


def udp(source, host, port, text):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((source, 0))
    s.settimeout(5)
    s.sendto(text.encode(), (host, int(port)))
    data, _ = s.recvfrom(65536)
    print(data.decode())


def parallel(host, port, count, size):
    count, size = int(count), int(size)
    failures = []
    barrier = threading.Barrier(count)

    def one(index):
        payload = (b"%08d" % index) * (size // 8)
        try:
            with socket.create_connection((host, int(port)), timeout=30) as s:
                barrier.wait(timeout=30)
                sender = threading.Thread(target=lambda: (s.sendall(payload), s.shutdown(socket.SHUT_WR)))
                sender.start()
                data = receive_all(s)
                sender.join()
                if data != payload:
                    failures.append("connection %d: %d bytes back of %d" % (index, len(data), len(payload)))
        except Exception as error:  # noqa: BLE001 - reported, not hidden
            failures.append("connection %d: %s" % (index, error))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        print("failed %d: %s" % (len(failures), "; ".join(failures[:5])))
        sys.exit(1)
    print("ok %d" % count)


def udp_echo(address, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((address, int(port)))
    print("ready", flush=True)
    while True:
        data, peer = s.recvfrom(65536)
        s.sendto(data, peer)


def hold(address, port):
    s = socket.socket()
    s.bind((address, int(port)))
    s.listen(1)
    print("ready", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    command, arguments = sys.argv[1], sys.argv[2:]
    {"tcp": tcp, "udp": udp, "parallel": parallel, "udp-echo": udp_echo, "hold": hold}[command](*arguments)
