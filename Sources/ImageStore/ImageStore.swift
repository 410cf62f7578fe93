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
    /// each verified against its digest; layers fetched and unpacked by several workers at once;
    /// the image recorded under its name. `sources` are tried in order for the manifest (mirrors
    /// first, then the registry itself); blobs come from the source that gave the manifest, else
    /// the others. On failure the store is as it was, except for downloads kept for resuming in
    /// its temp area: what this pull added and nothing else uses is removed.
    @discardableResult
    public func pull(_ reference: ImageReference, sources: [PullSource], unpacker: LayerUnpacking, platform: Platform = .current,
                     events: @escaping @Sendable (PullEvent) -> Void = { _ in }) throws -> ImageRecord {
        let created = CreatedPaths()
        do {
            return try pullRecording(reference, sources: sources, unpacker: unpacker, platform: platform, events: events, created: created)
        } catch {
            removeUnreferenced(created.paths, unpacker: unpacker)
            throw error
        }
    }

    @discardableResult
    public func pull(_ reference: ImageReference, client: RegistryClient, unpacker: LayerUnpacking, platform: Platform = .current) throws -> ImageRecord {
        try pull(reference, sources: [PullSource(client: client, repository: reference.repository)], unpacker: unpacker, platform: platform)
    }

    /// How many layers are fetched and unpacked at once.
    public static let pullWorkers = 3

    private func pullRecording(_ reference: ImageReference, sources: [PullSource], unpacker: LayerUnpacking, platform: Platform,
                               events: @escaping @Sendable (PullEvent) -> Void, created: CreatedPaths) throws -> ImageRecord {
        let display = reference.description
        let (chosen, fetched, manifest) = try resolveManifest(reference, sources: sources, platform: platform, events: events)
        let ordered = [sources[chosen]] + sources.indices.filter { $0 != chosen }.map { sources[$0] }
        for layer in manifest.layers where !MediaType.isLayer(layer.mediaType) {
            throw ImageStoreError.unsupportedLayer(image: display, mediaType: layer.mediaType)
        }
        if manifest.layers.isEmpty { throw ImageStoreError.invalidImage(image: display, reason: "it has no layers") }
        if !FileSystem.exists(layout.blobPath(fetched.digest)) {
            var paths: [String] = []
            try storeBlob(bytes: fetched.bytes, digest: fetched.digest, created: &paths)
            created.add(paths)
        }

        let configPath = try fetchBlob(manifest.config, what: "config", sources: ordered, created: created)
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
        events(.layers(manifest.layers))
        // One job per distinct layer directory; workers take the next job until none is left.
        var seen = Set<Digest>()
        let jobs = manifest.layers.indices.filter { seen.insert(chainIDs[$0]).inserted }
        let queue = JobQueue(count: jobs.count)
        WorkerThreads.run(count: min(Self.pullWorkers, jobs.count)) { _ in
            while let next = queue.take() {
                let position = jobs[next]
                do {
                    try self.fetchAndUnpackLayer(manifest.layers[position], diffID: diffIDs[position], chainID: chainIDs[position],
                                                 sources: ordered, unpacker: unpacker, events: events, created: created)
                } catch {
                    queue.fail(error)
                }
            }
        }
        if let failure = queue.failure { throw failure }

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
            platform: Platform(architecture: configuration.architecture ?? platform.architecture, os: configuration.os ?? "linux",
                               variant: configuration.variant ?? platform.variant))
        try register(record)
        created.clear()
        events(.finished(manifest: fetched.digest))
        return try lookup(record.id.description) ?? record
    }

    /// The image manifest for this platform, from the first source that has it.
    private func resolveManifest(_ reference: ImageReference, sources: [PullSource], platform: Platform,
                                 events: @Sendable (PullEvent) -> Void) throws -> (Int, RegistryClient.FetchedManifest, ImageManifest) {
        let display = reference.description
        for (position, source) in sources.enumerated() {
            do {
                var fetched = try source.client.fetchManifest(repository: source.repository, reference: reference.manifestReference,
                                                              expected: reference.digest, displayName: display)
                if MediaType.isIndex(fetched.mediaType) {
                    let index = try decode(ImageIndex.self, fetched.bytes, what: "image index of \(display)")
                    guard let chosen = Self.choose(platform, from: index.manifests) else {
                        throw RegistryError.noMatchingPlatform(reference: display, wanted: platform, available: index.manifests.compactMap(\.platform))
                    }
                    fetched = try source.client.fetchManifest(repository: source.repository, reference: chosen.digest.description,
                                                              expected: chosen.digest, displayName: "\(display) (\(platform))")
                }
                guard MediaType.isManifest(fetched.mediaType) else {
                    throw RegistryError.unsupportedMediaType(what: "image \(display)", mediaType: fetched.mediaType)
                }
                return (position, fetched, try decode(ImageManifest.self, fetched.bytes, what: "manifest of \(display)"))
            } catch {
                // A mirror that is down or lacks the image hands over to the next source. Content
                // that is wrong (bad digest, bad document) fails the pull wherever it came from.
                guard position < sources.count - 1, Self.mayTryNextSource(after: error) else { throw error }
                events(.sourceFailed(source.client.domain, reason: (error as? UserFacingError)?.userMessage ?? "\(error)"))
            }
        }
        throw RegistryError.notFound(reference: display)
    }

    private static func mayTryNextSource(after error: Error) -> Bool {
        switch error as? RegistryError {
        case .unreachable?, .notFound?, .httpStatus?, .authenticationRequired?, .accessDenied?, .interrupted?: return true
        default: return false
        }
    }

    /// The index entry for `platform`: an exact variant match first, else one without a variant
    /// where the platform has a default (arm64's v8), else nothing.
    public static func choose(_ platform: Platform, from manifests: [Descriptor]) -> Descriptor? {
        let candidates = manifests.filter { $0.platform.map(platform.accepts) ?? false }
        if let variant = platform.variant, let exact = candidates.first(where: { $0.platform?.variant == variant }) { return exact }
        return candidates.first
    }

    /// Fetches a layer's blob unless stored, and unpacks it unless its directory exists. Locks
    /// (per layer and per blob, files in the temp area) keep two pulls from doing the same work.
    private func fetchAndUnpackLayer(_ layer: Descriptor, diffID: Digest, chainID: Digest, sources: [PullSource], unpacker: LayerUnpacking,
                                     events: @escaping @Sendable (PullEvent) -> Void, created: CreatedPaths) throws {
        let destination = layout.layerPath(chainID)
        // A layer unpacked from another image's blob (the same content compressed otherwise)
        // is not unpacked again, but this image's own blob is still fetched: push and save
        // hand on the image exactly as it was pulled.
        if FileSystem.isDirectory(destination) && FileSystem.exists(layout.blobPath(layer.digest)) {
            events(.layerPresent(layer.digest))
            return
        }
        let lockPath = layout.temporaryDirectory + "/layer-\(chainID.hex).lock"
        let lock: FileLock
        do { lock = try FileLock.acquireRemovable(lockPath) } catch { throw ImageStoreError.io(error) }
        defer { lock.unlockAndRemove(lockPath) }
        if FileSystem.isDirectory(destination) {
            _ = try fetchBlob(layer, what: "layer", sources: sources, created: created, events: events)
            events(.layerPresent(layer.digest))
            return
        }
        // What an unpack of this layer killed part-way left behind (no one else unpacks it now).
        let leftover = LayerUnpacker.temporaryPrefix(for: destination)
        for entry in (try? FileSystem.listDirectory(layout.layersDirectory)) ?? [] where entry.hasPrefix(leftover) {
            try? (unpacker as? LayerRemoving)?.removeLayerDirectory(layout.layersDirectory + "/" + entry)
        }
        let blobPath = try fetchBlob(layer, what: "layer", sources: sources, created: created, events: events)
        events(.layerUnpacking(layer.digest))
        do {
            try unpacker.unpackLayer(blobPath: blobPath, mediaType: layer.mediaType, diffID: diffID, destination: destination)
        } catch let error as UserFacingError {
            throw ImageStoreError.unpackFailed(layer: layer.digest, reason: error.userMessage)
        }
        created.add([destination])
        events(.layerDone(layer.digest))
    }

    /// Downloads a blob unless the store has it: into its partial file in the temp area (resumed
    /// if an earlier pull was interrupted), verified while it streams, fsynced, then renamed to
    /// its digest.
    private func fetchBlob(_ descriptor: Descriptor, what: String, sources: [PullSource], created: CreatedPaths,
                           events: @escaping @Sendable (PullEvent) -> Void = { _ in }) throws -> String {
        let path = layout.blobPath(descriptor.digest)
        if FileSystem.exists(path) {
            events(.blobPresent(descriptor.digest))
            return path
        }
        let lockPath = layout.temporaryDirectory + "/blob-\(descriptor.digest.hex).lock"
        let lock: FileLock
        do { lock = try FileLock.acquireRemovable(lockPath) } catch { throw ImageStoreError.io(error) }
        defer { lock.unlockAndRemove(lockPath) }
        if FileSystem.exists(path) {
            events(.blobPresent(descriptor.digest))
            return path
        }
        let partial = layout.temporaryDirectory + "/partial-\(descriptor.digest.hex)"
        var lastError: Error?
        for (position, source) in sources.enumerated() {
            do {
                try source.client.downloadBlob(repository: source.repository, descriptor: descriptor, what: what, to: partial) { received in
                    events(.blobProgress(descriptor.digest, received: received, total: descriptor.size))
                }
                lastError = nil
                break
            } catch {
                lastError = error
                guard position < sources.count - 1, Self.mayTryNextSource(after: error) else { break }
            }
        }
        if let lastError { throw lastError }
        do { try systemCall("rename", on: path) { rename(partial, path) } } catch { throw ImageStoreError.io(error) }
        created.add([path])
        events(.blobDownloaded(descriptor.digest))
        return path
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
