import FoundationEssentials
import ImageReference
import Registry
import SystemSupport
#if canImport(Glibc)
    import Glibc
#endif

/// What `commit` asks of the store besides the layer itself.
public struct ImageCommitRequest {
    /// The image the container was made from: the new image is it plus one layer.
    public var parent: ImageRecord
    /// A normalised `REPOSITORY:TAG`, moved to the new image; nil leaves it unnamed.
    public var name: String?
    /// `--change` instructions, applied to the parent's runtime defaults.
    public var changes: [ConfigurationChange]
    /// `--message`: the history entry's comment.
    public var message: String?
    /// `--author`.
    public var author: String?
    /// The history entry's `created_by`: the container's command, as Docker records it.
    public var createdBy: String

    public init(parent: ImageRecord, name: String?, changes: [ConfigurationChange], message: String?, author: String?, createdBy: String) {
        self.parent = parent
        self.name = name
        self.changes = changes
        self.message = message
        self.author = author
        self.createdBy = createdBy
    }
}

extension ImageStore {
    /// Makes an image of `request.parent` plus one layer, read as an uncompressed tar from
    /// `layerTar` until its end, as `docker commit` does: the layer is stored gzip-compressed and
    /// unpacked like a pulled one, the configuration is the parent's with the layer's diff_id, a
    /// history entry and the changes, and the name moves to the new image. `layerComplete` is
    /// asked, once the stream has ended, whether it was all written. On failure the store is as
    /// it was: no blob, layer or temporary file is left.
    public func commitImage(
        _ request: ImageCommitRequest, layerTar: FileDescriptor, layerComplete: () throws -> Void,
        unpacker: LayerUnpacking
    ) throws -> ImageRecord {
        var created: [String] = []
        do {
            let parentManifest = try manifest(of: request.parent)
            let dockerFormat = parentManifest.mediaType == MediaType.dockerManifest
            let layer = try storeLayer(
                from: layerTar, mediaType: dockerFormat ? MediaType.dockerLayerGzip : MediaType.ociLayerGzip,
                layerComplete: layerComplete, created: &created)
            let diffIDs = request.parent.diffIDs + [layer.diffID]
            let chainIDs = ChainID.compute(diffIDs)
            let destination = layout.layerPath(chainIDs[chainIDs.count - 1])
            if !FileSystem.isDirectory(destination) {
                do {
                    try unpacker.unpackLayer(
                        blobPath: layout.blobPath(layer.descriptor.digest), mediaType: layer.descriptor.mediaType,
                        diffID: layer.diffID, destination: destination)
                } catch let error as UserFacingError {
                    throw ImageStoreError.unpackFailed(layer: layer.descriptor.digest, reason: error.userMessage)
                }
                created.append(destination)
            }

            let now = Date.now.formatted(.iso8601)
            let configBytes = try committedConfiguration(request, diffID: layer.diffID, created: now)
            let configDigest = ContentHasher.digest(of: configBytes)
            try storeBlob(bytes: configBytes, digest: configDigest, created: &created)
            let config = Descriptor(
                mediaType: dockerFormat ? MediaType.dockerConfig : MediaType.ociConfig, digest: configDigest,
                size: Int64(configBytes.count))
            let manifest = ImageManifest(
                mediaType: dockerFormat ? MediaType.dockerManifest : MediaType.ociManifest, config: config,
                layers: parentManifest.layers + [layer.descriptor])
            let manifestBytes = try Self.encodeJSON(manifest)
            let manifestDigest = ContentHasher.digest(of: manifestBytes)
            try storeBlob(bytes: manifestBytes, digest: manifestDigest, created: &created)

            let record = ImageRecord(
                id: configDigest, names: request.name.map { [$0] } ?? [], repoDigests: [], manifestDigest: manifestDigest,
                layerDigests: request.parent.layerDigests + [layer.descriptor.digest], diffIDs: diffIDs, chainIDs: chainIDs,
                size: request.parent.size + layer.descriptor.size, created: now, pulled: now, platform: request.parent.platform)
            try register(record)
            created.removeAll()
            return record
        } catch {
            removeUnreferenced(created, unpacker: unpacker)
            throw error
        }
    }

    /// Compresses the tar read from `input` into the store's temp area, then (once `layerComplete`
    /// agrees) renames it to its digest.
    private func storeLayer(
        from input: FileDescriptor, mediaType: String, layerComplete: () throws -> Void,
        created: inout [String]
    ) throws -> (descriptor: Descriptor, diffID: Digest) {
        let temp = layout.temporaryDirectory + "/commit-" + FileSystem.randomHex(bytes: 6)
        let fd: FileDescriptor
        do { fd = try FileDescriptor.open(temp, O_WRONLY | O_CREAT | O_EXCL, mode: 0o600) } catch { throw ImageStoreError.io(error) }
        defer {
            fd.close()
            unlink(temp)
        }
        let compressor = GzipFileWriter(fd: fd)
        let capacity = 1 << 17
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        defer { buffer.deallocate() }
        var readError: SystemCallError?
        do {
            while true {
                let n = read(input.rawValue, buffer, capacity)
                if n < 0 {
                    if errno == EINTR { continue }
                    readError = SystemCallError("read the layer stream", errno: errno)
                    break
                }
                if n == 0 { break }
                try compressor.write(UnsafeRawBufferPointer(start: buffer, count: n))
            }
        } catch {
            throw ImageStoreError.io(error)
        }
        try layerComplete()
        if let readError { throw ImageStoreError.io(readError) }
        do { try compressor.finish(); try fd.sync() } catch { throw ImageStoreError.io(error) }
        let digest = compressor.compressedHasher.finish()
        let path = layout.blobPath(digest)
        if !FileSystem.exists(path) {
            do { try systemCall("rename", on: path) { rename(temp, path) } } catch { throw ImageStoreError.io(error) }
            created.append(path)
        }
        return (Descriptor(mediaType: mediaType, digest: digest, size: compressor.compressedSize), compressor.uncompressedHasher.finish())
    }

    /// The parent's configuration document with the new layer, a history entry, the author and the
    /// changes. Keys swctr does not know are kept as they were.
    private func committedConfiguration(_ request: ImageCommitRequest, diffID: Digest, created: String) throws -> [UInt8] {
        let parentBytes: [UInt8]
        do { parentBytes = try FileSystem.readFile(layout.blobPath(request.parent.id)) } catch { throw ImageStoreError.io(error) }
        let imageName = request.parent.names.first ?? request.parent.shortID
        guard case .object(var document)? = try? JSONDecoder().decode(JSONValue.self, from: Data(parentBytes)) else {
            throw ImageStoreError.invalidImage(image: imageName, reason: "its configuration is not a JSON object")
        }

        var rootfs: [String: JSONValue] = [:]
        if case .object(let existing)? = document["rootfs"] { rootfs = existing }
        var diffIDs: [JSONValue] = []
        if case .array(let existing)? = rootfs["diff_ids"] { diffIDs = existing }
        rootfs["type"] = .string("layers")
        rootfs["diff_ids"] = .array(diffIDs + [.string(diffID.description)])
        document["rootfs"] = .object(rootfs)

        var history: [JSONValue] = []
        if case .array(let existing)? = document["history"] {
            history = existing
        } else {
            // Without a history, each layer of the parent still needs its entry.
            let parentCreated = document["created"] ?? .null
            history = diffIDs.map { _ in .object(["created": parentCreated]) }
        }
        var step: [String: JSONValue] = ["created": .string(created), "created_by": .string(request.createdBy)]
        if let author = request.author { step["author"] = .string(author) }
        if let message = request.message { step["comment"] = .string(message) }
        document["history"] = .array(history + [.object(step)])

        document["created"] = .string(created)
        if let author = request.author { document["author"] = .string(author) }
        // They described the container the parent was built in, not this one.
        document["container"] = nil
        document["container_config"] = nil
        if !request.changes.isEmpty { document["config"] = .object(try changedDefaults(document["config"], request.changes, image: imageName)) }
        return try Self.encodeJSON(JSONValue.object(document))
    }

    /// The parent's `config` with the changes applied; its keys swctr does not model (Healthcheck,
    /// OnBuild, Shell…) stay.
    private func changedDefaults(_ original: JSONValue?, _ changes: [ConfigurationChange], image: String) throws -> [String: JSONValue] {
        var members: [String: JSONValue] = [:]
        if case .object(let existing)? = original { members = existing }
        var defaults: ContainerConfiguration
        do { defaults = try JSONDecoder().decode(ContainerConfiguration.self, from: JSONEncoder().encode(JSONValue.object(members))) } catch {
            throw ImageStoreError.invalidImage(image: image, reason: "its runtime defaults (config) cannot be read")
        }
        for change in changes { change.apply(to: &defaults) }
        guard case .object(let updated)? = try? JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(defaults)) else {
            throw ImageStoreError.invalidImage(image: image, reason: "its runtime defaults (config) cannot be written")
        }
        for key in ["User", "Env", "Entrypoint", "Cmd", "WorkingDir", "Labels", "StopSignal", "ExposedPorts", "Volumes"] {
            members[key] = updated[key] ?? members[key]
        }
        return members
    }
}
