import ImageReference
import XCTest

final class ImageReferenceTests: XCTestCase {
    func testNormalisesLikeDocker() throws {
        let cases: [(String, String)] = [
            ("alpine", "docker.io/library/alpine:latest"),
            ("alpine:3.19", "docker.io/library/alpine:3.19"),
            ("library/alpine", "docker.io/library/alpine:latest"),
            ("user/app", "docker.io/user/app:latest"),
            ("docker.io/alpine", "docker.io/library/alpine:latest"),
            ("index.docker.io/library/alpine:1", "docker.io/library/alpine:1"),
            ("localhost/app", "localhost/app:latest"),
            ("localhost:5000/app:v1", "localhost:5000/app:v1"),
            ("127.0.0.1:5000/ns/sub/app", "127.0.0.1:5000/ns/sub/app:latest"),
            ("quay.io/org/app:1.2.3", "quay.io/org/app:1.2.3"),
            ("[::1]:5000/app", "[::1]:5000/app:latest"),
            ("a__b/c.d-e", "docker.io/a__b/c.d-e:latest"),
        ]
        for (input, expected) in cases {
            XCTAssertEqual(try ImageReference.parse(input).description, expected, input)
        }
    }

    func testDigestOnlyReferenceHasNoTag() throws {
        let digest = "sha256:" + String(repeating: "a", count: 64)
        let reference = try ImageReference.parse("alpine@" + digest)
        XCTAssertNil(reference.tag)
        XCTAssertEqual(reference.manifestReference, digest)
        XCTAssertEqual(reference.description, "docker.io/library/alpine@" + digest)
        let both = try ImageReference.parse("localhost:5000/app:1@" + digest)
        XCTAssertEqual(both.tag, "1")
        XCTAssertEqual(both.manifestReference, digest)
    }

    func testRegistryHostAndLoopback() throws {
        XCTAssertEqual(try ImageReference.parse("alpine").registryHost, "registry-1.docker.io")
        XCTAssertTrue(try ImageReference.parse("localhost:5000/a").isLoopback)
        XCTAssertTrue(try ImageReference.parse("127.0.0.1:5000/a").isLoopback)
        XCTAssertTrue(try ImageReference.parse("[::1]:5000/a").isLoopback)
        XCTAssertFalse(try ImageReference.parse("quay.io/a").isLoopback)
        XCTAssertEqual(try ImageReference.parse("alpine").familiarName, "alpine")
    }

    func testRejectsMalformedReferences() {
        for bad in ["", "Alpine", "a b", "alpine:", "alpine:-x", "alpine@sha256:12", "alpine@md5:" + String(repeating: "a", count: 32),
                    "a//b", "-a", "a-", "host:port/app", "ex ample.com/a", "a..b", "alpine:" + String(repeating: "t", count: 129),
                    "localhost:99999/a", "a/B"] {
            XCTAssertThrowsError(try ImageReference.parse(bad), bad)
        }
    }

    func testErrorMessagesSayWhatIsWrong() {
        XCTAssertThrowsError(try ImageReference.parse("Alpine")) { error in
            guard let error = error as? ImageReferenceError else { return XCTFail() }
            XCTAssertTrue(error.userMessage.contains("registry \"Alpine\"") || error.userMessage.contains("lowercase"), error.userMessage)
        }
        XCTAssertThrowsError(try ImageReference.parse("")) { error in
            XCTAssertTrue((error as? ImageReferenceError)?.userMessage.contains("empty") ?? false)
        }
    }
}
