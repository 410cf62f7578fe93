/// A user's credentials for one registry.
public struct RegistryCredentials: Equatable, Sendable {
    public var username: String
    public var password: String
    /// An OAuth2 refresh token to use instead of the password: an auth file's `identitytoken`, or a
    /// credential helper's Secret when its Username is `<token>`.
    public var identityToken: String?

    public init(username: String, password: String, identityToken: String? = nil) {
        self.username = username
        self.password = password
        self.identityToken = identityToken
    }
}
