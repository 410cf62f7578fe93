import FoundationEssentials
import ImageReference
import Registry
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// Unpacks one layer somewhere the right owners can be written (inside the user namespace).
public protocol LayerUnpacking {
    /// Unpacks `blobPath` into the new directory `destination` (which must not exist yet), checking
    /// the uncompressed stream against `diffID`. On failure nothing is left at `destination`.
    func unpackLayer(blobPath: String, mediaType: String, diffID: Digest, destination: String) throws
}

/// The local image store.
public final class ImageStore {
    public let layout: StoreLayout
    private let progress: (String) -> Void

    public init(layout: StoreLayout, progress: @escaping (String) -> Void = { _ in }) throws(ImageStoreError) {
        self.layout = layout
        self.progress = progress
        do { try layout.prepare() } catch { throw .io(error) }
    }

    // MARK: - The image index

    func readIndex() throws(ImageStoreError) -> [ImageRecord] {
        guard FileSystem.exists(layout.imageIndexPath) else { return [] }
        let bytes: [UInt8]
        do { bytes = try FileSystem.readFile(layout.imageIndexPath) } catch { throw .io(error) }
        if bytes.isEmpty { return [] }
        do { return try JSONDecoder().decode([ImageRecord].self, from: Data(bytes)) } catch {
            throw .corruptIndex(path: layout.imageIndexPath, reason: "not valid JSON")
        }
    }

    func writeIndex(_ records: [ImageRecord]) throws(ImageStoreError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            let data = try encoder.encode(records)
            try FileSystem.writeAtomically(layout.imageIndexPath, Array(data), mode: 0o600)
        } catch let error as SystemCallError {
            throw .io(error)
        } catch {
            throw .corruptIndex(path: layout.imageIndexPath, reason: "cannot encode")
        }
    }

    /// Runs `body` with the store locked against other swctr processes.
    func withLock<T>(_ body: () throws(ImageStoreError) -> T) throws(ImageStoreError) -> T {
        let lock: FileLock
        do { lock = try FileLock.acquire(layout.lockPath) } catch { throw .io(error) }
        defer { lock.unlock() }
        return try body()
    }

    public func images() throws(ImageStoreError) -> [ImageRecord] {
        try readIndex()
    }

    /// Finds an image by name (normalised as Docker does) or by (a prefix of) its id.
    public func lookup(_ text: String) throws(ImageStoreError) -> ImageRecord? {
        try lookup(text, in: try readIndex())
    }

    public func configuration(of record: ImageRecord) throws(ImageStoreError) -> ImageConfiguration {
        let bytes: [UInt8]
        do { bytes = try FileSystem.readFile(layout.blobPath(record.id)) } catch { throw .io(error) }
        do { return try JSONDecoder().decode(ImageConfiguration.self, from: Data(bytes)) } catch {
            throw .invalidImage(image: record.names.first ?? record.shortID, reason: "its configuration is not valid JSON")
        }
    }

    /// The unpacked layer directories of an image, lowest first.
    public func layerDirectories(of record: ImageRecord) -> [String] {
        record.chainIDs.map { layout.layerPath($0) }
    }

    // MARK: - Pull

    /// Pulls `reference` into the store: manifest (platform chosen from an index), config and layers,
    /// each verified against its digest; layers unpacked; the image recorded under its name.
    /// On failure the store is as it was: what this pull added and nothing else uses is removed.
    @discardableResult
    public func pull(_ reference: ImageReference, client: RegistryClient, unpacker: LayerUnpacking, platform: Platform = .current) throws -> ImageRecord {
        var createdPaths: [String] = []
        do {
            return try pullRecording(reference, client: client, unpacker: unpacker, platform: platform, created: &createdPaths)
        } catch {
            removeUnreferenced(createdPaths, unpacker: unpacker)
            throw error
        }
    }

    private func pullRecording(_ reference: ImageReference, client: RegistryClient, unpacker: LayerUnpacking, platform: Platform, created: inout [String]) throws -> ImageRecord {
        let display = reference.description
        progress("Pulling \(display)")
        var fetched = try client.fetchManifest(repository: reference.repository, reference: reference.manifestReference, expected: reference.digest, displayName: display)
        if MediaType.isIndex(fetched.mediaType) {
            let index = try decode(ImageIndex.self, fetched.bytes, what: "image index of \(display)")
            let candidates = index.manifests.filter { $0.platform.map(platform.accepts) ?? false }
            guard let chosen = candidates.first else {
                throw RegistryError.noMatchingPlatform(reference: display, wanted: platform, available: index.manifests.compactMap(\.platform))
            }
            fetched = try client.fetchManifest(repository: reference.repository, reference: chosen.digest.description, expected: chosen.digest, displayName: "\(display) (\(platform))")
        }
        guard MediaType.isManifest(fetched.mediaType) else {
            throw RegistryError.unsupportedMediaType(what: "image \(display)", mediaType: fetched.mediaType)
        }
        let manifest = try decode(ImageManifest.self, fetched.bytes, what: "manifest of \(display)")
        for layer in manifest.layers where !MediaType.isLayer(layer.mediaType) {
            throw ImageStoreError.unsupportedLayer(image: display, mediaType: layer.mediaType)
        }
        if manifest.layers.isEmpty { throw ImageStoreError.invalidImage(image: display, reason: "it has no layers") }
        try storeBlob(bytes: fetched.bytes, digest: fetched.digest, created: &created)

        let configPath = try fetchBlob(manifest.config, what: "config", reference: reference, client: client, created: &created)
        let configBytes: [UInt8]
        do { configBytes = try FileSystem.readFile(configPath) } catch { throw ImageStoreError.io(error) }
        let configuration = try decode(ImageConfiguration.self, configBytes, what: "configuration of \(display)")
        let diffIDs = configuration.rootfs.diff_ids
        guard diffIDs.count == manifest.layers.count else {
            throw ImageStoreError.invalidImage(image: display, reason: "its manifest has \(manifest.layers.count) layers but its configuration lists \(diffIDs.count)")
        }
        if let os = configuration.os, os != "linux" {
            throw ImageStoreError.invalidImage(image: display, reason: "it is built for \(os), not linux")
        }

        let chainIDs = ChainID.compute(diffIDs)
        for (position, layer) in manifest.layers.enumerated() {
            let destination = layout.layerPath(chainIDs[position])
            if FileSystem.isDirectory(destination) {
                progress("Layer \(layer.digest.description.prefix(19)) already present")
                continue
            }
            let blobPath = try fetchBlob(layer, what: "layer", reference: reference, client: client, created: &created)
            progress("Unpacking layer \(layer.digest.description.prefix(19))")
            do {
                try unpacker.unpackLayer(blobPath: blobPath, mediaType: layer.mediaType, diffID: diffIDs[position], destination: destination)
            } catch let error as UserFacingError {
                throw ImageStoreError.unpackFailed(layer: layer.digest, reason: error.userMessage)
            }
            created.append(destination)
        }

        let record = ImageRecord(
            id: manifest.config.digest,
            names: reference.tag != nil ? [reference.with(tag: reference.tag, digest: nil).description] : [],
            repoDigests: [reference.name + "@" + fetched.digest.description],
            manifestDigest: fetched.digest,
            layerDigests: manifest.layers.map(\.digest),
            diffIDs: diffIDs,
            chainIDs: chainIDs,
            size: manifest.layers.reduce(0) { $0 + $1.size },
            created: configuration.created,
            pulled: Date.now.formatted(.iso8601),
            platform: Platform(architecture: configuration.architecture ?? platform.architecture, os: configuration.os ?? "linux", variant: configuration.variant))
        try register(record)
        created.removeAll()
        progress("Digest: \(fetched.digest)")
        return try lookup(record.id.description) ?? record
    }

    /// Records an image in the index: its names move to it from any image that had them (as
    /// `docker pull` and `docker load` move a tag); an image already there gains the names.
    func register(_ record: ImageRecord) throws(ImageStoreError) {
        try withLock { () throws(ImageStoreError) in
            var records = try readIndex()
            for index in records.indices {
                records[index].names.removeAll { record.names.contains($0) }
            }
            if let existing = records.firstIndex(where: { $0.id == record.id }) {
                var merged = records[existing]
                merged.names = Array(Set(merged.names + record.names)).sorted()
                merged.repoDigests = Array(Set(merged.repoDigests + record.repoDigests)).sorted()
                records[existing] = merged
            } else {
                records.append(record)
            }
            try writeIndex(records)
        }
    }

    func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], what: String) throws -> T {
        do { return try JSONDecoder().decode(type, from: Data(bytes)) } catch {
            throw ImageStoreError.invalidImage(image: what, reason: "it is not a valid \(T.self) document")
        }
    }

    func storeBlob(bytes: [UInt8], digest: Digest, created: inout [String]) throws {
        let path = layout.blobPath(digest)
        if FileSystem.exists(path) { return }
        do { try FileSystem.writeAtomically(path, bytes, mode: 0o600) } catch { throw ImageStoreError.io(error) }
        created.append(path)
    }

    /// Downloads a blob unless the store has it: into a temp file, verified while it streams,
    /// fsynced, then renamed to its digest.
    private func fetchBlob(_ descriptor: Descriptor, what: String, reference: ImageReference, client: RegistryClient, created: inout [String]) throws -> String {
        let path = layout.blobPath(descriptor.digest)
        if FileSystem.exists(path) { return path }
        let temp = layout.temporaryDirectory + "/blob-\(descriptor.digest.hex.prefix(16))-\(FileSystem.randomHex(bytes: 4))"
        let fd: FileDescriptor
        do { fd = try FileDescriptor.open(temp, O_WRONLY | O_CREAT | O_EXCL, mode: 0o600) } catch { throw ImageStoreError.io(error) }
        var writeError: SystemCallError?
        do {
            try client.fetchBlob(repository: reference.repository, descriptor: descriptor, what: what) { chunk in
                do throws(SystemCallError) { try fd.writeAll(chunk) } catch { writeError = error; return false }
                return true
            }
            if let writeError { throw ImageStoreError.io(writeError) }
            do {
                try fd.sync()
                fd.close()
                try systemCall("rename", on: path) { rename(temp, path) }
            } catch { throw ImageStoreError.io(error) }
        } catch {
            fd.close()
            unlink(temp)
            if let writeError { throw ImageStoreError.io(writeError) }
            throw error
        }
        progress("Fetched \(what) \(descriptor.digest.description.prefix(19)) (\(Self.formatSize(descriptor.size)))")
        created.append(path)
        return path
    }

    /// Removes blobs and layers a failed pull created, unless an image in the index uses them.
    func removeUnreferenced(_ paths: [String], unpacker: LayerUnpacking) {
        let records = (try? readIndex()) ?? []
        var used = Set<String>()
        for record in records {
            used.insert(layout.blobPath(record.id))
            used.insert(layout.blobPath(record.manifestDigest))
            record.layerDigests.forEach { used.insert(layout.blobPath($0)) }
            record.chainIDs.forEach { used.insert(layout.layerPath($0)) }
        }
        for path in paths.reversed() where !used.contains(path) {
            if path.hasPrefix(layout.layersDirectory) {
                try? (unpacker as? LayerRemoving)?.removeLayerDirectory(path)
            } else {
                unlink(path)
            }
        }
    }

    public static func formatSize(_ bytes: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1000 && unit < units.count - 1 { value /= 1000; unit += 1 }
        if unit == 0 { return "\(bytes) B" }
        let rounded = (value * 10).rounded() / 10
        return value >= 100 ? "\(Int(value.rounded())) \(units[unit])" : "\(rounded) \(units[unit])"
    }
}

/// Removes a directory whose files may belong to the user namespace's other ids.
public protocol LayerRemoving {
    func removeLayerDirectory(_ path: String) throws
}
