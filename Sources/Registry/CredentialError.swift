import SystemSupport

/// What can go wrong finding, saving or removing registry credentials.
public enum CredentialError: Error, UserFacingError, Equatable {
    case unreadableFile(path: String, reason: String)
    case malformedFile(path: String, reason: String)
    /// `docker-credential-<helper>`, named in `path`, is not on PATH.
    case helperMissing(helper: String, registry: String, path: String)
    case helperFailed(helper: String, registry: String, reason: String)
    case cannotWrite(path: String, reason: String)
    case invalidRegistry(String)

    public var userMessage: String {
        switch self {
        case .unreadableFile(let path, let reason):
            return "cannot read credentials file \(path): \(reason) — check its permissions"
        case .malformedFile(let path, let reason):
            return "credentials file \(path) is not valid: \(reason) — fix it, or remove it and log in again"
        case .helperMissing(let helper, let registry, let path):
            return
                "credential helper docker-credential-\(helper) (for \(registry), set in \(path)) is not on PATH — install it, or remove it from that file's credHelpers/credsStore"
        case .helperFailed(let helper, let registry, let reason):
            return
                "credential helper docker-credential-\(helper) failed for \(registry): \(reason) — check the helper's own setup (its keyring or password store)"
        case .cannotWrite(let path, let reason):
            return "cannot save credentials to \(path): \(reason) — check the directory's permissions, or choose another file with --authfile"
        case .invalidRegistry(let registry):
            return "\"\(registry)\" is not a registry name — give host[:port] or host[:port]/namespace, such as quay.io or localhost:5000"
        }
    }
}
