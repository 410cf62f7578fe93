import ArgumentParser
@testable import SwctrCLI
import XCTest

/// `run`'s direct parse gives the `Run` swift-argument-parser gives, or leaves the arguments to it.
final class RunDirectParsingTests: XCTestCase {
    /// Every property, option groups included, as text: an option left unset by the direct parse
    /// shows as "*definition*", a different value as itself.
    private func described(_ run: Run) -> String { String(describing: run) }

    private func assertSameAsArgumentParser(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) {
        guard let direct = Run.parsedDirectly(["run"] + arguments) else {
            return XCTFail("not parsed directly: \(arguments)", file: file, line: line)
        }
        let parsed: Run
        do { parsed = try Run.parse(arguments) } catch {
            return XCTFail("swift-argument-parser refused \(arguments): \(error)", file: file, line: line)
        }
        XCTAssertFalse(described(direct).contains("definition"), "\(arguments): \(described(direct))", file: file, line: line)
        XCTAssertEqual(described(direct), described(parsed), "\(arguments)", file: file, line: line)
    }

    func testTheBenchmarksRunAndNoOptionsAtAll() {
        assertSameAsArgumentParser(["--rm", "--network", "none", "alpine", "true"])
        assertSameAsArgumentParser(["alpine"])
        assertSameAsArgumentParser(["alpine", "sh", "-c", "echo hi"])
    }

    func testEveryOptionByEveryNameGivesTheSameRun() {
        XCTAssertEqual(Set(DirectRunOption.all.map(\.name)).count, DirectRunOption.all.count, "each name once")
        for (name, option) in DirectRunOption.all {
            switch option {
            case .detach, .flag:
                assertSameAsArgumentParser([name, "alpine", "true"])
            case .value:
                // A value each option accepts (validate() checks some of them).
                let value: String
                switch name {
                case "--restart": value = "on-failure:3"
                case "--stop-signal": value = "SIGINT"
                case "--userns": value = "keep-id"
                case "--log-opt": value = "max-size=1m"
                case "--network", "--net": value = "none"
                default: value = "x=1"
                }
                assertSameAsArgumentParser([name, value, "alpine"])
                if name.hasPrefix("--") { assertSameAsArgumentParser([name + "=" + value, "alpine"]) }
            }
        }
    }

    func testRepeatedAndCombinedOptions() {
        assertSameAsArgumentParser(["-it", "--rm", "alpine", "sh"])
        assertSameAsArgumentParser(["-ti", "-d", "alpine", "sh"])
        assertSameAsArgumentParser(["-e", "A=1", "--env", "B=2", "--env=C", "alpine"])
        assertSameAsArgumentParser(["-v", "/a:/a", "-v", "/b:/b:ro", "-p", "8080:80", "-p", "9090:90/udp", "alpine"])
        assertSameAsArgumentParser(["--name", "first", "--name", "second", "alpine"])
        assertSameAsArgumentParser(["--rm", "--rm", "alpine"])
        assertSameAsArgumentParser(["--entrypoint", "", "alpine", "ls"])
        assertSameAsArgumentParser(["-h", "box", "-w", "/tmp", "-u", "1000:1000", "alpine", "id"])
    }

    func testTheCommandKeepsWhatLooksLikeOptions() {
        assertSameAsArgumentParser(["--rm", "alpine", "ls", "-la", "--rm", "-d"])
        assertSameAsArgumentParser(["alpine", "sh", "-c", "exit 3"])
    }

    func testWhatItDoesNotCoverIsLeftToArgumentParser() {
        for arguments in [
            ["run"], ["run", "--rm"], ["ps"], ["run", "--help"], ["run", "--memory", "64m", "alpine"],
            ["run", "--name", "--rm", "alpine"], ["run", "-eA=1", "alpine"], ["run", "-ie", "A=1", "alpine"],
            ["run", "--rm=true", "alpine"], ["run", "--", "alpine"], ["run", "alpine", "--", "ls"],
            ["run", "--tls-verify=false", "alpine"], ["run", "--stop-timeout", "3", "alpine"], ["run", "-x", "alpine"],
            ["run", "--restart", "sometimes", "alpine"], ["run", "-d", "--rm", "--restart", "always", "alpine"],
            ["run", "--name"], ["run", "-", "alpine"],
        ] {
            XCTAssertNil(Run.parsedDirectly(arguments), "\(arguments)")
        }
    }
}
