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
