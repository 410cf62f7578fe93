// ImageReference owns parsing and normalising image references the way Docker does:
// `alpine` → `docker.io/library/alpine:latest`, `host:port/ns/name:tag@sha256:…`.

/// A parsed, normalised image reference.
public struct ImageReference: Hashable, Sendable, CustomStringConvertible {
    /// The registry's name as users write it (`docker.io`, `localhost:5000`, `127.0.0.1:5000`).
    public let domain: String
    /// The repository path inside the registry (`library/alpine`).
    public let repository: String
    public let tag: String?
    public let digest: Digest?

    public static let defaultDomain = "docker.io"
    public static let defaultTag = "latest"

    public init(domain: String, repository: String, tag: String?, digest: Digest?) {
        self.domain = domain
        self.repository = repository
        self.tag = tag
        self.digest = digest
    }

    /// `domain/repository`, as Docker prints a name.
    public var name: String { domain + "/" + repository }

    /// The full normalised form: `docker.io/library/alpine:latest`, `name@sha256:…`, or both.
    public var description: String {
        var text = name
        if let tag { text += ":" + tag }
        if let digest { text += "@" + digest.description }
        return text
    }

    /// The shortest form a user would type (`alpine:latest`, `localhost:5000/x:1`), for listings.
    public var familiarName: String {
        if domain == Self.defaultDomain {
            return repository.hasPrefix("library/") ? String(repository.dropFirst("library/".count)) : repository
        }
        return name
    }

    /// The host to contact: Docker Hub's API host for `docker.io`, else the domain itself.
    public var registryHost: String { domain == Self.defaultDomain ? "registry-1.docker.io" : domain }

    /// What to ask the registry for: the digest when there is one, else the tag.
    public var manifestReference: String { digest?.description ?? tag ?? Self.defaultTag }

    /// Whether the registry is on this machine (reached over plain HTTP when it has no TLS).
    public var isLoopback: Bool {
        let host = Self.hostPart(of: domain)
        return host == "localhost" || host.hasPrefix("127.") || host == "[::1]" || host == "::1"
    }

    static func hostPart(of domain: String) -> String {
        if domain.hasPrefix("[") {
            if let close = domain.firstIndex(of: "]") { return String(domain[...close]) }
            return domain
        }
        if let colon = domain.lastIndex(of: ":") { return String(domain[..<colon]) }
        return domain
    }

    /// Parses and normalises a reference as Docker does.
    public static func parse(_ text: String) throws(ImageReferenceError) -> ImageReference {
        if text.isEmpty { throw .empty }
        if text.count > 4096 || text.contains(where: { $0.isWhitespace }) { throw .invalid(text, "it contains white space or is too long") }
        var rest = Substring(text)
        var digest: Digest?
        if let at = rest.firstIndex(of: "@") {
            digest = try Digest.parse(String(rest[rest.index(after: at)...]), in: text)
            rest = rest[..<at]
        }
        // The first component is a registry domain when it looks like a host name.
        var domain = defaultDomain
        var remainder = rest
        if let slash = rest.firstIndex(of: "/") {
            let first = rest[..<slash]
            if isDomainComponent(first) {
                domain = String(first)
                remainder = rest[rest.index(after: slash)...]
            }
        }
        var tag: String?
        if let colon = remainder.lastIndex(of: ":"), !remainder[colon...].contains("/") {
            tag = String(remainder[remainder.index(after: colon)...])
            remainder = remainder[..<colon]
        }
        if domain == "index.docker.io" { domain = defaultDomain }
        var repository = String(remainder)
        if domain == defaultDomain && !repository.contains("/") { repository = "library/" + repository }

        try validateDomain(domain, in: text)
        try validateRepository(repository, in: text)
        if let tag { try validateTag(tag, in: text) }
        if domain.count + 1 + repository.count > 255 { throw .invalid(text, "the name is longer than 255 characters") }
        if tag == nil && digest == nil { tag = defaultTag }
        return ImageReference(domain: domain, repository: repository, tag: tag, digest: digest)
    }

    /// Whether `text` names no registry (`alpine`, `user/app:1`), so registries.conf decides where
    /// it comes from; `quay.io/app` and `localhost:5000/app` are fully qualified.
    public static func isShortName(_ text: String) -> Bool {
        let name = text.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)[0]
        guard let slash = name.firstIndex(of: "/") else { return true }
        return !isDomainComponent(name[..<slash])
    }

    /// Docker's rule for a reference's first path component: a registry domain when it has a "." or
    /// ":" or is "localhost" (upper case also counts, so `Example/app` fails as a bad host name).
    static func isDomainComponent(_ first: Substring) -> Bool {
        first.contains(".") || first.contains(":") || first == "localhost" || first.lowercased() != first
    }

    /// The same reference with another tag or digest.
    public func with(tag: String?, digest: Digest?) -> ImageReference {
        ImageReference(domain: domain, repository: repository, tag: tag, digest: digest)
    }

    private static func validateDomain(_ domain: String, in text: String) throws(ImageReferenceError) {
        var host = Substring(domain)
        if domain.hasPrefix("[") {
            guard let close = domain.firstIndex(of: "]") else { throw .invalid(text, "the registry address is not valid") }
            host = domain[domain.index(after: domain.startIndex)..<close]
            let after = domain[domain.index(after: close)...]
            if !after.isEmpty { try validatePort(after, in: text) }
            if host.isEmpty || !host.allSatisfy({ $0.isHexDigit || $0 == ":" }) { throw .invalid(text, "the registry address is not valid") }
            return
        }
        if let colon = domain.firstIndex(of: ":") {
            try validatePort(domain[colon...], in: text)
            host = domain[..<colon]
        }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        for label in labels {
            guard let first = label.first, let last = label.last, first.isASCIILetterOrDigit, last.isASCIILetterOrDigit,
                  label.allSatisfy({ $0.isASCIILetterOrDigit || $0 == "-" })
            else { throw .invalid(text, "registry \"\(domain)\" is not a valid host name") }
        }
    }

    private static func validatePort(_ port: Substring, in text: String) throws(ImageReferenceError) {
        let digits = port.dropFirst()
        guard port.first == ":", !digits.isEmpty, digits.allSatisfy(\.isASCIIDigit), let value = Int(digits), value < 65536
        else { throw .invalid(text, "the registry port is not a number") }
    }

    private static func validateRepository(_ repository: String, in text: String) throws(ImageReferenceError) {
        if repository.isEmpty { throw .invalid(text, "the repository name is empty") }
        if repository.lowercased() != repository { throw .invalid(text, "repository name must be lowercase") }
        for component in repository.split(separator: "/", omittingEmptySubsequences: false) {
            if !isValidPathComponent(component) {
                throw .invalid(text, "\"\(component)\" is not a valid repository name component (use a-z, 0-9 and single ., _, __ or - between them)")
            }
        }
    }

    /// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
    static func isValidPathComponent(_ component: Substring) -> Bool {
        let characters = Array(component)
        guard let first = characters.first, let last = characters.last, first.isLowercaseAlphanumeric, last.isLowercaseAlphanumeric
        else { return false }
        var index = 0
        while index < characters.count {
            let character = characters[index]
            if character.isLowercaseAlphanumeric { index += 1; continue }
            // A separator run: ".", "_", "__", or one or more "-".
            var end = index
            while end < characters.count && !characters[end].isLowercaseAlphanumeric { end += 1 }
            let separator = String(characters[index..<end])
            let allowed = separator == "." || separator == "_" || separator == "__" || separator.allSatisfy { $0 == "-" }
            if !allowed { return false }
            index = end
        }
        return true
    }

    private static func validateTag(_ tag: String, in text: String) throws(ImageReferenceError) {
        guard let first = tag.first, tag.count <= 128, first.isWordCharacter,
              tag.allSatisfy({ $0.isWordCharacter || $0 == "." || $0 == "-" })
        else { throw .invalid(text, "tag \"\(tag)\" is not valid (up to 128 of a-z A-Z 0-9 _ . -, not starting with . or -)") }
    }
}

/// A content digest: `algorithm:hex`.
public struct Digest: Hashable, Sendable, CustomStringConvertible, Codable {
    public let algorithm: String
    public let hex: String

    public var description: String { algorithm + ":" + hex }

    public init(algorithm: String, hex: String) {
        self.algorithm = algorithm
        self.hex = hex
    }

    public static func parse(_ text: String, in reference: String? = nil) throws(ImageReferenceError) -> Digest {
        let context = reference ?? text
        // Checked byte by byte: digests are ASCII, and Character's Unicode properties cost a table
        // search per character (this runs for every digest in the image index at every start).
        let bytes = text.utf8
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else { throw .invalid(context, "digest \"\(text)\" has no algorithm (expected sha256:<64 hex digits>)") }
        let algorithm = String(text[..<colon])
        let hex = String(text[bytes.index(after: colon)...])
        let expectedLength: Int
        switch algorithm {
        case "sha256": expectedLength = 64
        case "sha512": expectedLength = 128
        default: throw .invalid(context, "digest algorithm \"\(algorithm)\" is not supported (use sha256)")
        }
        guard hex.utf8.count == expectedLength, hex.utf8.allSatisfy(\.isLowercaseHexDigit) else {
            throw .invalid(context, "digest \"\(text)\" is not \(algorithm): followed by \(expectedLength) lowercase hex digits")
        }
        return Digest(algorithm: algorithm, hex: hex)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { self = try Digest.parse(text) } catch { throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.userMessage)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

public enum ImageReferenceError: Error, Equatable {
    case empty
    case invalid(String, String)

    public var userMessage: String {
        switch self {
        case .empty: return "invalid image reference: it is empty — give an image name such as alpine or localhost:5000/app:1.0"
        case .invalid(let text, let why): return "invalid image reference \"\(text)\": \(why)"
        }
    }
}

extension UInt8 {
    var isLowercaseHexDigit: Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(self) }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
    var isASCIILetterOrDigit: Bool { isASCIIDigit || ("a"..."z").contains(self) || ("A"..."Z").contains(self) }
    var isLowercaseAlphanumeric: Bool { isASCIIDigit || ("a"..."z").contains(self) }
    var isWordCharacter: Bool { isASCIILetterOrDigit || self == "_" }
}
