@testable import HostCheck
import XCTest

final class SubordinateIDCheckTests: XCTestCase {
    let alice = HostContext(userName: "alice", uid: 1000, gid: 1000, storeRoot: "/home/alice/.local/share/swctr")

    func testUserWithFullRangesIsOK() {
        let text = "bob:100000:65536\nalice:165536:65536\n"
        let result = SubordinateIDCheck().evaluate(subuidText: text, subgidText: text, for: alice)
        XCTAssertEqual(result.verdict, .ok)
        XCTAssertEqual(result.finding, "alice has 65536 uids (165536-231071) and 65536 gids (165536-231071)")
        XCTAssertNil(result.fix)
    }

    func testEntryByNumericUIDCounts() {
        let text = "1000:100000:65536\n"
        XCTAssertEqual(SubordinateIDCheck().evaluate(subuidText: text, subgidText: text, for: alice).verdict, .ok)
    }

    func testMissingEntryFailsWithAFreeRangeInTheFix() {
        let text = "bob:100000:65536\ncarol:165536:65536\n"
        let result = SubordinateIDCheck().evaluate(subuidText: text, subgidText: "alice:300000:65536\n" + text, for: alice)
        XCTAssertEqual(result.verdict, .failed)
        XCTAssertEqual(result.finding, "no entry for alice in /etc/subuid: containers get a single-id user namespace (only root inside)")
        XCTAssertEqual(result.fix, "sudo usermod --add-subuids 393216-458751 --add-subgids 393216-458751 alice", "the first 65536-aligned range no entry (hers in subgid included) uses")
    }

    func testSmallRangeWarns() {
        let text = "alice:100000:1000\n"
        let result = SubordinateIDCheck().evaluate(subuidText: text, subgidText: text, for: alice)
        XCTAssertEqual(result.verdict, .warning)
        XCTAssertTrue(result.finding.contains("only 1000 ids in /etc/subuid"), result.finding)
        XCTAssertEqual(result.fix, "sudo usermod --add-subuids 131072-196607 --add-subgids 131072-196607 alice")
    }

    func testRangeOverlappingAnotherUsersWarns() {
        let text = "bob:100000:65536\nalice:150000:65536\n"
        let result = SubordinateIDCheck().evaluate(subuidText: text, subgidText: text, for: alice)
        XCTAssertEqual(result.verdict, .warning)
        XCTAssertTrue(result.finding.contains("overlaps bob's 100000-165535"), result.finding)
        XCTAssertTrue(result.fix?.hasPrefix("sudo usermod --del-subuids 150000-215535 --del-subgids 150000-215535 alice && sudo usermod --add-subuids 262144-") == true, result.fix ?? "")
    }

    func testMalformedLinesAreIgnored() {
        let text = "alice\nalice:x:65536\nalice:100000:0\n:::\nalice:100000:65536:extra\n\u{0}\n"
        let result = SubordinateIDCheck().evaluate(subuidText: text, subgidText: text, for: alice)
        XCTAssertEqual(result.verdict, .failed)
        XCTAssertEqual(result.fix, "sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 alice")
    }

    func testMappedCountSumsUIDMapLines() {
        XCTAssertEqual(IDMapHelperCheck.mappedCount("         0       1001          1\n         1     200000      65536\n".split(separator: "\n").map {
            $0.split(separator: " ").joined(separator: " ") }.joined(separator: "\n")), 65537)
        XCTAssertEqual(IDMapHelperCheck.mappedCount(""), 0)
    }
}
