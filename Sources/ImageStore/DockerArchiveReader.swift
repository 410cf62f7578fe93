import FoundationEssentials
import ImageReference
import Registry
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

extension ImageStore {
    /// The images of a docker-archive (`docker save`, `podman save`): manifest.json lists each
    /// image's config file, named by its digest (the image id), and its layers in order. The
    /// archive has no image manifest, so an OCI manifest is made from the blobs as they are.
    func dockerArchiveImages(in spool: ArchiveSpool) throws -> [ArchivedImage] {
        let manifestFile = try spool.file("manifest.json", namedBy: "the archive")
        let entries = try spool.decode([DockerArchiveManifestEntry].self, from: manifestFile)
        var images: [ArchivedImage] = []
        for entry in entries {
            let configFile = try spool.file(entry.Config, namedBy: "manifest.json")
            let claimed = try Self.claimedDigest(ofConfigNamed: entry.Config)
            guard let actual = configFile.digest, actual == claimed else {
                throw ImageArchiveError.digestMismatch(entry: entry.Config, claimed: claimed, actual: configFile.digest ?? claimed)
            }
            let configuration = try spool.decode(ImageConfiguration.self, from: configFile)
            let names = try (entry.RepoTags ?? []).map { try normalizedName($0, in: "manifest.json") }
            let display = names.first ?? claimed.description
            try checkConfiguration(configuration, layerCount: entry.Layers.count, image: display, namedBy: "manifest.json")

            var layers: [(descriptor: Descriptor, file: SpooledEntry)] = []
            for (position, layerName) in entry.Layers.enumerated() {
                let file = try spool.file(layerName, namedBy: "manifest.json")
                let mediaType = try verifiedLayerMediaType(file, diffID: configuration.rootfs.diff_ids[position])
                guard let digest = file.digest else { throw ImageArchiveError.linkEntry(layerName, namedBy: "manifest.json") }
                layers.append((Descriptor(mediaType: mediaType, digest: digest, size: file.size), file))
            }
            let config = Descriptor(mediaType: MediaType.ociConfig, digest: claimed, size: configFile.size)
            let manifest = ImageManifest(mediaType: MediaType.ociManifest, config: config, layers: layers.map(\.descriptor))
            let manifestBytes = try Self.encodeJSON(manifest)
            images.append(ArchivedImage(names: names, configuration: configuration, config: config, configFile: configFile,
                                        manifestDigest: ContentHasher.digest(of: manifestBytes), manifestBytes: manifestBytes,
                                        layers: layers, layersVerified: true))
        }
        return images
    }

    /// The digest a config's name claims: `<hex>.json` (docker save before 25, podman) or
    /// `blobs/sha256/<hex>` (docker save 25 and later).
    static func claimedDigest(ofConfigNamed name: String) throws -> Digest {
        var base = Substring(name.split(separator: "/").last ?? "")
        if base.hasSuffix(".json") { base = base.dropLast(5) }
        guard let digest = try? Digest.parse("sha256:" + base) else {
            throw ImageArchiveError.invalidDocument("manifest.json", reason: "its config \"\(name)\" is not named by its sha256 digest")
        }
        return digest
    }

    /// Checks a docker-archive layer against its diff_id (uncompressed, as docker saves them, or
    /// compressed) and says which layer media type it is.
    private func verifiedLayerMediaType(_ file: SpooledEntry, diffID: Digest) throws -> String {
        guard let path = file.path else { throw ImageArchiveError.linkEntry(file.name, namedBy: "manifest.json") }
        if file.digest == diffID { return MediaType.ociLayer }
        var magic = [UInt8](repeating: 0, count: 4)
        let fd: FileDescriptor
        do { fd = try FileDescriptor.open(path, O_RDONLY) } catch { throw ImageArchiveError.io(error) }
        let count = pread(fd.rawValue, &magic, 4, 0)
        fd.close()
        let mediaType: String
        if count >= 2 && magic[0] == 0x1f && magic[1] == 0x8b {
            mediaType = MediaType.ociLayerGzip
        } else if count == 4 && magic == [0x28, 0xb5, 0x2f, 0xfd] {
            mediaType = MediaType.ociLayerZstd
        } else {
            throw ImageArchiveError.diffIDMismatch(entry: file.name, expected: diffID, actual: file.digest ?? diffID)
        }
        try checkDiffID(path: path, entry: file.name, diffID: diffID)
        return mediaType
    }
}
