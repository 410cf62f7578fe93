import FoundationEssentials
import SystemSupport

/// One containers-auth.json(5) or Docker config.json file: `auths` entries, `credHelpers`,
/// `credsStore`, and every other key kept as it was for writing the file back.
struct AuthFile {
    let path: String
    private var document: [String: JSONValue]

    init(path: String, document: [String: JSONValue] = [:]) {
        self.path = path
        self.document = document
    }

    /// The file's contents, or nil when there is no such file.
    static func read(_ path: String) throws(CredentialError) -> AuthFile? {
        guard FileSystem.exists(path) else { return nil }
        let bytes: [UInt8]
        do { bytes = try FileSystem.readFile(path, limit: 16 << 20) } catch { throw .unreadableFile(path: path, reason: error.reason) }
        if String(decoding: bytes, as: UTF8.self).trimmed.isEmpty { return AuthFile(path: path) }
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes)) else {
            throw .malformedFile(path: path, reason: "it is not valid JSON")
        }
        guard case .object(let document) = value else { throw .malformedFile(path: path, reason: "it holds \(value.kind), not a JSON object") }
        let file = AuthFile(path: path, document: document)
        try file.validate()
        return file
    }

    private func validate() throws(CredentialError) {
        switch document["auths"] {
        case nil, .object?: break
        case let other?: throw .malformedFile(path: path, reason: "\"auths\" is \(other.kind), not an object")
        }
        for (key, entry) in auths {
            guard case .object = entry else { throw .malformedFile(path: path, reason: "auths[\"\(key)\"] is \(entry.kind), not an object") }
        }
        switch document["credHelpers"] {
        case nil, .object?: break
        case let other?: throw .malformedFile(path: path, reason: "\"credHelpers\" is \(other.kind), not an object")
        }
        for (key, helper) in credHelperValues {
            guard case .string = helper else { throw .malformedFile(path: path, reason: "credHelpers[\"\(key)\"] is \(helper.kind), not a helper name") }
        }
        switch document["credsStore"] {
        case nil, .string?, .null?: break
        case let other?: throw .malformedFile(path: path, reason: "\"credsStore\" is \(other.kind), not a helper name")
        }
    }

    private var auths: [String: JSONValue] {
        if case .object(let auths)? = document["auths"] { return auths }
        return [:]
    }

    private var credHelperValues: [String: JSONValue] {
        if case .object(let helpers)? = document["credHelpers"] { return helpers }
        return [:]
    }

    /// The helper `credHelpers` names for a registry host (keys compared normalised).
    func credentialHelper(for host: String) -> String? {
        let wanted = CredentialStore.normalizedKey(host)
        let matches = credHelperValues.filter { CredentialStore.normalizedKey($0.key) == wanted }
        guard let chosen = matches[wanted] ?? matches.sorted(by: { $0.key < $1.key }).first?.value,
            case .string(let helper) = chosen, !helper.isEmpty
        else { return nil }
        return helper
    }

    /// `credsStore`: the helper for every registry without a `credHelpers` entry.
    var defaultCredentialHelper: String? {
        if case .string(let helper)? = document["credsStore"], !helper.isEmpty { return helper }
        return nil
    }

    /// The credentials of the first of `keys` (normalised, most specific first) that has an entry
    /// with credentials; an entry written exactly as the key wins over a URL form of it.
    func credentials(forKeys keys: [String]) throws(CredentialError) -> RegistryCredentials? {
        let byKey = Dictionary(grouping: auths.keys) { CredentialStore.normalizedKey($0) }
        for key in keys {
            let rawKeys = (byKey[key] ?? []).sorted { ($0 == key ? 0 : 1, $0) < ($1 == key ? 0 : 1, $1) }
            for rawKey in rawKeys {
                guard case .object(let entry)? = auths[rawKey] else { continue }
                if let credentials = try credentials(in: entry, key: rawKey) { return credentials }
            }
        }
        return nil
    }

    /// `auth` (base64 of `user:password`), else `username` and `password`; `identitytoken` kept.
    private func credentials(in entry: [String: JSONValue], key: String) throws(CredentialError) -> RegistryCredentials? {
        func string(_ field: String) -> String? {
            if case .string(let value)? = entry[field], !value.isEmpty { return value }
            return nil
        }
        var credentials = RegistryCredentials(username: string("username") ?? "", password: string("password") ?? "")
        if let auth = string("auth") {
            guard let decoded = Self.decodeBase64(auth), let colon = decoded.firstIndex(of: ":") else {
                throw .malformedFile(path: path, reason: "auths[\"\(key)\"].auth is not base64 of user:password")
            }
            credentials.username = String(decoded[..<colon])
            credentials.password = String(decoded[decoded.index(after: colon)...])
        }
        credentials.identityToken = string("identitytoken")
        if credentials.username.isEmpty && credentials.password.isEmpty && credentials.identityToken == nil { return nil }
        return credentials
    }

    private static func decodeBase64(_ text: String) -> String? {
        var padded = text.trimmed
        while padded.count % 4 != 0 { padded += "=" }
        guard let data = Data(base64Encoded: padded) else { return nil }
        return String(data: data, encoding: .utf8)
    }

    // MARK: Changing entries

    /// Sets the entry for `key` (a normalised key), replacing any spelling of the same key.
    mutating func setCredentials(_ credentials: RegistryCredentials, forKey key: String) {
        var entries = auths.filter { CredentialStore.normalizedKey($0.key) != key }
        var entry: [String: JSONValue] = ["auth": .string(Data((credentials.username + ":" + credentials.password).utf8).base64EncodedString())]
        if let token = credentials.identityToken { entry["identitytoken"] = .string(token) }
        entries[key] = .object(entry)
        document["auths"] = .object(entries)
    }

    /// Removes every spelling of `key`; whether there was one.
    mutating func removeCredentials(forKey key: String) -> Bool {
        let entries = auths.filter { CredentialStore.normalizedKey($0.key) != key }
        if entries.count == auths.count { return false }
        document["auths"] = .object(entries)
        return true
    }

    /// Removes every entry; how many there were.
    mutating func removeAllCredentials() -> Int {
        let count = auths.count
        if count > 0 { document["auths"] = .object([:]) }
        return count
    }

    /// Writes the file atomically, readable by this user only, its directory made 0700 if missing.
    func write() throws(CredentialError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let bytes: [UInt8]
        do { bytes = Array(try encoder.encode(document)) + Array("\n".utf8) } catch {
            throw .cannotWrite(path: path, reason: "cannot encode its JSON")
        }
        do {
            if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
                try FileSystem.makeDirectories(String(path[..<slash]), mode: 0o700)
            }
            try FileSystem.writeAtomically(path, bytes, mode: 0o600)
        } catch {
            throw .cannotWrite(path: path, reason: error.description)
        }
    }
}
