import Foundation
import XCTest

/// Resource flags on a host without a usable cgroup v2 (this CI host: hybrid, v1 controllers):
/// containers still run, and every flag that needs a controller fails before anything starts,
/// saying what is missing and how to get it. Real limits are tested in the VM (make test-vm).
final class CgroupTests: SwctrTestCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        try XCTSkipIf(
            FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers"),
            "this host has a unified cgroup v2 hierarchy: the VM tests (make test-vm) cover it")
        let pulled = state.swctr("pull", "-q", state.image("busybox"))
        XCTAssertEqual(pulled.status, 0, pulled.stderr)
    }

    func testContainersRunWithoutACgroup() {
        let result = state.swctr("run", "--rm", "--network", "none", state.image("busybox"), "echo", "ran")
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "ran\n")
        XCTAssertEqual(result.stderr, "", "no warning for a container that asked for no limits")
    }

    func testMemoryFailsEarlyWithWhatIsMissingAndTheDropIn() {
        let result = state.swctr("run", "--rm", "--name", "limited", "--memory", "32m", state.image("busybox"), "true")
        XCTAssertEqual(result.status, 125)
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
        XCTAssertTrue(
            result.stderr.hasPrefix(
                "swctr: --memory needs the cgroup v2 memory controller delegated to you; this host has a hybrid cgroup hierarchy (v1 controllers) — boot with systemd.unified_cgroup_hierarchy=1"
            ), result.stderr)
        XCTAssertTrue(result.stderr.contains("/etc/systemd/system/user@.service.d/delegate.conf: [Service] Delegate=cpu cpuset io memory pids"), result.stderr)
        XCTAssertEqual(state.swctr("ps", "-aq").stdout, "", "nothing was created")
    }

    func testEveryControllerFlagFailsBeforeCreate() {
        let flags: [(String, String, String)] = [
            ("--cpus", "0.5", "cpu"), ("--cpu-shares", "512", "cpu"), ("--cpu-weight", "50", "cpu"), ("--cpuset-cpus", "0", "cpuset"),
            ("--pids-limit", "20", "pids"), ("--memory-reservation", "16m", "memory"),
        ]
        for (flag, value, controller) in flags {
            let result = state.swctr("create", flag, value, state.image("busybox"), "true")
            XCTAssertEqual(result.status, 125, "\(flag): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains("needs the cgroup v2 \(controller) controller delegated to you"), "\(flag): \(result.stderr)")
        }
        XCTAssertEqual(state.swctr("ps", "-aq").stdout, "")
    }

    func testBadLimitValuesSayWhatToGive() {
        let result = state.swctr("run", "--rm", "--memory", "lots", state.image("busybox"), "true")
        XCTAssertEqual(result.status, 125)
        XCTAssertEqual(result.stderr, "swctr: invalid --memory \"lots\": give a size of at least 6m, such as 64m or 1g\n")
    }

    func testOOMScoreAdjNeedsNoCgroup() {
        let result = state.swctr("run", "--rm", "--network", "none", "--oom-score-adj", "500", state.image("busybox"), "cat", "/proc/self/oom_score_adj")
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "500\n")
        let lowered = state.swctr("run", "--rm", "--network", "none", "--oom-score-adj", "-500", state.image("busybox"), "true")
        XCTAssertEqual(lowered.status, 125)
        XCTAssertTrue(lowered.stderr.contains("an ordinary user can only raise it"), lowered.stderr)
    }

    func testPauseStatsAndUpdateExplainTheMissingCgroup() {
        let started = state.swctr("run", "-d", "--name", "sleeper", "--network", "none", state.image("busybox"), "sleep", "30")
        XCTAssertEqual(started.status, 0, started.stderr)
        defer { _ = state.swctr("rm", "-f", "sleeper") }
        let paused = state.swctr("pause", "sleeper")
        XCTAssertEqual(paused.status, 1)
        XCTAssertTrue(paused.stderr.contains("container sleeper has no cgroup: this host has a hybrid cgroup hierarchy"), paused.stderr)
        let stats = state.swctr("stats", "--no-stream", "sleeper")
        XCTAssertEqual(stats.status, 125)
        XCTAssertTrue(stats.stderr.contains("has no cgroup"), stats.stderr)
        let updated = state.swctr("update", "--pids-limit", "10", "sleeper")
        XCTAssertEqual(updated.status, 1)
        XCTAssertTrue(updated.stderr.contains("--pids-limit needs the cgroup v2 pids controller"), updated.stderr)
        XCTAssertEqual(state.swctr("inspect", "-f", "{{.State.OOMKilled}} {{.State.Paused}}", "sleeper").stdout, "false false\n")
    }
}
