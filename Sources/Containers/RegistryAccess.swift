import ImageReference
import ImageStore
import Registry
import SystemSupport

/// How this invocation reaches registries: TLS policy, where credentials come from, and (from
/// registries.conf) mirrors and short-name resolution. Builds the clients pulls and pushes use.
public struct RegistryAccess: Sendable {
    /// `--tls-verify=false`: plain HTTP and unverified TLS for every registry.
    public var tlsVerify = true
    /// `--authfile`: the only credentials file to read (and the one login writes).
    public var authFile: String?
    /// `--creds USER[:PASSWORD]`: these credentials, whatever the files say.
    public var credentials: RegistryCredentials?
    public var environment: [String: String]

    public init(environment: [String: String] = ProcessEnvironment.current) {
        self.environment = environment
    }

    /// registries.conf: swctr's own, else the user's or the system's containers file.
    public func configuration() throws -> RegistriesConfiguration {
        try RegistriesConfiguration.load(environment: environment)
    }

    /// Where credentials are read from and `login` writes them.
    public var credentialStore: CredentialStore { CredentialStore(environment: environment, authFile: authFile) }

    /// The credentials for a registry: `--creds`, else the auth files and credential helpers.
    public func credentials(forRegistry domain: String, repository: String? = nil) throws -> RegistryCredentials? {
        if let credentials { return credentials }
        return try credentialStore.credentials(forRegistry: domain, repository: repository)
    }

    /// A client for the registry of `reference` itself (push, login).
    public func client(for reference: ImageReference) throws -> RegistryClient {
        let insecure = try !tlsVerify || configuration().isInsecure(host: reference.domain)
        return RegistryClient(domain: reference.domain, host: reference.registryHost, insecure: insecure,
                              credentials: try credentials(forRegistry: reference.domain, repository: reference.repository))
    }

    /// Where to pull `reference` from: its mirrors in order, then its registry (after the
    /// location rewriting of registries.conf).
    public func sources(for reference: ImageReference, configuration: RegistriesConfiguration) throws -> [PullSource] {
        try configuration.endpoints(for: reference).map { endpoint in
            let client = RegistryClient(domain: endpoint.reference.domain, host: endpoint.host, insecure: !tlsVerify || endpoint.isInsecure,
                                        credentials: try credentials(forRegistry: endpoint.reference.domain, repository: endpoint.repository))
            return PullSource(client: client, repository: endpoint.repository)
        }
    }

    /// The fully qualified references a name the user typed may mean, in the order to try them:
    /// a qualified name itself; a short name's alias, else each search registry.
    public func candidates(for text: String, configuration: RegistriesConfiguration) throws -> [ImageReference] {
        guard ImageReference.isShortName(text) else { return [try ImageReference.parse(text)] }
        return try configuration.candidates(forShortName: text)
    }

    /// The local image a name means: the name itself, else what its short-name candidates name.
    public func localImage(_ text: String, in store: ImageStore) throws -> ImageRecord? {
        if let record = try store.lookup(text) { return record }
        guard ImageReference.isShortName(text) else { return nil }
        for candidate in try candidates(for: text, configuration: try configuration()) {
            if let record = try store.lookup(candidate.description) { return record }
        }
        return nil
    }

    /// Pulls an image by the name a user typed: each candidate in turn (a short name may live
    /// in several registries) until one has it.
    public func pull(_ text: String, into store: ImageStore, unpacker: LayerUnpacking, platform: Platform,
                     events: @escaping @Sendable (PullEvent) -> Void, note: (String) -> Void) throws -> ImageRecord {
        let configuration = try configuration()
        let candidates = try candidates(for: text, configuration: configuration)
        for (position, reference) in candidates.enumerated() {
            if candidates.count > 1 { note("Trying to pull \(reference)...") }
            do {
                return try store.pull(reference, sources: try sources(for: reference, configuration: configuration), unpacker: unpacker,
                                      platform: platform, events: events)
            } catch {
                guard position < candidates.count - 1 else { throw error }
                switch error as? RegistryError {
                case .notFound?, .unreachable?, .authenticationRequired?: continue
                default: throw error
                }
            }
        }
        throw RegistryError.notFound(reference: text)
    }
}
