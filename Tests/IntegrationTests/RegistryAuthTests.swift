import Foundation
import XCTest

/// Registries that want credentials (htpasswd basic auth, and Docker's token flow with a token
/// server on loopback), login/logout, credential helpers, push, and registries.conf: mirrors,
/// aliases, search registries, blocked registries. Everything against real docker-registry
/// servers that scripts/test-registry.sh runs.
final class RegistryAuthTests: SwctrTestCase {
    private var basic = ""
    private var token = ""
    private var second = ""
    private var user = ""
    private var password = ""
    private var home = ""

    override func setUpWithError() throws {
        try super.setUpWithError()
        let environment = TestHost.environment
        guard let basic = environment["SWCTR_TEST_BASIC_REGISTRY"], let token = environment["SWCTR_TEST_TOKEN_REGISTRY"],
              let second = environment["SWCTR_TEST_SECOND_REGISTRY"], let user = environment["SWCTR_TEST_REGISTRY_USER"],
              let password = environment["SWCTR_TEST_REGISTRY_PASSWORD"]
        else { throw HostNotPrepared(reason: "the auth registries are not in the env file (run scripts/setup-test-host.sh)") }
        (self.basic, self.token, self.second, self.user, self.password) = (basic, token, second, user, password)
        // A home of the test's own, so the auth files it writes touch nothing else.
        home = state.scratch + "/home"
        state.extraEnvironment = ["HOME=\(home)", "PATH=\(home)/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
        try makeDirectory(home + "/bin")
    }

    private func makeDirectory(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        giveToTestUser(path)
    }

    private func giveToTestUser(_ path: String) {
        guard TestHost.isRoot, let entry = TestHost.passwdEntry(state.user) else { return }
        var current = path
        while current.hasPrefix(home) {
            chown(current, entry.uid, entry.gid)
            current = (current as NSString).deletingLastPathComponent
        }
    }

    private func write(_ text: String, to path: String, mode: Int = 0o600) throws {
        try makeDirectory((path as NSString).deletingLastPathComponent)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, mode_t(mode))
        giveToTestUser(path)
    }

    private func dockerConfig(_ registry: String, password: String) throws {
        let auth = Data("\(user):\(password)".utf8).base64EncodedString()
        try write("{\"auths\": {\"\(registry)\": {\"auth\": \"\(auth)\"}}}", to: home + "/.docker/config.json")
    }

    // MARK: - Authentication

    func testBasicAuthPullUsesCredentialsFromDockerConfig() throws {
        try dockerConfig(basic, password: password)
        let pulled = state.swctr("pull", "-q", "\(basic)/test/busybox")
        XCTAssertEqual(pulled.status, 0, pulled.stderr)
        XCTAssertEqual(state.swctr("run", "--rm", "--network", "none", "\(basic)/test/busybox", "echo", "ok").stdout, "ok\n")
    }

    func testTokenAuthPullUsesCredentialsFromDockerConfig() throws {
        try dockerConfig(token, password: password)
        let pulled = state.swctr("pull", "-q", "\(token)/test/busybox")
        XCTAssertEqual(pulled.status, 0, pulled.stderr)
    }

    func testWithoutCredentialsTheErrorSaysToLogIn() {
        for registry in [basic, token] {
            let result = state.swctr("pull", "\(registry)/test/busybox")
            XCTAssertEqual(result.status, 1)
            XCTAssertEqual(result.stderrLines.count, 1, result.stderr)
            XCTAssertTrue(result.stderr.contains("registry \(registry) requires authentication"), result.stderr)
            XCTAssertTrue(result.stderr.contains("swctr login \(registry)"), result.stderr)
        }
        XCTAssertEqual(state.storeFiles(), [])
    }

    func testWrongCredentialsAreRefusedNamingTheRegistry() throws {
        for registry in [basic, token] {
            try dockerConfig(registry, password: "not-the-password")
            let result = state.swctr("pull", "\(registry)/test/busybox")
            XCTAssertEqual(result.status, 1)
            XCTAssertEqual(result.stderrLines.count, 1, result.stderr)
            XCTAssertTrue(result.stderr.contains("registry \(registry) rejected the credentials of \(user)"), result.stderr)
        }
        XCTAssertEqual(state.storeFiles(), [])
    }

    func testLoginChecksStoresWithMode0600AndLogoutRemoves() throws {
        let wrong = state.swctr(arguments: ["login", "-u", user, "--password-stdin", token], input: "wrong\n")
        XCTAssertEqual(wrong.status, 1)
        XCTAssertTrue(wrong.stderr.contains("rejected the credentials"), wrong.stderr)
        let authFile = state.runtimeDir + "/containers/auth.json"
        XCTAssertFalse(FileManager.default.fileExists(atPath: authFile), "nothing stored after a failed login")

        let login = state.swctr(arguments: ["login", "-u", user, "--password-stdin", token], input: password + "\n")
        XCTAssertEqual(login.status, 0, login.stderr)
        XCTAssertEqual(login.stdout, "Login Succeeded!\n")
        let attributes = try FileManager.default.attributesOfItem(atPath: authFile)
        XCTAssertEqual((attributes[.posixPermissions] as? Int), 0o600)
        XCTAssertEqual(state.swctr("login", "--get-login", token).stdout, "\(user)\n")
        XCTAssertEqual(state.swctr("pull", "-q", "\(token)/test/busybox").status, 0)

        let logout = state.swctr("logout", token)
        XCTAssertEqual(logout.status, 0, logout.stderr)
        XCTAssertEqual(logout.stdout, "Removed login credentials for \(token)\n")
        let again = state.swctr("logout", token)
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.contains("not logged in to \(token)"), again.stderr)
        XCTAssertEqual(state.swctr("pull", "\(token)/test/config").status, 1)
    }

    func testCredentialHelperIsAsked() throws {
        try write("#!/bin/sh\nread server\n[ \"$server\" = \"\(basic)\" ] || { echo 'credentials not found in native keychain'; exit 1; }\n"
                  + "printf '{\"ServerURL\":\"%s\",\"Username\":\"\(user)\",\"Secret\":\"\(password)\"}' \"$server\"\n",
                  to: home + "/bin/docker-credential-swctrtest", mode: 0o755)
        try write("{\"credHelpers\": {\"\(basic)\": \"swctrtest\"}}", to: home + "/.docker/config.json")
        let pulled = state.swctr("pull", "-q", "\(basic)/test/busybox")
        XCTAssertEqual(pulled.status, 0, pulled.stderr)
    }

    // MARK: - Push

    func testPushWithTokenAuthAndToASecondRegistryKeepsDigests() throws {
        let original = state.swctr("pull", "-q", state.image("debian"))
        XCTAssertEqual(original.status, 0, original.stderr)
        let digest = state.swctr("image", "inspect", "--format", "{{.Digest}}", state.image("debian")).stdout
        let repository = "pushed/debian-\(UUID().uuidString.prefix(8).lowercased())"

        let anonymous = state.swctr("push", state.image("debian"), "\(token)/\(repository):v1")
        XCTAssertEqual(anonymous.status, 1)
        XCTAssertTrue(anonymous.stderr.contains("requires authentication"), anonymous.stderr)
        let pushed = state.swctr("push", "--creds", "\(user):\(password)", state.image("debian"), "\(token)/\(repository):v1")
        XCTAssertEqual(pushed.status, 0, pushed.stderr)

        let toSecond = state.swctr("push", "--digestfile", state.scratch + "/digest", state.image("debian"), "\(second)/\(repository):v1")
        XCTAssertEqual(toSecond.status, 0, toSecond.stderr)
        XCTAssertEqual(try String(contentsOfFile: state.scratch + "/digest", encoding: .utf8) + "\n", digest)

        let fresh = try SwctrUser()
        defer { fresh.cleanUp() }
        let pulled = fresh.swctr("pull", "-q", "\(second)/\(repository):v1")
        XCTAssertEqual(pulled.status, 0, pulled.stderr)
        XCTAssertEqual(pulled.stdout, original.stdout, "the same image id")
        XCTAssertEqual(fresh.swctr("image", "inspect", "--format", "{{.Digest}}", "\(second)/\(repository):v1").stdout, digest)
        XCTAssertEqual(fresh.swctr("run", "--rm", "--network", "none", "\(second)/\(repository):v1", "cat", "/opt/swctr-test/keep.txt").stdout, "keep\n")
    }

    // MARK: - registries.conf

    private func registriesConf(_ text: String) throws {
        try write(text, to: home + "/.config/containers/registries.conf")
    }

    func testAMirrorThatIsDownFallsBackToTheNext() throws {
        let proxy = try FlakyProxy([], upstream: state.registry)
        // The primary is the tampered registry: were it used, the pull would fail its digest check.
        try registriesConf("""
            [[registry]]
            prefix = "mirrored.example/test"
            location = "\(TestHost.tamperedRegistry ?? "127.0.0.1:9")/test"
            [[registry.mirror]]
            location = "127.0.0.1:9/test"
            [[registry.mirror]]
            location = "\(proxy.address)/test"
            """)
        let pulled = state.swctr("pull", "mirrored.example/test/busybox")
        XCTAssertEqual(pulled.status, 0, pulled.stderr)
        XCTAssertTrue(pulled.stderr.contains("warning: 127.0.0.1:9 failed"), pulled.stderr)
        XCTAssertTrue(proxy.log.contains { $0.contains("/v2/test/busybox/manifests/latest") }, proxy.log.joined(separator: "\n"))
        XCTAssertTrue(state.swctr("images").stdout.contains("mirrored.example/test/busybox"))
        XCTAssertEqual(state.swctr("run", "--rm", "--network", "none", "mirrored.example/test/busybox", "true").status, 0)
    }

    func testShortNamesResolveThroughAliasesAndSearchRegistries() throws {
        try registriesConf("""
            unqualified-search-registries = ["127.0.0.1:9", "\(state.registry)"]
            [aliases]
            "swctrbox" = "\(state.registry)/test/busybox"
            """)
        let alias = state.swctr("pull", "-q", "swctrbox")
        XCTAssertEqual(alias.status, 0, alias.stderr)
        XCTAssertTrue(state.swctr("images").stdout.contains("\(state.registry)/test/busybox"))
        XCTAssertEqual(state.swctr("run", "--rm", "--network", "none", "swctrbox", "echo", "alias").stdout, "alias\n")

        let searched = state.swctr("pull", "test/config")
        XCTAssertEqual(searched.status, 0, searched.stderr)
        XCTAssertTrue(searched.stderr.contains("Trying to pull 127.0.0.1:9/test/config:latest"), searched.stderr)
        XCTAssertTrue(searched.stderr.contains("Trying to pull \(state.registry)/test/config:latest"), searched.stderr)
    }

    func testABlockedRegistryAndABrokenConfigurationAreClearErrors() throws {
        try registriesConf("""
            [[registry]]
            location = "\(state.registry)"
            blocked = true
            """)
        let blocked = state.swctr("pull", state.image("busybox"))
        XCTAssertEqual(blocked.status, 1)
        XCTAssertEqual(blocked.stderrLines.count, 1, blocked.stderr)
        XCTAssertTrue(blocked.stderr.contains("blocked"), blocked.stderr)

        try registriesConf("[[registry]]\nlocation \"nowhere\"\n")
        let broken = state.swctr("pull", state.image("busybox"))
        XCTAssertEqual(broken.status, 1)
        XCTAssertTrue(broken.stderr.contains("registries.conf line 2"), broken.stderr)
    }

    // MARK: - Formats

    func testZstdLayersAndPlatformVariants() {
        let zstd = state.swctr("run", "--rm", "--network", "none", state.image("zstd"), "echo", "zstd ok")
        XCTAssertEqual(zstd.status, 0, zstd.stderr)
        XCTAssertEqual(zstd.stdout, "zstd ok\n")
        for (platform, expected) in [("linux/arm/v7", "arm/v7"), ("linux/arm/v6", "arm/v6"), ("linux/arm64", "arm64/v8"), ("linux/amd64", "amd64")] {
            let pulled = state.swctr("pull", "-q", "--platform", platform, state.image("variants"))
            XCTAssertEqual(pulled.status, 0, pulled.stderr)
            let environment = state.swctr("image", "inspect", "--format", "{{.Config.Env}}", state.image("variants")).stdout
            XCTAssertTrue(environment.contains("SWCTR_TEST_ARCH=\(expected)\""), "\(platform): \(environment)")
        }
        let missing = state.swctr("pull", "--platform", "linux/s390x", state.image("variants"))
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("has no variant for linux/s390x"), missing.stderr)
    }

    func testForeignLayersAndSchema1AreRefused() {
        let foreign = state.swctr("pull", state.image("foreign"))
        XCTAssertEqual(foreign.status, 1)
        XCTAssertTrue(foreign.stderr.contains("foreign (non-distributable) layer"), foreign.stderr)
        let schema1 = state.swctr("pull", state.image("schema1"))
        XCTAssertEqual(schema1.status, 1)
        XCTAssertTrue(schema1.stderr.contains("schema 1"), schema1.stderr)
        XCTAssertEqual(state.storeFiles(), [])
    }
}
