import XCTest
@testable import Cgroups

final class ResourceLimitsTests: XCTestCase {
    func testSizesParseWithDockerUnits() {
        XCTAssertEqual(ResourceLimits.parseBytes("32m"), 32 << 20)
        XCTAssertEqual(ResourceLimits.parseBytes("1G"), 1 << 30)
        XCTAssertEqual(ResourceLimits.parseBytes("512kb"), 512 << 10)
        XCTAssertEqual(ResourceLimits.parseBytes("4096"), 4096)
        XCTAssertNil(ResourceLimits.parseBytes("-5m"))
        XCTAssertNil(ResourceLimits.parseBytes("lots"))
        XCTAssertNil(ResourceLimits.parseBytes("99999999999999999g"))
    }

    func testFlagsBecomeCgroupFileValues() throws {
        var limits = ResourceLimits()
        try limits.setMemory("32m")
        try limits.setCPUs("0.5")
        try limits.setPidsLimit("20")
        try limits.setCPUSet("0")
        let values = Dictionary(uniqueKeysWithValues: limits.fileValues.map { ($0.file, $0.value) })
        XCTAssertEqual(values["memory.max"], String(32 << 20))
        XCTAssertEqual(values["memory.swap.max"], String(32 << 20), "Docker's default: as much swap as memory")
        XCTAssertEqual(values["cpu.max"], "50000 100000")
        XCTAssertEqual(values["pids.max"], "20")
        XCTAssertEqual(values["cpuset.cpus"], "0")
        XCTAssertEqual(limits.fileValues.first?.file, "cpuset.cpus")
    }

    func testMemorySwapIsTotalAndMinusOneIsUnlimited() throws {
        var limits = ResourceLimits()
        try limits.setMemory("64m")
        try limits.setMemorySwap("96m")
        XCTAssertEqual(limits.fileValues.first { $0.file == "memory.swap.max" }?.value, String(32 << 20))
        try limits.setMemorySwap("-1")
        XCTAssertEqual(limits.fileValues.first { $0.file == "memory.swap.max" }?.value, "max")
    }

    func testCPUSharesConvertToWeight() throws {
        var limits = ResourceLimits()
        try limits.setCPUShares("1024")
        XCTAssertEqual(limits.cpuWeight, 39)
        try limits.setCPUShares("2")
        XCTAssertEqual(limits.cpuWeight, 1)
        try limits.setCPUShares("262144")
        XCTAssertEqual(limits.cpuWeight, 10000)
    }

    func testBadValuesAreRefusedWithWhatToGive() {
        var limits = ResourceLimits()
        XCTAssertThrowsError(try limits.setMemory("1k")) { XCTAssertTrue(($0 as? CgroupError)?.userMessage.contains("at least 6m") == true) }
        XCTAssertThrowsError(try limits.setCPUs("0"))
        XCTAssertThrowsError(try limits.setCPUs("1.2.3"))
        XCTAssertThrowsError(try limits.setCPUSet("0-"))
        XCTAssertThrowsError(try limits.setPidsLimit("-2"))
        XCTAssertThrowsError(try limits.setOOMScoreAdjustment("1001"))
        XCTAssertThrowsError(try limits.setCPUWeight("0"))
    }

    func testUpdateMergesOverTheOldLimits() throws {
        var old = ResourceLimits()
        try old.setMemory("64m")
        try old.setPidsLimit("10")
        var change = ResourceLimits()
        try change.setPidsLimit("30")
        let merged = old.merged(with: change)
        XCTAssertEqual(merged.memory, 64 << 20)
        XCTAssertEqual(merged.pidsLimit, 30)
    }
}

final class CgroupHostTests: XCTestCase {
    func testOwnPathComesFromTheUnifiedLine() {
        XCTAssertEqual(
            CgroupHost.parseOwnPath("12:pids:/x\n0::/user.slice/user-1000.slice/session-3.scope\n"),
            "/user.slice/user-1000.slice/session-3.scope")
        XCTAssertNil(CgroupHost.parseOwnPath("4:memory:/a\n"))
    }

    func testControllerListKeepsTheOnesWeUse() {
        XCTAssertEqual(CgroupController.parseList("cpuset cpu io memory hugetlb pids rdma\n"), [.cpuset, .cpu, .io, .memory, .pids])
    }

    func testMissingControllerSaysWhatIsDelegatedAndHowToAddIt() {
        let host = CgroupHost(
            hierarchy: .unified, ownPath: "/x", controllers: [.cpu, .memory, .pids],
            placement: .systemdScope(systemdRun: "/usr/bin/systemd-run"), delegatingCgroup: "user@1000.service")
        var limits = ResourceLimits()
        limits.cpusetCpus = "0"
        XCTAssertThrowsError(try host.check(limits)) { error in
            let message = (error as? CgroupError)?.userMessage ?? ""
            XCTAssertTrue(
                message.hasPrefix("--cpuset-cpus needs the cgroup v2 cpuset controller delegated to you; user@1000.service has only cpu memory pids"), message)
            XCTAssertTrue(message.contains("Delegate=cpu cpuset io memory pids"), message)
        }
        limits = ResourceLimits()
        limits.memory = 1 << 30
        XCTAssertNoThrow(try host.check(limits))
    }

    func testStatsParsersSumDevices() {
        XCTAssertEqual(CgroupStats.parseIOStat("8:0 rbytes=100 wbytes=20 rios=1\n8:16 rbytes=1 wbytes=2\n").0, 101)
        let netDev = """
            Inter-|   Receive                                                |  Transmit
             face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
                lo:     500       5    0    0    0     0          0         0      500       5    0    0    0     0       0          0
              tap0:    1234      10    0    0    0     0          0         0      4321      12    0    0    0     0       0          0
            """
        XCTAssertEqual(CgroupStats.parseNetDev(netDev).0, 1234)
        XCTAssertEqual(CgroupStats.parseNetDev(netDev).1, 4321)
    }
}
