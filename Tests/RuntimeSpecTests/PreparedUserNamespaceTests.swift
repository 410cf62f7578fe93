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

    /// The holder has been reaped: its pid names no process (not even a zombie) any more.
    func assertGone(_ pid: ProcessID?, file: StaticString = #filePath, line: UInt = #line) {
        guard let pid else { return XCTFail("no holder", file: file, line: line) }
        let result = kill(pid.rawValue, 0)
        let error = errno
        XCTAssertEqual(result, -1, "the holder \(pid.rawValue) is still there", file: file, line: line)
        XCTAssertEqual(error, ESRCH, file: file, line: line)
    }

    func testOpenGivesANewUserNamespaceAndEndsTheHolder() throws {
        let prepared = try XCTUnwrap(PreparedUserNamespace.begin(idMaps: plan(writer: "/bin/true")))
        let holder = prepared.holder
        let namespace = try prepared.open()
        defer { namespace.close() }
        var info = stat()
        XCTAssertEqual(fstat(namespace.user.rawValue, &info), 0)
        XCTAssertNotEqual(UInt(info.st_ino), inode("/proc/self/ns/user"), "a namespace other than this process's")
        XCTAssertNil(namespace.network, "no network namespace unless asked for")
        assertGone(holder)
    }

    func testANetworkNamespaceAskedForIsNewAndOwnedByTheUserNamespace() throws {
        let prepared = try XCTUnwrap(PreparedUserNamespace.begin(idMaps: plan(writer: "/bin/true"), network: true))
        let holder = prepared.holder
        let namespaces = try prepared.open()
        defer { namespaces.close() }
        let network = try XCTUnwrap(namespaces.network)
        var info = stat()
        XCTAssertEqual(fstat(network.rawValue, &info), 0)
        XCTAssertNotEqual(UInt(info.st_ino), inode("/proc/self/ns/net"), "a network namespace other than this process's")
        // NS_GET_USERNS: the user namespace that owns it is the one prepared with it.
        let owner = ioctl(network.rawValue, 0xb701)
        XCTAssertGreaterThanOrEqual(owner, 0)
        defer { if owner >= 0 { Glibc.close(owner) } }
        var ownerInfo = stat(), userInfo = stat()
        XCTAssertEqual(fstat(owner, &ownerInfo), 0)
        XCTAssertEqual(fstat(namespaces.user.rawValue, &userInfo), 0)
        XCTAssertEqual(ownerInfo.st_ino, userInfo.st_ino)
        assertGone(holder)
    }

    func testAMapWriterThatFailsIsReportedByOpen() throws {
        let prepared = try XCTUnwrap(PreparedUserNamespace.begin(idMaps: plan(writer: "/bin/false")))
        let holder = prepared.holder
        XCTAssertThrowsError(try prepared.open()) { error in
            guard case RuntimeError.idMapping(let tool, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(tool, "/bin/false")
        }
        assertGone(holder)
    }

    func testAnUnusedNamespaceLeavesNoProcessAndNoDescriptor() throws {
        let descriptors = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count
        for network in [false, true] {
            var prepared = PreparedUserNamespace.begin(idMaps: plan(writer: "/bin/true"), network: network)
            let holder = prepared?.holder
            XCTAssertNotNil(holder)
            prepared = nil
            assertGone(holder)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count, descriptors)
    }
}
