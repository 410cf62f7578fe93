import SystemSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Work done on a thread of its own while the caller goes on (`swctr run` opens its store this way
/// while it parses its arguments).
final class BackgroundWorkTests: XCTestCase {
    private func threadCount() throws -> Int {
        try FileSystem.listDirectory("/proc/self/task").count
    }

    private func statusLine(_ name: String) throws -> String {
        let status = try FileSystem.readText("/proc/thread-self/status")
        return status.split(separator: "\n").first { $0.hasPrefix(name + ":") }.map(String.init) ?? ""
    }

    func testTheResultComesBackAndTheThreadIsGoneAfterwards() throws {
        let before = try threadCount()
        let work = BackgroundWork { () -> Int in 42 }
        XCTAssertEqual(work.wait(), 42)
        // Gone from the kernel's list too, not only joined: a fork without exec may follow.
        XCTAssertEqual(try threadCount(), before)
        XCTAssertEqual(work.wait(), 42, "a second wait gives the same result")
    }

    func testTheThreadBlocksEverySignal() throws {
        let work = BackgroundWork { () -> String in
            (try? self.statusLine("SigBlk")) ?? ""
        }
        let blocked = work.wait()
        let mask = UInt64(blocked.split(separator: "\t").last ?? "", radix: 16) ?? 0
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGWINCH, SIGUSR1, SIGPIPE] {
            XCTAssertNotEqual(mask & (1 << UInt64(signal - 1)), 0, "signal \(signal) blocked in \(blocked)")
        }
        XCTAssertNotEqual(try statusLine("SigBlk"), blocked, "the caller's own mask is unchanged")
    }

    func testTheCallerGoesOnWhileTheWorkRuns() throws {
        // The work waits for a byte that the caller writes only once `BackgroundWork` has
        // returned: work done before returning would time out.
        var ends: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&ends), 0)
        defer { close(ends[0]); close(ends[1]) }
        let readEnd = ends[0]
        let work = BackgroundWork { () -> Bool in
            var ready = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
            return poll(&ready, 1, 10_000) == 1
        }
        var byte: UInt8 = 1
        XCTAssertEqual(write(ends[1], &byte, 1), 1)
        XCTAssertTrue(work.wait(), "the work saw the caller's byte: it ran while the caller went on")
    }
}
