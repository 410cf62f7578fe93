import SystemSupport

/// What can go wrong reading registries.conf or choosing where an image comes from.
public enum RegistryConfigurationError: Error, UserFacingError, Equatable {
    /// A file that should be read cannot be (`variable` names the environment variable that chose it).
    case unreadable(path: String, reason: String, variable: String?)
    /// A TOML syntax error, or a value of the wrong kind, at a line of a file.
    case malformed(path: String, line: Int, problem: String)
    /// The `[[registry]]` matching an image sets `blocked = true`.
    case blocked(image: String, prefix: String, origin: String)
    /// A `location` that, put in place of the matched prefix, does not make a valid image name.
    case invalidLocation(image: String, location: String, origin: String, reason: String)

    public var userMessage: String {
        switch self {
        case .unreadable(let path, let reason, let variable?):
            return "cannot read registries configuration \(path) (named by $\(variable)): \(reason) — fix the path or unset \(variable)"
        case .unreadable(let path, let reason, nil):
            return "cannot read registries configuration \(path): \(reason) — check its permissions"
        case .malformed(let path, let line, let problem):
            return "\(path) line \(line): \(problem)"
        case .blocked(let image, let prefix, let origin):
            return
                "image \(image) is blocked: the [[registry]] for \"\(prefix)\" at \(origin) sets blocked = true — use another registry or remove that setting"
        case .invalidLocation(let image, let location, let origin, let reason):
            return "cannot map image \(image) to location \"\(location)\" (\(origin)): \(reason) — fix that [[registry]] entry"
        }
    }
}
