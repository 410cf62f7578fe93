import Registry
@testable import Runtime
import RuntimeSpec
import XCTest

final class ProcessSpecBuilderTests: XCTestCase {
    func image(entrypoint: [String]? = nil, cmd: [String]? = nil, env: [String]? = nil, workdir: String? = nil, user: String? = nil) -> ContainerConfiguration {
        var config = ContainerConfiguration()
        config.Entrypoint = entrypoint
        config.Cmd = cmd
        config.Env = env
        config.WorkingDir = workdir
        config.User = user
        return config
    }

    func build(_ config: ContainerConfiguration?, _ configure: (inout ProcessOptions) -> Void = { _ in }) throws -> ProcessSpec {
        var options = ProcessOptions()
        configure(&options)
        return try ProcessSpecBuilder.build(image: config, options: options, hostname: "h", hostEnvironment: ["HOSTVAR": "from host"])
    }

    func testCommandCombinesEntrypointAndCmdAsDockerDoes() throws {
        let config = image(entrypoint: ["/bin/sh", "-c"], cmd: ["echo hi"])
        XCTAssertEqual(try build(config).arguments, ["/bin/sh", "-c", "echo hi"])
        XCTAssertEqual(try build(config) { $0.command = ["date"] }.arguments, ["/bin/sh", "-c", "date"])
        XCTAssertEqual(try build(config) { $0.entrypoint = "/bin/ls" }.arguments, ["/bin/ls"], "a new entrypoint drops the image's Cmd")
        XCTAssertEqual(try build(config) { $0.entrypoint = ""; $0.command = ["id"] }.arguments, ["id"])
        XCTAssertThrowsError(try build(image())) { XCTAssertEqual($0 as? ProcessSpecError, .noCommand) }
    }

    func testEnvironmentLayersImageThenFlags() throws {
        let spec = try build(image(cmd: ["x"], env: ["A=1", "PATH=/bin"])) { $0.environment = ["A=2", "B=", "HOSTVAR", "UNSET"]; $0.terminal = true }
        XCTAssertEqual(spec.environment, ["A=2", "PATH=/bin", "HOSTNAME=h", "TERM=xterm", "B=", "HOSTVAR=from host"])
        XCTAssertTrue(try build(image(cmd: ["x"])).environment.contains(ProcessSpecBuilder.defaultPath))
        XCTAssertThrowsError(try build(image(cmd: ["x"])) { $0.environment = ["=x"] })
    }

    func testWorkingDirectoryAndUser() throws {
        let spec = try build(image(cmd: ["x"], workdir: "/srv", user: "nobody"))
        XCTAssertEqual(spec.workingDirectory, "/srv")
        XCTAssertEqual(spec.user, "nobody")
        let overridden = try build(image(cmd: ["x"], workdir: "/srv", user: "nobody")) { $0.workingDirectory = "/tmp"; $0.user = "0:0" }
        XCTAssertEqual(overridden.workingDirectory, "/tmp")
        XCTAssertEqual(overridden.user, "0:0")
        XCTAssertThrowsError(try build(image(cmd: ["x"])) { $0.workingDirectory = "relative" })
    }
}

final class UserResolverTests: XCTestCase {
    let passwd = "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nalice:x:1000:1000::/home/alice:/bin/sh\n"
    let group = "root:x:0:\ndaemon:x:1:\nalice:x:1000:\nwheel:x:10:alice,bob\naudio:x:29:alice\n"

    func testResolvesNamesNumbersAndGroups() throws {
        XCTAssertEqual(try UserResolver.resolve("", passwd: passwd, group: group), ResolvedUser(uid: 0, gid: 0, supplementaryGroups: [], home: "/root"))
        XCTAssertEqual(try UserResolver.resolve("alice", passwd: passwd, group: group),
                       ResolvedUser(uid: 1000, gid: 1000, supplementaryGroups: [10, 29], home: "/home/alice"))
        XCTAssertEqual(try UserResolver.resolve("1", passwd: passwd, group: group).gid, 1)
        XCTAssertEqual(try UserResolver.resolve("4242", passwd: passwd, group: group), ResolvedUser(uid: 4242, gid: 0, supplementaryGroups: [], home: "/"))
        XCTAssertEqual(try UserResolver.resolve("alice:daemon", passwd: passwd, group: group).gid, 1)
        XCTAssertEqual(try UserResolver.resolve("daemon:77", passwd: passwd, group: group).gid, 77)
        XCTAssertThrowsError(try UserResolver.resolve("mallory", passwd: passwd, group: group))
        XCTAssertThrowsError(try UserResolver.resolve("alice:nogroup", passwd: passwd, group: group))
    }
}

final class IDMapPlanTests: XCTestCase {
    func testFullSubordinateRangesAreMappedAfterTheUser() {
        let plan = IDMapPlan.forCurrentUser(subuidText: "bob:100000:65536\nalice:200000:65536\n1001:300000:1000\n", subgidText: "alice:400000:65536\n",
                                            userName: "alice", uid: 1001, gid: 1002, newuidmap: "/usr/bin/newuidmap", newgidmap: "/usr/bin/newgidmap")
        XCTAssertEqual(plan.uidMappings, [IDMapping(containerID: 0, hostID: 1001, size: 1), IDMapping(containerID: 1, hostID: 200000, size: 65536),
                                          IDMapping(containerID: 65537, hostID: 300000, size: 1000)])
        XCTAssertEqual(plan.gidMappings, [IDMapping(containerID: 0, hostID: 1002, size: 1), IDMapping(containerID: 1, hostID: 400000, size: 65536)])
        XCTAssertNil(plan.warning)
        XCTAssertFalse(plan.isSingleID)
    }

    func testFallsBackToASingleIDWithAWarning() {
        let none = IDMapPlan.forCurrentUser(subuidText: "bob:1:2\n", subgidText: nil, userName: "alice", uid: 1001, gid: 1001, newuidmap: "/x", newgidmap: "/y")
        XCTAssertTrue(none.isSingleID)
        XCTAssertTrue(none.warning?.contains("usermod --add-subuids") ?? false)
        let noTools = IDMapPlan.forCurrentUser(subuidText: "alice:1:65536\n", subgidText: "alice:1:65536\n", userName: "alice", uid: 1001, gid: 1001, newuidmap: nil, newgidmap: nil)
        XCTAssertTrue(noTools.isSingleID)
        XCTAssertTrue(noTools.warning?.contains("apt-get install uidmap") ?? false)
    }
}
