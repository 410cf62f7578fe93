import FoundationEssentials
import ImageReference
import Registry
import SystemSupport

extension ImageStore {
    private struct OCILayoutMarker: Decodable {
        var imageLayoutVersion: String
    }

    /// The images of an oci-archive (a tar of an OCI image layout, as `podman save --format
    /// oci-archive` writes): index.json points at manifests, every blob sits under blobs/ named by
    /// its digest. Blobs are kept as they are, so manifest digests stay the same.
    func ociArchiveImages(in spool: ArchiveSpool) throws -> [ArchivedImage] {
        let marker = try spool.decode(OCILayoutMarker.self, from: try spool.file("oci-layout", namedBy: "the archive"))
        guard marker.imageLayoutVersion.hasPrefix("1.") else {
            throw ImageArchiveError.unsupportedImage("in the archive", reason: "its OCI layout version is \(marker.imageLayoutVersion), not 1.x")
        }
        // Every blob is checked against the digest its name claims, whether an image uses it or not.
        for entry in spool.entries.values.sorted(by: { $0.name < $1.name }) where entry.name.hasPrefix("blobs/") && entry.path != nil {
            let parts = entry.name.split(separator: "/")
            guard parts.count == 3, parts[1] == "sha256", let claimed = try? Digest.parse("sha256:" + parts[2]) else {
                throw ImageArchiveError.invalidDocument(entry.name, reason: "a blob must be named blobs/sha256/<64 hex digits>")
            }
            if entry.digest != claimed { throw ImageArchiveError.digestMismatch(entry: entry.name, claimed: claimed, actual: entry.digest ?? claimed) }
        }
        let index = try spool.decode(ImageIndex.self, from: try spool.file("index.json", namedBy: "the archive"))
        var images: [ArchivedImage] = []
        for descriptor in index.manifests {
            let annotations = descriptor.annotations ?? [:]
            let names = try [annotations[ImageArchiveAnnotation.containerdImageName] ?? annotations[ImageArchiveAnnotation.referenceName]]
                .compactMap { $0 }
                .map { try normalizedName($0, in: "index.json") }
            var chosen = descriptor
            if MediaType.isIndex(descriptor.mediaType) {
                let nestedName = "blobs/sha256/" + descriptor.digest.hex
                let nested = try spool.decode(ImageIndex.self, from: try blob(descriptor, in: spool, namedBy: "index.json"))
                guard let match = nested.manifests.first(where: { MediaType.isManifest($0.mediaType) && ($0.platform.map(Platform.current.accepts) ?? false) }) else {
                    throw ImageArchiveError.unsupportedImage(names.first ?? nestedName, reason: "it has no manifest for \(Platform.current)")
                }
                chosen = match
            }
            guard MediaType.isManifest(chosen.mediaType) else {
                throw ImageArchiveError.unsupportedImage(names.first ?? chosen.digest.description, reason: "its manifest has media type \"\(chosen.mediaType)\"")
            }
            images.append(try ociImage(chosen, names: names, in: spool))
        }
        return images
    }

    private func ociImage(_ descriptor: Descriptor, names: [String], in spool: ArchiveSpool) throws -> ArchivedImage {
        let display = names.first ?? descriptor.digest.description
        let manifestFile = try blob(descriptor, in: spool, namedBy: "index.json")
        let manifestName = manifestFile.name
        let manifestBytes = try spool.document(manifestFile)
        let manifest: ImageManifest
        do { manifest = try JSONDecoder().decode(ImageManifest.self, from: Data(manifestBytes)) } catch {
            throw ImageArchiveError.invalidDocument(manifestName, reason: "it is not a valid image manifest")
        }
        for layer in manifest.layers where !MediaType.isLayer(layer.mediaType) {
            throw ImageArchiveError.unsupportedImage(display, reason: "it has a layer of media type \"\(layer.mediaType)\", which swctr cannot unpack")
        }
        let configFile = try blob(manifest.config, in: spool, namedBy: manifestName)
        let configuration = try spool.decode(ImageConfiguration.self, from: configFile)
        try checkConfiguration(configuration, layerCount: manifest.layers.count, image: display, namedBy: manifestName)
        let layers = try manifest.layers.map { layer in (descriptor: layer, file: try blob(layer, in: spool, namedBy: manifestName)) }
        return ArchivedImage(names: names, configuration: configuration, config: manifest.config, configFile: configFile,
                             manifestDigest: descriptor.digest, manifestBytes: manifestBytes, layers: layers, layersVerified: false)
    }

    /// The archive's copy of the blob a descriptor points at, checked against the descriptor.
    private func blob(_ descriptor: Descriptor, in spool: ArchiveSpool, namedBy: String) throws -> SpooledEntry {
        guard descriptor.digest.algorithm == "sha256" else {
            throw ImageArchiveError.invalidDocument(namedBy, reason: "it names a \(descriptor.digest.algorithm) digest; swctr reads sha256 layouts")
        }
        let name = "blobs/sha256/" + descriptor.digest.hex
        let file = try spool.file(name, namedBy: namedBy)
        if file.digest != descriptor.digest {
            throw ImageArchiveError.digestMismatch(entry: name, claimed: descriptor.digest, actual: file.digest ?? descriptor.digest)
        }
        if file.size != descriptor.size {
            throw ImageArchiveError.invalidDocument(namedBy, reason: "it gives \(name) a size of \(descriptor.size) bytes, but it has \(file.size)")
        }
        return file
    }
}
