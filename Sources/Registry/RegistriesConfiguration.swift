// RegistriesConfiguration is containers-registries.conf(5) (version 2) as swctr uses it: where an
// image name is fetched from (location rewriting, mirrors), which registries are insecure or
// blocked, and how a short name such as `alpine` becomes a fully qualified one.
import ImageReference

/// The merged registries.conf files: the answers to "where does this image come from".
public struct RegistriesConfiguration: Equatable, Sendable {
    /// Registries to try, in order, for a name without a registry; nil when no file sets it.
    public var unqualifiedSearchRegistries: [String]?
    /// How ambiguous short names are resolved; nil when no file sets it (containers' default: permissive).
    public var shortNameMode: ShortNameMode?
    /// The `[[registry]]` tables, at most one per prefix.
    public var registries: [RegistryEntry]
    /// `[aliases]`: short name (no tag) → fully qualified name (no tag).
    public var aliases: [String: String]
    /// The files read, in the order they were merged.
    public var files: [String]

    public init(
        unqualifiedSearchRegistries: [String]? = nil, shortNameMode: ShortNameMode? = nil,
        registries: [RegistryEntry] = [], aliases: [String: String] = [:], files: [String] = []
    ) {
        self.unqualifiedSearchRegistries = unqualifiedSearchRegistries
        self.shortNameMode = shortNameMode
        self.registries = registries
        self.aliases = aliases
        self.files = files
    }

    public enum ShortNameMode: String, Sendable {
        case enforcing, permissive, disabled
    }

    /// Where to fetch `reference` from, in order: the matching `[[registry]]`'s mirrors, then its
    /// location (the reference itself when no entry matches). Throws when that entry is blocked.
    public func endpoints(for reference: ImageReference) throws(RegistryConfigurationError) -> [RegistryEndpoint] {
        guard let (entry, matched) = registry(matching: reference) else {
            return [RegistryEndpoint(reference: reference, isInsecure: false, isMirror: false)]
        }
        if entry.blocked { throw .blocked(image: reference.description, prefix: entry.prefix, origin: entry.origin) }
        var endpoints: [RegistryEndpoint] = []
        for mirror in entry.mirrors where mirror.serves(reference, mirrorByDigestOnly: entry.mirrorByDigestOnly) {
            let mirrored = try Self.rewrite(reference, matchedLength: matched, location: mirror.location, origin: entry.origin)
            endpoints.append(RegistryEndpoint(reference: mirrored, isInsecure: mirror.insecure, isMirror: true))
        }
        let primary = try Self.rewrite(reference, matchedLength: matched, location: entry.location, origin: entry.origin)
        endpoints.append(RegistryEndpoint(reference: primary, isInsecure: entry.insecure, isMirror: false))
        return endpoints
    }

    /// The `[[registry]]` whose prefix is the longest match for the image's `domain/repository`,
    /// and how many characters of that name it matched.
    public func registry(matching reference: ImageReference) -> (entry: RegistryEntry, matchedLength: Int)? {
        var best: (entry: RegistryEntry, matchedLength: Int)?
        for entry in registries {
            guard let matched = entry.matchedLength(in: reference) else { continue }
            if let current = best, current.entry.prefix.count >= entry.prefix.count { continue }
            best = (entry, matched)
        }
        return best
    }

    /// The fully qualified names a user's image name stands for, to try in order: a name with a
    /// registry is itself; a short name's alias (its tag or digest carried over) wins; else each
    /// unqualified-search registry in turn, or `docker.io` when none is configured.
    public func candidates(forShortName text: String) throws(ImageReferenceError) -> [ImageReference] {
        let parsed = try ImageReference.parse(text)
        guard ImageReference.isShortName(text) else { return [parsed] }
        let (name, suffix) = Self.splitTagAndDigest(text)
        if let alias = aliases[name] { return [try ImageReference.parse(alias + suffix)] }
        let searched = unqualifiedSearchRegistries.flatMap { $0.isEmpty ? nil : $0 } ?? [ImageReference.defaultDomain]
        var result: [ImageReference] = []
        for registry in searched { result.append(try ImageReference.parse(registry + "/" + text)) }
        return result
    }

    /// Whether registries.conf allows plain HTTP and unverified TLS for `host` (host[:port]): the
    /// `[[registry]]` matching it, or any entry or mirror located there, sets `insecure = true`.
    public func isInsecure(host: String) -> Bool {
        let wanted = Self.canonicalHost(host)
        if let reference = try? ImageReference.parse(wanted + "/x"), let (entry, _) = registry(matching: reference), entry.insecure {
            return true
        }
        for entry in registries {
            if entry.insecure && Self.canonicalHost(Self.hostPart(of: entry.location)) == wanted { return true }
            if entry.mirrors.contains(where: { $0.insecure && Self.canonicalHost(Self.hostPart(of: $0.location)) == wanted }) { return true }
        }
        return false
    }

    /// This configuration with a later file's settings on top: its scalars win, its registries
    /// replace those with the same prefix, its aliases are added (an empty alias removes one).
    public func merging(_ overlay: RegistriesConfiguration) -> RegistriesConfiguration {
        var merged = self
        if let search = overlay.unqualifiedSearchRegistries { merged.unqualifiedSearchRegistries = search }
        if let mode = overlay.shortNameMode { merged.shortNameMode = mode }
        for entry in overlay.registries {
            if let index = merged.registries.firstIndex(where: { $0.prefix == entry.prefix }) {
                merged.registries[index] = entry
            } else {
                merged.registries.append(entry)
            }
        }
        for (name, value) in overlay.aliases { merged.aliases[name] = value }
        merged.aliases = merged.aliases.filter { !$0.value.isEmpty }
        merged.files += overlay.files
        return merged
    }

    /// Puts `location` in place of the matched part of the image's name.
    static func rewrite(_ reference: ImageReference, matchedLength: Int, location: String, origin: String) throws(RegistryConfigurationError) -> ImageReference
    {
        if location.isEmpty { return reference }
        let name = location + reference.name.dropFirst(matchedLength)
        let host = hostPart(of: name)
        if host == name {
            throw .invalidLocation(image: reference.description, location: location, origin: origin, reason: "the result, \"\(name)\", names no repository")
        }
        var text = name
        if let tag = reference.tag { text += ":" + tag }
        if let digest = reference.digest { text += "@" + digest.description }
        let rewritten: ImageReference
        do {
            rewritten = try ImageReference.parse(text)
        } catch {
            throw .invalidLocation(image: reference.description, location: location, origin: origin, reason: error.userMessage)
        }
        guard canonicalHost(rewritten.domain) == canonicalHost(host) else {
            throw .invalidLocation(
                image: reference.description, location: location, origin: origin,
                reason: "\"\(host)\" is not a registry host (a host name needs a \".\" or a \":port\", or is localhost)")
        }
        return rewritten
    }

    /// `name:tag@digest` → (`name`, `:tag@digest`).
    static func splitTagAndDigest(_ text: String) -> (name: String, suffix: String) {
        var name = Substring(text)
        if let at = name.firstIndex(of: "@") { name = name[..<at] }
        if let colon = name.lastIndex(of: ":"), !name[colon...].contains("/") { name = name[..<colon] }
        return (String(name), String(text.dropFirst(name.count)))
    }

    /// The registry part of a location or prefix: everything before the first "/".
    static func hostPart(of location: String) -> String {
        String(location.prefix { $0 != "/" })
    }

    /// Docker Hub's several names compare equal.
    static func canonicalHost(_ host: String) -> String {
        switch host {
        case "index.docker.io", "registry-1.docker.io": return ImageReference.defaultDomain
        default: return host
        }
    }
}

/// One `[[registry]]` table.
public struct RegistryEntry: Equatable, Sendable {
    /// The image names it applies to: `host[:port][/namespace…][/repo]`, or `*.example.com`.
    public var prefix: String
    /// Where those images really are; replaces the matched prefix ("" with a wildcard prefix: unchanged).
    public var location: String
    public var insecure: Bool
    public var blocked: Bool
    /// Mirrors serve only references by digest.
    public var mirrorByDigestOnly: Bool
    public var mirrors: [RegistryMirror]
    /// Where it was written (`file line N`), for messages.
    public var origin: String

    public init(
        prefix: String, location: String, insecure: Bool = false, blocked: Bool = false,
        mirrorByDigestOnly: Bool = false, mirrors: [RegistryMirror] = [], origin: String = ""
    ) {
        self.prefix = prefix
        self.location = location
        self.insecure = insecure
        self.blocked = blocked
        self.mirrorByDigestOnly = mirrorByDigestOnly
        self.mirrors = mirrors
        self.origin = origin
    }

    public var isWildcard: Bool { prefix.hasPrefix("*.") }

    /// How many characters of the image's `domain/repository` this entry's prefix matches, on
    /// path-component boundaries; a wildcard `*.example.com` matches the domain of any subdomain.
    func matchedLength(in reference: ImageReference) -> Int? {
        if isWildcard {
            let suffix = prefix.dropFirst()
            return reference.domain.hasSuffix(suffix) && reference.domain.count > suffix.count ? reference.domain.count : nil
        }
        let name = reference.name
        if name == prefix || name.hasPrefix(prefix + "/") { return prefix.count }
        return nil
    }
}

/// One `[[registry.mirror]]` table.
public struct RegistryMirror: Equatable, Sendable {
    public var location: String
    public var insecure: Bool
    public var pullFromMirror: PullFromMirror

    public init(location: String, insecure: Bool = false, pullFromMirror: PullFromMirror = .all) {
        self.location = location
        self.insecure = insecure
        self.pullFromMirror = pullFromMirror
    }

    /// `pull-from-mirror`: which references this mirror is used for.
    public enum PullFromMirror: String, Sendable {
        case all
        case digestOnly = "digest-only"
        case tagOnly = "tag-only"
    }

    func serves(_ reference: ImageReference, mirrorByDigestOnly: Bool) -> Bool {
        let byDigest = reference.digest != nil
        if mirrorByDigestOnly && !byDigest { return false }
        switch pullFromMirror {
        case .all: return true
        case .digestOnly: return byDigest
        case .tagOnly: return !byDigest
        }
    }
}
