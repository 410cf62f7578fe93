// ImageStore owns what is on disk for images: content-addressed blobs (verified, fsynced, renamed
// into place), the image index, and layers unpacked once each (by chain id) with overlay whiteouts.
import ImageReference
import Registry
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// Where each kind of thing lives under the data directory.
public struct StoreLayout: Sendable {
    public let root: String

    public init(root: String) { self.root = root }

    public var blobsDirectory: String { root + "/blobs/sha256" }
    public var layersDirectory: String { root + "/layers" }
    public var containersDirectory: String { root + "/containers" }
    public var imageIndexPath: String { root + "/images.json" }
    public var lockPath: String { root + "/store.lock" }
    public var temporaryDirectory: String { root + "/tmp" }

    public func blobPath(_ digest: Digest) -> String { blobsDirectory + "/" + digest.hex }
    public func layerPath(_ chainID: Digest) -> String { layersDirectory + "/" + chainID.hex }

    public func prepare() throws(SystemCallError) {
        for directory in [blobsDirectory, layersDirectory, containersDirectory, temporaryDirectory] {
            try FileSystem.makeDirectories(directory, mode: 0o700)
        }
    }
}

/// Layer chain ids (OCI image spec): each layer's id depends on all the layers below it.
public enum ChainID {
    public static func compute(_ diffIDs: [Digest]) -> [Digest] {
        var result: [Digest] = []
        for diffID in diffIDs {
            if let previous = result.last {
                result.append(ContentHasher.digest(of: Array("\(previous) \(diffID)".utf8)))
            } else {
                result.append(diffID)
            }
        }
        return result
    }
}
