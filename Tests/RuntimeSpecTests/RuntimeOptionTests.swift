@testable import Runtime
import RuntimeSpec
import XCTest

final class RuntimeOptionTests: XCTestCase {
    func testCapabilitySetsCombineAsDockers() throws {
        XCTAssertEqual(try Capability.resolve(add: [], drop: [], privileged: false).count, 14)
        XCTAssertEqual(try Capability.resolve(add: ["chown"], drop: ["ALL"], privileged: false), ["CAP_CHOWN"])
        XCTAssertEqual(try Capability.resolve(add: ["ALL"], drop: ["sys_admin"], privileged: false).count, Capability.names.count - 1)
        XCTAssertFalse(try Capability.resolve(add: [], drop: ["CAP_NET_RAW"], privileged: false).contains("CAP_NET_RAW"))
        XCTAssertEqual(try Capability.resolve(add: [], drop: ["ALL"], privileged: true).count, Capability.names.count, "--privileged wins")
        XCTAssertThrowsError(try Capability.resolve(add: ["CAP_FLY"], drop: [], privileged: false))
    }

    func testVolumeFlagParsing() throws {
        let bind = try MountRequest.parseVolume("./data:/srv:ro,z", currentDirectory: "/home/u/project")
        XCTAssertEqual(bind.kind, .bind)
        XCTAssertEqual(bind.source, "/home/u/project/data")
        XCTAssertTrue(bind.readOnly)
        let named = try MountRequest.parseVolume("cache:/var/cache", currentDirectory: "/")
        XCTAssertEqual(named.kind, .volume)
        XCTAssertEqual(named.source, "cache")
        let anonymous = try MountRequest.parseVolume("/scratch", currentDirectory: "/")
        XCTAssertNil(anonymous.source)
        XCTAssertThrowsError(try MountRequest.parseVolume("a:b:c:d", currentDirectory: "/"))
        XCTAssertThrowsError(try MountRequest.parseVolume("name:/x/../y", currentDirectory: "/"))
        XCTAssertThrowsError(try MountRequest.parseVolume("-bad:/x", currentDirectory: "/"))
    }

    func testMountAndTmpfsFlagParsing() throws {
        let tmpfs = try MountRequest.parseMount("type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1777", currentDirectory: "/")
        XCTAssertEqual(tmpfs.tmpfsOptions, ["size=64m", "mode=1777"])
        let volume = try MountRequest.parseMount("type=volume,src=v,dst=/v,readonly,volume-nocopy", currentDirectory: "/")
        XCTAssertEqual(volume.source, "v")
        XCTAssertTrue(volume.readOnly && volume.noCopy)
        XCTAssertThrowsError(try MountRequest.parseMount("type=volume,src=v,dst=/v,readonly=maybe", currentDirectory: "/"))
        let flag = try MountRequest.parseTmpfs("/run:exec,size=1m")
        XCTAssertFalse(flag.noExec)
        XCTAssertTrue(flag.noSetuid && flag.noDevices)
        XCTAssertEqual(flag.tmpfsOptions, ["size=1m"])
    }

    func testUlimitParsing() throws {
        XCTAssertEqual(try ResourceLimit.parse("nofile=1024:2048"), ResourceLimit(name: "nofile", soft: 1024, hard: 2048))
        XCTAssertEqual(try ResourceLimit.parse("core=-1"), ResourceLimit(name: "core", soft: .max, hard: .max))
        XCTAssertThrowsError(try ResourceLimit.parse("nofile=10:5"))
        XCTAssertThrowsError(try ResourceLimit.parse("bogus=1"))
    }

    func testSeccompProfileParsingAndTheDefaultCompiles() throws {
        XCTAssertThrowsError(try SeccompProfile.parse(Array(#"{"defaultAction":"SCMP_ACT_NOPE"}"#.utf8)))
        XCTAssertThrowsError(try SeccompProfile.parse(Array(#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],"action":"SCMP_ACT_ERRNO","args":[{"index":7,"value":0,"op":"SCMP_CMP_EQ"}]}]}"#.utf8)))
        let program = try SeccompFilter.compile(DefaultSeccompProfile.profile, capabilities: Capability.defaultSet)
        XCTAssertEqual(program.count % 8, 0)
        XCTAssertGreaterThan(program.count, 8 * 100)
        let withAdmin = try SeccompFilter.compile(DefaultSeccompProfile.profile, capabilities: Capability.defaultSet + ["CAP_SYS_ADMIN"])
        XCTAssertNotEqual(program, withAdmin, "capability-conditional rules change the program")
    }

    func testKeepIDSwapsTheUsersIDWithContainerRoot() throws {
        let plan = IDMapPlan.forCurrentUser(subuidText: "alice:200000:65536\n", subgidText: "alice:300000:65536\n",
                                            userName: "alice", uid: 1001, gid: 1002, newuidmap: "/x", newgidmap: "/y")
        let keep = try plan.keepingIDs(uid: 1001, gid: 1002)
        XCTAssertEqual(keep.uidMappings, [IDMapping(containerID: 1001, hostID: 1001, size: 1), IDMapping(containerID: 1, hostID: 200000, size: 1000),
                                          IDMapping(containerID: 0, hostID: 201000, size: 1), IDMapping(containerID: 1002, hostID: 201001, size: 64535)])
        XCTAssertEqual(keep.gidMappings.first, IDMapping(containerID: 1002, hostID: 1002, size: 1))
        let single = IDMapPlan.forCurrentUser(subuidText: nil, subgidText: nil, userName: "alice", uid: 1001, gid: 1001, newuidmap: nil, newgidmap: nil)
        XCTAssertThrowsError(try single.keepingIDs(uid: 1001, gid: 1001))
    }

    /// The file the constructor of the next `swctr run` starts the helpers from (cnamespaces.h):
    /// each helper's path, then its ranges as newuidmap takes them, then what the plan was made
    /// from; a run with the same sources reads the plan back from it.
    func testTheRememberedHelpersTextNamesEachHelperAndItsRanges() throws {
        let plan = IDMapPlan.forCurrentUser(subuidText: "alice:200000:65536\nalice:400000:10\n", subgidText: "alice:300000:65536\n",
                                            userName: "alice", uid: 1001, gid: 1002, newuidmap: "/usr/bin/newuidmap", newgidmap: "/usr/bin/newgidmap")
        let text = try XCTUnwrap(plan.rememberedHelpersText(sources: "fnv1a64:0123456789abcdef"))
        XCTAssertEqual(text, "swctr id-map helpers 2\n/usr/bin/newuidmap\n0 1001 1 1 200000 65536 65537 400000 10\n/usr/bin/newgidmap\n0 1002 1 1 300000 65536\nsources fnv1a64:0123456789abcdef\n")
        XCTAssertEqual(IDMapPlan(remembered: Array(text.utf8), sources: "fnv1a64:0123456789abcdef"), plan)
        XCTAssertNil(IDMapPlan(remembered: Array(text.utf8), sources: "fnv1a64:fedcba9876543210"), "other sources: worked out anew")
        XCTAssertNil(IDMapPlan(remembered: Array(text.replacingOccurrences(of: "65537 400000 10", with: "65537 400000").utf8), sources: "fnv1a64:0123456789abcdef"))
        XCTAssertNil(IDMapPlan(remembered: Array(text.replacingOccurrences(of: "helpers 2", with: "helpers 1").utf8), sources: "fnv1a64:0123456789abcdef"))
        let single = IDMapPlan.forCurrentUser(subuidText: nil, subgidText: nil, userName: "alice", uid: 1001, gid: 1001, newuidmap: nil, newgidmap: nil)
        XCTAssertNil(single.rememberedHelpersText(sources: "fnv1a64:0123456789abcdef"), "nothing to remember when swctr writes the maps itself")
    }

    /// The sources line changes with what the plan is made from, and only with that.
    func testTheSourcesOfThePlanAreStableUntilTheirFilesChange() throws {
        let first = IDMapPlan.currentSources()
        XCTAssertTrue(first.hasPrefix("fnv1a64:") && first.utf8.count == 24, first)
        XCTAssertEqual(IDMapPlan.currentSources(), first)
    }
}
