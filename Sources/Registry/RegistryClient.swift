import FoundationEssentials
import ImageReference
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// A client for one registry (OCI distribution spec, pull side).
public final class RegistryClient {
    public let domain: String
    private let host: String
    private let tlsVerify: Bool
    private let allowPlainHTTP: Bool
    private let http = HTTPClient()
    private var baseURL: String?
    private var bearerTokens: [String: String] = [:]  // scope → token

    /// Manifests and configs are small: refuse anything bigger.
    public static let documentLimit = 8 << 20

    /// - Parameters:
    ///   - tlsVerify: false accepts unverified TLS and plain HTTP for any registry (`--tls-verify=false`).
    public init(reference: ImageReference, tlsVerify: Bool = true) {
        domain = reference.domain
        host = reference.registryHost
        self.tlsVerify = tlsVerify
        allowPlainHTTP = reference.isLoopback || !tlsVerify
    }

    /// Finds how to talk to the registry: HTTPS, or plain HTTP for loopback registries without TLS.
    private func resolveBaseURL() throws(RegistryError) -> String {
        if let baseURL { return baseURL }
        http.verifyTLS = tlsVerify && !allowPlainHTTP
        do {
            _ = try http.request("https://\(host)/v2/") { _ in true }
            baseURL = "https://\(host)"
        } catch {
            guard allowPlainHTTP, error.isTLSFailure || error.code == 7 /* couldn't connect on 443 */ else {
                throw .unreachable(registry: domain, reason: error.message)
            }
            do {
                _ = try http.request("http://\(host)/v2/") { _ in true }
                baseURL = "http://\(host)"
            } catch {
                throw .unreachable(registry: domain, reason: error.message)
            }
        }
        return baseURL!
    }

    /// Performs a request, answering a bearer-token challenge once.
    private func perform(_ path: String, repository: String, headers: [String] = [], sink: @escaping (UnsafeRawBufferPointer) -> Bool) throws(RegistryError) -> HTTPResponse {
        let base = try resolveBaseURL()
        let url = base + path
        let scope = "repository:\(repository):pull"
        for attempt in 0..<2 {
            var requestHeaders = headers
            if let token = bearerTokens[scope] { requestHeaders.append("Authorization: Bearer \(token)") }
            let response: HTTPResponse
            do {
                response = try http.request(url, headers: requestHeaders, sink: sink)
            } catch {
                throw .unreachable(registry: domain, reason: error.message)
            }
            if response.status == 401 && attempt == 0, let challenge = response.headers["www-authenticate"],
               let parsed = AuthChallenge.parse(challenge), parsed.scheme == "bearer" {
                bearerTokens[scope] = try fetchToken(parsed, scope: scope, repository: repository)
                continue
            }
            return response
        }
        throw .unauthorized(registry: domain, repository: repository)
    }

    private func fetchToken(_ challenge: AuthChallenge, scope: String, repository: String) throws(RegistryError) -> String {
        guard let realm = challenge.parameters["realm"], realm.hasPrefix("http") else {
            throw .malformed(what: "authentication challenge", registry: domain, reason: "no realm")
        }
        var query: [String] = []
        if let service = challenge.parameters["service"] { query.append("service=" + percentEncode(service)) }
        query.append("scope=" + percentEncode(challenge.parameters["scope"] ?? scope))
        let url = realm + (realm.contains("?") ? "&" : "?") + query.joined(separator: "&")
        let tokenClient = HTTPClient()
        tokenClient.verifyTLS = tlsVerify
        let response: HTTPResponse
        let body: [UInt8]
        do {
            (response, body) = try tokenClient.fetch(url, limit: 1 << 20)
        } catch {
            throw .unreachable(registry: domain, reason: "token server: " + error.message)
        }
        if response.status == 401 || response.status == 403 { throw .unauthorized(registry: domain, repository: repository) }
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
                result += "%" + ContentHasher.hex(byte).uppercased()
            }
        }
        return result
    }

    private func failure(for response: HTTPResponse, body: [UInt8], url: String, reference: String, repository: String) -> RegistryError {
        let document = try? JSONDecoder().decode(RegistryErrorDocument.self, from: Data(body))
        let codes = document?.errors?.compactMap(\.code) ?? []
        if response.status == 404 || codes.contains("MANIFEST_UNKNOWN") || codes.contains("NAME_UNKNOWN") {
            return .notFound(reference: reference)
        }
        if response.status == 401 || response.status == 403 { return .unauthorized(registry: domain, repository: repository) }
        let message = document?.errors?.compactMap(\.message).joined(separator: "; ") ?? ""
        return .httpStatus(registry: domain, url: url, status: response.status, message: message)
    }

    /// A manifest or index, checked against the digest asked for or the one the registry declares.
    public struct FetchedManifest {
        public let bytes: [UInt8]
        public let mediaType: String
        public let digest: Digest
    }

    public func fetchManifest(repository: String, reference: String, expected: Digest?, displayName: String) throws(RegistryError) -> FetchedManifest {
        var body: [UInt8] = []
        var tooLarge = false
        let path = "/v2/\(repository)/manifests/\(reference)"
        let response = try perform(path, repository: repository, headers: ["Accept: " + MediaType.manifestAccept.joined(separator: ", ")]) { chunk in
            if body.count + chunk.count > Self.documentLimit { tooLarge = true; return false }
            body.append(contentsOf: chunk)
            return true
        }
        if tooLarge { throw .tooLarge(what: "manifest of \(displayName)", registry: domain, limit: Self.documentLimit) }
        guard response.status == 200 else {
            throw failure(for: response, body: response.errorBody, url: path, reference: displayName, repository: repository)
        }
        let actual = ContentHasher.digest(of: body)
        var declared = expected
        if declared == nil, let header = response.headers["docker-content-digest"] {
            declared = try? Digest.parse(header)
        }
        if let declared, declared != actual {
            throw .digestMismatch(what: "manifest of \(displayName)", registry: domain, expected: declared, actual: actual)
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
        if probe.schemaVersion == 1 { mediaType = MediaType.dockerManifestSchema1 }
        if !MediaType.isIndex(mediaType) && !MediaType.isManifest(mediaType) {
            if probe.manifests != nil { mediaType = MediaType.ociIndex } else if probe.layers != nil && probe.schemaVersion == 2 { mediaType = MediaType.ociManifest }
        }
        return FetchedManifest(bytes: body, mediaType: mediaType, digest: actual)
    }

    /// Streams a blob into `sink` while checking its size and digest; throws before returning if
    /// either does not match (the caller then discards what it wrote).
    public func fetchBlob(repository: String, descriptor: Descriptor, what: String, sink: @escaping (UnsafeRawBufferPointer) -> Bool) throws(RegistryError) {
        let hasher = ContentHasher()
        var received: Int64 = 0
        var overflow = false
        var sinkFailed = false
        let path = "/v2/\(repository)/blobs/\(descriptor.digest)"
        let response = try perform(path, repository: repository) { chunk in
            received += Int64(chunk.count)
            if received > descriptor.size { overflow = true; return false }
            hasher.update(chunk)
            if !sink(chunk) { sinkFailed = true; return false }
            return true
        }
        guard response.status == 200 else {
            throw failure(for: response, body: response.errorBody, url: path, reference: "\(what) \(descriptor.digest)", repository: repository)
        }
        if sinkFailed { throw .storage(SystemCallError("write", on: what, errno: EIO)) }
        if overflow || received != descriptor.size {
            throw .sizeMismatch(what: "\(what) \(descriptor.digest)", registry: domain, expected: descriptor.size, actual: received)
        }
        let actual = hasher.finish()
        if actual != descriptor.digest {
            throw .digestMismatch(what: "\(what) \(descriptor.digest.description.prefix(19))", registry: domain, expected: descriptor.digest, actual: actual)
        }
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
