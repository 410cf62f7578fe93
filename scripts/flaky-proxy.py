#!/usr/bin/env python3
"""flaky-proxy.py UPSTREAM_HOSTPORT LOG [--cut-after BYTES] [--fail-first N]

A loopback HTTP proxy in front of a registry, for tests of what a client does when the network
misbehaves. It prints its port on stdout, then serves until killed (or for 10 minutes).
  --cut-after BYTES  the first GET of each blob is cut off after BYTES bytes of body (a dropped
                     connection); later requests for it pass whole, honouring Range
  --fail-first N     the first N requests of each path answer 503 (a registry that is briefly
                     overloaded)
  --short-blobs      every blob answer is cut to half its length, with a Content-Length to match
                     and any Range ignored (a registry that serves truncated blobs)
  --manifest FILE TYPE  every manifest GET is answered with FILE's bytes as media type TYPE (a
                     hostile registry: invalid JSON, oversized or unknown documents, which a real
                     registry refuses to store)
Each request goes to LOG as one line: METHOD PATH RANGE STATUS.
"""
import http.client
import http.server
import socket
import sys
import threading

upstream, log_path = sys.argv[1], sys.argv[2]
args = sys.argv[3:]
cut_after = int(args[args.index("--cut-after") + 1]) if "--cut-after" in args else None
fail_first = int(args[args.index("--fail-first") + 1]) if "--fail-first" in args else 0
short_blobs = "--short-blobs" in args
manifest = None
if "--manifest" in args:
    position = args.index("--manifest")
    manifest = (open(args[position + 1], "rb").read(), args[position + 2])
seen = {}
lock = threading.Lock()


def log(line):
    with lock, open(log_path, "a") as f:
        f.write(line + "\n")


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def relay(self):
        with lock:
            count = seen.get(self.path, 0)
            seen[self.path] = count + 1
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        range_header = self.headers.get("Range", "-")
        if count < fail_first:
            log("%s %s %s 503" % (self.command, self.path, range_header))
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if manifest is not None and self.command in ("GET", "HEAD") and "/manifests/" in self.path:
            log("%s %s %s 200 (served)" % (self.command, self.path, range_header))
            self.send_response(200)
            self.send_header("Content-Type", manifest[1])
            self.send_header("Content-Length", str(len(manifest[0])))
            self.end_headers()
            if self.command == "GET":
                self.wfile.write(manifest[0])
            return
        conn = http.client.HTTPConnection(upstream, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        log("%s %s %s %d" % (self.command, self.path, range_header, resp.status))
        cut = cut_after is not None and self.command == "GET" and "/blobs/sha256:" in self.path and count == fail_first
        if short_blobs and self.command == "GET" and "/blobs/sha256:" in self.path and resp.status in (200, 206):
            data = resp.read()
            data = data[:len(data) // 2]
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            conn.close()
            return
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("connection", "transfer-encoding"):
                self.send_header(k, v)
        self.end_headers()
        sent = 0
        while True:
            chunk = resp.read(65536)
            if not chunk:
                break
            if cut and sent + len(chunk) > cut_after:
                self.wfile.write(chunk[:cut_after - sent])
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            self.wfile.write(chunk)
            sent += len(chunk)
        conn.close()

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = relay


class Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a connection this proxy cut on purpose, or a client that went away: not news


server = Server(("127.0.0.1", 0), Proxy)
server.daemon_threads = True
print(server.server_address[1], flush=True)
threading.Timer(600, server.shutdown).start()
server.serve_forever()
