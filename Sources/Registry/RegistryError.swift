import ImageReference
import SystemSupport

/// What can go wrong talking to a registry; each case says what a user can do about it.
public enum RegistryError: Error, UserFacingError {
    case unreachable(registry: String, reason: String)
    case notFound(reference: String)
    case authenticationRequired(registry: String, repository: String)
    case credentialsRejected(registry: String, username: String)
    case accessDenied(registry: String, repository: String, username: String)
    case interrupted(registry: String, reason: String)
    case httpStatus(registry: String, url: String, status: Int, message: String)
    case digestMismatch(what: String, registry: String, expected: Digest, actual: Digest)
    case sizeMismatch(what: String, registry: String, expected: Int64, actual: Int64)
    case tooLarge(what: String, registry: String, limit: Int)
    case malformed(what: String, registry: String, reason: String)
    case unsupportedMediaType(what: String, mediaType: String)
    case noMatchingPlatform(reference: String, wanted: Platform, available: [Platform])
    case storage(SystemCallError)

    public var userMessage: String {
        switch self {
        case .unreachable(let registry, let reason):
            return "cannot reach registry \(registry): \(reason) — check the address and that the registry is running"
        case .notFound(let reference):
            return "image \(reference) not found: the registry has no such repository or tag — check the name and tag"
        case .authenticationRequired(let registry, let repository):
            let what = repository.isEmpty ? "" : " for \(repository)"
            return "registry \(registry) requires authentication\(what) (or has no such repository) — check the name, or log in: swctr login \(registry)"
        case .credentialsRejected(let registry, let username):
            return "registry \(registry) rejected the credentials of \(username) — check them and log in again: swctr login \(registry)"
        case .accessDenied(let registry, let repository, let username):
            return "registry \(registry) denied \(username) access to \(repository) — check the name, or that this account may use it"
        case .interrupted(let registry, let reason):
            return "the transfer from registry \(registry) broke off: \(reason) — try again; the download resumes where it stopped"
        case .httpStatus(let registry, let url, let status, let message):
            return "registry \(registry) answered \(status) for \(url)\(message.isEmpty ? "" : ": " + message)"
        case .digestMismatch(let what, let registry, let expected, let actual):
            return "\(what) from \(registry) does not match its digest: expected \(expected), got \(actual) — the registry served corrupted or tampered content; nothing was stored"
        case .sizeMismatch(let what, let registry, let expected, let actual):
            return "\(what) from \(registry) has \(actual) bytes, its descriptor says \(expected) — the registry served corrupted or tampered content; nothing was stored"
        case .tooLarge(let what, let registry, let limit):
            return "\(what) from \(registry) is larger than \(limit) bytes — refusing it"
        case .malformed(let what, let registry, let reason):
            return "\(what) from \(registry) is not valid: \(reason)"
        case .unsupportedMediaType(let what, let mediaType):
            if mediaType == MediaType.dockerManifestSchema1 || mediaType == MediaType.dockerManifestSchema1Signed {
                return "\(what) uses Docker's deprecated schema 1 manifest, which swctr does not support — push the image again with a current tool"
            }
            return "\(what) has media type \"\(mediaType)\", which swctr does not support"
        case .noMatchingPlatform(let reference, let wanted, let available):
            return "image \(reference) has no variant for \(wanted) (it has: \(available.map(\.description).joined(separator: ", ")))"
        case .storage(let error):
            return "cannot store download: \(error.description)"
        }
    }
}
