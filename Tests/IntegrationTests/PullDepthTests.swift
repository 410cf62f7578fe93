import Foundation
import XCTest

/// A loopback proxy in front of the test registry that misbehaves on purpose
/// (scripts/flaky-proxy.py): dropped connections, 503s, hostile manifests. It logs each request.
final class FlakyProxy {
    let address: String
    let logPath: String
    private let process: Process

    init(_ arguments: [String], upstream: String) throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/flaky-proxy.py").path
        logPath = NSTemporaryDirectory() + "swctr-proxy-\(UUID().uuidString).log"
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [script, upstream, logPath] + arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let line = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let port = Int(line) else { throw HostNotPrepared(reason: "flaky-proxy.py did not start: \(line)") }
        address = "127.0.0.1:\(port)"
    }

    var log: [String] { ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init) }

    deinit {
        process.terminate()
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: logPath)
    }
}

/// Pulls as they meet real trouble: dropped connections, busy registries, concurrent pulls,
/// pulls killed part-way, hostile registries.
final class PullDepthTests: SwctrTestCase {
    func testADroppedConnectionIsResumedWithARangeRequest() throws {
        let proxy = try FlakyProxy(["--cut-after", "1000000"], upstream: state.registry)
        let pulled = state.swctr("pull", "\(proxy.address)/test/debian")
        XCTAssertEqual(pulled.status, 0, pulled.stderr)
        let ranged = proxy.log.filter { $0.contains("/blobs/") && $0.contains("bytes=1000000- 206") }
        XCTAssertFalse(ranged.isEmpty, proxy.log.joined(separator: "\n"))
        XCTAssertEqual(state.swctr("run", "--rm", "--network", "none", "\(proxy.address)/test/debian", "cat", "/opt/swctr-test/keep.txt").stdout, "keep\n")
    }

    func testABusyRegistryIsRetried() throws {
        let proxy = try FlakyProxy(["--fail-first", "1"], upstream: state.registry)
        let pulled = state.swctr("pull", "-q", "\(proxy.address)/test/busybox")
        XCTAssertEqual(pulled.status, 0, pulled.stderr)
        XCTAssertTrue(proxy.log.contains { $0.hasSuffix(" 503") }, proxy.log.joined(separator: "\n"))
    }

    func testTruncatedBlobsAreRefusedAndNothingIsKept() throws {
        let proxy = try FlakyProxy(["--short-blobs"], upstream: state.registry)
        let result = state.swctr("pull", "-q", "\(proxy.address)/test/busybox")
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stderrLines.count, 1, result.stderr)
        XCTAssertTrue(result.stderr.contains("its descriptor says"), result.stderr)
        XCTAssertTrue(result.stderr.contains("nothing was stored"), result.stderr)
        XCTAssertEqual(state.storeFiles(), [])
    }

    func testProgressIsOneLinePerStepWhenNotATerminal() {
        let pulled = state.swctr("pull", state.image("probe"))
        XCTAssertEqual(pulled.status, 0, pulled.stderr)
        XCTAssertTrue(pulled.stderr.contains("Image has 2 layers"), pulled.stderr)
        XCTAssertTrue(pulled.stderr.contains("Copying blob sha256:"), pulled.stderr)
        XCTAssertFalse(pulled.stderr.contains("\u{1B}["), "no terminal escapes in a log")
        let again = state.swctr("pull", state.image("probe"))
        XCTAssertTrue(again.stderr.contains("already exists"), again.stderr)
        XCTAssertFalse(again.stderr.contains("Copying blob"), again.stderr)
        let quiet = state.swctr("pull", "-q", state.image("probe"))
        XCTAssertEqual(quiet.stderr, "")
        XCTAssertTrue(quiet.stdout.hasPrefix("sha256:"))
    }

    func testTwoPullsOfOneImageAtOnceBothSucceedAndStoreItOnce() throws {
        let line = state.commandLine(["pull", "-q", state.image("debian")])
        let results = TestHost.executeConcurrently([line, line, line])
        for result in results { XCTAssertEqual(result.status, 0, result.stderr) }
        XCTAssertEqual(Set(results.map(\.stdout)).count, 1)
        let blobs = try FileManager.default.contentsOfDirectory(atPath: state.storeRoot + "/blobs/sha256")
        XCTAssertEqual(blobs.count, 5, "manifest, config and 3 layers, once each: \(blobs)")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: state.storeRoot + "/layers").count, 3)
        XCTAssertEqual(state.swctr("images", "-q").stdout.split(separator: "\n").count, 1)
        XCTAssertEqual(state.swctr("run", "--rm", "--network", "none", state.image("debian"), "cat", "/opt/swctr-test/keep.txt").stdout, "keep\n")
    }

    /// Every blob in the store matches its name; every listed image runs.
    private func assertStoreIsSound(_ context: String) throws {
        let blobs = state.storeRoot + "/blobs/sha256"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: blobs)) ?? [] {
            let check = TestHost.execute(["/usr/bin/sha256sum", blobs + "/" + name])
            XCTAssertTrue(check.stdout.hasPrefix(name), "\(context): blob \(name) does not match its digest")
        }
        for id in state.swctr("images", "-q").stdout.split(separator: "\n") {
            let run = state.swctr("run", "--rm", "--network", "none", String(id), "true")
            XCTAssertEqual(run.status, 0, "\(context): listed image \(id) does not run: \(run.stderr)")
        }
    }

    func testPullsKilledAtRandomPointsNeverLeaveABrokenStore() throws {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<8 {
            let delay = Double.random(in: 0.02...0.9, using: &generator)
            state.shell("\"$SWCTR\" pull -q \(state.image("debian")) >/dev/null 2>&1 & p=$!; sleep \(String(format: "%.2f", delay)); kill -9 $p; wait $p; sleep 0.2")
            try assertStoreIsSound("round \(round), killed after \(String(format: "%.2f", delay)) s")
        }
        // What the kills left (partial downloads, half-unpacked layers) goes with system prune.
        let pruned = state.swctr("system", "prune", "-f")
        XCTAssertEqual(pruned.status, 0, pruned.stderr)
        let temporary = try FileManager.default.contentsOfDirectory(atPath: state.storeRoot + "/tmp")
        XCTAssertEqual(temporary, [], "nothing left in the store's temp area")
        let unpacks = try FileManager.default.contentsOfDirectory(atPath: state.storeRoot + "/layers").filter { $0.hasPrefix(".unpack-") }
        XCTAssertEqual(unpacks, [])
        let pulled = state.swctr("pull", "-q", state.image("debian"))
        XCTAssertEqual(pulled.status, 0, pulled.stderr)
        try assertStoreIsSound("after the final pull")
        let layers = try FileManager.default.contentsOfDirectory(atPath: state.storeRoot + "/layers")
        XCTAssertEqual(layers.filter { $0.hasPrefix(".unpack-") }, [], "unpacks killed part-way are cleaned up by the next pull")
        XCTAssertEqual(state.swctr("run", "--rm", "--network", "none", state.image("debian"), "cat", "/opt/swctr-test/keep.txt").stdout, "keep\n")
    }

    private func hostileManifest(_ body: [UInt8], type: String) throws -> (CommandResult, [String]) {
        let file = NSTemporaryDirectory() + "swctr-manifest-\(UUID().uuidString)"
        try Data(body).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let proxy = try FlakyProxy(["--manifest", file, type], upstream: state.registry)
        let result = state.swctr("pull", "\(proxy.address)/test/busybox")
        return (result, state.storeFiles())
    }

    func testInvalidJSONManifestIsRefused() throws {
        let (result, files) = try hostileManifest(Array("{\"schemaVersion\": 2, \"layers\": [".utf8), type: "application/vnd.oci.image.manifest.v1+json")
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stderrLines.count, 1, result.stderr)
        XCTAssertTrue(result.stderr.contains("is not valid: not a JSON document"), result.stderr)
        XCTAssertEqual(files, [])
    }

    func testOversizedManifestIsRefused() throws {
        let (result, files) = try hostileManifest([UInt8](repeating: UInt8(ascii: " "), count: 9 << 20), type: "application/vnd.oci.image.manifest.v1+json")
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("is larger than 8388608 bytes"), result.stderr)
        XCTAssertEqual(files, [])
    }

    func testUnknownManifestMediaTypeIsRefused() throws {
        let (result, files) = try hostileManifest(Array("{\"schemaVersion\": 2, \"mediaType\": \"application/x-swctr-unknown\"}".utf8), type: "application/x-swctr-unknown")
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("media type \"application/x-swctr-unknown\", which swctr does not support"), result.stderr)
        XCTAssertEqual(files, [])
    }

    func testSchema1ManifestIsRefusedClearly() throws {
        let schema1 = "{\"schemaVersion\": 1, \"name\": \"test/busybox\", \"tag\": \"latest\", \"fsLayers\": [], \"history\": []}"
        let (result, files) = try hostileManifest(Array(schema1.utf8), type: "application/vnd.docker.distribution.manifest.v1+prettyjws")
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("schema 1"), result.stderr)
        XCTAssertEqual(files, [])
    }
}
