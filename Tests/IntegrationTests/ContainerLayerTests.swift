import Foundation
import XCTest

/// `diff`, `commit` and `export` as a user sees them, for every storage driver: the changes a
/// container made (added, changed, deleted files, a deleted directory, a directory emptied and made
/// again), an image committed from them that has exactly those changes, commits stacked, `--change`
/// in the image, the merged filesystem exported with the owners seen inside, and bad input refused
/// with one line and nothing left behind.
final class ContainerLayerTests: SwctrTestCase {
    private var podman: PodmanUser?

    override func tearDown() {
        podman?.stop()
        podman = nil
        super.tearDown()
    }

    /// SWCTR_STORAGE_DRIVER picks the driver of the containers a test makes.
    static let drivers = ["overlay", "fuse-overlay", "copy"]

    /// What `scenario` does to the base image's /srv, as `diff` reports it.
    static let scenarioChanges = """
        C /srv
        A /srv/added.txt
        C /srv/changed.txt
        D /srv/gone-dir
        D /srv/gone.txt
        A /srv/hard.txt
        C /srv/opaque
        A /srv/opaque/new.txt
        C /srv/opaque/old1.txt
        D /srv/opaque/old2.txt
        D /srv/opaque/sub

        """

    /// Adds a file (its own mode and owner, and a hard link to it), changes one, deletes a file and
    /// a directory, and empties a directory by removing and making it again (an opaque directory).
    static let scenario = """
        set -e
        echo new > /srv/added.txt; chmod 640 /srv/added.txt; chown 123:456 /srv/added.txt
        ln /srv/added.txt /srv/hard.txt
        echo after >> /srv/changed.txt
        rm /srv/gone.txt; rm -rf /srv/gone-dir
        rm -rf /srv/opaque; mkdir /srv/opaque; echo fresh > /srv/opaque/old1.txt; echo new > /srv/opaque/new.txt
        """

    // MARK: - diff

    func testDiffListsAddedChangedAndDeletedPaths() throws {
        let base = try baseImage()
        try forEachDriver { driver in
            let name = try changedContainer(base, driver: driver)
            let diff = state.swctr("diff", name)
            XCTAssertEqual(diff.status, 0, "\(driver): \(diff.stderr)")
            XCTAssertEqual(diff.stdout, Self.scenarioChanges, driver)
            XCTAssertEqual(diff.stderr, "", driver)

            let json = state.swctr("container", "diff", "--format", "json", name)
            XCTAssertEqual(json.status, 0, "\(driver): \(json.stderr)")
            let report = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: [String]]
            XCTAssertEqual(report?["added"], ["/srv/added.txt", "/srv/hard.txt", "/srv/opaque/new.txt"], driver)
            XCTAssertEqual(report?["changed"], ["/srv", "/srv/changed.txt", "/srv/opaque", "/srv/opaque/old1.txt"], driver)
            XCTAssertEqual(report?["deleted"], ["/srv/gone-dir", "/srv/gone.txt", "/srv/opaque/old2.txt", "/srv/opaque/sub"], driver)
        }
    }

    func testDiffOfAContainerThatChangedNothingIsEmpty() throws {
        let base = try baseImage()
        try forEachDriver { driver in
            let created = state.swctr("create", "--name", "fresh-\(driver)", base, "true")
            XCTAssertEqual(created.status, 0, created.stderr)
            XCTAssertEqual(state.swctr("diff", "fresh-\(driver)").stdout, "", "\(driver): a container never started")
            let ran = state.swctr("start", "-a", "fresh-\(driver)")
            XCTAssertEqual(ran.status, 0, ran.stderr)
            // Its /etc/hosts, /etc/hostname, /etc/resolv.conf and /dev, /proc, /sys mount points are the runtime's.
            let diff = state.swctr("diff", "fresh-\(driver)")
            XCTAssertEqual(diff.status, 0, diff.stderr)
            XCTAssertEqual(diff.stdout, "", "\(driver): a container that ran and changed nothing")
        }
    }

    func testDiffAndCommitOfARunningContainer() throws {
        let base = try baseImage()
        try forEachDriver { driver in
            let name = "running-\(driver)"
            let started = state.swctr("run", "-d", "--name", name, base, "sh", "-c", "echo up > /srv/live.txt; touch /srv/ready; sleep 600")
            XCTAssertEqual(started.status, 0, started.stderr)
            XCTAssertTrue(waitFor { self.state.swctr("diff", name).stdout.contains("A /srv/ready") }, "\(driver): the container wrote its files")
            XCTAssertEqual(state.swctr("diff", name).stdout, "C /srv\nA /srv/live.txt\nA /srv/ready\n", driver)

            let committed = state.swctr("commit", name, "live:\(driver)")
            XCTAssertEqual(committed.status, 0, "\(driver): \(committed.stderr)")
            XCTAssertEqual(state.swctr("run", "--rm", "live:\(driver)", "cat", "/srv/live.txt").stdout, "up\n", driver)

            // --pause freezes it through the cgroup freezer, where the host has one.
            let images = state.swctr("images", "-q", "--no-trunc").stdout
            let paused = state.swctr("commit", "--pause", name, "live-paused:\(driver)")
            if paused.status == 0 {
                XCTAssertEqual(state.swctr("inspect", "-f", "{{.State.Status}}", name).stdout, "running\n", "\(driver): thawed after the commit")
            } else {
                XCTAssertEqual(paused.stderrLines.count, 1, paused.stderr)
                XCTAssertTrue(paused.stderr.hasPrefix("swctr: ") && paused.stderr.contains("cgroup"), paused.stderr)
                XCTAssertEqual(state.swctr("images", "-q", "--no-trunc").stdout, images, "\(driver): nothing added")
            }
            XCTAssertEqual(state.swctr("rm", "-f", name).status, 0)
        }
    }

    // MARK: - commit

    func testCommittedImageHasExactlyTheContainersChanges() throws {
        let base = try baseImage()
        try forEachDriver { driver in
            let name = try changedContainer(base, driver: driver)
            let committed = state.swctr("commit", name, "layer-test:\(driver)")
            XCTAssertEqual(committed.status, 0, "\(driver): \(committed.stderr)")
            let id = committed.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            XCTAssertTrue(id.hasPrefix("sha256:") && id.count == 71, "\(driver): \(committed.stdout)")
            XCTAssertEqual(indexRecord(named: "docker.io/library/layer-test:\(driver)")?["id"] as? String, id, driver)
            XCTAssertEqual(diffIDCount(of: "docker.io/library/layer-test:\(driver)"), 2, "\(driver): the base's layer and one new layer")

            let seen = state.swctr(
                "run", "--rm", "--name", "check-\(driver)", "layer-test:\(driver)", "sh", "-c",
                """
                cat /srv/added.txt; stat -c '%a %u:%g' /srv/added.txt
                [ "$(stat -c %i /srv/added.txt)" = "$(stat -c %i /srv/hard.txt)" ] && echo hard link kept
                cat /srv/changed.txt /srv/kept.txt
                ls -A /srv/opaque; cat /srv/opaque/old1.txt
                for gone in /srv/gone.txt /srv/gone-dir /srv/opaque/old2.txt /srv/opaque/sub; do [ -e $gone ] && echo still there: $gone; done
                ls -A /srv
                """)
            XCTAssertEqual(seen.status, 0, "\(driver): \(seen.stderr)")
            XCTAssertEqual(
                seen.stdout,
                """
                new
                640 123:456
                hard link kept
                before
                after
                kept
                new.txt
                old1.txt
                fresh
                added.txt
                changed.txt
                hard.txt
                kept.txt
                opaque
                owned.txt

                """, driver)

            let fresh = state.swctr("run", "--name", "fresh-\(driver)", "layer-test:\(driver)", "true")
            XCTAssertEqual(fresh.status, 0, fresh.stderr)
            let diff = state.swctr("diff", "fresh-\(driver)")
            XCTAssertEqual(diff.status, 0, diff.stderr)
            XCTAssertEqual(diff.stdout, "", "\(driver): a container of the committed image starts with no changes")
        }
    }

    func testCommitsStack() throws {
        let base = try baseImage()
        try forEachDriver { driver in
            let first = try changedContainer(base, driver: driver)
            XCTAssertEqual(state.swctr("commit", first, "stack-one:\(driver)").status, 0)
            let second = "second-\(driver)"
            let ran = state.swctr(
                "run", "--name", second, "stack-one:\(driver)", "sh", "-c",
                "echo second > /srv/second.txt; rm /srv/kept.txt; rm -rf /srv/opaque; mkdir /srv/opaque")
            XCTAssertEqual(ran.status, 0, ran.stderr)
            XCTAssertEqual(
                state.swctr("diff", second).stdout,
                """
                C /srv
                D /srv/kept.txt
                C /srv/opaque
                D /srv/opaque/new.txt
                D /srv/opaque/old1.txt
                A /srv/second.txt

                """, driver)
            let committed = state.swctr("commit", "-m", "second", second, "stack-two:\(driver)")
            XCTAssertEqual(committed.status, 0, committed.stderr)
            XCTAssertEqual(diffIDCount(of: "docker.io/library/stack-two:\(driver)"), 3, driver)

            let seen = state.swctr("run", "--name", "top-\(driver)", "stack-two:\(driver)", "sh", "-c", "ls -A /srv /srv/opaque; cat /srv/added.txt")
            XCTAssertEqual(seen.stdout, "/srv:\nadded.txt\nchanged.txt\nhard.txt\nopaque\nowned.txt\nsecond.txt\n\n/srv/opaque:\nnew\n", driver)
            XCTAssertEqual(state.swctr("diff", "top-\(driver)").stdout, "", "\(driver): whiteouts and opaque directories of both layers apply")
            let history = imageConfiguration("docker.io/library/stack-two:\(driver)")?["history"] as? [[String: Any]]
            XCTAssertEqual(history?.count, 3, "\(driver): one history entry per commit on the base's")
            XCTAssertEqual(history?.last?["comment"] as? String, "second")
        }
    }

    func testCommitAppliesChangesMessageAndAuthor() throws {
        let base = try baseImage()
        try forEachDriver { driver in
            let name = try changedContainer(base, driver: driver)
            let committed = state.swctr(
                "commit", "-m", "with changes", "-a", "Tester <t@example.com>", "-c", "ENV X=1", "-c", #"CMD ["sh"]"#,
                "--change", "WORKDIR /srv", name, "changed:\(driver)")
            XCTAssertEqual(committed.status, 0, "\(driver): \(committed.stderr)")
            let inspected = state.swctr("image", "inspect", "-f", "{{.Config.Cmd}} {{.Config.WorkingDir}} {{.Comment}}", "changed:\(driver)")
            XCTAssertEqual(inspected.stdout, #"["sh"] /srv with changes"# + "\n", driver)
            let environment = state.swctr("image", "inspect", "-f", "{{.Config.Env}}", "changed:\(driver)")
            XCTAssertTrue(environment.stdout.contains(#""X=1""#), environment.stdout)
            let ran = state.swctr("run", "--rm", "-i", "changed:\(driver)", input: "echo X=$X in $(pwd)\n")
            XCTAssertEqual(ran.stdout, "X=1 in /srv\n", "\(driver): the image's CMD is sh, reading the input: \(ran.stderr)")
            let config = imageConfiguration("docker.io/library/changed:\(driver)")
            XCTAssertEqual(config?["author"] as? String, "Tester <t@example.com>")
            let last = (config?["history"] as? [[String: Any]])?.last
            XCTAssertEqual(last?["comment"] as? String, "with changes")
            XCTAssertEqual(last?["author"] as? String, "Tester <t@example.com>")
        }
    }

    func testCommitToAnExistingNameMovesIt() throws {
        let base = try baseImage()
        let first = try changedContainer(base, driver: "overlay")
        let one = state.swctr("commit", first, "moved:latest").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(state.swctr("run", "--name", "other", base, "touch", "/srv/other").status, 0)
        let two = state.swctr("commit", "other", "moved").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertNotEqual(one, two)
        XCTAssertEqual(indexRecord(named: "docker.io/library/moved:latest")?["id"] as? String, two, "the tag moved, as docker commit moves it")
        let images = state.swctr("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").stdout
        XCTAssertTrue(images.contains("<none>:<none> \(one.dropFirst(7).prefix(12))"), images)
    }

    func testCommittedImageRunsInPodman() throws {
        let base = try baseImage()
        let podman = try PodmanUser(state: state)
        self.podman = podman
        try forEachDriver { driver in
            let name = try changedContainer(base, driver: driver)
            XCTAssertEqual(state.swctr("commit", name, "for-podman:\(driver)").status, 0)
            let archive = state.scratch + "/for-podman-\(driver).tar"
            XCTAssertEqual(state.swctr("save", "-o", archive, "for-podman:\(driver)").status, 0)
            let loaded = podman.run("load", "-i", archive)
            XCTAssertEqual(loaded.status, 0, "\(driver): \(loaded.stderr)")
            // Podman applies the layer's whiteouts and opaque marker itself.
            let ran = podman.run(
                "run", "--rm", "--runtime", "runc", "--network", "none", "docker.io/library/for-podman:\(driver)",
                "sh", "-c", "ls -A /srv /srv/opaque; cat /srv/changed.txt")
            XCTAssertEqual(
                ran.stdout,
                """
                /srv:
                added.txt
                changed.txt
                hard.txt
                kept.txt
                opaque
                owned.txt

                /srv/opaque:
                new.txt
                old1.txt
                before
                after

                """, "\(driver): \(ran.stderr)")
        }
    }

    // MARK: - export

    func testExportWritesTheMergedFilesystemWithTheOwnersSeenInside() throws {
        let base = try baseImage()
        try forEachDriver { driver in
            let name = try changedContainer(base, driver: driver)
            let archive = state.scratch + "/export-\(driver).tar"
            let exported = state.swctr("export", "-o", archive, name)
            XCTAssertEqual(exported.status, 0, "\(driver): \(exported.stderr)")
            XCTAssertEqual(exported.stdout, "")
            let listing = state.shell("tar -tvf \(archive) | awk '{print $1, $2, $6}'")
            XCTAssertEqual(listing.status, 0, listing.stderr)
            let lines = Set(listing.stdout.split(separator: "\n").map(String.init))
            for expected in [
                "-rw-r----- 123/456 srv/added.txt", "-rw-r--r-- 1000/1000 srv/owned.txt", "-rw-r--r-- 0/0 srv/changed.txt",
                "-rw-r--r-- 0/0 srv/kept.txt", "-rw-r--r-- 0/0 srv/opaque/new.txt", "-rwxr-xr-x 0/0 bin/busybox",
                "hrw-r----- 123/456 srv/hard.txt", "drwxr-xr-x 0/0 srv/opaque/",
            ] {
                XCTAssertTrue(lines.contains(expected), "\(driver): \(expected) in\n\(listing.stdout)")
            }
            let names = state.shell("tar -tf \(archive)").stdout.split(separator: "\n").map(String.init)
            for gone in ["srv/gone.txt", "srv/gone-dir/", "srv/gone-dir/inner.txt", "srv/opaque/old2.txt", "srv/opaque/sub/"] {
                XCTAssertFalse(names.contains(gone), "\(driver): \(gone) was deleted")
            }
            XCTAssertEqual(state.shell("tar -xOf \(archive) srv/changed.txt").stdout, "before\nafter\n", driver)
            XCTAssertFalse(names.contains { $0.contains(".wh.") }, "\(driver): no whiteouts in an export")

            // Standard output gives the same archive.
            let piped = state.shell("$SWCTR export \(name) | tar -tf - | sort | md5sum; tar -tf \(archive) | sort | md5sum")
            let sums = piped.stdout.split(separator: "\n")
            XCTAssertEqual(sums.count, 2, piped.stderr)
            XCTAssertEqual(sums.first, sums.last, driver)
            XCTAssertEqual(temporaryFiles(beside: archive), [], "\(driver): no temporary file left")
        }
    }

    // MARK: - bad input

    func testUnknownContainerFailsWithOneLine() throws {
        let before = state.storeFiles()
        for arguments in [
            ["diff", "nosuch"], ["commit", "nosuch", "x"], ["export", "-o", state.scratch + "/x.tar", "nosuch"], ["container", "export", "nosuch"],
        ] {
            let result = state.swctr(arguments: arguments)
            XCTAssertEqual(result.status, 1, "\(arguments)")
            XCTAssertEqual(result.stderr, "swctr: no such container: nosuch (see swctr ps -a)\n", "\(arguments)")
            XCTAssertEqual(result.stdout, "")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: state.scratch + "/x.tar"))
        XCTAssertEqual(state.storeFiles(), before)
    }

    func testMissingArgumentsFailWithOneLine() {
        for verb in ["diff", "commit", "export"] {
            let result = state.swctr(verb)
            XCTAssertEqual(result.status, 1, verb)
            XCTAssertEqual(result.stderrLines.count, 1, result.stderr)
            XCTAssertTrue(result.stderr.hasPrefix("swctr: give a container — usage: swctr \(verb)"), result.stderr)
        }
    }

    func testBadChangeOrNameIsRefusedAndNothingIsAdded() throws {
        let base = try baseImage()
        let name = try changedContainer(base, driver: "overlay")
        let images = state.swctr("images", "-q", "--no-trunc").stdout
        let before = state.storeFiles()
        let cases: [([String], String)] = [
            (["commit", "-c", "RUN rm -rf /", name], #"swctr: --change "RUN rm -rf /": "RUN" is not an instruction commit can apply"#),
            (["commit", "-c", "ENV", name], #"swctr: --change "ENV": ENV needs KEY=VALUE"#),
            (["commit", "-c", "CMD [sh", name], #"swctr: --change "CMD [sh": the JSON form must be an array of strings"#),
            (["commit", name, "Bad Name"], #"swctr: invalid image reference "Bad Name""#),
            (["commit", name, "app@sha256:" + String(repeating: "a", count: 64)], #"has a digest — give REPOSITORY[:TAG]"#),
        ]
        for (arguments, message) in cases {
            let result = state.swctr(arguments: arguments)
            XCTAssertEqual(result.status, 1, "\(arguments)")
            XCTAssertEqual(result.stderrLines.count, 1, result.stderr)
            XCTAssertTrue(result.stderr.hasPrefix("swctr: ") && result.stderr.contains(message), "\(message) in \(result.stderr)")
            XCTAssertEqual(result.stdout, "")
        }
        XCTAssertEqual(state.swctr("images", "-q", "--no-trunc").stdout, images)
        XCTAssertEqual(state.storeFiles(), before)
    }

    func testCommitThatCannotReadTheContainerLeavesNothingBehind() throws {
        let base = try baseImage()
        let name = try changedContainer(base, driver: "overlay")
        let id = state.swctr("inspect", "-f", "{{.Id}}", name).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let upper = state.storeRoot + "/containers/\(id)/upper"
        XCTAssertEqual(rename(upper, upper + ".away"), 0, "move the writable layer away")
        defer { rename(upper + ".away", upper) }
        let images = state.swctr("images", "-q", "--no-trunc").stdout
        let before = state.storeFiles()
        for arguments in [["commit", name, "unreadable"], ["diff", name], ["export", "-o", state.scratch + "/unreadable.tar", name]] {
            let result = state.swctr(arguments: arguments)
            XCTAssertEqual(result.status, 1, "\(arguments)")
            XCTAssertEqual(result.stderrLines.count, 1, result.stderr)
            XCTAssertTrue(result.stderr.hasPrefix("swctr: cannot \(arguments[0]) container \(name): "), result.stderr)
            XCTAssertTrue(result.stderr.contains("/upper: No such file or directory"), result.stderr)
        }
        XCTAssertEqual(state.swctr("images", "-q", "--no-trunc").stdout, images)
        XCTAssertEqual(state.storeFiles(), before, "no blob, layer or temporary file added")
        XCTAssertEqual(temporaryFiles(beside: state.scratch + "/unreadable.tar"), [])
    }

    func testExportRefusesToWriteToATerminal() throws {
        let base = try baseImage()
        let name = try changedContainer(base, driver: "overlay")
        let command = state.commandLine(["export", name])
        let result = TestHost.execute(["/usr/bin/python3", TerminalTests.driver, "capture", "--"] + command)
        XCTAssertTrue(result.stdout.contains("exit=1"), result.stdout)
        XCTAssertTrue(
            result.stdout.contains("swctr: refusing to write a tar archive to a terminal — use -o FILE or redirect the output"),
            result.stdout)
        XCTAssertLessThan(result.stdout.utf8.count, 400, "no archive bytes reached the terminal")
    }

    func testExportToAMissingDirectoryFailsWithOneLine() throws {
        let base = try baseImage()
        let name = try changedContainer(base, driver: "overlay")
        let result = state.swctr("export", "-o", state.scratch + "/missing/out.tar", name)
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stderr, "swctr: cannot write \(state.scratch)/missing/out.tar: No such file or directory\n")
    }

    // MARK: - helpers

    /// Runs `body` for each storage driver, with swctr told to use it.
    private func forEachDriver(_ body: (String) throws -> Void) throws {
        defer { state.extraEnvironment = [] }
        for driver in Self.drivers {
            state.extraEnvironment = ["SWCTR_STORAGE_DRIVER=\(driver)"]
            try body(driver)
        }
    }

    /// A container of `base` that ran `scenario` (and exited); its name.
    private func changedContainer(_ base: String, driver: String) throws -> String {
        let name = "changed-\(driver)"
        let ran = state.swctr("run", "--name", name, base, "sh", "-c", Self.scenario)
        XCTAssertEqual(ran.status, 0, "\(driver): \(ran.stderr)")
        if ran.status != 0 { throw HostNotPrepared(reason: "the scenario container did not run: \(ran.stderr)") }
        XCTAssertEqual(state.swctr("inspect", "-f", "{{.Driver}}", name).stdout, driver + "\n", "SWCTR_STORAGE_DRIVER chose the driver")
        return name
    }

    /// A one-layer image: busybox with /srv holding files to keep, change and delete, a directory
    /// to delete, one to empty, and a file owned by 1000:1000. Imported from a tarball as
    /// `layer-base:1`.
    private func baseImage() throws -> String {
        let pulled = state.swctr("pull", "-q", state.image("busybox"))
        XCTAssertEqual(pulled.status, 0, pulled.stderr)
        let saved = state.swctr("save", "-o", state.scratch + "/busybox.tar", state.image("busybox"))
        XCTAssertEqual(saved.status, 0, saved.stderr)
        let layer = state.scratch + "/busybox-layer.tar"
        let extracted = state.shell("cd \(state.scratch) && tar -xOf busybox.tar \"$(tar -tf busybox.tar | grep /layer.tar)\" > \(layer)")
        XCTAssertEqual(extracted.status, 0, extracted.stderr)
        let script = state.scratch + "/base.py"
        try Self.baseScript.write(toFile: script, atomically: true, encoding: .utf8)
        let tarball = state.scratch + "/base.tar"
        let made = TestHost.execute(["/usr/bin/python3", script, layer, tarball])
        XCTAssertEqual(made.status, 0, made.stderr)
        chmod(tarball, 0o644)
        let imported = state.swctr("import", tarball, "layer-base:1")
        XCTAssertEqual(imported.status, 0, imported.stderr)
        if imported.status != 0 { throw HostNotPrepared(reason: "the base image could not be imported: \(imported.stderr)") }
        return "layer-base:1"
    }

    private static let baseScript = #"""
        import io, sys, tarfile
        with tarfile.open(sys.argv[1]) as layer:
            entries = [[m, layer.extractfile(m).read() if m.isfile() else None] for m in layer.getmembers()]
        def add(name, data=None, mode=None, owner=0):
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE if data is None else tarfile.REGTYPE
            info.mode = mode or (0o755 if data is None else 0o644)
            info.uid = info.gid = owner
            info.mtime = 1700000000
            entries.append([info, data])
        add("srv")
        add("srv/kept.txt", b"kept\n")
        add("srv/changed.txt", b"before\n")
        add("srv/gone.txt", b"gone\n")
        add("srv/owned.txt", b"owned\n", owner=1000)
        add("srv/gone-dir")
        add("srv/gone-dir/inner.txt", b"inner\n")
        add("srv/opaque")
        add("srv/opaque/old1.txt", b"old one\n")
        add("srv/opaque/old2.txt", b"old two\n")
        add("srv/opaque/sub")
        add("srv/opaque/sub/deep.txt", b"deep\n")
        with tarfile.open(sys.argv[2], "w", format=tarfile.PAX_FORMAT) as out:
            for info, data in entries:
                if data is not None:
                    info.size = len(data)
                out.addfile(info, io.BytesIO(data) if data is not None else None)
        """#

    /// Polls `condition` (a command each time) for up to 10 s.
    private func waitFor(_ condition: () -> Bool) -> Bool {
        for _ in 0..<100 {
            if condition() { return true }
            usleep(100_000)
        }
        return false
    }

    private func indexRecord(named name: String) -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: state.storeRoot + "/images.json"),
            let records = (try? JSONSerialization.jsonObject(with: data)) as? [[String: Any]]
        else { return nil }
        return records.first { ($0["names"] as? [String] ?? []).contains(name) }
    }

    private func diffIDCount(of name: String) -> Int? {
        (indexRecord(named: name)?["diffIDs"] as? [String])?.count
    }

    private func imageConfiguration(_ name: String) -> [String: Any]? {
        guard let id = indexRecord(named: name)?["id"] as? String,
            let data = FileManager.default.contents(atPath: state.storeRoot + "/blobs/sha256/" + id.dropFirst(7))
        else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    /// Files in `path`'s directory named like export's temporary files for it.
    private func temporaryFiles(beside path: String) -> [String] {
        let directory = (path as NSString).deletingLastPathComponent
        let base = (path as NSString).lastPathComponent
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return entries.filter { $0.hasPrefix(".\(base).swctr-") }
    }
}
