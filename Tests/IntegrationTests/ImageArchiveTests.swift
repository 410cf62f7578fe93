import Foundation
import XCTest

/// `save`, `load` and `import` as a user sees them: round trips through both archive formats,
/// archives exchanged with the real Podman, rootfs tarballs with --change, and hostile archives
/// refused with one line and the store left as it was.
final class ImageArchiveTests: SwctrTestCase {
    private var podman: PodmanUser?

    override func tearDown() {
        podman?.stop()
        podman = nil
        super.tearDown()
    }

    // MARK: - round trips

    func testDockerArchiveLoadsIntoAFreshStoreWithTheSameIDAndRuns() throws {
        let id = try pulledBusybox()
        let archive = try saved(["-o", state.scratch + "/busybox.tar", state.image("busybox")])
        let fresh = try SwctrUser()
        defer { fresh.cleanUp() }
        let loaded = fresh.swctr("load", "-i", archive)
        XCTAssertEqual(loaded.status, 0, loaded.stderr)
        XCTAssertEqual(loaded.stdout, "Loaded image: \(state.image("busybox")):latest\n")
        XCTAssertEqual(imageID(in: fresh, state.image("busybox")), id)
        let ran = fresh.swctr("run", "--rm", state.image("busybox"), "echo", "loaded and running")
        XCTAssertEqual(ran.status, 0, ran.stderr)
        XCTAssertEqual(ran.stdout, "loaded and running\n")
    }

    func testDockerArchiveHasDockersLayoutWithUncompressedLayers() throws {
        let id = try pulledBusybox()
        let archive = try saved(["-o", state.scratch + "/busybox.tar", state.image("busybox")])
        let manifest = state.shell("tar -xOf \(archive) manifest.json")
        XCTAssertEqual(manifest.status, 0, manifest.stderr)
        let entries = try JSONSerialization.jsonObject(with: Data(manifest.stdout.utf8)) as? [[String: Any]]
        XCTAssertEqual(entries?.count, 1)
        XCTAssertEqual(entries?.first?["Config"] as? String, String(id.dropFirst(7)) + ".json")
        XCTAssertEqual(entries?.first?["RepoTags"] as? [String], ["\(state.image("busybox")):latest"])
        let layers = entries?.first?["Layers"] as? [String] ?? []
        XCTAssertEqual(layers.count, 1)
        XCTAssertTrue(layers.allSatisfy { $0.hasSuffix("/layer.tar") }, "\(layers)")
        // An uncompressed tar: the ustar magic at offset 257, and its sha256 is the diff_id.
        let layer = state.shell("tar -xOf \(archive) \(layers[0]) | dd bs=1 skip=257 count=5 2>/dev/null; echo; tar -xOf \(archive) \(layers[0]) | sha256sum")
        XCTAssertTrue(layer.stdout.hasPrefix("ustar\n"), layer.stdout)
        XCTAssertTrue(layer.stdout.contains(String(layers[0].prefix(64))), layer.stdout)
        XCTAssertEqual(state.shell("tar -tf \(archive) repositories").status, 0)
    }

    func testOCIArchiveRoundTripKeepsTheManifestDigest() throws {
        _ = try pulledBusybox()
        let digest = manifestDigest(in: state, state.image("busybox"))
        let archive = try saved(["--format", "oci-archive", "-o", state.scratch + "/busybox-oci.tar", state.image("busybox")])
        let index = state.shell("tar -xOf \(archive) index.json")
        XCTAssertTrue(index.stdout.contains("\"org.opencontainers.image.ref.name\":\"\(state.image("busybox")):latest\""), index.stdout)
        let fresh = try SwctrUser()
        defer { fresh.cleanUp() }
        let loaded = fresh.swctr("load", "-i", archive)
        XCTAssertEqual(loaded.status, 0, loaded.stderr)
        XCTAssertEqual(loaded.stdout, "Loaded image: \(state.image("busybox")):latest\n")
        XCTAssertNotNil(digest)
        XCTAssertEqual(manifestDigest(in: fresh, state.image("busybox")), digest)
        let ran = fresh.swctr("run", "--rm", state.image("busybox"), "true")
        XCTAssertEqual(ran.status, 0, ran.stderr)
    }

    func testGzipCompressedArchiveLoadsFromStandardInput() throws {
        let id = try pulledBusybox()
        let archive = try saved(["-o", state.scratch + "/busybox.tar", state.image("busybox")])
        let fresh = try SwctrUser()
        defer { fresh.cleanUp() }
        let loaded = fresh.shell("gzip -c \(archive) | $SWCTR load -q")
        XCTAssertEqual(loaded.status, 0, loaded.stderr)
        XCTAssertEqual(loaded.stdout, "Loaded image: \(state.image("busybox")):latest\n")
        XCTAssertEqual(imageID(in: fresh, state.image("busybox")), id)
    }

    func testImageSavedByIDToStandardOutputLoadsUnnamed() throws {
        let id = try pulledBusybox()
        let saved = state.shell("$SWCTR save \(id.dropFirst(7).prefix(12)) > \(state.scratch)/by-id.tar")
        XCTAssertEqual(saved.status, 0, saved.stderr)
        let fresh = try SwctrUser()
        defer { fresh.cleanUp() }
        let loaded = fresh.shell("$SWCTR load < \(state.scratch)/by-id.tar")
        XCTAssertEqual(loaded.status, 0, loaded.stderr)
        XCTAssertEqual(loaded.stdout, "Loaded image: \(id)\n")
    }

    func testSaveRefusesToWriteToATerminal() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else {
            throw HostNotPrepared(reason: "this test needs util-linux's script(1) to make a terminal")
        }
        _ = try pulledBusybox()
        let inner = state.commandLine(["save", state.image("busybox")]).map { "'" + $0 + "'" }.joined(separator: " ")
        let result = TestHost.execute(["/usr/bin/script", "-qec", inner, "/dev/null"])
        XCTAssertEqual(result.status, 1, result.stdout)
        XCTAssertTrue(result.stdout.contains("swctr: refusing to write an image archive to a terminal"), result.stdout)
        XCTAssertLessThan(result.stdout.utf8.count, 400, "no archive bytes reached the terminal")
    }

    // MARK: - Podman

    func testImageSavedByPodmanLoadsAndRuns() throws {
        let podman = try startPodman()
        let name = state.image("busybox") + ":latest"
        let pulled = podman.run("pull", "-q", "--tls-verify=false", name)
        XCTAssertEqual(pulled.status, 0, pulled.stderr)
        let podmanID = "sha256:" + pulled.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        for format in ["docker-archive", "oci-archive"] {
            let archive = state.scratch + "/podman-\(format).tar"
            let saved = podman.run("save", "--format", format, "-o", archive, name)
            XCTAssertEqual(saved.status, 0, saved.stderr)
            let fresh = try SwctrUser()
            defer { fresh.cleanUp() }
            let loaded = fresh.swctr("load", "-i", archive)
            XCTAssertEqual(loaded.status, 0, "\(format): \(loaded.stderr)")
            XCTAssertEqual(loaded.stdout, "Loaded image: \(name)\n", format)
            XCTAssertEqual(imageID(in: fresh, name), podmanID, format)
            let ran = fresh.swctr("run", "--rm", name, "echo", "from podman's \(format)")
            XCTAssertEqual(ran.status, 0, ran.stderr)
            XCTAssertEqual(ran.stdout, "from podman's \(format)\n")
        }
    }

    func testImageSavedBySwctrLoadsIntoPodmanWithTheSameID() throws {
        let id = try pulledBusybox()
        let podman = try startPodman()
        for format in ["docker-archive", "oci-archive"] {
            let archive = try saved(["--format", format, "-o", state.scratch + "/swctr-\(format).tar", state.image("busybox")])
            let loaded = podman.run("load", "-i", archive)
            XCTAssertEqual(loaded.status, 0, "\(format): \(loaded.stderr)")
            XCTAssertTrue(loaded.stdout.contains("Loaded image: \(state.image("busybox")):latest"), loaded.stdout)
            let listed = podman.run("images", "--no-trunc", "--format", "{{.ID}}", state.image("busybox"))
            let podmanID = listed.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            XCTAssertEqual(podmanID.hasPrefix("sha256:") ? podmanID : "sha256:" + podmanID, id, format)
            let ran = podman.run("run", "--rm", "--runtime", "runc", "--network", "none", state.image("busybox"), "echo", "in podman")
            XCTAssertEqual(ran.stdout, "in podman\n", ran.stderr)
            XCTAssertEqual(podman.run("rmi", "-f", state.image("busybox")).status, 0)
        }
    }

    // MARK: - import

    func testImportedTarballRunsWithTheChangesApplied() throws {
        let rootfs = try busyboxRootfs()
        let gzipped = state.shell("gzip -c \(rootfs) > \(rootfs).gz")
        XCTAssertEqual(gzipped.status, 0, gzipped.stderr)
        let imported = state.swctr("import", "-m", "from a tarball",
                                   "-c", #"CMD ["sh", "-c", "echo \"$GREETING\"; pwd; id -un; echo \"$@\"", "sh"]"#,
                                   "-c", #"ENV GREETING="hello there" OTHER=1"#, "-c", "WORKDIR /tmp", "-c", "USER nobody",
                                   "-c", "EXPOSE 8080/tcp", "-c", #"LABEL purpose="a test""#, rootfs + ".gz", "imported:1")
        XCTAssertEqual(imported.status, 0, imported.stderr)
        XCTAssertTrue(imported.stdout.hasPrefix("sha256:") && imported.stdout.count == 72, imported.stdout)
        XCTAssertEqual(imageID(in: state, "imported:1"), imported.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        let ran = state.swctr("run", "--rm", "imported:1")
        XCTAssertEqual(ran.status, 0, ran.stderr)
        XCTAssertEqual(ran.stdout, "hello there\n/tmp\nnobody\n\n")
    }

    func testImportReadsAZstdTarballFromStandardInput() throws {
        let rootfs = try busyboxRootfs()
        let imported = state.shell("zstd -q -c \(rootfs) | $SWCTR import - piped")
        XCTAssertEqual(imported.status, 0, imported.stderr)
        let ran = state.swctr("run", "--rm", "piped", "echo", "imported from a pipe")
        XCTAssertEqual(ran.status, 0, ran.stderr)
        XCTAssertEqual(ran.stdout, "imported from a pipe\n")
    }

    func testImportOfAFileThatIsNotATarIsRefused() throws {
        let before = state.storeFiles()
        let result = state.swctr("import", "/etc/passwd", "notatar")
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stderrLines.filter { $0.hasPrefix("swctr:") }.count, 1, result.stderr)
        XCTAssertTrue(result.stderr.contains("/etc/passwd is not a tar archive"), result.stderr)
        XCTAssertEqual(state.storeFiles(), before)
    }

    func testImportOfAnUnknownChangeIsRefused() throws {
        let result = state.swctr("import", "-c", "RUN rm -rf /", "/etc/passwd")
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("\"RUN\" is not an instruction import can apply"), result.stderr)
    }

    // MARK: - hostile archives

    func testArchiveEntryClimbingOutWithDotDotIsRefused() throws {
        try assertRefused(edit: #"add("../escape.txt", b"x")"#, saying: #"archive entry "../escape.txt" has ".." in its path"#)
    }

    func testLayerThatIsASymlinkIsRefused() throws {
        try assertRefused(edit: #"""
            image["Layers"][0] = "layer-link.tar"
            add("layer-link.tar", kind=tarfile.SYMTYPE, link="/etc/shadow")
            """#, saying: #"names "layer-link.tar", which is a link in the archive"#)
    }

    func testHardLinkEntryIsRefused() throws {
        try assertRefused(edit: #"add("hard", kind=tarfile.LNKTYPE, link=image["Config"])"#, saying: #"archive entry "hard" is a hard link"#)
    }

    func testDeviceEntryIsRefused() throws {
        try assertRefused(edit: #"add("null", kind=tarfile.CHRTYPE)"#, saying: #"archive entry "null" is a device"#)
    }

    func testManifestNamingAMissingLayerIsRefused() throws {
        try assertRefused(edit: #"entries[:] = [e for e in entries if e[0].name != image["Layers"][0]]"#,
                          saying: "which the archive does not have")
    }

    func testLayerNotMatchingItsDiffIDIsRefused() throws {
        try assertRefused(edit: #"""
            other = io.BytesIO()
            with tarfile.open(fileobj=other, mode="w") as t:
                t.addfile(tarfile.TarInfo("not-busybox"), io.BytesIO(b""))
            find(image["Layers"][0])[1] = other.getvalue()
            """#, saying: "does not match the image configuration's diff_id")
    }

    func testConfigWhoseDigestDoesNotMatchItsNameIsRefused() throws {
        try assertRefused(edit: #"find(image["Config"])[1] += b" ""#, saying: "does not match its digest")
    }

    func testHugeManifestIsRefused() throws {
        try assertRefused(edit: #"""
            find("manifest.json")[1] = b"[" + b" " * (9 << 20) + b"]"
            manifest = None
            """#, saying: "more than the 8 MiB allowed")
    }

    func testOCIBlobNotMatchingItsNameIsRefused() throws {
        let id = try pulledBusybox()
        try assertRefused(format: "oci-archive", edit: #"find("blobs/sha256/\#(id.dropFirst(7))")[1] += b" ""#, saying: "does not match its digest")
    }

    func testOCILayerNotMatchingItsDiffIDIsRefused() throws {
        // A consistent layout (every digest right) whose layer is not the one the config names.
        let edit = #"""
            import gzip, hashlib
            def sha(data): return hashlib.sha256(data).hexdigest()
            index = json.loads(find("index.json")[1])
            manifest_entry = find("blobs/sha256/" + index["manifests"][0]["digest"][7:])
            image_manifest = json.loads(manifest_entry[1])
            other = io.BytesIO()
            with tarfile.open(fileobj=other, mode="w") as t:
                t.addfile(tarfile.TarInfo("not-busybox"), io.BytesIO(b""))
            layer = gzip.compress(other.getvalue())
            layer_entry = find("blobs/sha256/" + image_manifest["layers"][0]["digest"][7:])
            layer_entry[0].name, layer_entry[1] = "blobs/sha256/" + sha(layer), layer
            image_manifest["layers"][0].update(digest="sha256:" + sha(layer), size=len(layer))
            manifest_bytes = json.dumps(image_manifest).encode()
            manifest_entry[0].name, manifest_entry[1] = "blobs/sha256/" + sha(manifest_bytes), manifest_bytes
            index["manifests"][0].update(digest="sha256:" + sha(manifest_bytes), size=len(manifest_bytes))
            find("index.json")[1] = json.dumps(index).encode()
            """#
        try assertRefused(format: "oci-archive", edit: edit, saying: "does not match the image configuration's diff_id")
        try assertRefused(format: "oci-archive", edit: edit, intoFreshStore: true, saying: "does not match the image configuration")
    }

    func testNonArchiveInputIsRefused() throws {
        let result = state.shell("echo not an archive | $SWCTR load")
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("swctr: standard input is not a tar archive"), result.stderr)
    }

    // MARK: - helpers

    /// Pulls test/busybox into the test's store; its image id.
    private func pulledBusybox() throws -> String {
        let pulled = state.swctr("pull", "-q", state.image("busybox"))
        XCTAssertEqual(pulled.status, 0, pulled.stderr)
        return pulled.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs `swctr save` with these arguments (the last `-o` value is the archive); its path.
    private func saved(_ arguments: [String]) throws -> String {
        let result = state.swctr(arguments: ["save"] + arguments)
        XCTAssertEqual(result.status, 0, result.stderr)
        guard let flag = arguments.firstIndex(of: "-o") else { throw HostNotPrepared(reason: "saved(_:) needs -o") }
        return arguments[flag + 1]
    }

    private func imageID(in user: SwctrUser, _ name: String) -> String? {
        let records = indexRecords(user)
        let full = name.contains("/") ? name : "docker.io/library/" + name
        let wanted = full.split(separator: "/").last?.contains(":") == true ? full : full + ":latest"
        return records.first { ($0["names"] as? [String] ?? []).contains(wanted) }?["id"] as? String
    }

    private func manifestDigest(in user: SwctrUser, _ name: String) -> String? {
        indexRecords(user).first { ($0["names"] as? [String] ?? []).contains(name + ":latest") }?["manifestDigest"] as? String
    }

    private func indexRecords(_ user: SwctrUser) -> [[String: Any]] {
        guard let data = FileManager.default.contents(atPath: user.storeRoot + "/images.json") else { return [] }
        return (try? JSONSerialization.jsonObject(with: data)) as? [[String: Any]] ?? []
    }

    /// busybox's layer as a plain rootfs tarball in the scratch directory.
    private func busyboxRootfs() throws -> String {
        _ = try pulledBusybox()
        let archive = try saved(["-o", state.scratch + "/busybox.tar", state.image("busybox")])
        let rootfs = state.scratch + "/rootfs.tar"
        let extracted = state.shell("tar -xOf \(archive) \"$(tar -tf \(archive) | grep /layer.tar)\" > \(rootfs)")
        XCTAssertEqual(extracted.status, 0, extracted.stderr)
        return rootfs
    }

    /// Saves busybox, rewrites the archive with Python's tarfile (`edit` changes `entries`, a list
    /// of [TarInfo, bytes or None], and `image`, manifest.json's first entry), loads the result into
    /// the store that already holds busybox (or a fresh one), and checks it is refused and the
    /// store unchanged.
    private func assertRefused(format: String = "docker-archive", edit: String, intoFreshStore: Bool = false, saying phrase: String,
                               file: StaticString = #filePath, line: UInt = #line) throws {
        let id = try pulledBusybox()
        let good = try saved(["--format", format, "-o", state.scratch + "/good.tar", id])
        let bad = state.scratch + "/bad.tar"
        let script = state.scratch + "/rewrite.py"
        try (Self.rewriter + edit + "\n" + Self.rewriterEnd).write(toFile: script, atomically: true, encoding: .utf8)
        let rewritten = TestHost.execute(["/usr/bin/python3", script, good, bad])
        XCTAssertEqual(rewritten.status, 0, rewritten.stderr, file: file, line: line)
        chmod(bad, 0o644)

        let target = intoFreshStore ? try SwctrUser() : state!
        defer { if intoFreshStore { target.cleanUp() } }
        let before = target.storeFiles()
        let index = FileManager.default.contents(atPath: target.storeRoot + "/images.json")
        let result = target.swctr("load", "-i", bad)
        XCTAssertEqual(result.status, 1, "exit status", file: file, line: line)
        XCTAssertEqual(result.stdout, "", file: file, line: line)
        let errors = result.stderrLines.filter { $0.hasPrefix("swctr:") }
        XCTAssertEqual(errors.count, 1, result.stderr, file: file, line: line)
        XCTAssertTrue(errors.first?.contains(phrase) ?? false, "expected \"\(phrase)\" in: \(result.stderr)", file: file, line: line)
        XCTAssertEqual(target.storeFiles(), before, "the store is left as it was", file: file, line: line)
        XCTAssertEqual(FileManager.default.contents(atPath: target.storeRoot + "/images.json"), index, file: file, line: line)
    }

    private static let rewriter = #"""
        import io, json, sys, tarfile
        with tarfile.open(sys.argv[1]) as archive:
            entries = [[m, archive.extractfile(m).read() if m.isfile() else None] for m in archive.getmembers()]
        def find(name):
            return next(e for e in entries if e[0].name == name)
        def add(name, data=b"", kind=tarfile.REGTYPE, link=""):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, link
            entries.insert(0, [info, data if kind == tarfile.REGTYPE else None])
        manifest = json.loads(find("manifest.json")[1]) if any(e[0].name == "manifest.json" for e in entries) else None
        image = manifest[0] if manifest else None

        """#

    private static let rewriterEnd = #"""
        if manifest is not None:
            find("manifest.json")[1] = json.dumps(manifest).encode()
        with tarfile.open(sys.argv[2], "w", format=tarfile.PAX_FORMAT) as out:
            for info, data in entries:
                if data is not None:
                    info.size = len(data)
                out.addfile(info, io.BytesIO(data) if data is not None else None)
        """#

    private func startPodman() throws -> PodmanUser {
        let podman = try PodmanUser(state: state)
        self.podman = podman
        return podman
    }
}

/// The real Podman as the test user, with its own storage and runtime directories in the test's
/// scratch directory (vfs storage: nothing to mount).
final class PodmanUser {
    let state: SwctrUser
    let base: String

    init(state: SwctrUser) throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/podman") else {
            throw HostNotPrepared(reason: "podman is not installed (apt-get install podman runc)")
        }
        self.state = state
        base = state.scratch + "/podman"
        let made = state.shell("mkdir -p -m 0700 \(base)/home \(base)/run \(base)/storage \(base)/runroot")
        if made.status != 0 { throw HostNotPrepared(reason: "cannot make podman's directories: \(made.stderr)") }
    }

    func run(_ arguments: String...) -> CommandResult {
        let environment = ["HOME=\(base)/home", "XDG_RUNTIME_DIR=\(base)/run", "XDG_CONFIG_HOME=\(base)/home/.config",
                           "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"]
        let command = ["/usr/bin/env", "-i"] + environment + ["/usr/bin/podman", "--root", base + "/storage", "--runroot", base + "/runroot",
                                                               "--storage-driver", "vfs", "--events-backend", "file"] + arguments
        return TestHost.execute(TestHost.isRoot ? ["/usr/sbin/runuser", "-u", state.user, "--"] + command : command)
    }

    /// Ends the pause process rootless Podman leaves to hold its user namespace, by its recorded pid.
    func stop() {
        if !TestHost.isRoot { _ = run("unshare", "rm", "-rf", base + "/storage") }
        let pidFile = base + "/run/libpod/tmp/pause.pid"
        if let text = try? String(contentsOfFile: pidFile, encoding: .utf8), let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1 {
            kill(pid, SIGKILL)
        }
    }
}
