import FoundationEssentials
import ImageReference
import Registry
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// An image an archive holds, checked and ready to go into the store: its documents and where
/// the archive's copy of each blob is.
struct ArchivedImage {
    var names: [String]
    var configuration: ImageConfiguration
    var config: Descriptor
    var configFile: SpooledEntry
    var manifestDigest: Digest
    var manifestBytes: [UInt8]
    var layers: [(descriptor: Descriptor, file: SpooledEntry)]
    /// Whether each layer's content was already checked against its diff_id.
    var layersVerified: Bool
}

/// What `load` put in the store: the image, and the names the archive gave it.
public struct LoadedImage: Sendable {
    public let record: ImageRecord
    public let names: [String]
}

extension ImageStore {
    /// Loads every image of a docker-archive or oci-archive (plain or compressed) read from `fd`.
    /// Everything is checked before anything is stored: blobs against their digests, layers
    /// against the configuration's diff_ids. On failure the store is as it was.
    public func load(from fd: FileDescriptor, source: String, unpacker: LayerUnpacking) throws -> [LoadedImage] {
        let spool = try ArchiveSpool.read(fd: fd, source: source, temporaryDirectory: layout.temporaryDirectory)
        defer { spool.remove() }
        let images: [ArchivedImage]
        if spool.has("manifest.json") {
            images = try dockerArchiveImages(in: spool)
        } else if spool.has("oci-layout") && spool.has("index.json") {
            images = try ociArchiveImages(in: spool)
        } else {
            throw ImageArchiveError.unknownFormat
        }
        if images.isEmpty { throw ImageArchiveError.invalidDocument(spool.has("manifest.json") ? "manifest.json" : "index.json", reason: "it lists no image") }

        var created: [String] = []
        do {
            // An image the store has already only gains the archive's names (as in docker load).
            let known = try readIndex()
            var records: [ImageRecord] = []
            for image in images {
                if var record = known.first(where: { $0.id == image.config.digest }) {
                    if !image.layersVerified {
                        for (position, layer) in image.layers.enumerated() {
                            try checkDiffID(path: layer.file.path ?? "", entry: layer.file.name, diffID: image.configuration.rootfs.diff_ids[position])
                        }
                    }
                    record.names = image.names
                    records.append(record)
                } else {
                    records.append(try install(image, unpacker: unpacker, created: &created))
                }
            }
            for record in records { try register(record) }
            created.removeAll()
            return zip(images, records).map { LoadedImage(record: $0.1, names: $0.0.names) }
        } catch {
            removeUnreferenced(created, unpacker: unpacker)
            throw error
        }
    }

    /// Moves an image's blobs from the spool into the store and unpacks its layers; the image is
    /// not in the index yet.
    private func install(_ image: ArchivedImage, unpacker: LayerUnpacking, created: inout [String]) throws -> ImageRecord {
        try adoptBlob(image.configFile, digest: image.config.digest, created: &created)
        try storeBlob(bytes: image.manifestBytes, digest: image.manifestDigest, created: &created)
        let diffIDs = image.configuration.rootfs.diff_ids
        let chainIDs = ChainID.compute(diffIDs)
        for (position, layer) in image.layers.enumerated() {
            try adoptBlob(layer.file, digest: layer.descriptor.digest, created: &created)
            let blobPath = layout.blobPath(layer.descriptor.digest)
            let destination = layout.layerPath(chainIDs[position])
            if FileSystem.isDirectory(destination) {
                // Unpacked before; this copy must still be what the configuration says it is.
                if !image.layersVerified { try checkDiffID(path: blobPath, entry: layer.file.name, diffID: diffIDs[position]) }
                continue
            }
            do {
                try unpacker.unpackLayer(blobPath: blobPath, mediaType: layer.descriptor.mediaType, diffID: diffIDs[position], destination: destination)
            } catch let error as UserFacingError {
                throw ImageStoreError.unpackFailed(layer: layer.descriptor.digest, reason: error.userMessage)
            }
            created.append(destination)
        }
        return ImageRecord(
            id: image.config.digest,
            names: image.names,
            repoDigests: [],
            manifestDigest: image.manifestDigest,
            layerDigests: image.layers.map(\.descriptor.digest),
            diffIDs: diffIDs,
            chainIDs: chainIDs,
            size: image.layers.reduce(0) { $0 + $1.descriptor.size },
            created: image.configuration.created,
            pulled: Date.now.formatted(.iso8601),
            platform: Platform(architecture: image.configuration.architecture ?? Platform.current.architecture,
                               os: image.configuration.os ?? "linux", variant: image.configuration.variant))
    }

    /// Renames the archive's copy of a blob into the store, unless the store has it already.
    private func adoptBlob(_ file: SpooledEntry, digest: Digest, created: inout [String]) throws {
        let path = layout.blobPath(digest)
        if FileSystem.exists(path) { return }
        guard let spooled = file.path, file.digest == digest else {
            throw ImageArchiveError.digestMismatch(entry: file.name, claimed: digest, actual: file.digest ?? digest)
        }
        do {
            let fd = try FileDescriptor.open(spooled, O_RDONLY)
            defer { fd.close() }
            try fd.sync()
            try systemCall("rename", on: path) { rename(spooled, path) }
        } catch { throw ImageArchiveError.io(error) }
        created.append(path)
    }

    /// Checks a layer's uncompressed content against the configuration's diff_id.
    func checkDiffID(path: String, entry: String, diffID: Digest) throws {
        let actual = try uncompressedLayerContent(blobPath: path, name: entry).digest
        if actual != diffID { throw ImageArchiveError.diffIDMismatch(entry: entry, expected: diffID, actual: actual) }
    }

    /// Checks what every loaded image needs from its configuration, as `pull` does.
    func checkConfiguration(_ configuration: ImageConfiguration, layerCount: Int, image: String, namedBy: String) throws {
        if let os = configuration.os, os != "linux" {
            throw ImageArchiveError.unsupportedImage(image, reason: "it is built for \(os), not linux")
        }
        if configuration.rootfs.diff_ids.count != layerCount {
            throw ImageArchiveError.invalidDocument(namedBy, reason: "it lists \(layerCount) layers for \(image) but its configuration has \(configuration.rootfs.diff_ids.count) diff_ids")
        }
        if layerCount == 0 { throw ImageArchiveError.unsupportedImage(image, reason: "it has no layers") }
    }

    /// A name from an archive, normalised as every name in the store is.
    func normalizedName(_ text: String, in entry: String) throws -> String {
        do { return try ImageReference.parse(text).description } catch { throw ImageArchiveError.invalidName(text, in: entry) }
    }
}
