import Foundation
import XCTest

/// `run -it` in a real pseudo-terminal (scripts/tty-session.py holds the master side, as a
/// terminal emulator would): prompt, window size at start and on resize, Ctrl-C to the
/// container's foreground process, and the terminal's modes restored after, also when the
/// container is killed from outside.
final class TerminalTests: SwctrTestCase {
    static let driver: String = {
        var directory = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { directory.deleteLastPathComponent() }
        return directory.path + "/scripts/tty-session.py"
    }()

    override func setUpWithError() throws {
        try super.setUpWithError()
        let pulled = state.swctr("pull", "-q", state.image("busybox"))
        XCTAssertEqual(pulled.status, 0, pulled.stderr)
    }

    func observations(_ result: CommandResult) -> [String: String] {
        var values: [String: String] = [:]
        for line in result.stdout.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { values[parts[0]] = parts[1] }
        }
        return values
    }

    func testInteractiveShellSizeResizeCtrlCAndTerminalRestored() {
        let command = state.commandLine(["run", "-it", "--rm", state.image("busybox"), "sh"])
        let result = TestHost.execute(["/usr/bin/python3", Self.driver, "interactive", "--"] + command)
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        let seen = observations(result)
        XCTAssertEqual(seen["size"], "30 100", "the terminal's size at start")
        XCTAssertEqual(seen["resized"], "40 120", "SIGWINCH carried the new size")
        XCTAssertEqual(seen["ctrl-c"], "130", "Ctrl-C interrupted the container's foreground sleep")
        XCTAssertEqual(seen["exit"], "3", "the shell's exit code")
        XCTAssertEqual(seen["restored"], "yes", "the terminal is back in its own modes")
        XCTAssertEqual(state.swctr("ps", "-aq").stdout, "")
    }

    func testTerminalRestoredWhenTheContainerIsKilled() {
        let kill = state.commandLine(["kill", "victim"]).map { "'" + $0 + "'" }.joined(separator: " ")
        let command = state.commandLine(["run", "-it", "--name", "victim", state.image("busybox"), "sh"])
        let result = TestHost.execute(["/usr/bin/python3", Self.driver, "killed", kill, "--"] + command)
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        let seen = observations(result)
        XCTAssertEqual(seen["raw-while-running"], "yes", "swctr put the terminal in raw mode")
        XCTAssertEqual(seen["exit"], "137")
        XCTAssertEqual(seen["restored"], "yes")
    }
}

/// Pull progress on a terminal: live rows redrawn in place.
final class PullTerminalTests: SwctrTestCase {
    func testPullOnATerminalDrawsLiveRowsPerLayer() {
        let command = state.commandLine(["pull", state.image("debian")])
        let result = TestHost.execute(["/usr/bin/python3", TerminalTests.driver, "capture", "--"] + command)
        XCTAssertTrue(result.stdout.contains("exit=0"), result.stdout)
        XCTAssertTrue(result.stdout.contains("\\x1b[2K"), "rows are cleared and redrawn: \(result.stdout)")
        XCTAssertTrue(result.stdout.contains("Pull complete"), result.stdout)
        XCTAssertTrue(result.stdout.contains("sha256:"), result.stdout)
    }
}
