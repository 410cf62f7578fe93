@testable import ImageStore
import ImageReference
import Registry
import XCTest

final class LayerPathTests: XCTestCase {
    func testCleanPathsSplitIntoComponents() throws {
        XCTAssertEqual(try LayerUnpacker.components(of: "./usr/bin/env", entry: "x"), ["usr", "bin", "env"])
        XCTAssertEqual(try LayerUnpacker.components(of: "usr//lib/./x/", entry: "x"), ["usr", "lib", "x"])
        XCTAssertEqual(try LayerUnpacker.components(of: "a/b/../c", entry: "x"), ["a", "c"])
        XCTAssertEqual(try LayerUnpacker.components(of: "./", entry: "x"), [])
    }

    func testHostilePathsAreRefused() {
        for (path, expected) in [("../etc/passwd", "climbs"), ("a/../../b", "climbs"), ("/etc/passwd", "absolute"), ("./../x", "climbs")] {
            XCTAssertThrowsError(try LayerUnpacker.components(of: path, entry: path), path) { error in
                XCTAssertTrue((error as? LayerUnpackError)?.userMessage.contains(expected) ?? false, "\(path): \(error)")
            }
        }
    }
}

final class ChainIDTests: XCTestCase {
    func testChainIDsFollowTheOCIDefinition() throws {
        let a = try Digest.parse("sha256:" + String(repeating: "a", count: 64))
        let b = try Digest.parse("sha256:" + String(repeating: "b", count: 64))
        let chain = ChainID.compute([a, b])
        XCTAssertEqual(chain[0], a)
        XCTAssertEqual(chain[1], ContentHasher.digest(of: Array("\(a) \(b)".utf8)))
        XCTAssertEqual(ContentHasher.digest(of: Array("abc".utf8)).hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    func testSizesPrintLikeDocker() {
        XCTAssertEqual(ImageStore.formatSize(512), "512 B")
        XCTAssertEqual(ImageStore.formatSize(1_036_182), "1.0 MB")
        XCTAssertEqual(ImageStore.formatSize(48_707_191), "48.7 MB")
    }
}

final class PlatformTests: XCTestCase {
    func testPlatformMatching() {
        let arm = Platform(architecture: "arm64", os: "linux", variant: "v8")
        XCTAssertTrue(arm.accepts(Platform(architecture: "arm64", os: "linux")))
        XCTAssertFalse(arm.accepts(Platform(architecture: "arm64", os: "linux", variant: "v9")))
        XCTAssertFalse(Platform(architecture: "amd64", os: "linux").accepts(Platform(architecture: "amd64", os: "windows")))
    }
}

/// The decompressing layer reader, against files made by the real gzip and zstd tools.
final class LayerStreamTests: XCTestCase {
    private func compress(_ data: [UInt8], with tool: String?) throws -> String {
        let base = NSTemporaryDirectory() + "swctr-layerstream-\(UUID().uuidString)"
        try Data(data).write(to: URL(fileURLWithPath: base))
        guard let tool else { return base }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/" + tool)
        process.arguments = ["-q", base]
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        return base + (tool == "gzip" ? ".gz" : ".zst")
    }

    private func readAll(_ path: String) throws -> ([UInt8], LayerStream, Int) {
        let stream = try LayerStream(path: path)
        var result: [UInt8] = []
        while true {
            let n = stream.read()
            if n <= 0 { return (result, stream, n) }
            result.append(contentsOf: UnsafeBufferPointer(start: stream.output, count: n))
        }
    }

    func testPlainGzipAndZstdGiveTheSameBytesAndDigest() throws {
        var generator = SystemRandomNumberGenerator()
        let data = (0..<3_000_000).map { index in index % 7 == 0 ? UInt8.random(in: 0...255, using: &generator) : UInt8(index % 251) }
        let expected = ContentHasher.digest(of: data)
        for tool in [nil, "gzip", "zstd"] {
            let path = try compress(data, with: tool)
            defer { unlink(path) }
            let (bytes, stream, last) = try readAll(path)
            XCTAssertEqual(last, 0, "\(tool ?? "plain"): \(stream.failure ?? "")")
            XCTAssertEqual(bytes.count, data.count, tool ?? "plain")
            XCTAssertEqual(stream.hasher.finish(), expected, tool ?? "plain")
        }
    }

    func testTruncatedZstdIsReportedAsTruncated() throws {
        let data = [UInt8]((0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let path = try compress(data, with: "zstd")
        defer { unlink(path) }
        let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        XCTAssertEqual(truncate(path, off_t(size / 2)), 0)
        let (_, stream, last) = try readAll(path)
        XCTAssertEqual(last, -1)
        XCTAssertTrue(stream.failure?.contains("truncated") ?? false, stream.failure ?? "no failure")
    }
}
