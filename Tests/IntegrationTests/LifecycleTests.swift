import Foundation
import XCTest

/// Detached containers and their monitors, as a user sees them: run -d, logs, exec, stop, rm,
/// wait, ps, inspect, and the state staying right through kills, reboots and concurrency.
final class LifecycleTests: SwctrTestCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        let pulled = state.swctr("pull", "-q", state.image("busybox"))
        XCTAssertEqual(pulled.status, 0, pulled.stderr)
    }

    /// Runs a detached container and returns its full id.
    func runDetached(_ arguments: String..., file: StaticString = #filePath, line: UInt = #line) -> String {
        let result = state.swctr(arguments: ["run", "-d"] + arguments)
        XCTAssertEqual(result.status, 0, result.stderr, file: file, line: line)
        let id = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(id.count, 64, "run -d prints the full id: \(result.stdout)", file: file, line: line)
        return id
    }

    func inspect(_ container: String, _ field: String) -> String {
        state.swctr("inspect", "-f", "{{\(field)}}", container).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Processes of the test user whose command line contains `text` (zombies excluded).
    func liveProcesses(containing text: String) -> [String] {
        let listing = TestHost.execute(["/bin/ps", "-u", state.user, "-o", "stat=,args="]).stdout
        return listing.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("Z") && $0.contains(text) }
    }

    /// Processes of the test user whose command line is exactly `command` (zombies excluded).
    func liveProcesses(exactly command: String) -> [String] {
        let listing = TestHost.execute(["/bin/ps", "-u", state.user, "-o", "stat=,args="]).stdout
        return listing.split(separator: "\n").map(String.init).filter {
            !$0.hasPrefix("Z") && $0.split(separator: " ", maxSplits: 1).last.map(String.init)?.trimmingCharacters(in: .whitespaces) == command
        }
    }

    func containerDirectories() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: state.storeRoot + "/containers")) ?? []).sorted()
    }

    func spareDirectories() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: state.storeRoot + "/spare-containers")) ?? []).sorted()
    }

    /// A removed container's directory goes to a later container only when nothing of it is left
    /// in it: each container sees its own hostname and files and a root as new, never the last
    /// one's; at most four are kept, however many end at once.
    func testARemovedContainersDirectoryIsReusedOnlyWhenNothingOfItIsLeft() {
        let busybox = state.image("busybox")
        let long = state.swctr("run", "--rm", "--network", "none", "--hostname", "a-rather-long-hostname", busybox, "cat", "/etc/hostname")
        XCTAssertEqual(long.stdout, "a-rather-long-hostname\n", long.stderr)
        XCTAssertEqual(spareDirectories().count, 1, "an untouched container's directory is kept")
        let short = state.swctr("run", "--rm", "--network", "none", "--hostname", "short", busybox, "sh", "-c",
                                "cat /etc/hostname; grep -c rather /etc/hosts; echo data > /left-behind")
        XCTAssertEqual(short.stdout, "short\n0\n", "the files are rewritten whole, shorter too: \(short.stderr)")
        XCTAssertEqual(spareDirectories(), [], "a container that wrote to its layer leaves nothing behind")
        let chmod = state.swctr("run", "--rm", "--network", "none", busybox, "chmod", "700", "/")
        XCTAssertEqual(chmod.status, 0, chmod.stderr)
        XCTAssertEqual(spareDirectories(), [], "nor one that changed its root directory")
        let fresh = state.swctr("run", "--rm", "--network", "none", busybox, "sh", "-c", "ls /left-behind; stat -c %a /")
        XCTAssertEqual(fresh.stdout, "755\n")
        XCTAssertTrue(fresh.stderr.contains("No such file"), fresh.stderr)
        XCTAssertEqual(spareDirectories().count, 1)

        // At once: each gets a directory of its own (a spare or a new one) and leaves it or not.
        let command = state.commandLine(["run", "--rm", "--network", "none", busybox, "sh", "-c", "test ! -e /mine && touch /mine && rm /mine"])
        let results = TestHost.executeConcurrently(Array(repeating: command, count: 6))
        XCTAssertEqual(results.map(\.status), Array(repeating: 0, count: 6), results.map(\.stderr).joined())
        XCTAssertTrue((1...4).contains(spareDirectories().count), "\(spareDirectories())")
        XCTAssertEqual(containerDirectories(), [])
        // Six directories removed together: four are kept, the others removed.
        let created = (0..<6).map { _ in state.swctr("create", "--network", "none", busybox, "true") }
        XCTAssertEqual(created.map(\.status), Array(repeating: 0, count: 6), created.map(\.stderr).joined())
        XCTAssertEqual(spareDirectories(), [], "creates take the spares first")
        let removed = state.swctr(arguments: ["rm"] + created.map { $0.stdout.trimmingCharacters(in: .whitespacesAndNewlines) })
        XCTAssertEqual(removed.status, 0, removed.stderr)
        XCTAssertEqual(spareDirectories(), ["0", "1", "2", "3"])
        XCTAssertEqual(containerDirectories(), [])
        XCTAssertEqual(state.swctr("ps", "-a", "-q").stdout, "")
    }

    func testRunDetachedReturnsAtOnceAndLogsFollowTheOutput() {
        let id = runDetached("--name", "ticker", state.image("busybox"), "sh", "-c",
                             "echo first; echo to-stderr >&2; for i in 1 2 3; do sleep 0.2; echo tick $i; done")
        XCTAssertEqual(state.swctr("ps", "-q").stdout.trimmingCharacters(in: .whitespacesAndNewlines), String(id.prefix(12)))
        let followed = state.swctr("logs", "-f", "ticker")
        XCTAssertEqual(followed.status, 0, followed.stderr)
        XCTAssertEqual(followed.stdout, "first\ntick 1\ntick 2\ntick 3\n", "logs -f follows until the container ends")
        XCTAssertEqual(followed.stderr, "to-stderr\n", "stderr lines come back on stderr")
        XCTAssertEqual(state.swctr("logs", "--tail", "1", "ticker").stdout, "tick 3\n")
        let stamped = state.swctr("logs", "-t", "--since", "1h", id).stdout.split(separator: "\n")
        XCTAssertEqual(stamped.count, 4)
        XCTAssertTrue(stamped.allSatisfy { $0.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z "#, options: .regularExpression) != nil }, "\(stamped)")
        XCTAssertEqual(state.swctr("logs", "--since", "2000-01-01T00:00:00Z", "--tail", "2", "ticker").stdout, "tick 2\ntick 3\n")
    }

    func testLogFileIsJSONLinesWithStreamAndTime() throws {
        let id = runDetached(state.image("busybox"), "sh", "-c", "echo out; echo err >&2")
        XCTAssertEqual(state.swctr("wait", id).stdout, "0\n")
        let path = inspect(id, ".LogPath")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let entries = try text.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String] }
        XCTAssertEqual(Set(entries.compactMap { $0?["log"] }), ["out\n", "err\n"])
        XCTAssertEqual(Set(entries.compactMap { $0?["stream"] }), ["stdout", "stderr"])
        XCTAssertTrue(entries.allSatisfy { ($0?["time"] ?? "").hasSuffix("Z") })
    }

    func testLogRotatesAtMaxSizeAndLogsReadsAcrossTheRotation() throws {
        let id = runDetached("--log-opt", "max-size=2k", state.image("busybox"), "sh", "-c",
                             "i=0; while [ $i -lt 100 ]; do i=$((i+1)); echo \"line $i of the rotation test\"; done")
        XCTAssertEqual(state.swctr("wait", id).stdout, "0\n")
        let path = inspect(id, ".LogPath")
        let current = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
        XCTAssertTrue(FileManager.default.fileExists(atPath: path + ".1"), "rotated once at least")
        XCTAssertLessThan(current, 2048 + 200, "the live file stays near max-size")
        let lines = state.swctr("logs", id).stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.last, "line 100 of the rotation test")
        let numbers = lines.compactMap { Int($0.split(separator: " ")[1]) }
        XCTAssertEqual(numbers, Array((numbers.first ?? 0)...100), "what is kept is in order, without gaps")
    }

    func testExecJoinsTheRunningContainer() {
        let id = runDetached("--name", "box", "-e", "FROM_RUN=yes", "--hostname", "boxhost", state.image("busybox"), "sleep", "60")
        let result = state.swctr("exec", "-e", "FROM_EXEC=also", "box", "sh", "-c",
                                 "cat /proc/1/cmdline | tr '\\0' ' '; echo; hostname; echo $FROM_RUN $FROM_EXEC; id -u; ls /proc | grep -c '^[0-9]'")
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "sleep 60 ", "pid 1 is the container's command: same pid namespace")
        XCTAssertEqual(Array(lines.dropFirst().prefix(3)), ["boxhost", "yes also", "0"])
        XCTAssertEqual(lines.last, "4", "only the container's processes are visible (sleep, sh, ls, grep)")
        XCTAssertEqual(state.swctr("exec", id, "sh", "-c", "exit 5").status, 5)
        let missing = state.swctr("exec", "box", "no-such-command")
        XCTAssertEqual(missing.status, 127)
        XCTAssertTrue(missing.stderr.contains("no-such-command"), missing.stderr)
        XCTAssertEqual(state.swctr("exec", "-u", "nobody", "-w", "/tmp", "box", "sh", "-c", "id -un; pwd").stdout, "nobody\n/tmp\n")
        let echoed = state.swctr("exec", "-i", "box", "cat", input: "through stdin\n")
        XCTAssertEqual(echoed.stdout, "through stdin\n")
    }

    /// A foreground run writes its record and spec once its init is cloned, before its command
    /// runs: while it runs, ps, diff and exec find it as they find any container.
    func testAForegroundRunIsRecordedWithItsSpecWhileItsCommandRuns() {
        let result = state.shell("""
            $SWCTR run --rm --name fg \(state.image("busybox")) sh -c \
              'touch /made; i=0; while [ ! -e /done ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; [ -e /done ] && echo released' \
              > "$HOME/fg.out" 2>&1 &
            for i in $(seq 100); do $SWCTR diff fg 2>/dev/null | grep -q 'A /made' && break; sleep 0.1; done
            $SWCTR ps | awk 'NR > 1 { print $NF }'
            $SWCTR diff fg
            $SWCTR exec fg touch /done
            wait
            cat "$HOME/fg.out"
            $SWCTR ps -aq | wc -l
            """)
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains("fg"), result.stdout)
        XCTAssertTrue(lines.contains("A /made"), result.stdout)
        XCTAssertTrue(lines.contains("released"), "exec reached the running container: \(result.stdout)")
        XCTAssertEqual(lines.last, "0", "gone once it ended: \(result.stdout)")
    }

    func testExecIntoAStoppedContainerIsAClearError() {
        let created = state.swctr("create", "--name", "idle", state.image("busybox"), "true")
        XCTAssertEqual(created.status, 0, created.stderr)
        let result = state.swctr("exec", "idle", "true")
        XCTAssertNotEqual(result.status, 0)
        XCTAssertEqual(result.stderrLines, ["swctr: container idle is not running"])
    }

    func testStopUsesTheStopSignalAndPsShowsTheExitCode() {
        _ = runDetached("--name", "trapper", state.image("busybox"), "sh", "-c", "trap 'exit 3' TERM; echo ready; while true; do sleep 0.1; done")
        waitForLog("trapper", "ready")
        let stopped = state.swctr("stop", "trapper")
        XCTAssertEqual(stopped.status, 0, stopped.stderr)
        XCTAssertEqual(stopped.stdout, "trapper\n")
        XCTAssertEqual(state.swctr("ps", "-q").stdout, "", "nothing runs after stop")
        let listed = state.swctr("ps", "-a")
        XCTAssertTrue(listed.stdout.contains("Exited (3)"), listed.stdout)
        XCTAssertEqual(inspect("trapper", ".State.Status"), "exited")
        XCTAssertEqual(inspect("trapper", ".State.ExitCode"), "3")
    }

    func testStopKillsAfterTheTimeoutWhenTheSignalIsIgnored() {
        // A pid 1 without a TERM handler does not die of TERM: stop must fall back to SIGKILL.
        _ = runDetached("--name", "stubborn", state.image("busybox"), "sleep", "60")
        let start = Date()
        XCTAssertEqual(state.swctr("stop", "-t", "1", "stubborn").status, 0)
        XCTAssertLessThan(Date().timeIntervalSince(start), 8)
        XCTAssertEqual(inspect("stubborn", ".State.ExitCode"), "137")
    }

    func testWaitPrintsTheExitCode() {
        let id = runDetached(state.image("busybox"), "sh", "-c", "sleep 0.3; exit 42")
        let waited = state.swctr("wait", String(id.prefix(8)))
        XCTAssertEqual(waited.status, 0, waited.stderr)
        XCTAssertEqual(waited.stdout, "42\n")
    }

    func testRmRefusesARunningContainerAndRmForceRemovesItCompletely() {
        let id = runDetached("--name", "victim", state.image("busybox"), "sleep", "61")
        let refused = state.swctr("rm", "victim")
        XCTAssertEqual(refused.status, 1)
        XCTAssertEqual(refused.stderrLines, ["swctr: container victim is running: stop it first, or use rm -f"])
        let removed = state.swctr("rm", "-f", "victim")
        XCTAssertEqual(removed.status, 0, removed.stderr)
        XCTAssertEqual(state.swctr("ps", "-aq").stdout, "")
        XCTAssertEqual(containerDirectories(), [])
        XCTAssertEqual(liveProcesses(containing: id), [], "no monitor left")
        XCTAssertEqual(liveProcesses(exactly: "sleep 61"), [], "no container process left")
        let again = state.swctr("rm", "victim")
        XCTAssertEqual(again.stderrLines, ["swctr: no such container: victim (see swctr ps -a)"])
    }

    func testCreateThenStartAttachedPrintsOutputAndExitCode() {
        let created = state.swctr("create", "--name", "later", state.image("busybox"), "sh", "-c", "echo hello from later; exit 4")
        XCTAssertEqual(created.status, 0, created.stderr)
        XCTAssertTrue(state.swctr("ps", "-a").stdout.contains("Created"))
        let started = state.swctr("start", "-a", "later")
        XCTAssertEqual(started.status, 4, started.stderr)
        XCTAssertEqual(started.stdout, "hello from later\n")
        let again = state.swctr("start", "later")
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(state.swctr("wait", "later").stdout, "4\n")
        XCTAssertEqual(state.swctr("logs", "later").stdout, "hello from later\nhello from later\n", "a restart appends to the same log")
    }

    func testNamesAreUniqueEvenWhenCreatesRace() {
        let attempts = 8
        let command = state.commandLine(["create", "--name", "contested", state.image("busybox"), "true"])
        let results: [CommandResult?] = TestHost.executeConcurrently(Array(repeating: command, count: attempts))
        let winners = results.compactMap { $0 }.filter { $0.status == 0 }
        XCTAssertEqual(winners.count, 1, results.map { $0?.stderr ?? "" }.joined())
        for loser in results.compactMap({ $0 }).filter({ $0.status != 0 }) {
            XCTAssertTrue(loser.stderr.contains("the container name \"contested\" is already in use"), loser.stderr)
        }
        XCTAssertEqual(state.swctr("ps", "-aq").stdout.split(separator: "\n").count, 1)
        XCTAssertEqual(containerDirectories().count, 1, "losers leave no directory")
    }

    /// A foreground run whose arguments swift-argument-parser reads makes its container's id, lock
    /// and directory meanwhile: a run that then fails leaves none of them (nor does one parsed
    /// directly), and a process killed in between leaves a directory that the next `ps` removes.
    func testAForegroundRunThatFailsLeavesNoDirectoryAndPsRemovesAnOrphan() throws {
        XCTAssertEqual(state.swctr("create", "--name", "taken", state.image("busybox"), "true").status, 0)
        // --stop-timeout is not among the options `run` parses without swift-argument-parser. A
        // foreground run records its container once its init is cloned: the clash stops the init
        // before the command runs, with or without --rm.
        for extra in [["--rm"], ["--rm", "--stop-timeout", "5"], []] {
            let clash = state.swctr(arguments: ["run"] + extra + ["--name", "taken", state.image("busybox"), "echo", "ran"])
            XCTAssertEqual(clash.status, 125)
            XCTAssertTrue(clash.stderr.contains("the container name \"taken\" is already in use"), clash.stderr)
            XCTAssertEqual(clash.stdout, "", "the command did not run")
        }
        XCTAssertEqual(state.swctr("ps", "-aq").stdout.split(separator: "\n").count, 1)
        let missing = state.swctr("run", "--rm", state.image("no-such-image"), "true")
        XCTAssertEqual(missing.status, 125, missing.stderr)
        let badFlag = state.swctr("run", "--rm", "--no-such-flag", state.image("busybox"), "true")
        XCTAssertNotEqual(badFlag.status, 0)
        XCTAssertEqual(containerDirectories().count, 1, "only the created container's directory")
        let locks = (try? FileManager.default.contentsOfDirectory(atPath: state.runtimeDir + "/swctr/containers")) ?? []
        XCTAssertEqual(locks.count, 1, "only the created container's lock file: \(locks)")

        // What a run killed between reserving and recording its container leaves.
        let orphan = String(repeating: "ab", count: 32)
        XCTAssertEqual(runScript("mkdir -p '\(state.storeRoot)/containers/\(orphan)/upper' '\(state.storeRoot)/containers/\(orphan)/work'").status, 0)
        XCTAssertEqual(state.swctr("ps", "-a").status, 0)
        XCTAssertEqual(containerDirectories().count, 1, "the orphan is gone")
        XCTAssertFalse(containerDirectories().contains(orphan))
        XCTAssertEqual(state.swctr("rm", "taken").status, 0)
    }

    /// `swctr run` begins its namespaces' holder before it has read its arguments; a container
    /// that makes or joins other namespaces ends it at once, and one that uses it ends it once it
    /// has joined them: while the container runs, its `swctr run` is the only process of that run.
    func testTheNamespacesHolderBegunAtStartDoesNotOutliveItsUse() {
        for (index, options) in ["--network none", "--network host", "--userns=keep-id", "-d"].enumerated() {
            // The name is put together by the shell, so that the script's own command line does not match.
            let result = runScript("""
                name=holder-\(index)
                $SWCTR run --rm \(options) --name $name $IMAGE sleep 30 > /dev/null &
                i=0
                until [ -n "$($SWCTR ps -q --filter name=$name --filter status=running)" ] || [ $i -ge 500 ]; do sleep 0.02; i=$((i+1)); done
                pgrep -u "$(id -u)" -c -f -- "--name $name "
                $SWCTR rm -f $name > /dev/null
                wait
                """)
            // A detached run has exited by then: its monitor alone is left of it, with another command line.
            XCTAssertEqual(result.stdout, options == "-d" ? "0\n" : "1\n", "\(options): \(result.stderr)")
        }
    }

    func testRenameAndIdPrefixes() {
        let id = runDetached("--name", "before", state.image("busybox"), "true")
        XCTAssertEqual(state.swctr("rename", "before", "after").status, 0)
        XCTAssertEqual(inspect(String(id.prefix(6)), ".Name"), "/after")
        let bad = state.swctr("rename", "after", "bad name")
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("invalid container name"), bad.stderr)
    }

    func testInspectIsDockerShaped() throws {
        let id = runDetached("--name", "shaped", "--restart", "on-failure:2", state.image("busybox"), "sh", "-c", "exit 0")
        _ = state.swctr("wait", id)
        let output = state.swctr("inspect", "shaped")
        XCTAssertEqual(output.status, 0, output.stderr)
        let documents = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [[String: Any]])
        let document = try XCTUnwrap(documents.first)
        XCTAssertEqual(document["Id"] as? String, id)
        XCTAssertEqual(document["Name"] as? String, "/shaped")
        XCTAssertEqual(document["Path"] as? String, "sh")
        let stateInfo = try XCTUnwrap(document["State"] as? [String: Any])
        XCTAssertEqual(stateInfo["Status"] as? String, "exited")
        XCTAssertEqual(stateInfo["Running"] as? Bool, false)
        XCTAssertEqual(stateInfo["ExitCode"] as? Int, 0)
        let host = try XCTUnwrap(document["HostConfig"] as? [String: Any])
        let policy = try XCTUnwrap(host["RestartPolicy"] as? [String: Any])
        XCTAssertEqual(policy["Name"] as? String, "on-failure")
        XCTAssertEqual(policy["MaximumRetryCount"] as? Int, 2)
        XCTAssertNotNil(document["Config"] as? [String: Any])
        XCTAssertNotNil(document["Mounts"] as? [Any])
        XCTAssertNotNil(document["NetworkSettings"] as? [String: Any])
    }

    func testRestartOnFailureRestartsThreeTimes() {
        let id = runDetached("--restart", "on-failure:3", state.image("busybox"), "sh", "-c", "echo attempt; exit 1")
        XCTAssertEqual(state.swctr("wait", id).stdout, "1\n", "wait returns when the monitor gives up")
        XCTAssertEqual(inspect(id, ".RestartCount"), "3")
        XCTAssertEqual(state.swctr("logs", id).stdout, String(repeating: "attempt\n", count: 4), "one run and three restarts")
    }

    func testKilledMonitorShowsTheContainerExitedAndLeavesNoOrphan() throws {
        let id = runDetached("--name", "orphan", state.image("busybox"), "sleep", "62")
        let monitors = try monitorPIDs(id)
        XCTAssertEqual(monitors.count, 1)
        kill(monitors[0], SIGKILL)
        XCTAssertTrue(eventually { self.liveProcesses(exactly: "sleep 62").isEmpty }, "the container dies with its monitor")
        let listed = state.swctr("ps", "-a", "--filter", "name=orphan")
        XCTAssertTrue(listed.stdout.contains("Exited (137)"), listed.stdout)
        XCTAssertTrue(inspect("orphan", ".State.Error").contains("monitor ended"))
        let restarted = state.swctr("start", "orphan")
        XCTAssertEqual(restarted.status, 0, restarted.stderr)
        XCTAssertEqual(inspect("orphan", ".State.Status"), "running")
    }

    func testSimulatedRebootLeavesStateRight() throws {
        let id = runDetached("--name", "survivor", state.image("busybox"), "sleep", "63")
        // A reboot: every process gone, and the runtime directory (a tmpfs) empty.
        for pid in try monitorPIDs(id) { kill(pid, SIGKILL) }
        XCTAssertTrue(eventually { self.liveProcesses(exactly: "sleep 63").isEmpty })
        _ = TestHost.execute(["/bin/rm", "-rf", state.runtimeDir + "/swctr"])
        let listed = state.swctr("ps", "-a")
        XCTAssertEqual(listed.status, 0, listed.stderr)
        XCTAssertTrue(listed.stdout.contains("Exited (137)"), listed.stdout)
        XCTAssertEqual(state.swctr("ps", "-q").stdout, "")
        XCTAssertEqual(state.swctr("start", "survivor").status, 0)
        XCTAssertEqual(state.swctr("rm", "-f", "survivor").status, 0)
    }

    func testKillNineDuringCreateStartAndRmLeavesNothingHalfDone() throws {
        // swctr killed at assorted instants of run -d, then of rm -f: afterwards every container is
        // whole (or gone), its name usable again, and removing them all leaves nothing behind.
        let script = """
            for i in $(seq 1 24); do
              timeout -s KILL 0.0$((i % 9 + 1)) "$SWCTR" run -d --name n$i "$IMAGE" sleep 64 >/dev/null 2>&1
              if [ $((i % 3)) = 0 ]; then timeout -s KILL 0.0$((i % 5 + 1)) "$SWCTR" rm -f n$i >/dev/null 2>&1; fi
            done
            """
        _ = runScript(script)
        let listed = state.swctr("ps", "-a", "--format", "json")
        XCTAssertEqual(listed.status, 0, listed.stderr)
        for line in listed.stdout.split(separator: "\n") {
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            XCTAssertTrue(["created", "running", "exited"].contains(object["State"] as? String ?? ""), "\(object)")
        }
        for index in 1...24 {
            _ = state.swctr("rm", "-f", "n\(index)")
            let created = state.swctr("create", "--name", "n\(index)", state.image("busybox"), "true")
            XCTAssertEqual(created.status, 0, "name n\(index) is usable again: \(created.stderr)")
        }
        let ids = state.swctr("ps", "-aq", "--no-trunc").stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(ids.count, 24)
        XCTAssertEqual(state.swctr(arguments: ["rm", "-f"] + ids).status, 0)
        XCTAssertEqual(containerDirectories(), [], "no container directory left")
        XCTAssertEqual(ids.flatMap { liveProcesses(containing: "__monitor \($0)") }, [], "no monitor left")
        XCTAssertEqual(liveProcesses(exactly: "sleep 64"), [], "no container process left")
        let locks = (try? FileManager.default.contentsOfDirectory(atPath: state.runtimeDir + "/swctr/containers")) ?? []
        XCTAssertEqual(locks, [], "no lock file left")
    }

    func testFiftyConcurrentDetachedRunsMixedWithPsAndRm() {
        let count = 50
        var commands = Array(repeating: state.commandLine(["run", "-d", state.image("busybox"), "sleep", "30"]), count: count)
        // Readers, a remover and a puller racing the creators.
        commands.insert(state.commandLine(["ps", "-a"]), at: 10)
        commands.insert(state.commandLine(["pull", "-q", state.image("busybox")]), at: 20)
        commands.insert(state.commandLine(["rm", "-f", "no-such-container"]), at: 30)
        commands.insert(state.commandLine(["ps", "-a", "--format", "json"]), at: 40)
        var all = TestHost.executeConcurrently(commands)
        XCTAssertEqual(all.remove(at: 40).status, 0)
        XCTAssertEqual(all.remove(at: 30).stderrLines, ["swctr: no such container: no-such-container (see swctr ps -a)"])
        XCTAssertEqual(all.remove(at: 20).status, 0)
        XCTAssertEqual(all.remove(at: 10).status, 0)
        let results: [CommandResult?] = all
        let failures = results.compactMap { $0 }.filter { $0.status != 0 }
        XCTAssertEqual(failures.count, 0, failures.map(\.stderr).joined(separator: "\n"))
        let ids = results.compactMap { $0?.stdout.trimmingCharacters(in: .whitespacesAndNewlines) }
        XCTAssertEqual(Set(ids).count, count)
        let names = state.swctr("ps", "--format", "json").stdout.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["Names"] as? String
        }
        XCTAssertEqual(names.count, count, "all running")
        XCTAssertEqual(Set(names).count, count, "names unique")
    }

    func testThousandSequentialRunsLeaveNothingBehind() throws {
        let script = """
            for i in $(seq 1 1000); do "$SWCTR" run --rm "$IMAGE" true || { echo "run $i failed"; exit 1; }; done
            """
        let result = runScript(script)
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        XCTAssertEqual(state.swctr("ps", "-aq").stdout, "")
        XCTAssertEqual(containerDirectories(), [])
        let locks = (try? FileManager.default.contentsOfDirectory(atPath: state.runtimeDir + "/swctr/containers")) ?? []
        XCTAssertEqual(locks, [])
        let mounts = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        XCTAssertFalse(mounts.contains(state.storeRoot), "no mount of the store is visible on the host")
        XCTAssertEqual(liveProcesses(containing: state.binary), [])
    }

    func testCpRoundTripsADirectoryKeepingModes() {
        _ = runDetached("--name", "files", state.image("busybox"), "sleep", "60")
        let prepared = runScript("""
            set -e
            mkdir -p "$BASE/tree/sub" && echo one > "$BASE/tree/a" && echo two > "$BASE/tree/sub/b"
            chmod 640 "$BASE/tree/a" && chmod 700 "$BASE/tree/sub" && ln -s a "$BASE/tree/link"
            "$SWCTR" cp "$BASE/tree" files:/tmp/
            "$SWCTR" exec files sh -c 'cd /tmp/tree && stat -c "%a %U %n" a sub sub/b && readlink link'
            "$SWCTR" stop -t 0 files >/dev/null
            "$SWCTR" cp files:/tmp/tree "$BASE/back"
            cd "$BASE/back" && stat -c "%a %n" a sub sub/b && cat a sub/b && readlink link
            """)
        XCTAssertEqual(prepared.status, 0, prepared.stderr)
        XCTAssertEqual(prepared.stdout.split(separator: "\n").map(String.init), [
            "640 root a", "700 root sub", "644 root sub/b", "a",
            "640 a", "700 sub", "644 sub/b", "one", "two", "a",
        ], "copied in while running (owned by root inside), out while stopped, modes kept")
    }

    func testCpOfAMissingPathIsAClearError() {
        _ = state.swctr("create", "--name", "empty", state.image("busybox"), "true")
        let result = state.swctr("cp", "empty:/no/such/file", "/tmp/never-written-\(getpid())")
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stderrLines, ["swctr: copy failed: no such file or directory in the container: /no/such/file"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/tmp/never-written-\(getpid())"))
    }

    func testCpIntoAContainerCannotEscapeThroughASymlink() {
        _ = runDetached("--name", "trap", state.image("busybox"), "sh", "-c", "ln -s / /escape && sleep 60")
        let result = runScript("""
            mkdir -p "$BASE/payload" && echo x > "$BASE/payload/planted"
            sleep 0.3; "$SWCTR" cp "$BASE/payload" trap:/escape/tmp/
            """)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/tmp/payload/planted"), "nothing lands on the host's /tmp")
        XCTAssertEqual(state.swctr("exec", "trap", "cat", "/tmp/payload/planted").stdout, "x\n", "the symlink resolved inside the container")
    }

    func testExecWithATerminalGivesAShellOfTheRightSize() {
        _ = runDetached("--name", "tty", state.image("busybox"), "sleep", "60")
        let result = runScript("""
            stty cols 101 rows 33 2>/dev/null
            script -qec 'stty cols 101 rows 33; "$SWCTR" exec -it tty sh -c "tty; stty size; echo \\$TERM"' /dev/null
            """)
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.stdout.replacingOccurrences(of: "\r", with: "").split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains { $0.contains("/dev/pts/") }, "\(lines)")
        XCTAssertTrue(lines.contains("33 101"), "\(lines)")
        XCTAssertTrue(lines.contains("xterm"), "\(lines)")
    }

    func testAttachShowsNewOutputAndSendsInput() {
        _ = runDetached("-i", "--name", "echoer", state.image("busybox"), "sh", "-c",
                        "echo ready; while read line; do echo \"got $line\"; [ \"$line\" = quit ] && exit 6; done")
        waitForLog("echoer", "ready")
        let attached = state.swctr("attach", "echoer", input: "hello\nquit\n")
        XCTAssertEqual(attached.status, 6, attached.stderr)
        XCTAssertEqual(attached.stdout, "got hello\ngot quit\n", "output from the moment of attaching, input passed on")
        XCTAssertEqual(state.swctr("attach", "echoer").stderrLines, ["swctr: container echoer is not running"])
    }

    // MARK: - Helpers

    func monitorPIDs(_ id: String) throws -> [pid_t] {
        let listing = TestHost.execute(["/bin/ps", "-u", state.user, "-o", "pid=,args="]).stdout
        return listing.split(separator: "\n").filter { $0.contains("__monitor \(id)") }.compactMap {
            pid_t($0.trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "")
        }
    }

    func waitForLog(_ container: String, _ text: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(eventually { self.state.swctr("logs", container).stdout.contains(text) }, "log shows \(text)", file: file, line: line)
    }

    /// Polls a condition (up to 10 s): for effects of processes this test does not wait on.
    func eventually(_ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }

    /// Runs a shell script as the test user with $SWCTR and $IMAGE set.
    func runScript(_ script: String) -> CommandResult {
        var line = state.commandLine(["placeholder"])
        let binaryIndex = line.count - 2
        line.replaceSubrange(binaryIndex..., with: ["SWCTR=\(state.binary)", "IMAGE=\(state.image("busybox"))", "BASE=\(state.scratch)",
                                                    "/bin/sh", "-c", script])
        return TestHost.execute(line)
    }
}
