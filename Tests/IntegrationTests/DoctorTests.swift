import Foundation
import XCTest

/// `swctr doctor` on this host as it is, and on broken hosts the tests make (and undo) themselves.
/// The tests that change the host (device modes, sysctls, mounts) restore it in a defer; XCTest
/// runs a class's tests one after another, so they never overlap.
final class DoctorTests: SwctrTestCase {
    struct Report: Decodable {
        struct Check: Decodable {
            let name: String
            let verdict: String
            let finding: String
            let fix: String?
        }
        let checks: [Check]
    }

    /// Runs `swctr doctor --format json` (through `wrapper` if given, a command that ends by running
    /// its arguments) and returns the exit status and the checks by name.
    func doctor(_ user: SwctrUser? = nil, wrapper: [String] = []) throws -> (status: Int32, checks: [String: Report.Check]) {
        let result = TestHost.execute(wrapper + (user ?? state).commandLine(["doctor", "--format", "json"]))
        let report = try JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8))
        return (result.status, Dictionary(report.checks.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first }))
    }

    func requireRoot() throws {
        guard TestHost.isRoot else { throw HostNotPrepared(reason: "DoctorTests change the host (device modes, sysctls): run them as root") }
    }

    func sysctl(_ name: String) -> String {
        TestHost.execute(["/usr/sbin/sysctl", "-n", name]).stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    func setSysctl(_ name: String, _ value: String) {
        let result = TestHost.execute(["/usr/sbin/sysctl", "-w", "\(name)=\(value)"])
        XCTAssertEqual(result.status, 0, result.stderr)
    }

    func testThisHostReportsCgroupsNotDelegatedAndTheRestAsItIs() throws {
        let (status, checks) = try doctor()
        for name in ["newuidmap", "subordinate ids", "user namespaces", "overlay", "storage filesystem", "/dev/fuse", "/dev/net/tun"] {
            XCTAssertEqual(checks[name]?.verdict, "ok", "\(name): \(checks[name]?.finding ?? "missing")")
            XCTAssertNil(checks[name]?.fix)
        }
        XCTAssertTrue(checks["newuidmap"]?.finding.contains("mapped 65537 uids and 65537 gids") == true, checks["newuidmap"]?.finding ?? "")
        let cgroups = try XCTUnwrap(checks["cgroups"])
        XCTAssertEqual(cgroups.verdict, "warning")
        XCTAssertTrue(cgroups.finding.contains("hybrid") && cgroups.finding.contains("not delegated"), cgroups.finding)
        XCTAssertNotNil(cgroups.fix)
        XCTAssertEqual(checks["lingering"]?.verdict, "not applicable", "no systemd on this host")
        let pingOn = sysctl("net.ipv4.ping_group_range") != "1 0"
        XCTAssertEqual(checks["ping"]?.verdict, pingOn ? "ok" : "warning")
        XCTAssertEqual(checks["unprivileged ports"]?.verdict, "ok")
        XCTAssertEqual(status, 0, "warnings do not fail")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: state.dataHome), [], "doctor leaves nothing in the data directory")

        let text = state.swctr("doctor")
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("[warn] cgroups: hybrid cgroups"), text.stdout)
        XCTAssertTrue(text.stdout.contains("[ok]   user namespaces: made a user namespace as \(state.user)"), text.stdout)
    }

    func testUserWithoutSubordinateIDsFailsWithTheUsermodFix() throws {
        let nosubName = try XCTUnwrap(TestHost.environment["SWCTR_TEST_NOSUB_USER"], "setup exports SWCTR_TEST_NOSUB_USER")
        let nosub = try SwctrUser(otherUser: nosubName)
        defer { nosub.cleanUp() }
        let (status, checks) = try doctor(nosub)
        let subordinate = try XCTUnwrap(checks["subordinate ids"])
        XCTAssertEqual(subordinate.verdict, "failed")
        XCTAssertTrue(subordinate.finding.contains("no entry for \(nosubName) in /etc/subuid or /etc/subgid"), subordinate.finding)
        let fix = try XCTUnwrap(subordinate.fix)
        XCTAssertTrue(fix.hasPrefix("sudo usermod --add-subuids ") && fix.hasSuffix(" \(nosubName)"), fix)
        XCTAssertFalse(fix.contains("200000-"), "the suggested range is not the test user's: \(fix)")
        XCTAssertEqual(checks["user namespaces"]?.verdict, "ok", "a single-id namespace still works")
        XCTAssertEqual(checks["newuidmap"]?.verdict, "ok")
        XCTAssertEqual(status, 1)
        let text = TestHost.execute(nosub.commandLine(["doctor"]))
        XCTAssertTrue(text.stdout.contains("[FAIL] subordinate ids: ") && text.stdout.contains("    fix: sudo usermod --add-subuids "), text.stdout)
    }

    /// Runs doctor in a private mount namespace where `replacement` is bind-mounted over newuidmap.
    func doctorWithNewuidmapReplaced(by replacement: String) throws -> (status: Int32, checks: [String: Report.Check]) {
        try requireRoot()
        return try doctor(wrapper: ["/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                                    "mount --bind \"$0\" /usr/bin/newuidmap && exec \"$@\"", replacement])
    }

    func testMissingNewuidmapFailsWithTheInstallFix() throws {
        let (status, checks) = try doctorWithNewuidmapReplaced(by: "/dev/null")
        let helper = try XCTUnwrap(checks["newuidmap"])
        XCTAssertEqual(helper.verdict, "failed")
        XCTAssertTrue(helper.finding.hasPrefix("newuidmap not found"), helper.finding)
        XCTAssertEqual(helper.fix, "sudo apt-get install uidmap")
        XCTAssertEqual(checks["subordinate ids"]?.verdict, "ok")
        XCTAssertEqual(status, 1)
    }

    func testNewuidmapWithoutSetuidFailsWithTheChmodFix() throws {
        let copy = state.scratch + "/newuidmap-plain"
        XCTAssertEqual(TestHost.execute(["/bin/cp", "/usr/bin/newuidmap", copy]).status, 0)
        chmod(copy, 0o755)
        let (status, checks) = try doctorWithNewuidmapReplaced(by: copy)
        let helper = try XCTUnwrap(checks["newuidmap"])
        XCTAssertEqual(helper.verdict, "failed")
        XCTAssertTrue(helper.finding.contains("not setuid root"), helper.finding)
        XCTAssertEqual(helper.fix, "sudo chown root:root /usr/bin/newuidmap && sudo chmod u+s /usr/bin/newuidmap")
        XCTAssertEqual(status, 1)
    }

    func testFuseDeviceOnlyRootCanOpenFailsWithTheChmodFix() throws {
        try requireRoot()
        var info = stat()
        XCTAssertEqual(stat("/dev/fuse", &info), 0)
        let mode = info.st_mode & 0o7777
        XCTAssertEqual(chmod("/dev/fuse", 0o600), 0)
        defer { chmod("/dev/fuse", mode) }
        let (status, checks) = try doctor()
        let fuse = try XCTUnwrap(checks["/dev/fuse"])
        XCTAssertEqual(fuse.verdict, "failed")
        XCTAssertTrue(fuse.finding.contains("(mode 0600): Permission denied"), fuse.finding)
        XCTAssertEqual(fuse.fix, "sudo chmod 0666 /dev/fuse")
        XCTAssertEqual(checks["/dev/net/tun"]?.verdict, "ok")
        XCTAssertEqual(status, 1)
    }

    func testPingRangeOffWarnsWithTheSysctlFixAndOnIsOK() throws {
        try requireRoot()
        let original = sysctl("net.ipv4.ping_group_range")
        defer { setSysctl("net.ipv4.ping_group_range", original) }
        setSysctl("net.ipv4.ping_group_range", "1 0")
        let (status, off) = try doctor()
        let ping = try XCTUnwrap(off["ping"])
        XCTAssertEqual(ping.verdict, "warning")
        XCTAssertTrue(ping.finding.contains("\"1 0\""), ping.finding)
        XCTAssertEqual(ping.fix, "sudo sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"")
        XCTAssertEqual(status, 0, "a warning does not fail")

        setSysctl("net.ipv4.ping_group_range", "0 2147483647")
        let (_, on) = try doctor()
        XCTAssertEqual(on["ping"]?.verdict, "ok", on["ping"]?.finding ?? "")
        XCTAssertNil(on["ping"]?.fix)
    }

    func testInfoSummarisesHostStoreAndNetwork() throws {
        let text = state.swctr("info")
        XCTAssertEqual(text.status, 0, text.stderr)
        for line in ["  rootless: true", "  cgroup version: v1 (hybrid)", "  uid mappings: 0:", "  root: \(state.storeRoot)",
                     "  driver: overlay (probed: the kernel overlay (userxattr) works", "  images: 0", "  containers: 0", "  libslirp: found"] {
            XCTAssertTrue(text.stdout.contains(line), "\(line) in\n\(text.stdout)")
        }
        let json = state.swctr("info", "--format", "json")
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        XCTAssertEqual((object?["host"] as? [String: Any])?["rootless"] as? Bool, true, json.stdout)
        XCTAssertEqual((object?["store"] as? [String: Any])?["root"] as? String, state.storeRoot)
    }
}
