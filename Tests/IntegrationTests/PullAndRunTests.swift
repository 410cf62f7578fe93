import Foundation
import XCTest

/// The first vertical slice as a user sees it: pull from the loopback registry, run, exit codes.
final class PullAndRunTests: SwctrTestCase {
    func testPullPrintsTheImageIDAndImagesListsIt() {
        let pulled = state.swctr("pull", state.image("busybox"))
        XCTAssertEqual(pulled.status, 0, pulled.stderr)
        XCTAssertTrue(pulled.stdout.hasPrefix("sha256:"), pulled.stdout)
        let listed = state.swctr("images")
        XCTAssertEqual(listed.status, 0, listed.stderr)
        XCTAssertTrue(listed.stdout.contains("\(state.registry)/test/busybox"), listed.stdout)
        XCTAssertTrue(listed.stdout.contains("latest"), listed.stdout)
        XCTAssertTrue(listed.stdout.contains(String(pulled.stdout.dropFirst(7).prefix(12))), listed.stdout)
    }

    func testRunIsRootInsideWithTheWholeSubordinateRangeAndReturnsTheExitCode() throws {
        let result = state.swctr("run", "--rm", state.image("busybox"), "sh", "-c", "id; cat /proc/self/uid_map; exit 7")
        XCTAssertEqual(result.status, 7, result.stderr)
        XCTAssertTrue(result.stdout.contains("uid=0(root) gid=0(root)"), result.stdout)
        let maps = result.stdout.split(separator: "\n").dropFirst().map { $0.split(separator: " ").map(String.init) }
        guard let entry = TestHost.passwdEntry(state.user) else { return XCTFail("no test user") }
        XCTAssertEqual(maps.first, ["0", String(entry.uid), "1"], "container root is the user's own uid")
        let subuid = try String(contentsOfFile: "/etc/subuid", encoding: .utf8).split(separator: "\n")
            .map { $0.split(separator: ":").map(String.init) }
            .filter { $0.count == 3 && ($0[0] == state.user || $0[0] == String(entry.uid)) }
        XCTAssertFalse(subuid.isEmpty, "the test user has subordinate ids")
        var next = 1
        for (index, range) in subuid.enumerated() {
            XCTAssertEqual(maps.dropFirst().dropFirst(index).first, [String(next), range[1], range[2]], "range \(index) mapped whole")
            next += Int(range[2]) ?? 0
        }
    }

    func testDebianImageFilesKeepTheirOwnersInside() throws {
        try requireDebianImage()
        let result = state.swctr("run", "--rm", state.image("debian"), "stat", "-c", "%U:%G %a %n",
                                 "/opt/swctr-test/owned-daemon", "/opt/swctr-test/owned-nobody", "/etc/shadow", "/var/mail")
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout.split(separator: "\n").map(String.init), [
            "daemon:daemon 644 /opt/swctr-test/owned-daemon",
            "nobody:nogroup 640 /opt/swctr-test/owned-nobody",
            "root:shadow 640 /etc/shadow",
            "root:mail 2775 /var/mail",
        ])
    }

    func testWhiteoutsAndOpaqueDirectoriesHideLowerLayers() throws {
        try requireDebianImage()
        let result = state.swctr("run", "--rm", state.image("debian"), "sh", "-c",
                                 "ls -A /opt/swctr-test; echo --; ls -A /opt/swctr-test/opaque; echo --; ls /etc/motd || echo motd-gone")
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "keep.txt\nopaque\nowned-daemon\nowned-nobody\n--\nnew.txt\n--\nmotd-gone\n")
    }

    func testInteractiveStdinReachesTheContainer() {
        let result = state.swctr("run", "--rm", "-i", state.image("busybox"), "cat", input: "hi\n")
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "hi\n")
    }

    func testWithoutInteractiveStdinIsEmpty() {
        let result = state.swctr("run", "--rm", state.image("busybox"), "cat", input: "not for the container\n")
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "")
    }

    func testMissingCommandExits127() {
        let result = state.swctr("run", "--rm", state.image("busybox"), "no-such-command")
        XCTAssertEqual(result.status, 127)
        XCTAssertEqual(result.stderrLines.last, "swctr: cannot run \"no-such-command\": executable file not found in $PATH in the container")
    }

    func testNonExecutableFileExits126() {
        let result = state.swctr("run", "--rm", state.image("busybox"), "/etc/passwd")
        XCTAssertEqual(result.status, 126)
        XCTAssertTrue(result.stderrLines.last?.hasPrefix("swctr: cannot run \"/etc/passwd\": Permission denied") ?? false, result.stderr)
    }

    func testContainerKilledBySignalExits128PlusSignal() throws {
        _ = state.swctr("pull", "-q", state.image("busybox"))
        let process = Process()
        let command = state.commandLine(["run", "--rm", state.image("busybox"), "sh", "-c", "echo ready; exec sleep 60"])
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.standardInput = FileHandle.nullDevice
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        // The container says it is ready (its sleep is exec'd next); then kill it from outside.
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        XCTAssertEqual(String(decoding: line, as: UTF8.self), "ready\n")
        var target: pid_t?
        for _ in 0..<1000 where target == nil {  // the exec after the echo is a matter of instants
            target = descendants(of: process.processIdentifier).first { comm(of: $0) == "sleep" }
            if target == nil { sched_yield() }
        }
        guard let target else { process.terminate(); return XCTFail("the container's process never appeared") }
        XCTAssertEqual(kill(target, SIGKILL), 0)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 137)
    }

    func testImageConfigurationIsHonoured() {
        let result = state.swctr("run", "--rm", state.image("config"))
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "hello from image\n/srv/work\nnobody\n")
    }

    func testFlagsOverrideTheImageConfiguration() {
        let result = state.swctr("run", "--rm", "-e", "GREETING=from flag", "-w", "/tmp", "-u", "daemon", "--hostname", "box1",
                                 "--entrypoint", "/bin/sh", state.image("config"), "-c", "echo \"$GREETING\"; pwd; id -un; hostname")
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "from flag\n/tmp\ndaemon\nbox1\n")
    }

    func testTerminalFlagGivesTheContainerAPty() throws {
        guard TestHost.isRoot, FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else {
            throw HostNotPrepared(reason: "this test needs root and util-linux's script(1) to make a terminal")
        }
        let inner = state.commandLine(["run", "--rm", "-t", state.image("busybox"), "sh", "-c", "tty; exit 3"])
            .map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        let result = TestHost.execute(["/usr/bin/script", "-qec", inner, "/dev/null"])
        XCTAssertEqual(result.status, 3, result.stderr)
        XCTAssertTrue(result.stdout.contains("/dev/pts/0"), result.stdout)
    }

    func testMultiPlatformIndexPicksThisMachinesPlatform() {
        let result = state.swctr("run", "--rm", state.image("multi"), "sh", "-c", "echo $SWCTR_TEST_ARCH")
        XCTAssertEqual(result.status, 0, result.stderr)
        #if arch(x86_64)
        XCTAssertEqual(result.stdout, "amd64\n")
        #elseif arch(arm64)
        XCTAssertEqual(result.stdout, "arm64\n")
        #endif
    }

    func testUncompressedLayerImageRuns() {
        let result = state.swctr("run", "--rm", state.image("plain"), "echo", "plain layer")
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "plain layer\n")
    }

    func testRemovedContainerLeavesNoDirectoryMountOrProcess() throws {
        let result = state.swctr("run", "--rm", state.image("busybox"), "sh", "-c", "echo data > /root/file; sleep 0")
        XCTAssertEqual(result.status, 0, result.stderr)
        let containers = try FileManager.default.contentsOfDirectory(atPath: state.storeRoot + "/containers")
        XCTAssertEqual(containers, [])
        let mounts = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        XCTAssertFalse(mounts.contains(state.dataHome), "no mount of the store is left on the host")
        XCTAssertEqual(processes(withEnvironmentContaining: state.runtimeDir), [])
    }

    func testContainerWithoutRmKeepsItsWritableLayer() throws {
        let result = state.swctr("run", state.image("busybox"), "sh", "-c", "echo kept > /root/file")
        XCTAssertEqual(result.status, 0, result.stderr)
        let containers = try FileManager.default.contentsOfDirectory(atPath: state.storeRoot + "/containers")
        XCTAssertEqual(containers.count, 1)
        let file = state.storeRoot + "/containers/" + containers[0] + "/upper/root/file"
        XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8), "kept\n")
    }

    // MARK: - helpers

    func requireDebianImage() throws {
        if !TestHost.images.contains("test/debian") {
            throw HostNotPrepared(reason: "test/debian was not built (its first layer needs root for debootstrap): run `make test` as root")
        }
    }
}

func descendants(of pid: pid_t) -> [pid_t] {
    var result: [pid_t] = []
    var queue = [pid]
    while let next = queue.popLast() {
        guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(next)/task") else { continue }
        for task in tasks {
            let children = (try? String(contentsOfFile: "/proc/\(next)/task/\(task)/children", encoding: .utf8)) ?? ""
            for child in children.split(separator: " ").compactMap({ pid_t($0) }) {
                result.append(child)
                queue.append(child)
            }
        }
    }
    return result
}

func comm(of pid: pid_t) -> String {
    ((try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
}

/// Processes whose environment mentions `text` (how a leftover of a test's swctr state shows) and
/// that are still there after up to two seconds: swctr leaves the teardown of its address space to a
/// child that exits just after it (`ProcessExit.leavingTeardown`), which is not a leftover.
func processes(withEnvironmentContaining text: String) -> [pid_t] {
    var left = processesNow(withEnvironmentContaining: text)
    for _ in 0..<100 where !left.isEmpty {
        usleep(20_000)
        left = processesNow(withEnvironmentContaining: text)
    }
    return left
}

private func processesNow(withEnvironmentContaining text: String) -> [pid_t] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { pid_t($0) }.filter { pid in
        guard pid != getpid(), let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return false }
        return String(decoding: data, as: UTF8.self).contains(text)
    }
}
