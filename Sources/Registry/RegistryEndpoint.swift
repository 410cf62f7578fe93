import ImageReference

/// One place to fetch an image from: a mirror or the primary location that registries.conf maps
/// the user's image name to.
public struct RegistryEndpoint: Equatable, Sendable {
    /// The image as this endpoint serves it: `reference.domain` is the registry to contact (as users
    /// write it, `docker.io` included), `reference.repository` the repository path there; the tag
    /// and digest are the user's.
    public let reference: ImageReference
    /// Plain HTTP and TLS without certificate verification are allowed (`insecure = true`).
    public let isInsecure: Bool
    /// A `[[registry.mirror]]`, tried before the primary location.
    public let isMirror: Bool

    public init(reference: ImageReference, isInsecure: Bool, isMirror: Bool) {
        self.reference = reference
        self.isInsecure = isInsecure
        self.isMirror = isMirror
    }

    /// The host[:port] to connect to (Docker Hub's API host for `docker.io`).
    public var host: String { reference.registryHost }

    /// The repository path on that host.
    public var repository: String { reference.repository }
}
