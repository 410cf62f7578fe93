#!/usr/bin/env python3
"""Build swctr's test images from Debian packages and push them to a loopback registry.

    make-test-images.py --registry 127.0.0.1:PORT --state DIR [--mirror URL] [--reuse-cache DIR]...

Everything is made here with tarfile/gzip/hashlib/json (zstd with the zstd tool, the schema1
signature with python3-cryptography) and pushed over plain HTTP with the distribution API
(monolithic blob uploads, then manifests; an index after its children):

  test/busybox   Docker schema2, 1 gzip layer: busybox-static + applet links, passwd/group
  test/debian    OCI, 3 layers: debootstrap minbase bookworm / files in opt/swctr-test /
                 whiteouts, an opaque dir and a whiteout of etc/motd (needs root: debootstrap)
  test/config    Docker schema2: busybox + srv/work; Env, Entrypoint, Cmd, WorkingDir, User
  test/multi     OCI index: linux/arm64 then linux/amd64 (SWCTR_TEST_ARCH in Env)
  test/variants  OCI index: linux/arm/v6, linux/arm/v7, linux/arm64/v8, linux/amd64, each the busybox
                 layer with SWCTR_TEST_ARCH=arm/v6, arm/v7, arm64/v8, amd64 and the matching
                 architecture/variant in its config
  test/plain     OCI, one uncompressed layer
  test/zstd      OCI, the busybox layer compressed with zstd (application/vnd.oci.image.layer.v1.tar+zstd)
  test/schema1   Docker schema 1, signed (libtrust JWS, ES256, a fresh key each build): the busybox
                 layer; the registry serves it as application/vnd.docker.distribution.manifest.v1+prettyjws
                 and its digest is that of the payload without the signatures
  test/foreign   Docker schema2: the busybox layer, then a foreign layer
                 (application/vnd.docker.image.rootfs.foreign.diff.tar.gzip) whose bytes are only at
                 its `urls` entry, http://REGISTRY/v2/test/foreign-source/blobs/DIGEST: the
                 test/foreign repository does not hold that blob (the registry does not ask for it)
  test/layers    OCI, 7 gzip layers: busybox, then 6 of 4 MiB of incompressible bytes each
                 (layers/N.bin, N = 1..6; deterministic, cached under DIR/cache)
  test/evil-*    busybox + one hostile layer (dotdot, abs, symlink, hardlink)

The registry must accept schema1 manifests and foreign-layer URLs on 127.0.0.1; test-registry.sh
configures every registry so (distribution 2.8 refuses both by default).

Then DIR/registry/tampered becomes a copy of DIR/registry/good (the good registry's storage) in
which the busybox gzip layer blob has bytes changed in the middle and the test/plain manifest has
one annotation value changed (same length, still valid JSON). Serve it read-only. Blob files are
hard links into the good storage (the registry never writes a blob file in place; tampering
replaces the file). DIR/registry/basic and DIR/registry/token (the storages of the registries
with authentication) get the test images' repositories copied in from the good storage, their
blobs hard-linked; other repositories there (pushed by tests) are left alone.

Tar entries are sorted, with a fixed mtime and numeric owners, and gzip headers carry no name or
time, so every run yields the same digests. Slow inputs (the debootstrap tree) are cached under
DIR/cache keyed by a hash of their inputs. A summary (image -> manifest digest) goes to stderr and
to DIR/images.json (per image also its media type as served, and its layer descriptors or, for an
index, its children's digests and platforms).
"""
import argparse
import base64
import glob
import gzip
import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import tempfile
import sys
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request

RECIPE = "swctr-test-images 1"          # bump to rebuild cached inputs
LAYERS_RECIPE = "swctr-test-layers 1"    # test/layers: bump to change its data
EPOCH = 1735689600                       # 2025-01-01T00:00:00Z: mtime of every tar entry
CREATED = "2025-01-01T00:00:00Z"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BUSYBOX = "/bin/busybox"
SUITE, VARIANT = "bookworm", "minbase"
TAMPER_KEY, TAMPER_FROM, TAMPER_TO = "io.swctr.test.integrity", b'"original"', b'"tampered"'

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZ = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER_GZ = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
DOCKER_MANIFEST_V1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZ = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
ACCEPT = ", ".join([OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST,
                    "application/vnd.docker.distribution.manifest.list.v2+json"])

PROG = os.path.basename(sys.argv[0])


class Fail(Exception):
    pass


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def gz(data):
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=6, mtime=0) as g:
        g.write(data)
    return out.getvalue()


def jbytes(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def sort_key(name):
    return name.rstrip("/").split("/")


# ------------------------------------------------------------------------------- layers
class Layer:
    """An in-memory layer: entries sorted by path components, fixed mtime, numeric owners."""

    def __init__(self, sort=True):
        self.entries = []
        self.sort = sort

    def _ti(self, name, type_, mode, uid, gid):
        ti = tarfile.TarInfo(name)          # the name is kept as given, hostile or not
        ti.type, ti.mode, ti.uid, ti.gid = type_, mode, uid, gid
        ti.mtime, ti.uname, ti.gname = EPOCH, "", ""
        return ti

    def dir(self, name, mode=0o755, uid=0, gid=0):
        self.entries.append((self._ti(name, tarfile.DIRTYPE, mode, uid, gid), None))
        return self

    def file(self, name, data, mode=0o644, uid=0, gid=0):
        ti = self._ti(name, tarfile.REGTYPE, mode, uid, gid)
        ti.size = len(data)
        self.entries.append((ti, data))
        return self

    def symlink(self, name, target):
        ti = self._ti(name, tarfile.SYMTYPE, 0o777, 0, 0)
        ti.linkname = target
        self.entries.append((ti, None))
        return self

    def device(self, name, kind, major, minor):
        ti = self._ti(name, tarfile.CHRTYPE if kind == "c" else tarfile.BLKTYPE, 0o666, 0, 0)
        ti.devmajor, ti.devminor = major, minor
        self.entries.append((ti, None))
        return self

    def hardlink(self, name, target):
        ti = self._ti(name, tarfile.LNKTYPE, 0o644, 0, 0)
        ti.linkname = target
        self.entries.append((ti, None))
        return self

    def tar(self):
        out = io.BytesIO()
        entries = sorted(self.entries, key=lambda e: sort_key(e[0].name)) if self.sort else self.entries
        with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
            for ti, data in entries:
                tf.addfile(ti, io.BytesIO(data) if data is not None else None)
        return out.getvalue()


class Blob:
    """A blob to push: bytes in memory or a file on disk."""

    def __init__(self, media_type, data=None, path=None, digest=None, size=None, urls=None):
        self.media_type, self.data, self.path, self.urls = media_type, data, path, urls
        self.digest = digest or sha256(data)
        self.size = size if size is not None else len(data)

    def bytes(self):
        if self.data is not None:
            return self.data
        with open(self.path, "rb") as f:
            data = f.read()
        if len(data) != self.size:
            raise Fail("cached blob %s has %d bytes, expected %d" % (self.path, len(data), self.size))
        return data

    def descriptor(self, media_type=None):
        d = {"mediaType": media_type or self.media_type, "digest": self.digest, "size": self.size}
        if self.urls:
            d["urls"] = self.urls
        return d


class LayerBlob:
    """A layer: its diff_id (sha256 of the tar) and the blob as pushed (gzip or plain)."""

    def __init__(self, blob, diff_id, created_by):
        self.blob, self.diff_id, self.created_by = blob, diff_id, created_by


def gz_layer(layer, created_by):
    t = layer.tar()
    return LayerBlob(Blob(OCI_LAYER_GZ, gz(t)), sha256(t), created_by)


# ------------------------------------------------------------------------------- busybox
def is_static_elf(path):
    with open(path, "rb") as f:
        hdr = f.read(64)
        if hdr[:4] != b"\x7fELF" or hdr[4] != 2:
            return False
        phoff, = struct.unpack_from("<Q", hdr, 32)
        phentsize, phnum = struct.unpack_from("<HH", hdr, 54)
        for i in range(phnum):
            f.seek(phoff + i * phentsize)
            if struct.unpack("<I", f.read(4))[0] == 3:   # PT_INTERP: dynamically linked
                return False
    return True


def busybox_layer():
    if not os.path.isfile(BUSYBOX):
        raise Fail("%s missing (apt-get install busybox-static)" % BUSYBOX)
    if not is_static_elf(BUSYBOX):
        raise Fail("%s is not statically linked (install busybox-static, not busybox)" % BUSYBOX)
    applets = subprocess.run([BUSYBOX, "--list"], check=True, capture_output=True, text=True).stdout.split()
    with open(BUSYBOX, "rb") as f:
        binary = f.read()
    L = Layer()
    for d in ("bin", "etc", "proc", "sys", "dev"):
        L.dir(d)
    L.dir("tmp", 0o1777).dir("root", 0o700)
    L.file("bin/busybox", binary, 0o755)
    links = sorted(set(a for a in applets if a != "busybox" and "/" not in a))
    for a in links:
        L.symlink("bin/" + a, "busybox")
    L.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"
                         b"daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
                         b"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
    L.file("etc/group", b"root:x:0:\ndaemon:x:1:\nnogroup:x:65534:\n")
    version = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "busybox-static"],
                             capture_output=True, text=True).stdout.strip() or "unknown"
    return gz_layer(L, "busybox-static %s: /bin/busybox, %d applet links, /etc/passwd, /etc/group"
                    % (version, len(links)))


def probe_layer():
    """/bin/probe (scripts/probe.c, static), users and groups for -u/--group-add, and /srv/data
    (an image VOLUME with content, for the first-use copy)."""
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "probe.c")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "probe")
        try:
            subprocess.run(["gcc", "-static", "-O2", "-Wall", "-o", out, src], check=True, capture_output=True, text=True)
        except FileNotFoundError:
            raise Fail("gcc missing (apt-get install gcc libc6-dev)")
        except subprocess.CalledProcessError as e:
            raise Fail("building probe.c failed: %s" % e.stderr.strip())
        with open(out, "rb") as f:
            binary = f.read()
    L = (Layer().dir("bin").file("bin/probe", binary, 0o755)
         .dir("etc")
         .file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"
                             b"daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
                             b"app:x:1000:1000:app:/home/app:/bin/sh\n"
                             b"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
         .file("etc/group", b"root:x:0:\ndaemon:x:1:\naudio:x:29:app\nstaff:x:50:\napp:x:1000:\nnogroup:x:65534:\n")
         .dir("home").dir("home/app", 0o755, 1000, 1000)
         .dir("srv").dir("srv/data", 0o750, 1000, 1000)
         .file("srv/data/seed.txt", b"seeded by the image\n", 0o640, 1000, 1000)
         .symlink("srv/link-abs", "/tmp/swctr-escape-target")
         .symlink("srv/link-rel", "../../../../tmp/swctr-escape-target"))
    return gz_layer(L, "probe (scripts/probe.c), app user, audio/staff groups, VOLUME /srv/data with seed.txt, srv/link-abs and srv/link-rel pointing out")


def iperf_layer():
    """The host's /usr/bin/iperf3 (Debian's package) with the shared libraries it loads, at the
    paths ldd reports, for the network benchmark; None when iperf3 is not installed."""
    binary = "/usr/bin/iperf3"
    if not os.path.exists(binary):
        return None
    ldd = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    paths = [binary]
    for line in ldd.splitlines():
        parts = line.split()
        if "=>" in parts and len(parts) >= 3 and parts[2].startswith("/"):
            paths.append(parts[2])
        elif parts and parts[0].startswith("/"):
            paths.append(parts[0])
    L = Layer()
    made = set()
    for path in paths:
        name = path.lstrip("/")
        parent = ""
        for piece in name.split("/")[:-1]:
            parent = parent + "/" + piece if parent else piece
            if parent not in made:
                L.dir(parent)
                made.add(parent)
        with open(os.path.realpath(path), "rb") as f:
            L.file(name, f.read(), 0o755)
    return gz_layer(L, "iperf3 and its libraries from this host's Debian packages")


# ------------------------------------------------------------------------------- debootstrap
def apt_mirror():
    """The first Debian (non-security) mirror in apt's sources, in apt's reading order."""
    uris = []
    files = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")
                                              + glob.glob("/etc/apt/sources.list.d/*.sources"))
    for path in files:
        try:
            text = open(path).read()
        except OSError:
            continue
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            if path.endswith(".sources"):
                if line.lower().startswith("uris:"):
                    uris += line.split(":", 1)[1].split()
            elif line.startswith("deb "):
                words = line.split()[1:]
                if words and words[0].startswith("["):
                    while words and not words[0].endswith("]"):
                        words.pop(0)
                    words = words[1:]
                if words:
                    uris.append(words[0])
    for u in uris:
        if "debian" in u and "security" not in u and "ports" not in u:
            return u
    return "http://deb.debian.org/debian"


def walk_sorted(root, rel=""):
    with os.scandir(os.path.join(root, rel) if rel else root) as it:
        names = sorted(e.name for e in it)
    for n in names:
        r = rel + "/" + n if rel else n
        yield r
        full = os.path.join(root, r)
        if os.path.isdir(full) and not os.path.islink(full):
            yield from walk_sorted(root, r)


def tar_tree(root, out):
    """Deterministic tar of a directory tree: sorted, fixed mtime, numeric owners, hardlinks kept."""
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tf:
        for rel in walk_sorted(root):
            full = os.path.join(root, rel)
            ti = tf.gettarinfo(full, arcname=rel)
            if ti is None:                      # sockets
                continue
            ti.mtime, ti.uname, ti.gname = EPOCH, "", ""
            if ti.isreg():
                with open(full, "rb") as f:
                    tf.addfile(ti, f)
            else:
                tf.addfile(ti)


def gzip_file(src, dst):
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        with gzip.GzipFile(filename="", mode="wb", fileobj=fo, compresslevel=6, mtime=0) as g:
            shutil.copyfileobj(fi, g, 1 << 20)


WHITEOUT_CANDIDATES = ["etc/motd", "etc/issue.net", "etc/debian_version", "etc/host.conf"]


def debootstrap_layer(cache, reuse, mirror):
    """L1 of test/debian, cached as debootstrap-KEY.tar.gz + .json; None when it cannot be made."""
    key = hashlib.sha256(jbytes([RECIPE, "debootstrap", SUITE, VARIANT, mirror])).hexdigest()[:16]
    base = "debootstrap-%s-%s-%s" % (SUITE, VARIANT, key)
    for d in [cache] + reuse:
        meta, gzp = os.path.join(d, base + ".json"), os.path.join(d, base + ".tar.gz")
        try:
            m = json.load(open(meta))
            if os.path.getsize(gzp) == m["size"]:
                if d != cache:
                    log("debootstrap layer: reusing %s" % gzp)
                return LayerBlob(Blob(OCI_LAYER_GZ, path=gzp, digest=m["digest"], size=m["size"]),
                                 m["diff_id"], m["created_by"]), m["whiteout"]
        except (OSError, ValueError, KeyError):
            pass
    if os.geteuid() != 0:
        log("test/debian: skipped (debootstrap needs root; run scripts/setup-test-host.sh as root once)")
        return None
    if not shutil.which("debootstrap"):
        raise Fail("debootstrap not installed (apt-get install debootstrap)")
    t0 = time.time()
    work = os.path.join(cache, base + ".work")
    tree, logf = os.path.join(work, "rootfs"), os.path.join(cache, base + ".log")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(tree)
    log("debootstrap --variant=%s %s from %s (log %s)" % (VARIANT, SUITE, mirror, logf))
    with open(logf, "wb") as lf:
        # a private mount namespace: the proc/sys mounts debootstrap makes vanish with it
        r = subprocess.run(["unshare", "-m", "--propagation", "private", "debootstrap",
                            "--variant=" + VARIANT, SUITE, tree, mirror],
                           stdin=subprocess.DEVNULL, stdout=lf, stderr=subprocess.STDOUT, timeout=1200)
    if r.returncode != 0:
        tail = open(logf, errors="replace").read().strip().splitlines()[-3:]
        raise Fail("debootstrap failed (%d): %s" % (r.returncode, " | ".join(tail)))
    for pattern in ("dev/*", "dev/.*", "var/lib/apt/lists/*", "var/cache/apt/*.bin",
                    "var/cache/apt/archives/*.deb", "var/cache/apt/archives/partial/*.deb"):
        for p in glob.glob(os.path.join(tree, pattern)):
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p)
            else:
                os.unlink(p)
    whiteout = next((c for c in WHITEOUT_CANDIDATES
                     if os.path.isfile(os.path.join(tree, c)) and not os.path.islink(os.path.join(tree, c))), None)
    if whiteout is None:
        raise Fail("none of %s in the debootstrap tree" % WHITEOUT_CANDIDATES)
    tarp, gzp, meta = (os.path.join(cache, base + s) for s in (".tar", ".tar.gz", ".json"))
    tar_tree(tree, tarp + ".tmp")
    diff_id = sha256_file(tarp + ".tmp")
    gzip_file(tarp + ".tmp", gzp + ".tmp")
    os.unlink(tarp + ".tmp")
    m = {"digest": sha256_file(gzp + ".tmp"), "size": os.path.getsize(gzp + ".tmp"), "diff_id": diff_id,
         "whiteout": whiteout, "mirror": mirror,
         "created_by": "debootstrap --variant=%s %s %s" % (VARIANT, SUITE, mirror)}
    os.rename(gzp + ".tmp", gzp)
    with open(meta + ".tmp", "w") as f:
        json.dump(m, f, indent=1)
    os.rename(meta + ".tmp", meta)
    shutil.rmtree(work)
    log("debootstrap layer: %.1f MiB gzip, %.0f s" % (m["size"] / 2**20, time.time() - t0))
    return LayerBlob(Blob(OCI_LAYER_GZ, path=gzp, digest=m["digest"], size=m["size"]),
                     diff_id, m["created_by"]), whiteout


# ------------------------------------------------------------------------------- images
class Image:
    """A manifest to push with its blobs (and children, for an index). digest: what the registry
    names it by (for schema1, that of the payload without signatures). elsewhere: (repo, Blob)
    pairs pushed to other repositories first (a foreign layer's source)."""

    def __init__(self, repo, manifest, media_type, blobs, children=(), digest=None, elsewhere=()):
        self.repo, self.manifest, self.media_type = repo, manifest, media_type
        self.blobs, self.children = blobs, list(children)
        self.digest = digest or sha256(manifest)
        self.elsewhere = list(elsewhere)


def image(repo, kind, layers, cfg, arch="amd64", variant=None, annotations=None, layer_types=None):
    """kind: docker or oci. layers: LayerBlob list. cfg: the config's "config" object."""
    history = [{"created": CREATED, "created_by": l.created_by} for l in layers]
    history.append({"created": CREATED, "created_by": "config: " + json.dumps(cfg, sort_keys=True),
                    "empty_layer": True})
    config = {"created": CREATED, "architecture": arch}
    if variant:
        config["variant"] = variant
    config.update({"os": "linux", "config": cfg,
                   "rootfs": {"type": "layers", "diff_ids": [l.diff_id for l in layers]},
                   "history": history})
    cblob = Blob(DOCKER_CONFIG if kind == "docker" else OCI_CONFIG, jbytes(config))
    if kind == "docker":
        mt, types = DOCKER_MANIFEST, layer_types or [DOCKER_LAYER_GZ] * len(layers)
    else:
        mt, types = OCI_MANIFEST, layer_types or [l.blob.media_type for l in layers]
    m = {"schemaVersion": 2, "mediaType": mt, "config": cblob.descriptor(),
         "layers": [l.blob.descriptor(t) for l, t in zip(layers, types)]}
    if annotations:
        m["annotations"] = annotations
    # a layer with urls is fetched from there: it is not pushed to this repository
    return Image(repo, jbytes(m), mt, [cblob] + [l.blob for l in layers if not l.blob.urls])


def index(repo, children_platforms):
    mans = []
    for child, platform in children_platforms:
        mans.append({"mediaType": child.media_type, "digest": child.digest, "size": len(child.manifest),
                     "platform": platform})
    m = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": mans}
    return Image(repo, jbytes(m), OCI_INDEX, [], [c for c, _ in children_platforms])


def zstd_layer(tar, created_by):
    """The tar compressed by the zstd tool (level 3, one thread: the same bytes every run); None
    when zstd is not installed."""
    zstd = shutil.which("zstd")
    if zstd is None:
        return None
    r = subprocess.run([zstd, "-q", "-c", "-3", "-T1", "--no-progress"], input=tar, capture_output=True, timeout=120)
    if r.returncode != 0:
        raise Fail("zstd failed: %s" % r.stderr.decode(errors="replace").strip())
    return LayerBlob(Blob(OCI_LAYER_ZSTD, r.stdout), sha256(tar), created_by)


def data_layers(cache, count=6, size=4 << 20):
    """test/layers' data layers: layers/N.bin with SIZE bytes of SHAKE-256 output (incompressible,
    the same every run), gzip; cached as DIR/cache/layers-KEY-N.tar.gz + layers-KEY.json."""
    key = hashlib.sha256(jbytes([LAYERS_RECIPE, count, size])).hexdigest()[:16]
    meta_path = os.path.join(cache, "layers-%s.json" % key)
    try:
        out = []
        for m in json.load(open(meta_path)):
            path = os.path.join(cache, m["file"])
            if os.path.getsize(path) != m["size"]:
                raise ValueError(path)
            out.append(LayerBlob(Blob(OCI_LAYER_GZ, path=path, digest=m["digest"], size=m["size"]),
                                 m["diff_id"], m["created_by"]))
        if len(out) == count:
            return out
    except (OSError, ValueError, KeyError, TypeError):
        pass
    meta, out = [], []
    for n in range(1, count + 1):
        data = hashlib.shake_256(("%s %d" % (LAYERS_RECIPE, n)).encode()).digest(size)
        t = Layer().dir("layers").file("layers/%d.bin" % n, data).tar()
        g = gz(t)
        name = "layers-%s-%d.tar.gz" % (key, n)
        with open(os.path.join(cache, name + ".tmp"), "wb") as f:
            f.write(g)
        os.rename(os.path.join(cache, name + ".tmp"), os.path.join(cache, name))
        m = {"file": name, "digest": sha256(g), "size": len(g), "diff_id": sha256(t),
             "created_by": "layers/%d.bin: %d bytes of shake_256(%r)" % (n, size, "%s %d" % (LAYERS_RECIPE, n))}
        meta.append(m)
        out.append(LayerBlob(Blob(OCI_LAYER_GZ, g), m["diff_id"], m["created_by"]))
    with open(meta_path + ".tmp", "w") as f:
        json.dump(meta, f, indent=1)
    os.rename(meta_path + ".tmp", meta_path)
    return out


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def schema1_image(repo, layer, cfg):
    """A Docker schema 1 manifest of one layer, signed the way libtrust does it (a JWS in
    "signatures", over the payload up to formatLength + formatTail). The key is made afresh, so
    the bytes differ from run to run but the digest (of the payload) does not. None without
    python3-cryptography."""
    try:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
    except ImportError:
        return None
    key = ec.generate_private_key(ec.SECP256R1())
    pub = key.public_key()
    der = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    kid = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")   # libtrust key id
    kid = ":".join(kid[i:i + 4] for i in range(0, len(kid), 4))
    nums = pub.public_numbers()
    jwk = {"crv": "P-256", "kid": kid, "kty": "EC",
           "x": b64url(nums.x.to_bytes(32, "big")), "y": b64url(nums.y.to_bytes(32, "big"))}
    v1 = {"id": hashlib.sha256(jbytes(["swctr-test schema1", layer.diff_id])).hexdigest(),
          "created": CREATED, "container_config": {"Cmd": ["/bin/sh", "-c", "#(nop) " + layer.created_by]},
          "config": cfg, "architecture": "amd64", "os": "linux"}
    m = {"schemaVersion": 1, "name": repo, "tag": "latest", "architecture": "amd64",
         "fsLayers": [{"blobSum": layer.blob.digest}],
         "history": [{"v1Compatibility": json.dumps(v1, separators=(",", ":"))}]}
    payload = json.dumps(m, indent=3).encode()
    fmt_len = len(payload[:payload.rstrip().rindex(b"}")].rstrip())
    protected = b64url(jbytes({"formatLength": fmt_len, "formatTail": b64url(payload[fmt_len:]),
                               "time": CREATED}))
    r, s = decode_dss_signature(key.sign((protected + "." + b64url(payload)).encode(),
                                         ec.ECDSA(hashes.SHA256())))
    sigs = [{"header": {"jwk": jwk, "alg": "ES256"},
             "signature": b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big")), "protected": protected}]
    doc = (payload[:fmt_len] + b',\n   "signatures": ' + json.dumps(sigs, indent=3).replace("\n", "\n   ").encode()
           + b"\n}")
    return Image(repo, doc, DOCKER_MANIFEST_V1_SIGNED, [layer.blob], digest=sha256(payload))


def build(args):
    images, skipped = [], {}
    bb = busybox_layer()
    sh_cfg = {"Env": [PATH_ENV], "Cmd": ["sh"]}
    images.append(image("test/busybox", "docker", [bb], sh_cfg))

    got = debootstrap_layer(args.cache, args.reuse_cache, args.mirror)
    if got is None:
        skipped["test/debian"] = "debootstrap needs root"
    else:
        l1, whiteout = got
        l2 = (Layer().dir("opt").dir("opt/swctr-test").dir("opt/swctr-test/opaque")
              .file("opt/swctr-test/gone.txt", b"gone: whited out by the next layer\n")
              .file("opt/swctr-test/keep.txt", b"keep\n")
              .file("opt/swctr-test/opaque/old.txt", b"old: hidden by the opaque dir of the next layer\n")
              .file("opt/swctr-test/owned-daemon", b"daemon\n", 0o644, 1, 1)
              .file("opt/swctr-test/owned-nobody", b"nobody\n", 0o640, 65534, 65534))
        wdir, wname = os.path.split(whiteout)
        l3 = (Layer().dir(wdir).file(wdir + "/.wh." + wname, b"")
              .dir("opt").dir("opt/swctr-test").file("opt/swctr-test/.wh.gone.txt", b"")
              .dir("opt/swctr-test/opaque").file("opt/swctr-test/opaque/.wh..wh..opq", b"")
              .file("opt/swctr-test/opaque/new.txt", b"new\n"))
        images.append(image("test/debian", "oci", [
            l1,
            gz_layer(l2, "opt/swctr-test: gone.txt keep.txt opaque/old.txt owned-daemon owned-nobody"),
            gz_layer(l3, "whiteouts: opt/swctr-test/gone.txt, %s; opaque opt/swctr-test/opaque + new.txt"
                     % whiteout)], {"Env": [PATH_ENV], "Cmd": ["bash"]}))

    images.append(image("test/probe", "oci", [bb, probe_layer()], {
        "Env": [PATH_ENV], "Cmd": ["sh"], "Volumes": {"/srv/data": {}},
        "ExposedPorts": {"7000/tcp": {}, "7001/udp": {}}}))

    iperf = iperf_layer()
    if iperf is not None:
        images.append(image("test/iperf", "oci", [bb, iperf], {"Env": [PATH_ENV], "Cmd": ["iperf3", "-s"]}))

    work = Layer().dir("srv").dir("srv/work", 0o755).file("srv/work/marker", b"marker\n")
    images.append(image("test/config", "docker", [bb, gz_layer(work, "srv/work/marker")], {
        "Env": [PATH_ENV, "GREETING=hello from image"], "Entrypoint": ["/bin/sh", "-c"],
        "Cmd": ['echo "$GREETING"; pwd; id -un'], "WorkingDir": "/srv/work", "User": "nobody"}))

    arm = image("test/multi", "oci", [bb], {"Env": [PATH_ENV, "SWCTR_TEST_ARCH=arm64"], "Cmd": ["sh"]},
                arch="arm64", variant="v8")
    amd = image("test/multi", "oci", [bb], {"Env": [PATH_ENV, "SWCTR_TEST_ARCH=amd64"], "Cmd": ["sh"]})
    images.append(index("test/multi", [(arm, {"architecture": "arm64", "os": "linux", "variant": "v8"}),
                                       (amd, {"architecture": "amd64", "os": "linux"})]))

    children = []
    for arch, variant in (("arm", "v6"), ("arm", "v7"), ("arm64", "v8"), ("amd64", None)):
        name = arch + ("/" + variant if variant else "")
        child = image("test/variants", "oci", [bb], {"Env": [PATH_ENV, "SWCTR_TEST_ARCH=" + name], "Cmd": ["sh"]},
                      arch=arch, variant=variant)
        platform = {"architecture": arch, "os": "linux"}
        if variant:
            platform["variant"] = variant
        children.append((child, platform))
    images.append(index("test/variants", children))

    plain_tar = gzip.decompress(bb.blob.data)
    plain = LayerBlob(Blob(OCI_LAYER, plain_tar), sha256(plain_tar), bb.created_by + " (uncompressed)")
    images.append(image("test/plain", "oci", [plain], sh_cfg,
                        annotations={TAMPER_KEY: TAMPER_FROM.decode().strip('"')}))

    zl = zstd_layer(plain_tar, bb.created_by + " (zstd)")
    if zl is None:
        skipped["test/zstd"] = "zstd not installed (apt-get install zstd)"
    else:
        images.append(image("test/zstd", "oci", [zl], sh_cfg))

    s1 = schema1_image("test/schema1", bb, sh_cfg)
    if s1 is None:
        skipped["test/schema1"] = "python3-cryptography not installed (it signs the manifest)"
    else:
        images.append(s1)

    ftar = Layer().dir("foreign").file("foreign/hello.txt", b"from the foreign layer's urls\n").tar()
    fblob = Blob(DOCKER_FOREIGN_LAYER_GZ, gz(ftar))
    fblob.urls = ["http://%s/v2/test/foreign-source/blobs/%s" % (args.registry, fblob.digest)]
    foreign = image("test/foreign", "docker", [bb, LayerBlob(fblob, sha256(ftar), "foreign/hello.txt (foreign layer)")],
                    sh_cfg, layer_types=[DOCKER_LAYER_GZ, DOCKER_FOREIGN_LAYER_GZ])
    foreign.elsewhere = [("test/foreign-source", fblob)]
    images.append(foreign)

    images.append(image("test/layers", "oci", [bb] + data_layers(args.cache), sh_cfg))

    evil = b"swctr: written outside the rootfs by a hostile layer\n"
    hostile = {
        "test/evil-dotdot": Layer(sort=False).file("../../../../../../tmp/swctr-evil-dotdot", evil),
        "test/evil-abs": Layer(sort=False).file("/tmp/swctr-evil-abs", evil),
        "test/evil-symlink": Layer(sort=False).symlink("escape", "../../../../../../../tmp")
                                              .file("escape/swctr-evil-symlink", evil),
        "test/evil-hardlink": Layer(sort=False).hardlink("passwd-link", "../../../../../../etc/passwd"),
        "test/evil-longname": Layer(sort=False).file("srv/" + "n" * 300, evil),
        "test/evil-device": Layer(sort=False).dir("srv").device("srv/mem", "c", 1, 1).device("srv/disk", "b", 8, 0)
                                              .file("srv/after-devices", b"unpacked past the device nodes\n"),
    }
    for repo, layer in hostile.items():
        images.append(image(repo, "oci", [bb, gz_layer(layer, "hostile: " + repo)], sh_cfg))
    return images, skipped


# ------------------------------------------------------------------------------- registry
class Registry:
    def __init__(self, hostport):
        self.base = "http://%s" % hostport
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def call(self, method, url, data=None, headers=None, ok=(200,)):
        url = urllib.parse.urljoin(self.base, url)
        req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        try:
            with self.opener.open(req, timeout=120) as r:
                status, hdrs, body = r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            status, hdrs, body = e.code, e.headers, e.read()
        except (urllib.error.URLError, OSError) as e:
            raise Fail("%s %s: %s" % (method, url, e))
        if status not in ok:
            raise Fail("%s %s: HTTP %d %s" % (method, url, status, body[:300].decode(errors="replace")))
        return status, hdrs, body

    def ping(self):
        self.call("GET", "/v2/")

    def push_blob(self, repo, blob):
        st, _, _ = self.call("HEAD", "/v2/%s/blobs/%s" % (repo, blob.digest), ok=(200, 404))
        if st == 200:
            return False
        _, h, _ = self.call("POST", "/v2/%s/blobs/uploads/" % repo, data=b"", ok=(202,))
        loc = h.get("Location") or ""
        if not loc:
            raise Fail("POST /v2/%s/blobs/uploads/: no Location" % repo)
        loc += ("&" if "?" in loc else "?") + "digest=" + urllib.parse.quote(blob.digest)
        data = blob.bytes()
        self.call("PUT", loc, data=data, ok=(201,), headers={
            "Content-Type": "application/octet-stream", "Content-Length": str(len(data))})
        return True

    def manifest_digest(self, repo, ref):
        st, h, _ = self.call("HEAD", "/v2/%s/manifests/%s" % (repo, ref), ok=(200, 404),
                             headers={"Accept": ACCEPT})
        return h.get("Docker-Content-Digest") if st == 200 else None

    def push_manifest(self, repo, ref, img):
        _, h, _ = self.call("PUT", "/v2/%s/manifests/%s" % (repo, ref), data=img.manifest, ok=(201,),
                            headers={"Content-Type": img.media_type})
        got = h.get("Docker-Content-Digest")
        if got and got != img.digest:
            raise Fail("%s:%s: registry stored %s, expected %s" % (repo, ref, got, img.digest))

    def push(self, img, ref="latest"):
        """Push img (children first) unless ref already names it. Returns the number of blobs sent."""
        sent = sum(self.push_blob(repo, b) for repo, b in img.elsewhere)
        if self.manifest_digest(img.repo, ref) == img.digest and all(
                self.manifest_digest(c.repo, c.digest) == c.digest for c in img.children):
            return sent
        for c in img.children:
            sent += self.push(c, c.digest)
        for b in img.blobs:
            sent += self.push_blob(img.repo, b)
        self.push_manifest(img.repo, ref, img)
        return sent


# ------------------------------------------------------------------------------- tampering
def blob_path(storage, digest):
    algo, hexd = digest.split(":")
    return os.path.join(storage, "docker", "registry", "v2", "blobs", algo, hexd[:2], hexd, "data")


def replace_file(path, data):
    tmp = path + ".swctr-tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, os.stat(path).st_mode & 0o7777)
    os.rename(tmp, path)


def link_or_copy(src, dst):
    """dst := src, a hard link when possible (same file system), else a copy; atomic."""
    tmp = dst + ".swctr-tmp"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copy2(src, tmp)
    os.rename(tmp, dst)


def copy_storage(src, dst):
    """copytree of a registry storage, blob files hard-linked: distribution writes a blob file only
    by renaming a finished upload onto it (or creating it), never in place, so sharing is safe."""
    blobs = os.path.join(src, "docker", "registry", "v2", "blobs") + os.sep

    def copy(s, d):
        if s.startswith(blobs) and os.path.basename(s) == "data":
            link_or_copy(s, d)
        else:
            shutil.copy2(s, d)
    shutil.copytree(src, dst, symlinks=True, copy_function=copy)


def sync_storage(good, dst, repos):
    """Make the repositories REPOS of DST (another registry's storage) what they are in GOOD: their
    link files copied (atomically, only when different), the blobs they name hard-linked, blobs
    before links. Other repositories of DST are left alone. Returns the number of files written."""
    v2g, v2d = (os.path.join(d, "docker", "registry", "v2") for d in (good, dst))
    files, digests = [], set()
    for repo in repos:
        root = os.path.join(v2g, "repositories", repo)
        for dirpath, dirnames, filenames in os.walk(root):
            if dirpath == root:
                dirnames[:] = [d for d in dirnames if d != "_uploads"]
            for fn in filenames:
                src = os.path.join(dirpath, fn)
                with open(src, "rb") as f:
                    data = f.read()
                if fn == "link":
                    digests.add(data.decode().strip())
                files.append((os.path.join(v2d, os.path.relpath(src, v2g)), data))
    written = 0
    for dg in sorted(digests):
        src, d = blob_path(good, dg), blob_path(dst, dg)
        if os.path.exists(d) or not os.path.exists(src):
            continue
        os.makedirs(os.path.dirname(d), exist_ok=True)
        link_or_copy(src, d)
        written += 1
    # tags last: a tag must not name a manifest revision that is not there yet
    for d, data in sorted(files, key=lambda x: os.sep + "tags" + os.sep in x[0]):
        try:
            with open(d, "rb") as f:
                if f.read() == data:
                    continue
        except OSError:
            pass
        os.makedirs(os.path.dirname(d), exist_ok=True)
        with open(d + ".swctr-tmp", "wb") as f:
            f.write(data)
        os.rename(d + ".swctr-tmp", d)
        written += 1
    return written


def make_tampered(good, tampered, blob_digest, manifest_digest, all_digests):
    """tampered := copy of good, with the blob and the manifest changed (same sizes); redone only
    when the good registry's images changed."""
    stamp = {"recipe": RECIPE, "blob": blob_digest, "manifest": manifest_digest, "images": all_digests}
    stamp_file = os.path.join(tampered, "swctr-tampered.json")
    try:
        if json.load(open(stamp_file)) == stamp:
            return False
    except (OSError, ValueError):
        pass
    new, old = tampered + ".new", tampered + ".old"
    for d in (new, old):
        shutil.rmtree(d, ignore_errors=True)
    copy_storage(good, new)

    p = blob_path(new, blob_digest)
    data = bytearray(open(p, "rb").read())
    mid = len(data) // 2
    for i in range(mid, min(mid + 64, len(data))):
        data[i] ^= 0x5A
    if sha256(bytes(data)) == blob_digest:
        raise Fail("tampering did not change %s" % blob_digest)
    replace_file(p, bytes(data))

    p = blob_path(new, manifest_digest)
    m = open(p, "rb").read()
    if m.count(TAMPER_FROM) != 1:
        raise Fail("manifest %s: %r not found once" % (manifest_digest, TAMPER_FROM))
    t = m.replace(TAMPER_FROM, TAMPER_TO)
    json.loads(t)
    if len(t) != len(m) or sha256(t) == manifest_digest:
        raise Fail("tampered manifest has a different length or the same digest")
    replace_file(p, t)

    with open(os.path.join(new, "swctr-tampered.json"), "w") as f:
        json.dump(stamp, f, indent=1)
    if os.path.exists(tampered):
        os.rename(tampered, old)
    os.rename(new, tampered)
    shutil.rmtree(old, ignore_errors=True)
    return True


# ------------------------------------------------------------------------------- main
def summary_of(img):
    """images.json entry: digest and media type (as the registry serves it); layer descriptors for
    a manifest, platforms for an index."""
    out = {"digest": img.digest, "mediaType": img.media_type}
    m = json.loads(img.manifest)
    if img.media_type == OCI_INDEX:
        out["manifests"] = [{"digest": c["digest"], "platform": c["platform"]} for c in m["manifests"]]
    elif img.media_type == DOCKER_MANIFEST_V1_SIGNED:
        out["layers"] = [{"digest": l["blobSum"]} for l in m["fsLayers"]]
    else:
        out["layers"] = m["layers"]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--registry", required=True, help="HOST:PORT of the good registry (read-write)")
    ap.add_argument("--state", required=True, help="state dir: cache/, registry/good, registry/tampered")
    ap.add_argument("--mirror", default=os.environ.get("MIRROR") or None,
                    help="Debian mirror for debootstrap (default: the first Debian one in apt's sources)")
    ap.add_argument("--reuse-cache", action="append", default=[],
                    help="another cache dir to take the debootstrap layer from (read-only)")
    args = ap.parse_args()
    args.mirror = args.mirror or apt_mirror()
    args.cache = os.path.join(args.state, "cache")
    good = os.path.join(args.state, "registry", "good")
    tampered = os.path.join(args.state, "registry", "tampered")
    os.makedirs(args.cache, exist_ok=True)
    if os.uname().machine != "x86_64":
        log("%s: note: the images are labelled amd64 but this host is %s" % (PROG, os.uname().machine))

    t0 = time.time()
    reg = Registry(args.registry)
    reg.ping()
    images, skipped = build(args)
    t1 = time.time()
    sent = sum(reg.push(img) for img in images)
    t2 = time.time()

    by_repo = {i.repo: i for i in images}
    bb_layer = by_repo["test/busybox"].blobs[1].digest
    plain = by_repo["test/plain"]
    if not os.path.isfile(blob_path(good, bb_layer)) or not os.path.isfile(blob_path(good, plain.digest)):
        raise Fail("registry storage %s does not hold the pushed blobs: is %s serving it?" % (good, args.registry))
    remade = make_tampered(good, tampered, bb_layer, plain.digest, {i.repo: i.digest for i in images})
    synced = {}
    for name in ("basic", "token"):
        synced[name] = sync_storage(good, os.path.join(args.state, "registry", name), sorted(by_repo))

    summary = {
        "registry": args.registry,
        "images": {i.repo + ":latest": summary_of(i) for i in images},
        "skipped": skipped,
        "tampered": {"blob_repo": "test/busybox", "blob": bb_layer,
                     "manifest_repo": "test/plain", "manifest": plain.digest, "manifest_media_type": OCI_MANIFEST},
    }
    out = os.path.join(args.state, "images.json")
    with open(out + ".tmp", "w") as f:
        json.dump(summary, f, indent=1)
    os.chmod(out + ".tmp", 0o644)
    os.rename(out + ".tmp", out)

    w = max(len(r) for r in by_repo) + len(":latest")
    for i in images:
        kind = {DOCKER_MANIFEST: "docker schema2", OCI_MANIFEST: "oci manifest", OCI_INDEX: "oci index",
                DOCKER_MANIFEST_V1_SIGNED: "docker schema1"}[i.media_type]
        log("  %-*s %s  %s" % (w, i.repo + ":latest", i.digest, kind))
    for repo, why in skipped.items():
        log("  %-*s skipped: %s" % (w, repo + ":latest", why))
    log("%s: built in %.1f s, pushed %d blob(s) in %.1f s, tampered copy %s, basic/token storages: %s" % (
        PROG, t1 - t0, sent, t2 - t1, "remade" if remade else "up to date",
        "/".join("%d" % n for n in synced.values()) + " file(s) written" if any(synced.values()) else "up to date"))


if __name__ == "__main__":
    try:
        main()
    except Fail as e:
        print("%s: %s" % (PROG, e), file=sys.stderr)
        sys.exit(1)
    except subprocess.TimeoutExpired as e:
        print("%s: timed out: %s" % (PROG, " ".join(e.cmd)), file=sys.stderr)
        sys.exit(1)
