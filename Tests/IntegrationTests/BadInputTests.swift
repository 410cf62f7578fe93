import Foundation
import XCTest

/// Each bad input: one clear line on stderr, a non-zero exit, and nothing left behind in the store
/// or on the host.
final class BadInputTests: SwctrTestCase {
    private func assertRefused(_ reference: String, saying phrase: String, file: StaticString = #filePath, line: UInt = #line) {
        let result = state.swctr("pull", reference)
        XCTAssertEqual(result.status, 1, "exit status", file: file, line: line)
        XCTAssertEqual(result.stdout, "", file: file, line: line)
        let errors = result.stderrLines.filter { $0.hasPrefix("swctr:") }
        XCTAssertEqual(errors.count, 1, result.stderr, file: file, line: line)
        XCTAssertTrue(errors.first?.contains(phrase) ?? false, "expected \"\(phrase)\" in: \(result.stderr)", file: file, line: line)
        XCTAssertEqual(state.storeFiles(), [], "the store is left as it was", file: file, line: line)
        XCTAssertEqual(processes(withEnvironmentContaining: state.runtimeDir), [], "no process is left", file: file, line: line)
    }

    func testUnknownImageIsNotFound() {
        assertRefused(state.image("no-such-image"), saying: "not found")
    }

    func testUnreachableRegistryIsNamed() {
        assertRefused("127.0.0.1:9/test/busybox", saying: "cannot reach registry 127.0.0.1:9")
    }

    func testMalformedReferenceIsRefused() {
        assertRefused("Bad_Name//x", saying: "invalid image reference")
        assertRefused(state.image("busybox") + "@sha256:1234", saying: "invalid image reference")
    }

    func testTamperedLayerBlobFailsVerification() throws {
        guard let tampered = TestHost.tamperedRegistry else { throw HostNotPrepared(reason: "no tampered registry") }
        assertRefused("\(tampered)/test/busybox", saying: "does not match its digest")
    }

    func testTamperedManifestFailsVerification() throws {
        guard let tampered = TestHost.tamperedRegistry else { throw HostNotPrepared(reason: "no tampered registry") }
        assertRefused("\(tampered)/test/plain", saying: "does not match its digest")
    }

    func testLayerClimbingOutWithDotDotIsRefused() {
        assertRefused(state.image("evil-dotdot"), saying: "climbs out of the layer")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/tmp/swctr-evil-dotdot"))
    }

    func testLayerWithAbsolutePathIsRefused() {
        assertRefused(state.image("evil-abs"), saying: "absolute path")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/tmp/swctr-evil-abs"))
    }

    func testLayerWritingThroughASymlinkIsRefused() {
        assertRefused(state.image("evil-symlink"), saying: "through a symbolic link")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/tmp/swctr-evil-symlink"))
    }

    func testLayerHardlinkingOutsideIsRefused() {
        assertRefused(state.image("evil-hardlink"), saying: "outside the layer")
    }

    func testLayerWithANameTooLongIsRefused() {
        assertRefused(state.image("evil-longname"), saying: "has a name longer than Linux allows")
    }

    func testDeviceNodesInALayerAreSkippedAsRootlessPodmanDoes() {
        // Nobody can make device nodes in a user namespace; the runtime's /dev has the real ones.
        let result = state.swctr("run", "--rm", "--network", "none", state.image("evil-device"), "sh", "-c",
                                 "cat /srv/after-devices; ls /srv")
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "unpacked past the device nodes\nafter-devices\n")
    }

    func testRunOfAnUnknownImageExits125() {
        let result = state.swctr("run", "--rm", state.image("no-such-image"), "true")
        XCTAssertEqual(result.status, 125)
        XCTAssertTrue(result.stderrLines.last?.contains("not found") ?? false, result.stderr)
        XCTAssertEqual(state.storeFiles(), [])
    }

    func testUnknownFlagIsRejected() {
        let result = state.swctr("run", "--no-such-flag", state.image("busybox"))
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("no-such-flag"), result.stderr)
    }

    func testUnknownNetworkModeIsRejectedBeforeAnythingHappens() {
        let result = state.swctr("run", "--network", "bogus", state.image("busybox"), "true")
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("unknown network mode \"bogus\""), result.stderr)
        XCTAssertEqual(state.storeFiles(), [])
    }

    /// A helper that cannot write the maps, once the container's init may already be waiting in the
    /// namespace for them (where no cgroup is made): the helper's error, status 125, no container,
    /// no process left. newuidmap without its setuid bit fails that way (root only, restored).
    func testAFailingIDMapHelperStopsTheStartAndLeavesNothing() throws {
        guard TestHost.isRoot else { throw XCTSkip("changing newuidmap's mode needs root") }
        let warm = state.swctr("run", "--rm", "--network", "none", state.image("busybox"), "true")
        XCTAssertEqual(warm.status, 0, warm.stderr)
        let helper = try XCTUnwrap(["/usr/bin/newuidmap", "/bin/newuidmap"].first { FileManager.default.fileExists(atPath: $0) })
        XCTAssertEqual(TestHost.execute(["/bin/chmod", "u-s", helper]).status, 0)
        defer { TestHost.execute(["/bin/chmod", "u+s", helper]) }
        for network in ["none", "slirp"] {
            let result = state.swctr("run", "--rm", "--network", network, state.image("busybox"), "echo", "never")
            XCTAssertEqual(result.status, 125, "\(network): \(result.stderr)")
            XCTAssertEqual(result.stdout, "", network)
            XCTAssertTrue(result.stderr.contains("cannot map the user namespace") && result.stderr.contains("newuidmap"),
                          "\(network): \(result.stderr)")
            XCTAssertEqual(state.swctr("ps", "-aq").stdout, "", "\(network): no container left")
            XCTAssertEqual(processes(withEnvironmentContaining: state.runtimeDir), [], "\(network): no process left")
            XCTAssertFalse(FileManager.default.fileExists(atPath: state.runtimeDir + "/swctr/id-map-helpers"),
                           "\(network): maps that could not be written are not remembered")
        }
    }
}
