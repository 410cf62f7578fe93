// Registry owns the distribution-spec client: URLs, auth challenges, manifests and blobs, and the
// OCI/Docker image formats it speaks. Every byte it hands on has been checked against its digest.
import CCrypto
import ImageReference
import SystemSupport

/// SHA-256 over a stream of bytes (nettle's: hardware-accelerated where the CPU has it).
public final class ContentHasher {
    private let context: UnsafeMutablePointer<sha256_ctx>

    public init() {
        context = .allocate(capacity: 1)
        nettle_sha256_init(context)
    }

    deinit { context.deallocate() }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        if let base = bytes.baseAddress, bytes.count > 0 {
            nettle_sha256_update(context, bytes.count, base.assumingMemoryBound(to: UInt8.self))
        }
    }

    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    public func finish() -> Digest {
        var output = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_SIZE))
        nettle_sha256_digest(context, output.count, &output)
        return Digest(algorithm: "sha256", hex: FileSystem.hex(output))
    }

    public static func digest(of bytes: [UInt8]) -> Digest {
        let hasher = ContentHasher()
        hasher.update(bytes)
        return hasher.finish()
    }
}
