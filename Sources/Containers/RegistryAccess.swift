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

    /// The credentials for a registry: `--creds`, else the auth files.
    public func credentials(for domain: String) throws -> RegistryCredentials? {
        credentials
    }

    /// A client for the registry of `reference` itself (push, login).
    public func client(for reference: ImageReference) throws -> RegistryClient {
        RegistryClient(domain: reference.domain, host: reference.registryHost, insecure: !tlsVerify,
                       credentials: try credentials(for: reference.domain))
    }

    /// Where to pull `reference` from: its mirrors in order, then its registry.
    public func sources(for reference: ImageReference) throws -> [PullSource] {
        [PullSource(client: try client(for: reference), repository: reference.repository)]
    }

    /// The fully qualified references a name the user typed may mean, in the order to try them.
    public func candidates(for text: String) throws -> [ImageReference] {
        [try ImageReference.parse(text)]
    }

    /// Pulls an image by the name a user typed: each candidate in turn (a short name may live
    /// in several registries) until one has it.
    public func pull(_ text: String, into store: ImageStore, unpacker: LayerUnpacking, platform: Platform,
                     events: @escaping @Sendable (PullEvent) -> Void, note: (String) -> Void) throws -> ImageRecord {
        let candidates = try candidates(for: text)
        for (position, reference) in candidates.enumerated() {
            if candidates.count > 1 { note("Trying to pull \(reference)...") }
            do {
                return try store.pull(reference, sources: try sources(for: reference), unpacker: unpacker, platform: platform, events: events)
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
