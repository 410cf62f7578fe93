// Registry owns the distribution-spec client: URLs, auth challenges, manifests and blobs, and the
// OCI/Docker image formats it speaks. Every byte it hands on has been checked against its digest.
import CCrypto
import ImageReference

/// SHA-256 over a stream of bytes (OpenSSL's libcrypto: hardware-accelerated where the CPU has it).
public final class ContentHasher {
    private let context: OpaquePointer

    public init() {
        context = EVP_MD_CTX_new()
        EVP_DigestInit_ex(context, Self.sha256, nil)
    }

    /// SHA-256 from the default provider, fetched once. libcrypto is set up without reading
    /// openssl.cnf and without its exit handler: this copy of it (linked into swctr) only hashes,
    /// and the two took about 1 ms of every `swctr run` (TLS goes through libcurl's own libssl).
    /// (An EVP_MD is immutable once fetched and may be used from any thread.)
    nonisolated(unsafe) private static let sha256: OpaquePointer? = {
        _ = OPENSSL_init_crypto(UInt64(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_ATEXIT), nil)
        return EVP_MD_fetch(nil, "SHA256", nil)
    }()

    deinit { EVP_MD_CTX_free(context) }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        if bytes.count > 0 { EVP_DigestUpdate(context, bytes.baseAddress, bytes.count) }
    }

    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    public func finish() -> Digest {
        var output = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &output, &length)
        return Digest(algorithm: "sha256", hex: output.map { Self.hex($0) }.joined())
    }

    public static func digest(of bytes: [UInt8]) -> Digest {
        let hasher = ContentHasher()
        hasher.update(bytes)
        return hasher.finish()
    }

    static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0xf)]])
    }
}
