// Registry owns the distribution-spec client: URLs, auth challenges, manifests and blobs, and the
// OCI/Docker image formats it speaks. Every byte it hands on has been checked against its digest.
import CCrypto
import ImageReference
import SystemSupport

/// SHA-256 over a stream of bytes (OpenSSL's libcrypto: hardware-accelerated where the CPU has it).
///
/// It uses libcrypto's low-level SHA256_* functions, not EVP: those run the same block code, and
/// need no provider. EVP's first fetch of SHA-256 set up the default provider (name maps,
/// algorithm tables), about 0.5 ms of every `swctr run`, which hashes one small key.
public final class ContentHasher {
    private let context: UnsafeMutablePointer<SHA256_CTX>

    public init() {
        context = .allocate(capacity: 1)
        SHA256_Init(context)
    }

    deinit { context.deallocate() }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        if bytes.count > 0 { SHA256_Update(context, bytes.baseAddress, bytes.count) }
    }

    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    public func finish() -> Digest {
        var output = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        SHA256_Final(&output, context)
        return Digest(algorithm: "sha256", hex: FileSystem.hex(output))
    }

    public static func digest(of bytes: [UInt8]) -> Digest {
        let hasher = ContentHasher()
        hasher.update(bytes)
        return hasher.finish()
    }
}
