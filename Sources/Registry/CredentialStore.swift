// CredentialStore owns registry credentials as containers-auth.json(5) and Docker describe them:
// which files to look in, credential helpers, and the entries `swctr login`/`logout` change.
import ImageReference
import SystemSupport
#if canImport(Glibc)
    import Glibc
#endif

/// Finds, saves and removes credentials for registries.
public struct CredentialStore: Sendable {
    /// The environment files and helpers are found with (and helpers run with).
    public let environment: [String: String]
    /// `--authfile`, else `$REGISTRY_AUTH_FILE`: when set, the only file read and written.
    public let explicitFile: String?

    public init(environment: [String: String] = ProcessEnvironment.current, authFile: String? = nil) {
        self.environment = environment
        explicitFile = authFile.flatMap { $0.isEmpty ? nil : $0 } ?? environment["REGISTRY_AUTH_FILE"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The files credentials are looked up in, in order: the explicit file alone; else
    /// `$XDG_RUNTIME_DIR/containers/auth.json`, `$XDG_CONFIG_HOME/containers/auth.json`,
    /// `$DOCKER_CONFIG/config.json` (or `~/.docker/config.json`).
    public var lookupFiles: [String] {
        if let explicitFile { return [explicitFile] }
        var files: [String] = []
        if let runtime = runtimeFile { files.append(runtime) }
        files.append(configFile)
        if let dockerConfig = environment["DOCKER_CONFIG"], !dockerConfig.isEmpty {
            files.append(dockerConfig + "/config.json")
        } else {
            files.append(homeDirectory + "/.docker/config.json")
        }
        return files
    }

    /// Where `store` writes and `remove` removes: the explicit file, else Podman's default
    /// `$XDG_RUNTIME_DIR/containers/auth.json` (`$XDG_CONFIG_HOME/containers/auth.json` without one).
    public var storeFile: String { explicitFile ?? runtimeFile ?? configFile }

    private var runtimeFile: String? {
        guard let runtime = environment["XDG_RUNTIME_DIR"], runtime.hasPrefix("/") else { return nil }
        return runtime + "/containers/auth.json"
    }

    private var configFile: String {
        String(UserDirectories.current(environment: environment).config.dropLast("/swctr".count)) + "/containers/auth.json"
    }

    private var homeDirectory: String {
        if let home = environment["HOME"], !home.isEmpty { return home }
        if let entry = getpwuid(getuid()), let directory = entry.pointee.pw_dir { return String(cString: directory) }
        return "/"
    }

    // MARK: Lookup

    /// Credentials for pulling `reference` (its registry, with repository-scoped entries considered).
    public func credentials(for reference: ImageReference) throws(CredentialError) -> RegistryCredentials? {
        try credentials(forRegistry: reference.domain, repository: reference.repository)
    }

    /// Credentials for a registry (`host[:port]`, any spelling `normalizedKey` accepts) and
    /// optionally a repository on it. The first file with any wins; in a file, `credHelpers[host]`,
    /// then `credsStore`, then `auths` (`host/namespace/repo` before `host/namespace` before `host`).
    public func credentials(forRegistry registry: String, repository: String? = nil) throws(CredentialError) -> RegistryCredentials? {
        let normalized = Self.normalizedKey(registry)
        let host = RegistriesConfiguration.hostPart(of: normalized)
        let scope = [String(normalized.dropFirst(host.count + 1)), repository ?? ""].filter { !$0.isEmpty }.joined(separator: "/")
        let keys = Self.lookupKeys(host: host, repository: scope)
        for path in lookupFiles {
            guard let file = try AuthFile.read(path) else { continue }
            for helper in [file.credentialHelper(for: host), file.defaultCredentialHelper].compactMap({ $0 }) {
                let found = try CredentialHelper(name: helper, environment: environment, configuredIn: path).credentials(for: host)
                if let found { return found }
            }
            if let found = try file.credentials(forKeys: keys) { return found }
        }
        return nil
    }

    /// `host/a/b/c`, `host/a/b`, `host/a`, `host`: the keys that can hold a repository's credentials.
    static func lookupKeys(host: String, repository: String?) -> [String] {
        var keys: [String] = []
        var components = (repository ?? "").split(separator: "/").map(String.init)
        while !components.isEmpty {
            keys.append(host + "/" + components.joined(separator: "/"))
            components.removeLast()
        }
        return keys + [host]
    }

    /// An auth file key in the form swctr compares and writes: URL forms (`https://index.docker.io/v1/`,
    /// `http://host:5000/v2/`) become their host; a trailing "/" goes; Docker Hub's names
    /// (`index.docker.io`, `registry-1.docker.io`) become `docker.io`; `host/namespace/repo` stays.
    public static func normalizedKey(_ key: String) -> String {
        var text = Substring(key.trimmed)
        var hadScheme = false
        for scheme in ["https://", "http://"] where text.lowercased().hasPrefix(scheme) {
            text = text.dropFirst(scheme.count)
            hadScheme = true
        }
        if hadScheme { text = text.prefix { $0 != "/" } }
        while text.hasSuffix("/") { text = text.dropLast() }
        let host = text.prefix { $0 != "/" }
        return RegistriesConfiguration.canonicalHost(host.lowercased()) + text.dropFirst(host.count)
    }

    // MARK: login / logout

    /// Saves credentials for `registry` (`host[:port]` or `host[:port]/namespace…`) into `storeFile`,
    /// keeping every other key and entry; returns the file written.
    @discardableResult
    public func store(_ credentials: RegistryCredentials, forRegistry registry: String) throws(CredentialError) -> String {
        let key = try Self.validatedKey(registry)
        var file = try AuthFile.read(storeFile) ?? AuthFile(path: storeFile)
        file.setCredentials(credentials, forKey: key)
        try file.write()
        return storeFile
    }

    /// Removes `registry`'s entry from `storeFile`; whether there was one.
    public func remove(forRegistry registry: String) throws(CredentialError) -> Bool {
        let key = try Self.validatedKey(registry)
        guard var file = try AuthFile.read(storeFile), file.removeCredentials(forKey: key) else { return false }
        try file.write()
        return true
    }

    /// Removes every registry's entry from `storeFile` (other keys stay); how many there were.
    public func removeAll() throws(CredentialError) -> Int {
        guard var file = try AuthFile.read(storeFile) else { return 0 }
        let removed = file.removeAllCredentials()
        if removed > 0 { try file.write() }
        return removed
    }

    private static func validatedKey(_ registry: String) throws(CredentialError) -> String {
        let key = normalizedKey(registry)
        guard !key.isEmpty, !key.contains(where: { $0.isWhitespace || $0 == "@" }), !key.hasPrefix("/"), !key.contains("//") else {
            throw .invalidRegistry(registry)
        }
        return key
    }
}
