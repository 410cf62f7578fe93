@testable import ImageStore
import ImageReference
import Registry
import XCTest

final class ConfigurationChangeTests: XCTestCase {
    private func applied(_ changes: String...) throws -> ContainerConfiguration {
        var configuration = ContainerConfiguration()
        for change in changes { try ConfigurationChange(parsing: change).apply(to: &configuration) }
        return configuration
    }

    func testExecAndShellFormsOfCmdAndEntrypoint() throws {
        XCTAssertEqual(try applied(#"CMD ["echo", "a b"]"#).Cmd, ["echo", "a b"])
        XCTAssertEqual(try applied("CMD echo $HOME").Cmd, ["/bin/sh", "-c", "echo $HOME"])
        XCTAssertEqual(try applied("entrypoint=/bin/app --flag").Entrypoint, ["/bin/sh", "-c", "/bin/app --flag"])
        XCTAssertEqual(try applied("ENTRYPOINT []").Entrypoint, [])
    }

    func testEnvAndLabelPairsWithQuotesAndTheOldForm() throws {
        XCTAssertEqual(try applied(#"ENV A=1 B="two words" C=x\ y"#, "ENV A=3").Env, ["B=two words", "C=x y", "A=3"])
        XCTAssertEqual(try applied("ENV NAME some value").Env, ["NAME=some value"])
        XCTAssertEqual(try applied(#"LABEL "a b"=c d='e f'"#).Labels, ["a b": "c", "d": "e f"])
    }

    func testWorkdirUserPortsVolumesAndStopSignal() throws {
        let configuration = try applied("WORKDIR /srv", "WORKDIR app", "USER 1000:1000", "EXPOSE 80 53/udp", #"VOLUME ["/data", "/logs"]"#,
                                        "VOLUME /cache", "STOPSIGNAL SIGINT")
        XCTAssertEqual(configuration.WorkingDir, "/srv/app")
        XCTAssertEqual(configuration.User, "1000:1000")
        XCTAssertEqual(Set(configuration.ExposedPorts?.keys ?? [:].keys), ["80/tcp", "53/udp"])
        XCTAssertEqual(Set(configuration.Volumes?.keys ?? [:].keys), ["/data", "/logs", "/cache"])
        XCTAssertEqual(configuration.StopSignal, "SIGINT")
    }

    func testBadChangesAreRefused() {
        for (change, phrase) in [("RUN rm -rf /", "is not an instruction"), ("CMD", "needs a command"), (#"CMD ["a", 1]"#, "array of strings"),
                                 ("EXPOSE 99999", "is not a port"), ("EXPOSE 80/icmp", "is not a port"), ("ENV A=1 B", "is not KEY=VALUE"),
                                 (#"LABEL a="b"#, "not closed"), ("USER", "needs a value"), ("CMD:x", "expected an instruction")] {
            XCTAssertThrowsError(try ConfigurationChange(parsing: change), change) { error in
                XCTAssertTrue((error as? ImageArchiveError)?.userMessage.contains(phrase) ?? false, "\(change): \(error)")
            }
        }
    }
}

final class ArchiveEntryNameTests: XCTestCase {
    func testNamesAreCleaned() throws {
        XCTAssertEqual(try ArchiveSpool.normalize("./manifest.json"), "manifest.json")
        XCTAssertEqual(try ArchiveSpool.normalize("blobs//sha256/./abc"), "blobs/sha256/abc")
    }

    func testEscapingNamesAreRefused() {
        for (name, phrase) in [("../x", "\"..\""), ("a/../../x", "\"..\""), ("a/../b", "\"..\""), ("/etc/passwd", "absolute")] {
            XCTAssertThrowsError(try ArchiveSpool.normalize(name), name) { error in
                XCTAssertTrue((error as? ImageArchiveError)?.userMessage.contains(phrase) ?? false, "\(name): \(error)")
            }
        }
    }

    func testConfigNamesClaimTheirDigest() throws {
        let hex = String(repeating: "ab", count: 32)
        XCTAssertEqual(try ImageStore.claimedDigest(ofConfigNamed: hex + ".json").hex, hex)
        XCTAssertEqual(try ImageStore.claimedDigest(ofConfigNamed: "blobs/sha256/" + hex).hex, hex)
        XCTAssertThrowsError(try ImageStore.claimedDigest(ofConfigNamed: "config.json"))
    }
}
