import FoundationEssentials
import ImageReference
import Registry
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// The archive layouts `save` writes and `load` reads, named as Podman names them.
public enum ImageArchiveFormat: String, CaseIterable, Sendable {
    /// `docker save`'s layout: manifest.json, `<config>.json`, uncompressed `<layer>/layer.tar`.
    case dockerArchive = "docker-archive"
    /// A tar of an OCI image layout: oci-layout, index.json, blobs/sha256/… as stored.
    case ociArchive = "oci-archive"
}

/// An image to save, and the name it is saved under (nil when it was given by id).
public struct SavedImage: Sendable {
    public let record: ImageRecord
    public let name: String?
}

extension ImageStore {
    /// Finds an image to save by name or id, as `lookup` does.
    public func imageToSave(_ text: String) throws -> SavedImage {
        guard let record = try lookup(text) else { throw ImageStoreError.imageNotFound(text) }
        let name = (try? ImageReference.parse(text))?.description
        return SavedImage(record: record, name: name.flatMap { record.names.contains($0) ? $0 : nil })
    }

    /// Writes `images` as one archive to `path`, or to standard output when `path` is nil. A file
    /// is written beside its final name and renamed into place, so a failed save leaves none.
    public func save(_ images: [SavedImage], format: ImageArchiveFormat, to path: String?) throws {
        if format == .ociArchive && images.count != 1 { throw ImageArchiveError.tooManyImages(format: format.rawValue) }
        guard let path else {
            try writeArchive(images, format: format, to: .standardOutput)
            return
        }
        var info = stat()
        if stat(path, &info) == 0 && (info.st_mode & S_IFMT) != S_IFREG {
            // A device or pipe (/dev/stdout, a FIFO): written in place.
            let fd: FileDescriptor
            do { fd = try FileDescriptor.open(path, O_WRONLY) } catch { throw ImageArchiveError.io(error) }
            defer { fd.close() }
            try writeArchive(images, format: format, to: fd)
            return
        }
        let temp = path + ".tmp-" + FileSystem.randomHex(bytes: 6)
        let fd: FileDescriptor
        do { fd = try FileDescriptor.open(temp, O_WRONLY | O_CREAT | O_EXCL, mode: 0o644) } catch { throw ImageArchiveError.io(error) }
        do {
            try writeArchive(images, format: format, to: fd)
            do {
                try fd.sync()
                fd.close()
                try systemCall("rename", on: path) { rename(temp, path) }
            } catch { throw ImageArchiveError.io(error) }
        } catch {
            fd.close()
            unlink(temp)
            throw error
        }
    }

    private func writeArchive(_ images: [SavedImage], format: ImageArchiveFormat, to fd: FileDescriptor) throws {
        let writer = try TarStreamWriter(fd: fd)
        switch format {
        case .dockerArchive: try writeDockerArchive(images, to: writer)
        case .ociArchive: try writeOCIArchive(images[0], to: writer)
        }
        try writer.finish()
    }

    // MARK: - oci-archive

    private struct OCILayoutIndex: Encodable {
        var schemaVersion = 2
        var mediaType = MediaType.ociIndex
        var manifests: [Descriptor]
    }

    private func writeOCIArchive(_ image: SavedImage, to writer: TarStreamWriter) throws {
        let record = image.record
        let display = image.name ?? record.id.description
        let blobs = [record.manifestDigest, record.id] + record.layerDigests
        for digest in blobs where !FileSystem.exists(layout.blobPath(digest)) {
            throw ImageArchiveError.blobMissing(image: display, blob: digest)
        }
        let manifestBytes: [UInt8]
        do { manifestBytes = try FileSystem.readFile(layout.blobPath(record.manifestDigest)) } catch { throw ImageStoreError.io(error) }
        let manifest = try decode(ImageManifest.self, manifestBytes, what: display)
        var descriptor = Descriptor(mediaType: manifest.mediaType ?? MediaType.ociManifest, digest: record.manifestDigest, size: Int64(manifestBytes.count))
        if let name = image.name { descriptor.annotations = [ImageArchiveAnnotation.referenceName: name] }

        try writer.addDirectory("blobs")
        try writer.addDirectory("blobs/sha256")
        var written = Set<Digest>()
        for digest in blobs where written.insert(digest).inserted {
            try addStoredBlob(digest, as: "blobs/sha256/" + digest.hex, to: writer)
        }
        try writer.addFile("index.json", bytes: try Self.encodeJSON(OCILayoutIndex(manifests: [descriptor])))
        try writer.addFile("oci-layout", bytes: Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8))
    }

    /// Copies a blob as stored, checking it against its digest on the way.
    private func addStoredBlob(_ digest: Digest, as name: String, to writer: TarStreamWriter) throws {
        let path = layout.blobPath(digest)
        let fd: FileDescriptor
        do { fd = try FileDescriptor.open(path, O_RDONLY) } catch { throw ImageStoreError.io(error) }
        defer { fd.close() }
        var info = stat()
        fstat(fd.rawValue, &info)
        let hasher = ContentHasher()
        try writer.addFile(name, size: Int64(info.st_size)) { sink in
            var chunk = [UInt8](repeating: 0, count: 1 << 17)
            var total: Int64 = 0
            while true {
                let n = try systemCall("read", on: path) { chunk.withUnsafeMutableBytes { Glibc.read(fd.rawValue, $0.baseAddress, $0.count) } }
                if n == 0 { return total }
                let ok = chunk.withUnsafeBytes { buffer in
                    let part = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
                    hasher.update(part)
                    return sink(part)
                }
                total += Int64(n)
                if !ok { return total }
            }
        }
        let actual = hasher.finish()
        if actual != digest {
            throw ImageStoreError.invalidImage(image: digest.description, reason: "the stored blob has changed (its content is \(actual)) — pull the image again")
        }
    }

    // MARK: - docker-archive

    private func writeDockerArchive(_ images: [SavedImage], to writer: TarStreamWriter) throws {
        // One manifest.json entry per image, with every name it was asked for (as docker save does).
        var order: [ImageRecord] = []
        var names: [Digest: [String]] = [:]
        for image in images {
            if names[image.record.id] == nil { order.append(image.record); names[image.record.id] = [] }
            if let name = image.name, !(names[image.record.id]?.contains(name) ?? false) { names[image.record.id]?.append(name) }
        }
        let everyImage = try self.images()
        var entries: [DockerArchiveManifestEntry] = []
        var writtenLayers = Set<Digest>()
        var repositories: [String: [String: String]] = [:]
        for record in order {
            let display = names[record.id]?.first ?? record.id.description
            let configName = record.id.hex + ".json"
            try addStoredBlob(record.id, as: configName, to: writer)
            var layerNames: [String] = []
            for (position, diffID) in record.diffIDs.enumerated() {
                let layerName = diffID.hex + "/layer.tar"
                layerNames.append(layerName)
                if !writtenLayers.insert(diffID).inserted { continue }
                guard let blobPath = layerBlobPath(record, position: position, among: everyImage) else {
                    throw ImageStoreError.invalidImage(image: display, reason: "the blob of its layer \(position + 1) is not in the store — pull the image again")
                }
                try writer.addDirectory(diffID.hex)
                try addUncompressedLayer(blobPath: blobPath, diffID: diffID, as: layerName, to: writer)
            }
            let tags = names[record.id] ?? []
            entries.append(DockerArchiveManifestEntry(Config: configName, RepoTags: tags, Layers: layerNames))
            for tag in tags {
                guard let reference = try? ImageReference.parse(tag), let top = record.diffIDs.last else { continue }
                repositories[reference.name, default: [:]][reference.tag ?? ImageReference.defaultTag] = top.hex
            }
        }
        try writer.addFile("manifest.json", bytes: try Self.encodeJSON(entries))
        try writer.addFile("repositories", bytes: try Self.encodeJSON(repositories))
    }

    /// Where the blob of an image's layer is: its own, or (when a pull found the layer already
    /// unpacked and did not fetch it) another image's blob with the same content.
    private func layerBlobPath(_ record: ImageRecord, position: Int, among records: [ImageRecord]) -> String? {
        if position < record.layerDigests.count, FileSystem.exists(layout.blobPath(record.layerDigests[position])) {
            return layout.blobPath(record.layerDigests[position])
        }
        let diffID = record.diffIDs[position]
        for other in records {
            for (index, candidate) in other.diffIDs.enumerated() where candidate == diffID && index < other.layerDigests.count {
                let path = layout.blobPath(other.layerDigests[index])
                if FileSystem.exists(path) { return path }
            }
        }
        return nil
    }

    /// Writes a layer uncompressed: a first pass counts its bytes (a tar header needs the size
    /// first) and checks the diff_id; the second streams it into the archive.
    private func addUncompressedLayer(blobPath: String, diffID: Digest, as name: String, to writer: TarStreamWriter) throws {
        let size = try uncompressedLayerSize(blobPath: blobPath, diffID: diffID)
        var actual: Digest?
        try writer.addFile(name, size: size) { sink in
            let stream = try LayerStream(path: blobPath)
            var total: Int64 = 0
            while true {
                let n = stream.read()
                if n < 0 { throw Self.damagedLayer(blobPath, reason: stream.failure) }
                if n == 0 { break }
                total += Int64(n)
                if !sink(UnsafeRawBufferPointer(start: stream.output, count: n)) { return total }
            }
            actual = stream.hasher.finish()
            return total
        }
        if let actual, actual != diffID { throw Self.damagedLayer(blobPath, reason: "its content is now \(actual)") }
    }

    /// The uncompressed size of a stored layer, after checking its content against `diffID`.
    func uncompressedLayerSize(blobPath: String, diffID: Digest) throws -> Int64 {
        let content = try uncompressedLayerContent(blobPath: blobPath, name: nil)
        if content.digest != diffID { throw Self.damagedLayer(blobPath, reason: "its content is \(content.digest), not \(diffID)") }
        return content.size
    }

    /// The digest and size of a layer's uncompressed content (`name`: the archive entry it came from).
    func uncompressedLayerContent(blobPath: String, name: String?) throws -> (digest: Digest, size: Int64) {
        let stream: LayerStream
        do { stream = try LayerStream(path: blobPath) } catch { throw ImageArchiveError.io(error) }
        var total: Int64 = 0
        while true {
            let n = stream.read()
            if n < 0 {
                if let name { throw ImageArchiveError.invalidDocument(name, reason: stream.failure ?? "read error") }
                throw Self.damagedLayer(blobPath, reason: stream.failure)
            }
            if n == 0 { break }
            total += Int64(n)
        }
        return (stream.hasher.finish(), total)
    }

    private static func damagedLayer(_ path: String, reason: String?) -> ImageStoreError {
        .invalidImage(image: "layer " + String(path.split(separator: "/").last ?? "").prefix(12), reason: (reason ?? "read error") + " — pull the image again")
    }

    static func encodeJSON<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do { return Array(try encoder.encode(value)) } catch {
            throw ImageArchiveError.io(SystemCallError("cannot encode \(T.self) as JSON", errno: EINVAL))
        }
    }
}

/// Annotation keys that carry an image's name in an OCI layout.
enum ImageArchiveAnnotation {
    /// What Podman writes and reads: the full name (`host/repo:tag`).
    static let referenceName = "org.opencontainers.image.ref.name"
    /// What `docker save` (25 and later) writes beside a bare tag in referenceName.
    static let containerdImageName = "io.containerd.image.name"
}

/// One image in a docker-archive's manifest.json.
struct DockerArchiveManifestEntry: Codable {
    var Config: String
    var RepoTags: [String]?
    var Layers: [String]
}
