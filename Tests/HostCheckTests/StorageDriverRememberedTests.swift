@testable import HostCheck
import RuntimeSpec
import XCTest

final class StorageDriverRememberedTests: XCTestCase {
    func testTheProbeAnswerRoundTripsThroughItsLines() {
        let remembered = StorageDriverSelection.Remembered(
            host: "6.1.0-13-amd64 ext4",
            choice: StorageDriverChoice(driver: .fuseOverlay, reason: "probed: the kernel overlay failed (mount: EPERM); FUSE works", source: "probe"))
        XCTAssertEqual(remembered.text, """
            host 6.1.0-13-amd64 ext4
            driver fuse-overlay
            source probe
            reason probed: the kernel overlay failed (mount: EPERM); FUSE works

            """)
        XCTAssertEqual(StorageDriverSelection.Remembered(parsing: remembered.text), remembered)
    }

    func testALineBreakInTheReasonStaysOnItsLine() {
        let remembered = StorageDriverSelection.Remembered(
            host: "6.1 ext4", choice: StorageDriverChoice(driver: .copy, reason: "probed: mount failed:\nEPERM", source: "probe"))
        XCTAssertEqual(StorageDriverSelection.Remembered(parsing: remembered.text)?.choice.reason, "probed: mount failed: EPERM")
    }

    func testIncompleteOrUnknownAnswersAreProbedAgain() {
        XCTAssertNil(StorageDriverSelection.Remembered(parsing: ""))
        XCTAssertNil(StorageDriverSelection.Remembered(parsing: "host 6.1 ext4\ndriver overlay\nsource probe\n"))
        XCTAssertNil(StorageDriverSelection.Remembered(parsing: "host 6.1 ext4\ndriver zfs\nsource probe\nreason r\n"))
        // The JSON file of earlier versions is not this format: a new probe replaces it.
        XCTAssertNil(StorageDriverSelection.Remembered(parsing: #"{"choice":{"source":"probe","reason":"r","driver":"overlay"},"host":"6.1 ext4"}"#))
    }

    func testTheAnswerIsUsedOnlyForTheSameHostKey() throws {
        let store = NSTemporaryDirectory() + "swctr-remembered-\(getpid())"
        try FileManager.default.createDirectory(atPath: store, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: store) }
        let key = StorageDriverSelection.hostKey(storeRoot: store)
        let kept = StorageDriverSelection.Remembered(host: key, choice: StorageDriverChoice(driver: .copy, reason: "kept", source: "probe"))
        try kept.text.write(toFile: store + "/storage-driver", atomically: true, encoding: .utf8)
        XCTAssertEqual(StorageDriverSelection.probed(storeRoot: store), kept.choice)
    }
}
