// ImageStore owns what is on disk for images: content-addressed blobs (verified, fsynced, renamed
// into place), the image index, and layers unpacked once each (by chain id) with overlay whiteouts.
import CLinux
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
    /// Where containers mount their root filesystem, each in its own mount namespace.
    public var rootfsMountPoint: String { root + "/rootfs" }
    /// Directories of removed containers kept for new ones (Rootfs.SpareContainerDirectories).
    public var spareContainersDirectory: String { root + "/spare-containers" }
    /// The layer of mount points every container's overlay gets on top (Rootfs.MountPointLayer).
    public var mountPointLayer: String { root + "/mount-points" }

    public func blobPath(_ digest: Digest) -> String { blobsDirectory + "/" + digest.hex }
    public func layerPath(_ chainID: Digest) -> String { layersDirectory + "/" + chainID.hex }

    public func prepare() throws(SystemCallError) {
        for directory in [blobsDirectory, layersDirectory, containersDirectory, temporaryDirectory] {
            try FileSystem.makeDirectories(directory, mode: 0o700)
        }
        try FileSystem.makeDirectories(rootfsMountPoint, mode: 0o755)
        // Layers and containers' writable layers hold many files that come and go together. As
        // tops of hierarchies, ext4 spreads their subdirectories over block groups. Otherwise a
        // new layer lands beside the thousands of inodes a removed one just freed, and ext4's
        // search past "recently deleted" inodes makes every file creation slow, for about
        // half a minute after an rmi. (Other filesystems ignore or refuse the flag; either is fine.)
        for directory in [layersDirectory, containersDirectory] {
            if let fd = try? FileDescriptor.open(directory, O_RDONLY | O_DIRECTORY) {
                _ = swctr_set_topdir(fd.rawValue)
                fd.close()
            }
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
