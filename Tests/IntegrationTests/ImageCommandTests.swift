import Foundation
import XCTest

/// images, tag, rmi, history, image inspect, image prune: what a user sees.
final class ImageCommandTests: SwctrTestCase {
    private func pull(_ name: String) -> String {
        let pulled = state.swctr("pull", "-q", state.image(name))
        XCTAssertEqual(pulled.status, 0, pulled.stderr)
        return pulled.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func testTagAddsANameAndRmiOfOneNameOnlyUntags() {
        let id = pull("busybox")
        XCTAssertEqual(state.swctr("tag", state.image("busybox"), "mine/box:1").status, 0)
        let listed = state.swctr("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
        XCTAssertTrue(listed.stdout.contains("docker.io/mine/box:1 \(id.dropFirst(7).prefix(12))"), listed.stdout)
        let untagged = state.swctr("rmi", "mine/box:1")
        XCTAssertEqual(untagged.status, 0, untagged.stderr)
        XCTAssertEqual(untagged.stdout, "Untagged: docker.io/mine/box:1\n")
        XCTAssertEqual(state.swctr("run", "--rm", "--network", "none", state.image("busybox"), "true").status, 0)
    }

    func testRmiRemovesTheImageAndItsFilesButKeepsSharedLayers() {
        _ = pull("busybox")
        let config = pull("config")  // shares the busybox layer
        let removed = state.swctr("rmi", state.image("config"))
        XCTAssertEqual(removed.status, 0, removed.stderr)
        XCTAssertTrue(removed.stdout.contains("Deleted: \(config)"), removed.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: state.storeRoot + "/blobs/sha256/" + config.dropFirst(7)))
        XCTAssertEqual(state.swctr("run", "--rm", "--network", "none", state.image("busybox"), "true").status, 0)
        XCTAssertEqual(state.swctr("rmi", state.image("busybox")).status, 0)
        // What is left is no image's: the seccomp programs and the containers' mount-point layer.
        XCTAssertEqual(state.storeFiles().filter { !$0.hasPrefix("containers") && !$0.hasPrefix("seccomp") && !$0.hasPrefix("mount-points") },
                       ["images.json"])
    }

    func testRmiRefusesAnImageAContainerUsesUnlessForced() {
        _ = pull("busybox")
        XCTAssertEqual(state.swctr("create", "--name", "user-of-image", state.image("busybox"), "true").status, 0)
        let refused = state.swctr("rmi", state.image("busybox"))
        XCTAssertEqual(refused.status, 1)
        XCTAssertEqual(refused.stderrLines.count, 1, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("is used by a container"), refused.stderr)
        XCTAssertTrue(state.swctr("images", "-q").stdout.count > 0)
        let forced = state.swctr("rmi", "-f", state.image("busybox"))
        XCTAssertEqual(forced.status, 0, forced.stderr)
        XCTAssertEqual(state.swctr("ps", "-aq").stdout, "")
        XCTAssertEqual(state.swctr("images", "-q").stdout, "")
    }

    func testRmiOfAnUnknownImageSaysSo() {
        let result = state.swctr("rmi", "no-such-image")
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("no-such-image is not in the local store"), result.stderr)
    }

    func testImagesJSONAndDigests() throws {
        let id = pull("busybox")
        let json = state.swctr("images", "--format", "json")
        XCTAssertEqual(json.status, 0, json.stderr)
        let entries = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(entries.first?["Id"] as? String, String(id.dropFirst(7)))
        XCTAssertEqual(entries.first?["RepoTags"] as? [String], ["\(state.image("busybox")):latest"])
        let digests = state.swctr("images", "--digests")
        XCTAssertTrue(digests.stdout.contains("DIGEST") && digests.stdout.contains("sha256:"), digests.stdout)
    }

    func testInspectAndHistoryOfAnImage() throws {
        let id = pull("config")
        let inspected = state.swctr("image", "inspect", state.image("config"))
        XCTAssertEqual(inspected.status, 0, inspected.stderr)
        let documents = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(inspected.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(documents.first?["Id"] as? String, id)
        XCTAssertEqual((documents.first?["Config"] as? [String: Any])?["WorkingDir"] as? String, "/srv/work")
        XCTAssertEqual(state.swctr("inspect", "--format", "{{.Config.User}}", state.image("config")).stdout, "nobody\n")
        let history = state.swctr("history", state.image("config"))
        XCTAssertEqual(history.status, 0, history.stderr)
        XCTAssertTrue(history.stdout.hasPrefix("IMAGE"), history.stdout)
        XCTAssertTrue(history.stdout.contains("srv/work/marker"), history.stdout)
    }

    func testImagePruneRemovesOnlyUnusedImages() {
        _ = pull("busybox")
        _ = pull("config")
        XCTAssertEqual(state.swctr("create", state.image("config"), "true").status, 0)
        XCTAssertEqual(state.swctr("image", "prune").stdout, "", "nothing is dangling")
        let pruned = state.swctr("image", "prune", "-a")
        XCTAssertEqual(pruned.status, 0, pruned.stderr)
        let left = state.swctr("images", "--format", "{{.Repository}}").stdout
        XCTAssertEqual(left, "\(state.image("config"))\n")
    }

    func testSaveThenRmiThenLoadGivesTheSameImage() {
        let id = pull("debian")
        let archive = state.scratch + "/debian.tar"
        XCTAssertEqual(state.swctr("save", "-o", archive, state.image("debian")).status, 0)
        XCTAssertEqual(state.swctr("rmi", state.image("debian")).status, 0)
        XCTAssertEqual(state.swctr("images", "-q").stdout, "")
        let loaded = state.swctr("load", "-i", archive)
        XCTAssertEqual(loaded.status, 0, loaded.stderr)
        XCTAssertEqual(loaded.stdout, "Loaded image: \(state.image("debian")):latest\n")
        XCTAssertEqual(state.swctr("image", "inspect", "--format", "{{.Id}}", state.image("debian")).stdout, id + "\n")
        XCTAssertEqual(state.swctr("run", "--rm", "--network", "none", state.image("debian"), "cat", "/opt/swctr-test/keep.txt").stdout, "keep\n")
    }
}
