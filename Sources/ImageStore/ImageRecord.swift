import FoundationEssentials
import ImageReference
import Registry
import SystemSupport

/// One image in the store.
public struct ImageRecord: Codable, Sendable {
    /// The image id: the digest of its configuration, as in Docker.
    public var id: Digest
    /// Normalised references (`127.0.0.1:5000/test/busybox:latest`) that point at it.
    public var names: [String]
    /// `name@manifest-digest` for each repository it was pulled from.
    public var repoDigests: [String]
    public var manifestDigest: Digest
    public var layerDigests: [Digest]
    public var diffIDs: [Digest]
    public var chainIDs: [Digest]
    public var size: Int64
    public var created: String?
    public var pulled: String
    public var platform: Platform

    public var shortID: String { String(id.hex.prefix(12)) }
}

/// Errors of the store itself.
public enum ImageStoreError: Error, UserFacingError {
    case imageNotFound(String)
    case ambiguous(String)
    case corruptIndex(path: String, reason: String)
    case io(SystemCallError)
    case unsupportedLayer(image: String, mediaType: String)
    case invalidImage(image: String, reason: String)
    case unpackFailed(layer: Digest, reason: String)
    case inUse(image: String, id: String)

    public var userMessage: String {
        switch self {
        case .imageNotFound(let name):
            return "image \(name) is not in the local store — see swctr images, or pull it: swctr pull \(name)"
        case .ambiguous(let prefix):
            return "\"\(prefix)\" matches more than one image — give more of the id or the full name"
        case .corruptIndex(let path, let reason):
            return "the image index \(path) is damaged (\(reason)) — move it aside and pull the images again"
        case .io(let error):
            return "image store: \(error.description)"
        case .unsupportedLayer(let image, let mediaType):
            if mediaType == MediaType.dockerForeignLayer || mediaType.contains("nondistributable") {
                return "image \(image) has a foreign (non-distributable) layer, which swctr does not fetch — use an image without Windows/foreign layers"
            }
            return "image \(image) has a layer of media type \"\(mediaType)\", which swctr cannot unpack"
        case .invalidImage(let image, let reason):
            return "image \(image) is not valid: \(reason)"
        case .unpackFailed(let layer, let reason):
            return "cannot unpack layer \(layer.description.prefix(19)): \(reason)"
        case .inUse(let image, let id):
            return "image \(image) (\(id)) is used by a container — remove the container first, or use rmi -f to remove its containers too"
        }
    }
}
