#!/usr/bin/env python3
"""A token server for the loopback test registry that uses `auth: token` (Docker's token scheme).

    token-server.py --listen 127.0.0.1:PORT --htpasswd FILE --key KEY.pem --cert CERT.pem
                    [--issuer ISS] [--service SVC] [--expires SECONDS]

Implements the token endpoint of Docker's registry token authentication specification (the one
distribution's `auth: token:` and Docker Hub use):

  GET  /token?service=SVC&scope=repository:NAME:pull,push[&scope=...][&account=USER]
       with or without HTTP Basic credentials
  POST /token  (OAuth2 form: grant_type=password, username, password, service, scope)
  GET  /health -> 200 "ok"

Credentials are checked against FILE, an htpasswd file with bcrypt ($2y$/$2b$/$2a$) entries, the same
file the `basic` registry reads. Good credentials get every action asked for in every scope; no
credentials get a token that grants nothing (the registry then answers 401 insufficient_scope, as
Docker Hub does for a private repository); wrong credentials get 401 with a Basic challenge. An
unknown service gets 400. The answer is JSON {"token", "access_token", "expires_in", "issued_at"}.

The token is a JWT signed with RS256 by KEY; its header carries the key's certificate in `x5c`, and
the registry trusts it because CERT (self-signed) is its `rootcertbundle`. KEY and CERT are made
here when missing. One line per request goes to stderr: client, user, scopes asked, access granted.
Python stdlib + python3-cryptography.
"""
import argparse
import base64
import datetime
import hmac
import http.server
import json
import os
import secrets
import sys
import time
import urllib.parse
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # bcrypt through libxcrypt; deprecated since 3.11, present on Debian 12

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.x509.oid import NameOID
except ImportError:
    print("token-server.py: python3-cryptography is missing (apt-get install python3-cryptography)",
          file=sys.stderr)
    sys.exit(2)

PROG = "token-server.py"


def log(msg):
    print("%s %s" % (time.strftime("%Y-%m-%dT%H:%M:%S"), msg), file=sys.stderr, flush=True)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def write_atomic(path, data, mode):
    tmp = "%s.tmp-%d" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.rename(tmp, path)


def ensure_key(key_path, cert_path, issuer):
    """Load KEY and CERT; make a 2048-bit RSA key and a self-signed CA certificate when missing."""
    if not (os.path.exists(key_path) and os.path.exists(cert_path)):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder()
                .subject_name(name).issuer_name(name)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False,
                                             encipher_only=False, decipher_only=False), critical=True)
                .sign(key, hashes.SHA256()))
        write_atomic(key_path, key.private_bytes(serialization.Encoding.PEM,
                                                 serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()), 0o600)
        write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
        log("made %s and %s (RSA 2048, self-signed, CN=%s)" % (key_path, cert_path, issuer))
    with open(key_path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    with open(cert_path, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    if cert.public_key().public_numbers() != key.public_key().public_numbers():
        raise SystemExit("%s: %s does not belong to %s" % (PROG, cert_path, key_path))
    return key, cert


def read_htpasswd(path):
    users = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and ":" in line:
                user, hashed = line.split(":", 1)
                users[user] = hashed
    return users


def check_password(users, user, password):
    hashed = users.get(user)
    if hashed is None:
        crypt.crypt(password, "$2b$10$" + "." * 22)   # about the same time for unknown users
        return False
    if not hashed.startswith(("$2y$", "$2b$", "$2a$")):
        return False
    # libxcrypt knows $2b$/$2a$/$2y$; htpasswd -B writes $2y$
    got = crypt.crypt(password, hashed)
    return got is not None and hmac.compare_digest(got, hashed)


def parse_scope(scope):
    """'repository:NAME:pull,push' -> ('repository', 'NAME', ['pull', 'push']); NAME may hold ':'."""
    typ, sep, rest = scope.partition(":")
    name, sep2, actions = rest.rpartition(":")
    if not sep or not sep2 or not typ or not name:
        return None
    return typ, name, [a for a in actions.split(",") if a]


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "swctr-test-token-server/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):   # one line per token request is logged by us instead
        pass

    def reply(self, code, body, ctype="application/json", headers=()):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def error(self, code, err, detail, headers=()):
        self.reply(code, {"errors": [{"code": err, "message": detail}], "details": detail}, headers=headers)

    def basic_credentials(self):
        """(user, password) from an Authorization: Basic header, None when absent, False when malformed."""
        auth = self.headers.get("Authorization")
        if not auth:
            return None
        scheme, _, value = auth.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return (user, password) if sep else False

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/health":
            return self.reply(200, b"ok\n", "text/plain")
        if url.path != "/token":
            return self.error(404, "NOT_FOUND", "no such endpoint: %s" % url.path)
        q = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        creds = self.basic_credentials()
        if creds is False:
            return self.unauthorized("malformed Authorization header")
        self.issue(q.get("service", [""])[0], q.get("scope", []), creds, q.get("account", [""])[0])

    do_HEAD = do_GET

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/token":
            return self.error(404, "NOT_FOUND", "no such endpoint: %s" % url.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length > 65536:
            return self.error(400, "INVALID_REQUEST", "body too large")
        form = urllib.parse.parse_qs(self.rfile.read(length).decode(errors="replace"), keep_blank_values=True)
        grant = form.get("grant_type", [""])[0]
        if grant != "password":
            return self.error(400, "UNSUPPORTED_GRANT_TYPE", "only grant_type=password is supported")
        creds = (form.get("username", [""])[0], form.get("password", [""])[0])
        scopes = [s for v in form.get("scope", []) for s in v.split(" ") if s]
        self.issue(form.get("service", [""])[0], scopes, creds, "")

    def unauthorized(self, why):
        log("%s 401 %s" % (self.client_address[0], why))
        self.error(401, "UNAUTHORIZED", "authentication required: " + why,
                   headers=[("WWW-Authenticate", 'Basic realm="%s"' % self.server.cfg.issuer)])

    def issue(self, service, scopes, creds, account):
        cfg = self.server.cfg
        if service != cfg.service:
            log("%s 400 unknown service %r" % (self.client_address[0], service))
            return self.error(400, "INVALID_REQUEST", "unknown service %r (this server signs for %r)"
                              % (service, cfg.service))
        user = ""
        if creds is not None:
            user, password = creds
            try:
                users = read_htpasswd(cfg.htpasswd)   # re-read: the file may be rewritten
            except OSError as e:
                return self.error(500, "UNKNOWN", "cannot read the user file: %s" % e)
            if not check_password(users, user, password):
                return self.unauthorized("wrong credentials for %r" % user)
        access = []
        for s in scopes:
            parsed = parse_scope(s)
            if parsed is None:
                return self.error(400, "INVALID_REQUEST", "malformed scope %r" % s)
            typ, name, actions = parsed
            if user:
                for a in access:
                    if a["type"] == typ and a["name"] == name:
                        a["actions"] += [x for x in actions if x not in a["actions"]]
                        break
                else:
                    access.append({"type": typ, "name": name, "actions": actions})
        now = int(time.time())
        claims = {"iss": cfg.issuer, "sub": user, "aud": cfg.service, "exp": now + cfg.expires,
                  "nbf": now - 10, "iat": now, "jti": secrets.token_hex(16), "access": access}
        header = {"typ": "JWT", "alg": "RS256", "x5c": [cfg.cert_der_b64]}
        signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                         b64url(json.dumps(claims, separators=(",", ":")).encode()))
        sig = cfg.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        token = signing_input + "." + b64url(sig)
        log("%s 200 user=%s scopes=%s granted=%s" % (
            self.client_address[0], user or "(anonymous)", scopes or "[]",
            ",".join("%s:%s:%s" % (a["type"], a["name"], ",".join(a["actions"])) for a in access) or "nothing"))
        issued = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.reply(200, {"token": token, "access_token": token, "expires_in": cfg.expires, "issued_at": issued})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen", required=True, help="127.0.0.1:PORT")
    ap.add_argument("--htpasswd", required=True, help="htpasswd file with bcrypt entries")
    ap.add_argument("--key", required=True, help="RSA private key (PEM), made when missing")
    ap.add_argument("--cert", required=True, help="its self-signed certificate (PEM), made when missing")
    ap.add_argument("--issuer", default="swctr-test-token-server")
    ap.add_argument("--service", default="swctr-test-token-registry")
    ap.add_argument("--expires", type=int, default=300, help="token lifetime in seconds (>= 60)")
    cfg = ap.parse_args()
    host, _, port = cfg.listen.rpartition(":")
    cfg.key, cert = ensure_key(cfg.key, cfg.cert, cfg.issuer)
    cfg.cert_der_b64 = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    read_htpasswd(cfg.htpasswd)
    srv = Server((host, int(port)), Handler)
    srv.cfg = cfg
    log("listening on http://%s/token (service %s, issuer %s)" % (cfg.listen, cfg.service, cfg.issuer))
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
