import Foundation
import ImageReference
@testable import Registry
import XCTest

final class CredentialStoreTests: XCTestCase {
    private var root: TemporaryDirectory!
    private var environment: [String: String] = [:]

    override func setUpWithError() throws {
        root = try TemporaryDirectory()
        environment = [
            "HOME": root.path + "/home",
            "XDG_RUNTIME_DIR": root.path + "/run",
            "XDG_CONFIG_HOME": root.path + "/config",
            "PATH": root.path + "/bin:/usr/bin:/bin",
        ]
    }

    override func tearDown() { root = nil }

    private static func auth(_ user: String, _ password: String) -> String {
        Data((user + ":" + password).utf8).base64EncodedString()
    }

    private func authFile(_ entries: [String: String], extra: String = "") -> String {
        let body = entries.sorted { $0.key < $1.key }.map { "\"\($0.key)\": {\"auth\": \"\($0.value)\"}" }.joined(separator: ", ")
        return "{\"auths\": {\(body)}\(extra)}"
    }

    func testFilesAreSearchedInOrderAndTheFirstWithCredentialsWins() throws {
        let store = CredentialStore(environment: environment)
        XCTAssertEqual(
            store.lookupFiles, [root.path + "/run/containers/auth.json", root.path + "/config/containers/auth.json", root.path + "/home/.docker/config.json"])
        XCTAssertNil(try store.credentials(forRegistry: "quay.io"))

        try root.write("home/.docker/config.json", authFile(["quay.io": Self.auth("docker", "d"), "ghcr.io": Self.auth("docker", "g")]))
        XCTAssertEqual(try store.credentials(forRegistry: "quay.io"), RegistryCredentials(username: "docker", password: "d"))

        try root.write("config/containers/auth.json", authFile(["quay.io": Self.auth("config", "c")]))
        XCTAssertEqual(try store.credentials(forRegistry: "quay.io")?.username, "config")

        try root.write("run/containers/auth.json", authFile(["quay.io": Self.auth("runtime", "r")]))
        XCTAssertEqual(try store.credentials(forRegistry: "quay.io")?.username, "runtime")
        XCTAssertEqual(try store.credentials(forRegistry: "ghcr.io")?.username, "docker", "a file without the registry is skipped")

        var dockerConfig = environment
        dockerConfig["DOCKER_CONFIG"] = root.path + "/dockercfg"
        XCTAssertEqual(CredentialStore(environment: dockerConfig).lookupFiles.last, root.path + "/dockercfg/config.json")
    }

    func testAnExplicitFileIsTheOnlyOneRead() throws {
        try root.write("run/containers/auth.json", authFile(["quay.io": Self.auth("runtime", "r")]))
        let explicit = try root.write("explicit.json", authFile(["ghcr.io": Self.auth("explicit", "e")]))
        let store = CredentialStore(environment: environment, authFile: explicit)
        XCTAssertEqual(store.lookupFiles, [explicit])
        XCTAssertEqual(store.storeFile, explicit)
        XCTAssertNil(try store.credentials(forRegistry: "quay.io"))
        XCTAssertEqual(try store.credentials(forRegistry: "ghcr.io")?.username, "explicit")

        var withVariable = environment
        withVariable["REGISTRY_AUTH_FILE"] = explicit
        XCTAssertEqual(CredentialStore(environment: withVariable).lookupFiles, [explicit])
    }

    func testKeysAreNormalised() {
        let cases: [(String, String)] = [
            ("https://index.docker.io/v1/", "docker.io"),
            ("index.docker.io", "docker.io"),
            ("registry-1.docker.io", "docker.io"),
            ("docker.io", "docker.io"),
            ("http://localhost:5000/v2/", "localhost:5000"),
            ("https://quay.io", "quay.io"),
            ("quay.io/", "quay.io"),
            ("quay.io/org/repo", "quay.io/org/repo"),
            ("Quay.IO/org", "quay.io/org"),
        ]
        for (key, expected) in cases { XCTAssertEqual(CredentialStore.normalizedKey(key), expected, key) }
    }

    func testDockerHubMatchesItsURLKey() throws {
        try root.write("home/.docker/config.json", authFile(["https://index.docker.io/v1/": Self.auth("hub", "h")]))
        let store = CredentialStore(environment: environment)
        XCTAssertEqual(try store.credentials(for: ImageReference.parse("alpine"))?.username, "hub")
        XCTAssertEqual(try store.credentials(forRegistry: "registry-1.docker.io")?.username, "hub")
    }

    func testRepositoryScopedKeysMostSpecificFirst() throws {
        try root.write(
            "run/containers/auth.json",
            authFile([
                "quay.io": Self.auth("host", "1"),
                "quay.io/team": Self.auth("team", "2"),
                "quay.io/team/app": Self.auth("app", "3"),
            ]))
        let store = CredentialStore(environment: environment)
        XCTAssertEqual(try store.credentials(for: ImageReference.parse("quay.io/team/app:1"))?.username, "app")
        XCTAssertEqual(try store.credentials(for: ImageReference.parse("quay.io/team/other"))?.username, "team")
        XCTAssertEqual(try store.credentials(for: ImageReference.parse("quay.io/elsewhere/x"))?.username, "host")
        XCTAssertEqual(try store.credentials(forRegistry: "quay.io/team")?.username, "team")
        XCTAssertEqual(try store.credentials(forRegistry: "quay.io")?.username, "host")
    }

    func testSeparateFieldsAndIdentityToken() throws {
        try root.write(
            "run/containers/auth.json",
            """
            {"auths": {
              "a.example.com": {"username": "alice", "password": "p:w"},
              "b.example.com": {"auth": "\(Self.auth("bob", "pass:with:colons"))", "identitytoken": "refresh-token"},
              "c.example.com": {"auth": "\(Self.auth("carol", "x").replacingOccurrences(of: "=", with: ""))"},
              "empty.example.com": {}
            }}
            """)
        let store = CredentialStore(environment: environment)
        XCTAssertEqual(try store.credentials(forRegistry: "a.example.com"), RegistryCredentials(username: "alice", password: "p:w"))
        XCTAssertEqual(
            try store.credentials(forRegistry: "b.example.com"),
            RegistryCredentials(username: "bob", password: "pass:with:colons", identityToken: "refresh-token"))
        XCTAssertEqual(try store.credentials(forRegistry: "c.example.com")?.username, "carol")
        XCTAssertNil(try store.credentials(forRegistry: "empty.example.com"))
    }

    func testMalformedFilesAreErrorsNamingTheFile() throws {
        let store = CredentialStore(environment: environment)
        let path = root.path + "/run/containers/auth.json"
        for (text, fragment) in [
            ("{not json", "not valid JSON"), ("[]", "not a JSON object"), ("{\"auths\": []}", "\"auths\" is an array"),
            ("{\"auths\": {\"quay.io\": {\"auth\": \"!!!\"}}}", "not base64 of user:password"),
            ("{\"credHelpers\": {\"quay.io\": 1}}", "credHelpers[\"quay.io\"]"),
        ] {
            try root.write("run/containers/auth.json", text)
            XCTAssertThrowsError(try store.credentials(forRegistry: "quay.io"), text) { error in
                let message = (error as? CredentialError)?.userMessage ?? "\(error)"
                XCTAssertTrue(message.contains(path) && message.contains(fragment), message)
            }
        }
    }

    // MARK: Credential helpers

    private func installHelper() throws {
        try root.write(
            "bin/docker-credential-swctrtest",
            """
            #!/bin/sh
            [ "$1" = get ] || { echo "unexpected action $1" >&2; exit 2; }
            read -r server
            case "$server" in
              registry.example.com) echo '{"ServerURL":"registry.example.com","Username":"helper-user","Secret":"helper-secret"}' ;;
              https://index.docker.io/v1/) echo '{"ServerURL":"https://index.docker.io/v1/","Username":"<token>","Secret":"hub-refresh"}' ;;
              broken.example.com) echo "keyring is locked" >&2; exit 3 ;;
              *) echo "credentials not found in native keychain"; exit 1 ;;
            esac
            """, executable: true)
    }

    func testCredentialHelpersAnswerBeforeAuths() throws {
        try installHelper()
        try root.write(
            "run/containers/auth.json",
            """
            {"credHelpers": {"registry.example.com": "swctrtest", "docker.io": "swctrtest", "unknown.example.com": "swctrtest"},
             "auths": {"registry.example.com": {"auth": "\(Self.auth("file-user", "f"))"},
                       "unknown.example.com": {"auth": "\(Self.auth("fallback", "f"))"}}}
            """)
        let store = CredentialStore(environment: environment)
        XCTAssertEqual(try store.credentials(forRegistry: "registry.example.com"), RegistryCredentials(username: "helper-user", password: "helper-secret"))
        XCTAssertEqual(try store.credentials(forRegistry: "docker.io"), RegistryCredentials(username: "", password: "", identityToken: "hub-refresh"))
        XCTAssertEqual(try store.credentials(forRegistry: "unknown.example.com")?.username, "fallback", "a helper without credentials lets auths answer")
        XCTAssertNil(try store.credentials(forRegistry: "nothing.example.com"))
    }

    func testCredsStoreIsTheDefaultHelper() throws {
        try installHelper()
        try root.write("home/.docker/config.json", "{\"credsStore\": \"swctrtest\", \"auths\": {\"https://index.docker.io/v1/\": {}}}")
        let store = CredentialStore(environment: environment)
        XCTAssertEqual(try store.credentials(for: ImageReference.parse("alpine"))?.identityToken, "hub-refresh")
        XCTAssertEqual(try store.credentials(forRegistry: "registry.example.com")?.username, "helper-user")
        XCTAssertNil(try store.credentials(forRegistry: "quay.io"))
    }

    func testHelperFailuresAreClearErrors() throws {
        try installHelper()
        try root.write("run/containers/auth.json", "{\"credHelpers\": {\"broken.example.com\": \"swctrtest\", \"quay.io\": \"swctrmissing\"}}")
        let store = CredentialStore(environment: environment)
        XCTAssertThrowsError(try store.credentials(forRegistry: "broken.example.com")) { error in
            XCTAssertEqual(error as? CredentialError, .helperFailed(helper: "swctrtest", registry: "broken.example.com", reason: "keyring is locked"))
        }
        XCTAssertThrowsError(try store.credentials(forRegistry: "quay.io")) { error in
            let message = (error as? CredentialError)?.userMessage ?? "\(error)"
            XCTAssertTrue(
                message.contains("docker-credential-swctrmissing") && message.contains("not on PATH")
                    && message.contains(self.root.path + "/run/containers/auth.json"), message)
        }
    }

    // MARK: login / logout

    func testStoreKeepsOtherKeysAndEntriesWithMode0600() throws {
        try root.write(
            "run/containers/auth.json",
            """
            {"auths": {"quay.io": {"auth": "\(Self.auth("old", "o"))", "email": "kept@example.com"},
                       "https://index.docker.io/v1/": {"auth": "\(Self.auth("hub-old", "x"))"}},
             "credHelpers": {"gcr.io": "gcloud"}, "HttpHeaders": {"User-Agent": "x"}, "number": 12, "nested": [true, null, 1.5]}
            """)
        let store = CredentialStore(environment: environment)
        XCTAssertEqual(
            try store.store(RegistryCredentials(username: "new", password: "secret"), forRegistry: "localhost:5000"), root.path + "/run/containers/auth.json")
        try store.store(RegistryCredentials(username: "hub", password: "h", identityToken: "tok"), forRegistry: "https://index.docker.io/v1/")

        XCTAssertEqual(try root.permissions("run/containers/auth.json"), 0o600)
        let written = try JSONSerialization.jsonObject(with: Data(root.read("run/containers/auth.json").utf8)) as? [String: Any]
        let auths = written?["auths"] as? [String: [String: String]]
        XCTAssertEqual(Set(auths.map { Array($0.keys) } ?? []), ["quay.io", "localhost:5000", "docker.io"])
        XCTAssertEqual(auths?["quay.io"]?["email"], "kept@example.com")
        XCTAssertEqual(auths?["localhost:5000"]?["auth"], Self.auth("new", "secret"))
        XCTAssertEqual(auths?["docker.io"]?["identitytoken"], "tok")
        XCTAssertEqual(written?["credHelpers"] as? [String: String], ["gcr.io": "gcloud"])
        XCTAssertEqual(written?["HttpHeaders"] as? [String: String], ["User-Agent": "x"])
        XCTAssertEqual((written?["number"] as? NSNumber)?.intValue, 12)
        XCTAssertEqual((written?["nested"] as? [Any])?.count, 3)

        XCTAssertEqual(try store.credentials(forRegistry: "localhost:5000"), RegistryCredentials(username: "new", password: "secret"))
        XCTAssertEqual(try store.credentials(for: ImageReference.parse("alpine"))?.username, "hub")
    }

    func testStoreCreatesAPrivateDirectoryAndFile() throws {
        let store = CredentialStore(environment: environment)
        try store.store(RegistryCredentials(username: "u", password: "p"), forRegistry: "quay.io/team")
        XCTAssertEqual(try root.permissions("run/containers"), 0o700)
        XCTAssertEqual(try root.permissions("run/containers/auth.json"), 0o600)
        XCTAssertEqual(try store.credentials(for: ImageReference.parse("quay.io/team/app"))?.username, "u")
        XCTAssertNil(try store.credentials(for: ImageReference.parse("quay.io/other/app")))

        var noRuntime = environment
        noRuntime["XDG_RUNTIME_DIR"] = nil
        XCTAssertEqual(CredentialStore(environment: noRuntime).storeFile, root.path + "/config/containers/auth.json")
        XCTAssertThrowsError(try store.store(RegistryCredentials(username: "u", password: "p"), forRegistry: "bad host"))
    }

    func testRemoveOneOrAll() throws {
        try root.write(
            "run/containers/auth.json",
            """
            {"auths": {"quay.io": {"auth": "\(Self.auth("q", "q"))"}, "https://index.docker.io/v1/": {"auth": "\(Self.auth("d", "d"))"},
                       "ghcr.io": {"auth": "\(Self.auth("g", "g"))"}}, "credHelpers": {"gcr.io": "gcloud"}}
            """)
        let store = CredentialStore(environment: environment)
        XCTAssertTrue(try store.remove(forRegistry: "docker.io"))
        XCTAssertFalse(try store.remove(forRegistry: "docker.io"))
        XCTAssertFalse(try store.remove(forRegistry: "never.example.com"))
        XCTAssertNil(try store.credentials(forRegistry: "docker.io"))
        XCTAssertEqual(try store.credentials(forRegistry: "quay.io")?.username, "q")
        XCTAssertEqual(try root.permissions("run/containers/auth.json"), 0o600)

        XCTAssertEqual(try store.removeAll(), 2)
        XCTAssertNil(try store.credentials(forRegistry: "ghcr.io"))
        XCTAssertTrue(try root.read("run/containers/auth.json").contains("gcloud"))
        XCTAssertEqual(try store.removeAll(), 0)

        let empty = CredentialStore(environment: environment, authFile: root.path + "/none.json")
        XCTAssertFalse(try empty.remove(forRegistry: "quay.io"))
        XCTAssertFalse(root.exists("none.json"))
    }
}
