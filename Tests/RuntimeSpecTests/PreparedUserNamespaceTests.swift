@testable import Runtime
import SystemSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A user namespace made ahead of a container's start. The map writers here are stand-ins
/// (/bin/true, /bin/false): what is tested is the holder, the waiting and the clean-up; a real
/// mapping is tested end to end by the integration tests' `run`.
final class PreparedUserNamespaceTests: XCTestCase {
    func plan(writer: String) -> IDMapPlan {
        IDMapPlan.forCurrentUser(subuidText: "alice:200000:65536\n", subgidText: "alice:200000:65536\n",
                                 userName: "alice", uid: 1001, gid: 1001, newuidmap: writer, newgidmap: writer)
    }

    func inode(_ path: String) -> UInt {
        var info = stat()
        return stat(path, &info) == 0 ? UInt(info.st_ino) : 0
    }

    /// No child of this process is left, running or unreaped.
    func assertNoChildLeft(file: StaticString = #filePath, line: UInt = #line) {
        var status: Int32 = 0
        XCTAssertEqual(waitpid(-1, &status, WNOHANG), -1, "a child was left", file: file, line: line)
        XCTAssertEqual(errno, ECHILD, file: file, line: line)
    }

    func testOpenGivesANewUserNamespaceAndEndsTheHolder() throws {
        let prepared = try XCTUnwrap(PreparedUserNamespace.begin(idMaps: plan(writer: "/bin/true")))
        let namespace = try prepared.open()
        defer { namespace.close() }
        var info = stat()
        XCTAssertEqual(fstat(namespace.rawValue, &info), 0)
        XCTAssertNotEqual(UInt(info.st_ino), inode("/proc/self/ns/user"), "a namespace other than this process's")
        assertNoChildLeft()
    }

    func testAMapWriterThatFailsIsReportedByOpen() throws {
        let prepared = try XCTUnwrap(PreparedUserNamespace.begin(idMaps: plan(writer: "/bin/false")))
        XCTAssertThrowsError(try prepared.open()) { error in
            guard case RuntimeError.idMapping(let tool, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(tool, "/bin/false")
        }
        assertNoChildLeft()
    }

    func testAnUnusedNamespaceLeavesNoProcess() throws {
        var prepared = PreparedUserNamespace.begin(idMaps: plan(writer: "/bin/true"))
        XCTAssertNotNil(prepared)
        prepared = nil
        assertNoChildLeft()
    }
}
