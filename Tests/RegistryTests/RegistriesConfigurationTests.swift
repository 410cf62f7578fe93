import ImageReference
@testable import Registry
import XCTest

final class RegistriesConfigurationTests: XCTestCase {
    private func configuration(_ text: String) throws -> RegistriesConfiguration {
        try RegistriesConfiguration.parse(text, path: "/test/registries.conf")
    }

    private func endpoints(_ image: String, _ configuration: RegistriesConfiguration) throws -> [String] {
        try configuration.endpoints(for: ImageReference.parse(image)).map {
            "\($0.host) \($0.repository)\($0.isInsecure ? " insecure" : "")\($0.isMirror ? " mirror" : "")"
        }
    }

    func testMirrorsComeFirstThenTheRewrittenLocation() throws {
        let config = try configuration(
            """
            unqualified-search-registries = ["example.com"]

            [[registry]]
            prefix = "example.com/foo"
            insecure = false
            blocked = false
            location = "internal-registry-for-example.com/bar"

            [[registry.mirror]]
            location = "example-mirror-0.local/mirror-for-foo"

            [[registry.mirror]]
            location = "example-mirror-1.local:5000/mirrors/foo"
            insecure = true
            """)
        XCTAssertEqual(
            try endpoints("example.com/foo/image:latest", config),
            [
                "example-mirror-0.local mirror-for-foo/image mirror",
                "example-mirror-1.local:5000 mirrors/foo/image insecure mirror",
                "internal-registry-for-example.com bar/image",
            ])
        let primary = try config.endpoints(for: ImageReference.parse("example.com/foo/image:1.0")).last!
        XCTAssertEqual(primary.reference.description, "internal-registry-for-example.com/bar/image:1.0")
    }

    func testPrefixMatchesWholePathComponentsAndTheLongestWins() throws {
        let config = try configuration(
            """
            [[registry]]
            location = "example.com"
            insecure = true
            [[registry]]
            prefix = "example.com/team"
            location = "team-registry.example.net/t"
            [[registry]]
            prefix = "example.com/team/special"
            location = "special.example.net"
            """)
        XCTAssertEqual(try endpoints("example.com/team/app", config), ["team-registry.example.net t/app"])
        XCTAssertEqual(try endpoints("example.com/teamwork/app", config), ["example.com teamwork/app insecure"])
        XCTAssertThrowsError(try endpoints("example.com/team/special", config)) { error in
            let message = (error as? RegistryConfigurationError)?.userMessage ?? "\(error)"
            XCTAssertTrue(message.contains("names no repository"), message)
        }
        XCTAssertEqual(try endpoints("example.com/team/special/x", config), ["special.example.net x"])
        XCTAssertEqual(try endpoints("other.example.com/app", config), ["other.example.com app"])
    }

    func testDockerHubMirrorAndHost() throws {
        let config = try configuration(
            """
            [[registry]]
            prefix = "docker.io"
            location = "docker.io"
            [[registry.mirror]]
            location = "mirror.gcr.io"
            """)
        XCTAssertEqual(try endpoints("alpine", config), ["mirror.gcr.io library/alpine mirror", "registry-1.docker.io library/alpine"])
        let unmatched = try configuration("").endpoints(for: ImageReference.parse("quay.io/org/app:1"))
        XCTAssertEqual(unmatched, [RegistryEndpoint(reference: try ImageReference.parse("quay.io/org/app:1"), isInsecure: false, isMirror: false)])
    }

    func testBlockedRegistryIsAnErrorNamingTheFileAndLine() throws {
        let config = try configuration("\n[[registry]]\nlocation = \"bad.example.com\"\nblocked = true\n[[registry.mirror]]\nlocation = \"m.example.com\"\n")
        XCTAssertThrowsError(try config.endpoints(for: ImageReference.parse("bad.example.com/app"))) { error in
            guard let error = error as? RegistryConfigurationError, case .blocked = error else { return XCTFail("\(error)") }
            XCTAssertTrue(error.userMessage.contains("bad.example.com/app:latest is blocked"), error.userMessage)
            XCTAssertTrue(error.userMessage.contains("/test/registries.conf line 2"), error.userMessage)
        }
        XCTAssertNoThrow(try config.endpoints(for: ImageReference.parse("good.example.com/app")))
    }

    func testMirrorsByDigestOnlyAndPullFromMirror() throws {
        let digest = "@sha256:" + String(repeating: "a", count: 64)
        let config = try configuration(
            """
            [[registry]]
            location = "a.example.com"
            mirror-by-digest-only = true
            [[registry.mirror]]
            location = "ma.example.com"

            [[registry]]
            location = "b.example.com"
            [[registry.mirror]]
            location = "digests.example.com"
            pull-from-mirror = "digest-only"
            [[registry.mirror]]
            location = "tags.example.com"
            pull-from-mirror = "tag-only"
            """)
        XCTAssertEqual(try endpoints("a.example.com/app:1", config), ["a.example.com app"])
        XCTAssertEqual(try endpoints("a.example.com/app" + digest, config), ["ma.example.com app mirror", "a.example.com app"])
        XCTAssertEqual(try endpoints("b.example.com/app:1", config), ["tags.example.com app mirror", "b.example.com app"])
        XCTAssertEqual(try endpoints("b.example.com/app" + digest, config), ["digests.example.com app mirror", "b.example.com app"])
    }

    func testWildcardPrefixMatchesSubdomains() throws {
        let config = try configuration(
            """
            [[registry]]
            prefix = "*.internal.example"
            insecure = true
            [[registry]]
            prefix = "*.mirrored.example"
            location = "cache.example.com/proxy"
            """)
        XCTAssertEqual(try endpoints("a.internal.example/app", config), ["a.internal.example app insecure"])
        XCTAssertEqual(try endpoints("internal.example/app", config), ["internal.example app"])
        XCTAssertEqual(try endpoints("x.mirrored.example/ns/app", config), ["cache.example.com proxy/ns/app"])
    }

    func testInsecureHosts() throws {
        let config = try configuration(
            """
            [[registry]]
            location = "plain.example.com:5000"
            insecure = true
            [[registry]]
            prefix = "secure.example.com"
            location = "secure.example.com"
            [[registry.mirror]]
            location = "lab-mirror.local/cache"
            insecure = true
            """)
        XCTAssertTrue(config.isInsecure(host: "plain.example.com:5000"))
        XCTAssertFalse(config.isInsecure(host: "plain.example.com"))
        XCTAssertFalse(config.isInsecure(host: "secure.example.com"))
        XCTAssertTrue(config.isInsecure(host: "lab-mirror.local"))
        XCTAssertFalse(config.isInsecure(host: "quay.io"))
    }

    func testAliasesWinOverSearchRegistries() throws {
        let config = try configuration(
            """
            unqualified-search-registries = ["registry.fedoraproject.org", "quay.io", "docker.io"]
            short-name-mode = "permissive"
            [aliases]
            "app" = "quay.io/team/app"
            "tools/kit" = "registry.example.com:5000/kit"
            """)
        XCTAssertEqual(config.shortNameMode, .permissive)
        XCTAssertEqual(try config.candidates(forShortName: "app").map(\.description), ["quay.io/team/app:latest"])
        XCTAssertEqual(try config.candidates(forShortName: "app:2").map(\.description), ["quay.io/team/app:2"])
        let digest = "sha256:" + String(repeating: "b", count: 64)
        XCTAssertEqual(try config.candidates(forShortName: "app@" + digest).map(\.description), ["quay.io/team/app@" + digest])
        XCTAssertEqual(try config.candidates(forShortName: "tools/kit:1").map(\.description), ["registry.example.com:5000/kit:1"])
        XCTAssertEqual(
            try config.candidates(forShortName: "busybox:1.36").map(\.description),
            ["registry.fedoraproject.org/busybox:1.36", "quay.io/busybox:1.36", "docker.io/library/busybox:1.36"])
        XCTAssertEqual(try config.candidates(forShortName: "quay.io/other/app").map(\.description), ["quay.io/other/app:latest"])
        XCTAssertEqual(try config.candidates(forShortName: "localhost/app").map(\.description), ["localhost/app:latest"])
        XCTAssertThrowsError(try config.candidates(forShortName: "Bad Name"))
    }

    func testShortNamesDefaultToDockerHub() throws {
        XCTAssertEqual(try RegistriesConfiguration().candidates(forShortName: "alpine").map(\.description), ["docker.io/library/alpine:latest"])
        let emptyList = try configuration("unqualified-search-registries = []")
        XCTAssertEqual(try emptyList.candidates(forShortName: "user/app:1").map(\.description), ["docker.io/user/app:1"])
    }

    func testShortNameRule() {
        for short in ["alpine", "alpine:3", "user/app", "library/alpine:1", "localhost", "localhost:5000", "app@sha256:00"] {
            XCTAssertTrue(ImageReference.isShortName(short), short)
        }
        for qualified in ["quay.io/app", "localhost/app", "localhost:5000/app", "host:5000/a/b", "[::1]:5000/app"] {
            XCTAssertFalse(ImageReference.isShortName(qualified), qualified)
        }
    }

    func testInvalidValuesNameTheFileAndLine() {
        let cases: [(String, String)] = [
            (
                "\n[[registry]]\nlocation = \"https://example.com\"",
                "/test/registries.conf line 3: location \"https://example.com\" must not include a URL scheme"
            ),
            ("[[registry]]\nlocation = \"example.com\"\ninsecure = \"yes\"", "/test/registries.conf line 3: \"insecure\" must be true or false, not a string"),
            ("short-name-mode = \"strict\"", "line 1: short-name-mode \"strict\" is not one of"),
            ("[[registry]]\ninsecure = true", "line 1: [[registry]] needs a location or a prefix"),
            ("[[registry]]\nlocation = \"nodots/path\"", "is not host[:port][/path]"),
            ("[[registry]]\nprefix = \"*.example.com/x\"", "wildcard prefix"),
            (
                "[[registry]]\nlocation = \"a.example.com\"\n[[registry]]\nlocation = \"a.example.com\"",
                "line 3: a [[registry]] for prefix \"a.example.com\" is already defined at /test/registries.conf line 1"
            ),
            ("[[registry]]\nlocation = \"a.example.com\"\n[[registry.mirror]]\ninsecure = true", "line 3: [[registry.mirror]] needs a location"),
            ("[aliases]\n\"quay.io/app\" = \"quay.io/app\"", "must be a short name"),
            ("[aliases]\napp = \"app\"", "must name a registry"),
            ("[aliases]\napp = \"quay.io/app:1\"", "without a tag"),
            ("unqualified-search-registries = [\"quay.io\", 1]", "must be an array of strings"),
            ("unqualified-search-registries = [\"myhost\"]", "is not a registry host"),
            ("registry = \"x\"", "must be [[registry]] tables"),
            ("[registries.search]\nregistries = []\n[[registry]]\nlocation = \"a.b\"", "v1"),
            ("[[registry]]\nlocation = \"example.com\"\nlocation = \"other.com\"", "line 3: key \"location\" is set twice"),
        ]
        for (text, fragment) in cases {
            XCTAssertThrowsError(try configuration(text), text) { error in
                guard let error = error as? RegistryConfigurationError else { return XCTFail("\(error)") }
                XCTAssertTrue(error.userMessage.contains(fragment), "\(text): \(error.userMessage)")
            }
        }
    }

    func testVersion1FormatIsConverted() throws {
        let config = try configuration(
            """
            [registries.search]
            registries = ['registry1.com', 'registry2.com']
            [registries.insecure]
            registries = ['registry3.com']
            [registries.block]
            registries = ['registry.untrusted.com']
            """)
        XCTAssertEqual(config.unqualifiedSearchRegistries, ["registry1.com", "registry2.com"])
        XCTAssertTrue(config.isInsecure(host: "registry3.com"))
        XCTAssertThrowsError(try config.endpoints(for: ImageReference.parse("registry.untrusted.com/x")))
    }
}

final class RegistriesConfigurationFileTests: XCTestCase {
    func testDropInsMergeInNameOrder() throws {
        let home = try TemporaryDirectory()
        try home.write(
            "config/containers/registries.conf",
            """
            unqualified-search-registries = ["quay.io"]
            short-name-mode = "enforcing"
            [[registry]]
            location = "a.example.com"
            insecure = true
            [[registry]]
            location = "b.example.com"
            [aliases]
            app = "quay.io/team/app"
            gone = "quay.io/team/gone"
            """)
        try home.write(
            "config/containers/registries.conf.d/20-later.conf",
            """
            unqualified-search-registries = ["registry.example.com", "docker.io"]
            [[registry]]
            location = "a.example.com"
            blocked = true
            """)
        try home.write(
            "config/containers/registries.conf.d/10-first.conf",
            """
            short-name-mode = "disabled"
            [[registry]]
            location = "c.example.com"
            [aliases]
            tool = "registry.example.com/tool"
            gone = ""
            """)
        try home.write("config/containers/registries.conf.d/notes.txt", "not TOML at all [")
        let environment = ["HOME": home.path, "XDG_CONFIG_HOME": home.path + "/config"]
        let config = try RegistriesConfiguration.load(environment: environment, systemFile: home.path + "/etc/registries.conf")
        XCTAssertEqual(
            config.files,
            [
                home.path + "/config/containers/registries.conf",
                home.path + "/config/containers/registries.conf.d/10-first.conf",
                home.path + "/config/containers/registries.conf.d/20-later.conf",
            ])
        XCTAssertEqual(config.unqualifiedSearchRegistries, ["registry.example.com", "docker.io"])
        XCTAssertEqual(config.shortNameMode, .disabled)
        XCTAssertEqual(config.registries.map(\.prefix), ["a.example.com", "b.example.com", "c.example.com"])
        XCTAssertTrue(config.registries[0].blocked)
        XCTAssertFalse(config.registries[0].insecure, "a replaced entry keeps nothing of the one it replaces")
        XCTAssertEqual(config.aliases, ["app": "quay.io/team/app", "tool": "registry.example.com/tool"])
    }

    func testWhichFileIsChosen() throws {
        let root = try TemporaryDirectory()
        let system = root.path + "/etc/containers/registries.conf"
        var environment = ["HOME": root.path + "/home"]
        XCTAssertNil(RegistriesConfiguration.configurationFile(environment: environment, systemFile: system))
        XCTAssertEqual(try RegistriesConfiguration.load(environment: environment, systemFile: system), RegistriesConfiguration())

        try root.write("etc/containers/registries.conf", "unqualified-search-registries = [\"system.example.com\"]")
        XCTAssertEqual(RegistriesConfiguration.configurationFile(environment: environment, systemFile: system)?.path, system)

        try root.write("home/.config/containers/registries.conf", "unqualified-search-registries = [\"containers.example.com\"]")
        XCTAssertEqual(try RegistriesConfiguration.load(environment: environment, systemFile: system).unqualifiedSearchRegistries, ["containers.example.com"])

        try root.write("home/.config/swctr/registries.conf", "unqualified-search-registries = [\"swctr.example.com\"]")
        XCTAssertEqual(try RegistriesConfiguration.load(environment: environment, systemFile: system).unqualifiedSearchRegistries, ["swctr.example.com"])

        environment["XDG_CONFIG_HOME"] = root.path + "/xdg"
        XCTAssertEqual(try RegistriesConfiguration.load(environment: environment, systemFile: system).unqualifiedSearchRegistries, ["system.example.com"])

        let explicit = try root.write("explicit.conf", "unqualified-search-registries = [\"explicit.example.com\"]")
        environment["CONTAINERS_REGISTRIES_CONF"] = explicit
        XCTAssertEqual(try RegistriesConfiguration.load(environment: environment, systemFile: system).unqualifiedSearchRegistries, ["explicit.example.com"])

        environment["SWCTR_REGISTRIES_CONF"] = root.path + "/missing.conf"
        XCTAssertThrowsError(try RegistriesConfiguration.load(environment: environment, systemFile: system)) { error in
            let message = (error as? RegistryConfigurationError)?.userMessage ?? "\(error)"
            XCTAssertTrue(message.contains("missing.conf (named by $SWCTR_REGISTRIES_CONF)"), message)
        }
    }

    func testMalformedFileErrorNamesThePath() throws {
        let root = try TemporaryDirectory()
        let path = try root.write("registries.conf", "# comment\n[[registry]]\nlocation \"x\"\n")
        XCTAssertThrowsError(try RegistriesConfiguration.load(environment: ["SWCTR_REGISTRIES_CONF": path])) { error in
            XCTAssertEqual((error as? RegistryConfigurationError)?.userMessage, "\(path) line 3: expected \"=\" after key \"location\"")
        }
    }
}
