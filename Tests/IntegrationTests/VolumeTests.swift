import Foundation
import XCTest

/// Bind mounts, named and anonymous volumes, --mount and keep-id, as a user sees them.
final class VolumeTests: SwctrTestCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        for name in ["busybox", "probe"] {
            let pulled = state.swctr("pull", "-q", state.image(name))
            XCTAssertEqual(pulled.status, 0, pulled.stderr)
        }
    }

    func makeUserDirectory(_ name: String) throws -> String {
        let path = state.scratch + "/" + name
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        TestHost.execute(["/bin/chown", state.user + ":" + state.user, path])
        return path
    }

    func owner(_ path: String) -> UInt32 {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.ownerAccountID] as? NSNumber)?.uint32Value ?? UInt32.max
    }

    func volumeNames() -> [String] {
        state.swctr("volume", "ls", "-q").stdout.split(separator: "\n").map(String.init)
    }

    func testBindMountIsReadWriteAndFilesBelongToTheUser() throws {
        let directory = try makeUserDirectory("rw")
        let result = state.swctr("run", "--rm", "-v", "\(directory):/data", state.image("busybox"), "sh", "-c",
                                 "echo written inside > /data/out; ls -ln /data/out | awk '{print $3}'")
        XCTAssertEqual(result.stdout, "0\n", "root inside: \(result.stderr)")
        XCTAssertEqual(try String(contentsOfFile: directory + "/out", encoding: .utf8), "written inside\n")
        XCTAssertEqual(owner(directory + "/out"), TestHost.passwdEntry(state.user)?.uid, "container root is the user on the host")
    }

    func testKeepIDShowsTheUsersOwnIDsInside() throws {
        let directory = try makeUserDirectory("keep")
        let uid = TestHost.passwdEntry(state.user)!.uid
        let gid = TestHost.passwdEntry(state.user)!.gid
        try "from the host\n".write(toFile: directory + "/host-file", atomically: true, encoding: .utf8)
        TestHost.execute(["/bin/chown", "\(state.user):\(state.user)", directory + "/host-file"])
        let result = state.swctr("run", "--rm", "--userns=keep-id", "-v", "\(directory):/data", state.image("busybox"), "sh", "-c",
                                 "id -u; id -g; stat -c %u:%g /data/host-file; touch /data/made-inside")
        XCTAssertEqual(result.stdout, "\(uid)\n\(gid)\n\(uid):\(gid)\n", result.stderr)
        XCTAssertEqual(owner(directory + "/made-inside"), uid)
        let asRoot = state.swctr("run", "--rm", "--userns=keep-id", "-u", "0", state.image("busybox"), "id", "-u")
        XCTAssertEqual(asRoot.stdout, "0\n", "-u still wins: \(asRoot.stderr)")
        let bad = state.swctr("run", "--rm", "--userns=private-ish", state.image("busybox"), "true")
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("unsupported --userns"), bad.stderr)
    }

    func testNamedVolumeKeepsDataAcrossContainers() {
        XCTAssertEqual(state.swctr("volume", "create", "keep").stdout, "keep\n")
        XCTAssertEqual(state.swctr("volume", "create", "keep").status, 1, "already exists")
        XCTAssertEqual(state.swctr("run", "--rm", "-v", "keep:/data", state.image("busybox"), "sh", "-c", "echo one > /data/f").status, 0)
        let second = state.swctr("run", "--rm", "-v", "keep:/elsewhere:ro", state.image("busybox"), "sh", "-c", "cat /elsewhere/f; touch /elsewhere/g")
        XCTAssertEqual(second.stdout, "one\n")
        XCTAssertTrue(second.stderr.contains("Read-only file system"), second.stderr)
        let inspected = state.swctr("volume", "inspect", "keep")
        XCTAssertTrue(inspected.stdout.contains("\"Mountpoint\"") && inspected.stdout.contains("/volumes/keep/_data"), inspected.stdout)
        XCTAssertEqual(volumeNames(), ["keep"])
        XCTAssertEqual(state.swctr("volume", "rm", "keep").stdout, "keep\n")
        XCTAssertEqual(volumeNames(), [])
        XCTAssertEqual(state.swctr("volume", "rm", "keep").status, 1)
    }

    func testFirstUseCopiesTheImageContentIntoAnEmptyVolume() {
        let first = state.swctr("run", "--rm", "-v", "seeded:/srv/data", state.image("probe"), "sh", "-c",
                                "cat /srv/data/seed.txt; stat -c '%u %a' /srv/data /srv/data/seed.txt; echo added > /srv/data/added")
        XCTAssertEqual(first.stdout, "seeded by the image\n1000 750\n1000 640\n", first.stderr)
        let again = state.swctr("run", "--rm", "-v", "seeded:/srv/data", state.image("probe"), "ls", "/srv/data")
        XCTAssertEqual(again.stdout, "added\nseed.txt\n", "not copied twice, nothing lost")
        let nocopy = state.swctr("run", "--rm", "--mount", "type=volume,source=bare,target=/srv/data,volume-nocopy", state.image("probe"), "ls", "-A", "/srv/data")
        XCTAssertEqual(nocopy.stdout, "")
    }

    func testAnonymousVolumesFromTheImageAndTheirRemoval() {
        // test/probe declares VOLUME /srv/data.
        let made = state.swctr("run", "--name", "anon", state.image("probe"), "sh", "-c", "cat /srv/data/seed.txt")
        XCTAssertEqual(made.stdout, "seeded by the image\n", made.stderr)
        let names = volumeNames()
        XCTAssertEqual(names.count, 1)
        XCTAssertEqual(names.first?.count, 64, "an anonymous volume has a random 64-hex name")
        XCTAssertEqual(state.swctr("volume", "rm", names[0]).status, 1, "in use by the stopped container")
        let mounts = state.swctr("inspect", "-f", "{{.Mounts}}", "anon").stdout.replacingOccurrences(of: "\\/", with: "/")
        XCTAssertTrue(mounts.contains("\"Destination\":\"/srv/data\"") && mounts.contains(names[0]), mounts)
        XCTAssertEqual(state.swctr("rm", "-v", "anon").status, 0)
        XCTAssertEqual(volumeNames(), [], "rm -v takes the anonymous volume along")

        XCTAssertEqual(state.swctr("run", "--rm", "-v", "/extra", state.image("probe"), "true").status, 0)
        XCTAssertEqual(volumeNames(), [], "--rm removes the container's anonymous volumes")

        XCTAssertEqual(state.swctr("run", "--name", "kept", "-v", "named:/srv/data", state.image("probe"), "true").status, 0)
        XCTAssertEqual(volumeNames(), ["named"], "a named volume on the image's VOLUME path replaces the anonymous one")
        XCTAssertEqual(state.swctr("rm", "kept").status, 0)
        XCTAssertEqual(state.swctr("volume", "prune").stdout, "", "prune keeps named volumes without -a")
        XCTAssertEqual(state.swctr("volume", "prune", "-a").stdout, "Deleted Volumes:\nnamed\n")
    }

    func testMountFlagKinds() throws {
        let directory = try makeUserDirectory("mount")
        let result = state.swctr("run", "--rm", "--mount", "type=bind,source=\(directory),target=/b",
                                 "--mount", "type=tmpfs,target=/t,tmpfs-size=2m,tmpfs-mode=700",
                                 "--mount", "type=volume,source=mv,target=/v", state.image("busybox"), "sh", "-c",
                                 "touch /b/x /t/x /v/x && stat -c %a /t && grep ' /t ' /proc/mounts | grep -o 'size=[0-9a-z]*'")
        XCTAssertEqual(result.stdout, "700\nsize=2048k\n", result.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory + "/x"))
    }

    func testBadMountFlagsFailCleanly() {
        let cases: [([String], String)] = [
            (["-v", "/nonexistent-swctr-path:/data"], "bind mount source /nonexistent-swctr-path: No such file or directory"),
            (["-v", "data:relative"], "the container path \"relative\" must be absolute"),
            (["-v", "bad name!:/data"], "invalid volume name \"bad name!\""),
            (["-v", "/tmp:/data:rx"], "unknown -v option \"rx\""),
            (["--mount", "type=nfs,target=/x"], "say type=bind, type=volume or type=tmpfs"),
            (["--mount", "type=bind,target=/x"], "a bind mount needs source=HOSTPATH"),
            (["--tmpfs", "/t:size=1m,turbo"], "unknown --tmpfs option \"turbo\""),
            (["-v", "a:/same", "-v", "b:/same"], "duplicate mount point /same"),
            (["-v", "a:/"], "cannot mount over the container's /"),
        ]
        for (flags, message) in cases {
            let result = state.swctr(arguments: ["run", "--rm"] + flags + [state.image("busybox"), "true"])
            XCTAssertEqual(result.status, 125, "\(flags)")
            XCTAssertEqual(result.stderrLines.count, 1, "one line: \(result.stderr)")
            XCTAssertTrue(result.stderr.contains(message), "\(flags): \(result.stderr)")
        }
        XCTAssertEqual(state.swctr("ps", "-aq").stdout, "", "no container left behind")
        XCTAssertEqual(volumeNames(), [], "no volume left behind")
    }
}
