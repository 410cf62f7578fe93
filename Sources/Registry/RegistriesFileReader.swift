import ImageReference

/// Turns one registries.conf file's TOML into a `RegistriesConfiguration`, checking each value's
/// kind and form and naming the file and line of anything it rejects.
struct RegistriesFileReader {
    let path: String

    func read(_ text: String) throws(RegistryConfigurationError) -> RegistriesConfiguration {
        let root: TOMLTable
        do { root = try TOMLParser.parse(text) } catch { throw .malformed(path: path, line: error.line, problem: error.message) }
        if root["registries"] != nil {
            for key in ["registry", "unqualified-search-registries", "aliases", "short-name-mode"] where root[key] != nil {
                throw malformed(root, key, "\"\(key)\" cannot be combined with the v1 [registries.search/insecure/block] tables — use only the v2 format")
            }
            return try readVersion1(root)
        }
        var configuration = RegistriesConfiguration(files: [path])
        if let search = try strings("unqualified-search-registries", in: root) {
            for registry in search where !isRegistryHost(registry) {
                throw malformed(
                    root, "unqualified-search-registries",
                    "\"\(registry)\" is not a registry host[:port] (a host name needs a \".\" or a \":port\", or is localhost)")
            }
            configuration.unqualifiedSearchRegistries = search
        }
        if let mode = try string("short-name-mode", in: root), !mode.isEmpty {
            guard let parsed = RegistriesConfiguration.ShortNameMode(rawValue: mode) else {
                throw malformed(root, "short-name-mode", "short-name-mode \"\(mode)\" is not one of enforcing, permissive, disabled")
            }
            configuration.shortNameMode = parsed
        }
        for table in try tables("registry", in: root) {
            let entry = try registryEntry(table)
            if let first = configuration.registries.first(where: { $0.prefix == entry.prefix }) {
                throw .malformed(path: path, line: table.line, problem: "a [[registry]] for prefix \"\(entry.prefix)\" is already defined at \(first.origin)")
            }
            configuration.registries.append(entry)
        }
        if let aliases = try table("aliases", in: root) {
            for name in aliases.keys.sorted() {
                guard case .string(let value)? = aliases[name] else {
                    throw malformed(aliases, name, "alias \"\(name)\" must be a string, not \(aliases[name]?.kind ?? "nothing")")
                }
                try checkAlias(name, value, in: aliases)
                configuration.aliases[name] = value
            }
        }
        return configuration
    }

    // MARK: Entries

    private func registryEntry(_ table: TOMLTable) throws(RegistryConfigurationError) -> RegistryEntry {
        let origin = "\(path) line \(table.line)"
        let location = try string("location", in: table) ?? ""
        if !location.isEmpty { try checkLocation(location, named: "location", in: table) }
        let explicitPrefix = try string("prefix", in: table).flatMap { $0.isEmpty ? nil : $0 }
        let prefix = explicitPrefix ?? location
        if prefix.isEmpty { throw .malformed(path: path, line: table.line, problem: "[[registry]] needs a location or a prefix") }
        if prefix.hasPrefix("*.") {
            let domain = prefix.dropFirst(2)
            if domain.isEmpty || domain.contains("/") || domain.contains("*") {
                throw malformed(table, "prefix", "wildcard prefix \"\(prefix)\" must be *. and a domain, without a path")
            }
        } else if explicitPrefix != nil {
            try checkLocation(prefix, named: "prefix", in: table)
        }
        var entry = RegistryEntry(prefix: prefix, location: location, origin: origin)
        entry.insecure = try bool("insecure", in: table) ?? false
        entry.blocked = try bool("blocked", in: table) ?? false
        entry.mirrorByDigestOnly = try bool("mirror-by-digest-only", in: table) ?? false
        for mirrorTable in try tables("mirror", in: table) {
            guard let mirrorLocation = try string("location", in: mirrorTable), !mirrorLocation.isEmpty else {
                throw .malformed(path: path, line: mirrorTable.line, problem: "[[registry.mirror]] needs a location")
            }
            try checkLocation(mirrorLocation, named: "location", in: mirrorTable)
            var mirror = RegistryMirror(location: mirrorLocation, insecure: try bool("insecure", in: mirrorTable) ?? false)
            if let policy = try string("pull-from-mirror", in: mirrorTable), !policy.isEmpty {
                guard let parsed = RegistryMirror.PullFromMirror(rawValue: policy) else {
                    throw malformed(mirrorTable, "pull-from-mirror", "pull-from-mirror \"\(policy)\" is not one of all, digest-only, tag-only")
                }
                mirror.pullFromMirror = parsed
            }
            entry.mirrors.append(mirror)
        }
        return entry
    }

    /// A prefix or location: `host[:port][/path]`, no URL scheme.
    private func checkLocation(_ value: String, named key: String, in table: TOMLTable) throws(RegistryConfigurationError) {
        if value.contains("://") {
            throw malformed(table, key, "\(key) \"\(value)\" must not include a URL scheme: write host[:port][/path] (insecure = true allows plain HTTP)")
        }
        let host = RegistriesConfiguration.hostPart(of: value)
        guard isRegistryHost(host), (try? ImageReference.parse(value.contains("/") ? value : value + "/x")) != nil else {
            throw malformed(table, key, "\(key) \"\(value)\" is not host[:port][/path] (a host name needs a \".\" or a \":port\", or is localhost)")
        }
    }

    private func isRegistryHost(_ host: String) -> Bool {
        !host.isEmpty && !host.contains("/") && !ImageReference.isShortName(host + "/x") && (try? ImageReference.parse(host + "/x")) != nil
    }

    /// An alias maps a short name to a fully qualified name, neither with a tag or digest; an
    /// empty value removes an alias an earlier file set.
    private func checkAlias(_ name: String, _ value: String, in table: TOMLTable) throws(RegistryConfigurationError) {
        guard ImageReference.isShortName(name), (try? ImageReference.parse(name)) != nil,
            RegistriesConfiguration.splitTagAndDigest(name).suffix.isEmpty
        else {
            throw malformed(table, name, "alias name \"\(name)\" must be a short name without a registry, tag or digest (such as \"alpine\")")
        }
        if value.isEmpty { return }
        guard !ImageReference.isShortName(value), (try? ImageReference.parse(value)) != nil,
            RegistriesConfiguration.splitTagAndDigest(value).suffix.isEmpty
        else {
            throw malformed(
                table, name,
                "alias \"\(name)\" = \"\(value)\" must name a registry and repository without a tag or digest (such as \"docker.io/library/alpine\")")
        }
    }

    /// The deprecated v1 format: `[registries.search]`, `[registries.insecure]`, `[registries.block]`,
    /// each with a `registries` list of hosts.
    private func readVersion1(_ root: TOMLTable) throws(RegistryConfigurationError) -> RegistriesConfiguration {
        var configuration = RegistriesConfiguration(files: [path])
        guard let registries = try table("registries", in: root) else { return configuration }
        func hosts(_ section: String) throws(RegistryConfigurationError) -> [String] {
            guard let table = try table(section, in: registries) else { return [] }
            let list = try strings("registries", in: table) ?? []
            for host in list where !isRegistryHost(host) {
                throw malformed(table, "registries", "\"\(host)\" in [registries.\(section)] is not a registry host[:port]")
            }
            return list
        }
        let search = try hosts("search")
        if !search.isEmpty { configuration.unqualifiedSearchRegistries = search }
        let origin = "\(path) line \(registries.line)"
        for host in try hosts("insecure") {
            configuration.registries.append(RegistryEntry(prefix: host, location: host, insecure: true, origin: origin))
        }
        for host in try hosts("block") {
            if let index = configuration.registries.firstIndex(where: { $0.prefix == host }) {
                configuration.registries[index].blocked = true
            } else {
                configuration.registries.append(RegistryEntry(prefix: host, location: host, blocked: true, origin: origin))
            }
        }
        return configuration
    }

    // MARK: Typed values

    private func string(_ key: String, in table: TOMLTable) throws(RegistryConfigurationError) -> String? {
        switch table[key] {
        case nil: return nil
        case .string(let value)?: return value
        case let other?: throw malformed(table, key, "\"\(key)\" must be a string, not \(other.kind)")
        }
    }

    private func bool(_ key: String, in table: TOMLTable) throws(RegistryConfigurationError) -> Bool? {
        switch table[key] {
        case nil: return nil
        case .boolean(let value)?: return value
        case let other?: throw malformed(table, key, "\"\(key)\" must be true or false, not \(other.kind)")
        }
    }

    private func strings(_ key: String, in table: TOMLTable) throws(RegistryConfigurationError) -> [String]? {
        switch table[key] {
        case nil: return nil
        case .array(let elements)?:
            var result: [String] = []
            for element in elements {
                guard case .string(let value) = element else {
                    throw malformed(table, key, "\"\(key)\" must be an array of strings, but holds \(element.kind)")
                }
                result.append(value)
            }
            return result
        case let other?: throw malformed(table, key, "\"\(key)\" must be an array of strings, not \(other.kind)")
        }
    }

    private func table(_ key: String, in table: TOMLTable) throws(RegistryConfigurationError) -> TOMLTable? {
        switch table[key] {
        case nil: return nil
        case .table(let inner)?: return inner
        case let other?: throw malformed(table, key, "\"\(key)\" must be a table, not \(other.kind)")
        }
    }

    /// `[[key]]` tables (an inline array of tables is accepted too).
    private func tables(_ key: String, in table: TOMLTable) throws(RegistryConfigurationError) -> [TOMLTable] {
        switch table[key] {
        case nil: return []
        case .array(let elements)?:
            var result: [TOMLTable] = []
            for element in elements {
                guard case .table(var inner) = element else { throw malformed(table, key, "\"\(key)\" must be [[\(key)]] tables, but holds \(element.kind)") }
                if inner.line == 0 { inner.line = table.line(of: key) }
                result.append(inner)
            }
            return result
        case let other?: throw malformed(table, key, "\"\(key)\" must be [[\(key)]] tables, not \(other.kind)")
        }
    }

    private func malformed(_ table: TOMLTable, _ key: String, _ problem: String) -> RegistryConfigurationError {
        .malformed(path: path, line: table.line(of: key), problem: problem)
    }
}
