import FoundationEssentials
import ImageReference
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

extension RegistryCredentials {
    var basicAuthorization: String {
        "Authorization: Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
    }
}

/// A client for one registry (OCI distribution spec): manifests and blobs, pull and push.
/// Safe to use from several threads at once: each request takes an HTTP connection of its own
/// from a pool, and tokens are shared.
public final class RegistryClient: @unchecked Sendable {
    /// The registry's name as users write it (for messages).
    public let domain: String
    private let host: String
    private let tlsVerify: Bool
    private let allowPlainHTTP: Bool
    public let credentials: RegistryCredentials?
    /// Waits before each retry of a request that failed in a way that may pass (a dropped
    /// connection, 429, 502, 503, 504). The first contact is not retried: a registry that is
    /// down fails at once, so the next mirror gets its turn.
    public var retryDelays: [Double] = [0.5, 1.5, 3]

    private let lock = Lock()
    private var baseURL: String?
    private var bearerTokens: [String: String] = [:]  // scope → token
    private var usesBasicAuthentication = false
    private var idleClients: [HTTPClient] = []

    /// Manifests and configs are small: refuse anything bigger.
    public static let documentLimit = 8 << 20

    /// - Parameters:
    ///   - host: what to contact (`registry-1.docker.io` for docker.io, a mirror's host, ...).
    ///   - insecure: plain HTTP and unverified TLS are allowed (`--tls-verify=false`, or an
    ///     insecure registry in registries.conf). Loopback registries may always use plain HTTP.
    public init(domain: String, host: String, insecure: Bool, credentials: RegistryCredentials? = nil) {
        self.domain = domain
        self.host = host
        tlsVerify = !insecure
        let bare = host.hasPrefix("[") ? String(host.prefix { $0 != "]" }) + "]" : String(host.split(separator: ":").first ?? "")
        allowPlainHTTP = insecure || bare == "localhost" || bare.hasPrefix("127.") || bare == "[::1]"
        self.credentials = credentials
    }

    public convenience init(reference: ImageReference, tlsVerify: Bool = true, credentials: RegistryCredentials? = nil) {
        self.init(domain: reference.domain, host: reference.registryHost, insecure: !tlsVerify, credentials: credentials)
    }

    // MARK: - Connections

    private func withConnection<T>(_ body: (HTTPClient) throws(HTTPTransportError) -> T) throws(HTTPTransportError) -> T {
        let client = lock.withLock { idleClients.popLast() } ?? HTTPClient()
        client.verifyTLS = tlsVerify
        defer { lock.withLock { idleClients.append(client) } }
        return try body(client)
    }

    /// Finds how to talk to the registry: HTTPS, or plain HTTP where allowed and TLS fails.
    private func resolveBaseURL() throws(RegistryError) -> String {
        if let known = lock.withLock({ baseURL }) { return known }
        var resolved = "https://\(host)"
        do {
            _ = try withConnection { http throws(HTTPTransportError) in try http.request(resolved + "/v2/") { _ in true } }
        } catch {
            guard allowPlainHTTP, error.isTLSFailure || error.code == 7 /* couldn't connect on 443 */ else {
                throw .unreachable(registry: domain, reason: error.message)
            }
            resolved = "http://\(host)"
            do {
                _ = try withConnection { http throws(HTTPTransportError) in try http.request(resolved + "/v2/") { _ in true } }
            } catch {
                throw .unreachable(registry: domain, reason: error.message)
            }
        }
        lock.withLock { baseURL = resolved }
        return resolved
    }

    // MARK: - Requests

    private static let retriedStatuses: Set<Int> = [408, 429, 500, 502, 503, 504]

    private func authorization(for scope: String) -> String? {
        lock.withLock {
            if let token = bearerTokens[scope] { return "Authorization: Bearer \(token)" }
            if usesBasicAuthentication, let credentials { return credentials.basicAuthorization }
            return nil
        }
    }

    /// Performs a request: answers one authentication challenge, retries what may pass.
    /// A transfer that fails after body bytes reached `sink` is not retried here (the caller
    /// resumes it); such a failure throws `.interrupted`.
    func perform(_ method: String = "GET", path: String, repository: String, actions: String = "pull", headers: [String] = [],
                 body: HTTPBody? = nil, sink: @escaping HTTPClient.BodySink = { _ in true }) throws(RegistryError) -> HTTPResponse {
        let base = try resolveBaseURL()
        let url = path.hasPrefix("http://") || path.hasPrefix("https://") ? path : base + path
        let scope = "repository:\(repository):\(actions)"
        var authenticated = false
        var attempt = 0
        while true {
            var requestHeaders = headers
            if let authorization = authorization(for: scope) { requestHeaders.append(authorization) }
            if body != nil { requestHeaders.append("Expect:") }
            if case .file(let fd, _) = body { lseek(fd.rawValue, 0, SEEK_SET) }
            var delivered = false
            let response: HTTPResponse
            do {
                response = try withConnection { http throws(HTTPTransportError) in
                    try http.request(url, method: method, headers: requestHeaders, body: body) { chunk in
                        delivered = true
                        return sink(chunk)
                    }
                }
            } catch {
                if delivered { throw .interrupted(registry: domain, reason: error.message) }
                if attempt < retryDelays.count {
                    Self.pause(retryDelays[attempt])
                    attempt += 1
                    continue
                }
                throw .unreachable(registry: domain, reason: error.message)
            }
            if Self.retriedStatuses.contains(response.status) && attempt < retryDelays.count {
                Self.pause(Double(response.headers["retry-after"] ?? "").map { min($0, 10) } ?? retryDelays[attempt])
                attempt += 1
                continue
            }
            if response.status == 401 && !authenticated, let header = response.headers["www-authenticate"], let challenge = AuthChallenge.parse(header) {
                authenticated = true
                try answer(challenge, scope: scope, repository: repository)
                continue
            }
            if response.status == 401 || response.status == 403 {
                guard let credentials, authenticated else { throw .authenticationRequired(registry: domain, repository: repository) }
                // Basic credentials the registry refuses are wrong; a token it refuses lacks access.
                if lock.withLock({ usesBasicAuthentication }) || repository.isEmpty {
                    throw .credentialsRejected(registry: domain, username: credentials.username)
                }
                throw .accessDenied(registry: domain, repository: repository, username: credentials.username)
            }
            return response
        }
    }

    private static func pause(_ seconds: Double) {
        var time = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
        var left = timespec()
        while nanosleep(&time, &left) != 0 && errno == EINTR { time = left }
    }

    private func answer(_ challenge: AuthChallenge, scope: String, repository: String) throws(RegistryError) {
        switch challenge.scheme {
        case "bearer":
            let token = try fetchToken(challenge, scope: scope, repository: repository)
            lock.withLock { bearerTokens[scope] = token }
        case "basic":
            guard credentials != nil else { throw .authenticationRequired(registry: domain, repository: repository) }
            lock.withLock { usesBasicAuthentication = true }
        default:
            throw .malformed(what: "authentication challenge", registry: domain, reason: "unknown scheme \"\(challenge.scheme)\"")
        }
    }

    private func fetchToken(_ challenge: AuthChallenge, scope: String, repository: String) throws(RegistryError) -> String {
        guard let realm = challenge.parameters["realm"], realm.hasPrefix("http") else {
            throw .malformed(what: "authentication challenge", registry: domain, reason: "no realm")
        }
        var query: [String] = []
        if let service = challenge.parameters["service"] { query.append("service=" + percentEncode(service)) }
        if !repository.isEmpty { query.append("scope=" + percentEncode(scope)) }
        if let credentials { query.append("account=" + percentEncode(credentials.username)) }
        let url = realm + (realm.contains("?") ? "&" : "?") + query.joined(separator: "&")
        var body: [UInt8] = []
        let response: HTTPResponse
        do {
            response = try withConnection { http throws(HTTPTransportError) in
                try http.request(url, headers: credentials.map { [$0.basicAuthorization] } ?? []) { chunk in
                    if body.count + chunk.count > 1 << 20 { return false }
                    body.append(contentsOf: chunk)
                    return true
                }
            }
        } catch {
            throw .unreachable(registry: domain, reason: "token server \(realm): " + error.message)
        }
        if response.status == 401 || response.status == 403 {
            if let credentials { throw .credentialsRejected(registry: domain, username: credentials.username) }
            throw .authenticationRequired(registry: domain, repository: repository)
        }
        guard response.status == 200 else {
            throw .httpStatus(registry: domain, url: realm, status: response.status, message: "token request failed")
        }
        struct TokenAnswer: Decodable {
            var token: String?
            var access_token: String?
        }
        guard let answer = try? JSONDecoder().decode(TokenAnswer.self, from: Data(body)),
              let token = answer.token ?? answer.access_token, !token.isEmpty
        else { throw .malformed(what: "token answer", registry: domain, reason: "no token in it") }
        return token
    }

    private func percentEncode(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                result.append(Character(Unicode.Scalar(byte)))
            default:
                result += "%" + FileSystem.hex([byte]).uppercased()
            }
        }
        return result
    }

    private func failure(for response: HTTPResponse, url: String, reference: String, repository: String) -> RegistryError {
        let document = try? JSONDecoder().decode(RegistryErrorDocument.self, from: Data(response.errorBody))
        let codes = document?.errors?.compactMap(\.code) ?? []
        if response.status == 404 || codes.contains("MANIFEST_UNKNOWN") || codes.contains("NAME_UNKNOWN") {
            return .notFound(reference: reference)
        }
        let message = document?.errors?.compactMap(\.message).joined(separator: "; ") ?? ""
        return .httpStatus(registry: domain, url: url, status: response.status, message: message)
    }

    /// Checks that the registry answers and accepts the credentials (for `login`).
    public func checkAccess(repository: String?) throws(RegistryError) {
        let response = try perform(path: "/v2/", repository: repository ?? "", actions: "pull")
        guard response.status == 200 else {
            throw failure(for: response, url: "/v2/", reference: domain, repository: repository ?? "")
        }
    }

    // MARK: - Pull

    /// A manifest or index, checked against the digest asked for or the one the registry declares.
    public struct FetchedManifest: Sendable {
        public let bytes: [UInt8]
        public let mediaType: String
        public let digest: Digest
    }

    public func fetchManifest(repository: String, reference: String, expected: Digest?, displayName: String) throws(RegistryError) -> FetchedManifest {
        var body: [UInt8] = []
        var tooLarge = false
        let path = "/v2/\(repository)/manifests/\(reference)"
        let accept = "Accept: " + (MediaType.manifestAccept + [MediaType.dockerManifestSchema1Signed, MediaType.dockerManifestSchema1]).joined(separator: ", ")
        let response: HTTPResponse
        do {
            response = try perform(path: path, repository: repository, headers: [accept]) { chunk in
                if body.count + chunk.count > Self.documentLimit { tooLarge = true; return false }
                body.append(contentsOf: chunk)
                return true
            }
        } catch {
            if tooLarge { throw .tooLarge(what: "manifest of \(displayName)", registry: domain, limit: Self.documentLimit) }
            throw error
        }
        if tooLarge { throw .tooLarge(what: "manifest of \(displayName)", registry: domain, limit: Self.documentLimit) }
        guard response.status == 200 else {
            throw failure(for: response, url: path, reference: displayName, repository: repository)
        }
        let actual = ContentHasher.digest(of: body)
        var declared = expected
        if declared == nil, let header = response.headers["docker-content-digest"] {
            declared = try? Digest.parse(header)
        }
        // The media type comes from the document itself when it says, else from the header.
        struct Probe: Decodable {
            var mediaType: String?
            var schemaVersion: Int?
            var manifests: [EmptyObject]?
            var layers: [EmptyObject]?
        }
        guard let probe = try? JSONDecoder().decode(Probe.self, from: Data(body)) else {
            throw .malformed(what: "manifest of \(displayName)", registry: domain, reason: "not a JSON document")
        }
        var mediaType = probe.mediaType ?? response.headers["content-type"]?.split(separator: ";").first.map { String($0).trimmingCharacters(in: " ") } ?? ""
        if probe.schemaVersion == 1 {
            // Schema 1 is refused before its (signature-dependent) digest matters.
            throw .unsupportedMediaType(what: "image \(displayName)", mediaType: MediaType.dockerManifestSchema1)
        }
        if let declared, declared != actual {
            throw .digestMismatch(what: "manifest of \(displayName)", registry: domain, expected: declared, actual: actual)
        }
        if !MediaType.isIndex(mediaType) && !MediaType.isManifest(mediaType) {
            if probe.manifests != nil { mediaType = MediaType.ociIndex } else if probe.layers != nil && probe.schemaVersion == 2 { mediaType = MediaType.ociManifest }
        }
        return FetchedManifest(bytes: body, mediaType: mediaType, digest: actual)
    }

    /// Downloads a blob into the file at `partialPath`, resuming from what it already holds
    /// (HTTP range requests, also after a dropped connection), checks size and digest, and
    /// fsyncs it. On a mismatch the partial file is removed; after a failure that may pass
    /// (the registry went away) it is kept for the next try. `progress` gets the bytes so far.
    public func downloadBlob(repository: String, descriptor: Descriptor, what: String, to partialPath: String,
                             progress: @escaping (Int64) -> Void = { _ in }) throws(RegistryError) {
        let fd: FileDescriptor
        do { fd = try FileDescriptor.open(partialPath, O_RDWR | O_CREAT, mode: 0o600) } catch { throw .storage(error) }
        defer { fd.close() }
        let name = "\(what) \(descriptor.digest.description.prefix(19))"
        let hasher = ContentHasher()
        var received: Int64 = 0
        // What an earlier, interrupted download left: hashed again, then continued.
        do {
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while received < descriptor.size {
                let n = try systemCall("read", on: partialPath) { buffer.withUnsafeMutableBytes { Glibc.read(fd.rawValue, $0.baseAddress, $0.count) } }
                if n == 0 { break }
                hasher.update(Array(buffer[0..<min(n, Int(descriptor.size - received))]))
                received += Int64(min(n, Int(descriptor.size - received)))
            }
            try systemCall("ftruncate", on: partialPath) { ftruncate(fd.rawValue, off_t(received)) }
            lseek(fd.rawValue, off_t(received), SEEK_SET)
        } catch {
            throw .storage(error)
        }
        var hashing = hasher
        var resumes = 0
        var overflow = false
        let path = "/v2/\(repository)/blobs/\(descriptor.digest)"
        var rounds = 0
        // Bounded: a registry that keeps sending short bodies, or ignores ranges, ends in the size check.
        while received < descriptor.size && !overflow && rounds <= retryDelays.count + 1 {
            rounds += 1
            var writeError: SystemCallError?
            let start = received
            let response: HTTPResponse
            do {
                response = try perform(path: path, repository: repository, headers: start > 0 ? ["Range: bytes=\(start)-"] : []) { chunk in
                    if received + Int64(chunk.count) > descriptor.size { overflow = true; return false }
                    do throws(SystemCallError) { try fd.writeAll(chunk) } catch { writeError = error; return false }
                    hashing.update(chunk)
                    received += Int64(chunk.count)
                    progress(received)
                    return true
                }
            } catch {
                if let writeError { throw .storage(writeError) }
                if case .interrupted = error, resumes < retryDelays.count {
                    Self.pause(retryDelays[resumes])
                    resumes += 1
                    continue
                }
                throw error
            }
            if let writeError { throw .storage(writeError) }
            if response.status == 200 && start > 0 {
                // The registry ignored the range and sent the whole blob: start again from nothing.
                overflow = false
                hashing = ContentHasher()
                received = 0
                do {
                    try systemCall("ftruncate", on: partialPath) { ftruncate(fd.rawValue, 0) }
                    lseek(fd.rawValue, 0, SEEK_SET)
                } catch { throw .storage(error) }
                continue
            }
            guard response.status == 200 || response.status == 206 else {
                if response.status == 416 { break }  // nothing after `start`: the size check decides
                throw failure(for: response, url: path, reference: name, repository: repository)
            }
            if received == start { break }  // an empty answer: the size check decides
        }
        if received != descriptor.size || overflow {
            unlink(partialPath)
            throw .sizeMismatch(what: name, registry: domain, expected: descriptor.size, actual: overflow ? descriptor.size + 1 : received)
        }
        let actual = hashing.finish()
        if actual != descriptor.digest {
            unlink(partialPath)
            throw .digestMismatch(what: name, registry: domain, expected: descriptor.digest, actual: actual)
        }
        do { try fd.sync() } catch { throw .storage(error) }
    }

    // MARK: - Push

    /// Whether the repository has the blob already (then a push skips it).
    public func blobExists(repository: String, digest: Digest) throws(RegistryError) -> Bool {
        let path = "/v2/\(repository)/blobs/\(digest)"
        let response = try perform("HEAD", path: path, repository: repository, actions: "pull,push")
        if response.status == 200 { return true }
        if response.status == 404 { return false }
        throw failure(for: response, url: path, reference: digest.description, repository: repository)
    }

    /// Uploads a blob from a file in one request (POST to open the upload, PUT with the digest).
    public func uploadBlob(repository: String, digest: Digest, path file: String, size: Int64) throws(RegistryError) {
        let start = "/v2/\(repository)/blobs/uploads/"
        let opened = try perform("POST", path: start, repository: repository, actions: "pull,push", body: .bytes([]))
        guard opened.status == 202, let location = opened.headers["location"] else {
            throw failure(for: opened, url: start, reference: repository, repository: repository)
        }
        let fd: FileDescriptor
        do { fd = try FileDescriptor.open(file, O_RDONLY) } catch { throw .storage(error) }
        defer { fd.close() }
        let target = location + (location.contains("?") ? "&" : "?") + "digest=" + percentEncode(digest.description)
        let put = try perform("PUT", path: target, repository: repository, actions: "pull,push",
                              headers: ["Content-Type: application/octet-stream"], body: .file(fd, size: size))
        guard put.status == 201 || put.status == 204 else {
            throw failure(for: put, url: start, reference: digest.description, repository: repository)
        }
    }

    /// Stores a manifest under a tag (or its digest); returns the digest the registry gives it.
    @discardableResult
    public func putManifest(repository: String, reference: String, bytes: [UInt8], mediaType: String) throws(RegistryError) -> Digest {
        let path = "/v2/\(repository)/manifests/\(reference)"
        let response = try perform("PUT", path: path, repository: repository, actions: "pull,push",
                                   headers: ["Content-Type: " + mediaType], body: .bytes(bytes))
        guard response.status == 201 || response.status == 200 else {
            throw failure(for: response, url: path, reference: "\(repository):\(reference)", repository: repository)
        }
        return ContentHasher.digest(of: bytes)
    }
}

/// A `WWW-Authenticate` challenge: scheme and its parameters.
struct AuthChallenge {
    var scheme: String
    var parameters: [String: String]

    static func parse(_ header: String) -> AuthChallenge? {
        let trimmed = header.trimmingCharacters(in: " ")
        guard let space = trimmed.firstIndex(of: " ") else {
            return trimmed.isEmpty ? nil : AuthChallenge(scheme: trimmed.lowercased(), parameters: [:])
        }
        let scheme = trimmed[..<space].lowercased()
        var parameters: [String: String] = [:]
        var rest = Substring(trimmed[trimmed.index(after: space)...])
        while !rest.isEmpty {
            rest = rest.drop { $0 == " " || $0 == "," }
            guard let equals = rest.firstIndex(of: "=") else { break }
            let key = rest[..<equals].trimmingCharacters(in: " ").lowercased()
            rest = rest[rest.index(after: equals)...]
            var value = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                while let character = rest.first, character != "\"" {
                    if character == "\\" { rest = rest.dropFirst() }
                    if let next = rest.first { value.append(next); rest = rest.dropFirst() }
                }
                rest = rest.dropFirst()
            } else {
                let end = rest.firstIndex(of: ",") ?? rest.endIndex
                value = rest[..<end].trimmingCharacters(in: " ")
                rest = rest[end...]
            }
            parameters[key] = value
        }
        return AuthChallenge(scheme: scheme, parameters: parameters)
    }
}
