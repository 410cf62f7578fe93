import FoundationEssentials
import ImageReference
import Registry
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// What `rmi` did to one argument: a name taken off an image, or a whole image removed.
public enum ImageRemoval: Sendable, Equatable {
    case untagged(String)
    case deleted(Digest)
}

extension ImageStore {
    /// Gives `record` the name `target` (normalised); the name moves off any image that had it.
    public func tag(_ record: ImageRecord, as target: ImageReference) throws(ImageStoreError) {
        let name = target.with(tag: target.tag ?? ImageReference.defaultTag, digest: nil).description
        try withLock { () throws(ImageStoreError) in
            var records = try readIndex()
            guard let position = records.firstIndex(where: { $0.id == record.id }) else {
                throw .imageNotFound(record.shortID)
            }
            for index in records.indices { records[index].names.removeAll { $0 == name } }
            records[position].names = (records[position].names + [name]).sorted()
            try writeIndex(records)
        }
    }

    /// `rmi` of one argument. A name of an image that has other names only loses that name (as in
    /// Docker); otherwise the image goes, with its blobs and layers that no other image uses.
    /// `inUse` are the image ids containers use: such an image is refused (the caller removes
    /// those containers first when forced).
    public func remove(_ text: String, inUse: Set<String>, remover: LayerRemoving) throws(ImageStoreError) -> [ImageRemoval] {
        let (removed, outcome) = try withLock { () throws(ImageStoreError) -> (ImageRecord?, [ImageRemoval]) in
            var records = try readIndex()
            guard let record = try lookup(text, in: records) else { throw .imageNotFound(text) }
            let name = (try? ImageReference.parse(text))?.description
            if let name, record.names.contains(name), record.names.count > 1 {
                records[records.firstIndex { $0.id == record.id }!].names.removeAll { $0 == name }
                try writeIndex(records)
                return (nil, [.untagged(name)])
            }
            if inUse.contains(record.id.description) { throw .inUse(image: text, id: record.shortID) }
            records.removeAll { $0.id == record.id }
            try writeIndex(records)
            return (record, record.names.map { .untagged($0) } + [.deleted(record.id)])
        }
        if let removed { try removeUnusedContent(of: removed, remover: remover) }
        return outcome
    }

    /// Removes images no container uses: with `all`, every such image; else only those without
    /// a name (dangling). Returns the ids removed.
    public func prune(all: Bool, inUse: Set<String>, remover: LayerRemoving) throws(ImageStoreError) -> [Digest] {
        var pruned: [Digest] = []
        for record in try images() where (all || record.names.isEmpty) && !inUse.contains(record.id.description) {
            _ = try remove(record.id.description, inUse: inUse, remover: remover)
            pruned.append(record.id)
        }
        return pruned
    }

    /// Deletes a removed image's blobs and layer directories that no image in the index uses.
    /// Runs under the store lock so that a pull cannot record an image over them meanwhile.
    private func removeUnusedContent(of removed: ImageRecord, remover: LayerRemoving) throws(ImageStoreError) {
        try withLock { () throws(ImageStoreError) in
            let records = try readIndex()
            var usedBlobs = Set<Digest>()
            var usedLayers = Set<Digest>()
            for record in records {
                usedBlobs.formUnion([record.id, record.manifestDigest] + record.layerDigests)
                usedLayers.formUnion(record.chainIDs)
            }
            for chainID in removed.chainIDs.reversed() where !usedLayers.contains(chainID) {
                let path = layout.layerPath(chainID)
                guard FileSystem.exists(path) else { continue }
                // Renamed aside first: the layer is gone from the store even if removing its files fails.
                let aside = layout.temporaryDirectory + "/removed-layer-" + chainID.hex.prefix(16) + "-" + FileSystem.randomHex(bytes: 4)
                if rename(path, aside) == 0 { try? remover.removeLayerDirectory(aside) }
            }
            for digest in [removed.id, removed.manifestDigest] + removed.layerDigests where !usedBlobs.contains(digest) {
                unlink(layout.blobPath(digest))
            }
        }
    }

    /// Removes what killed pulls left that no pull is using now: partial downloads and
    /// half-unpacked layer directories whose locks are free, and the lock files of killed
    /// holders. Returns how many leftovers were removed.
    public func removeLeftovers(remover: LayerRemoving) -> Int {
        var removed = 0
        let unpacks = ((try? FileSystem.listDirectory(layout.layersDirectory)) ?? []).filter { $0.hasPrefix(".unpack-") }
        let temporary = (try? FileSystem.listDirectory(layout.temporaryDirectory)) ?? []
        // A lock that can be taken is held by no one: its file is a killed holder's leftover.
        var busyLayers = Set<String>()
        for entry in temporary where entry.hasSuffix(".lock") && (entry.hasPrefix("layer-") || entry.hasPrefix("blob-")) {
            let lockPath = layout.temporaryDirectory + "/" + entry
            guard let lock = try? FileLock.tryAcquireRemovable(lockPath) else {
                if entry.hasPrefix("layer-") { busyLayers.insert(String(entry.dropFirst("layer-".count).prefix(16))) }
                continue
            }
            if entry.hasPrefix("blob-") {
                let partial = layout.temporaryDirectory + "/partial-" + entry.dropFirst("blob-".count).dropLast(".lock".count)
                if unlink(partial) == 0 { removed += 1 }
            }
            lock.unlockAndRemove(lockPath)
        }
        for entry in temporary where entry.hasPrefix("partial-") {
            let lockPath = layout.temporaryDirectory + "/blob-\(entry.dropFirst("partial-".count)).lock"
            guard let lock = try? FileLock.tryAcquireRemovable(lockPath) else { continue }
            if unlink(layout.temporaryDirectory + "/" + entry) == 0 { removed += 1 }
            lock.unlockAndRemove(lockPath)
        }
        for entry in unpacks where !busyLayers.contains(String(entry.dropFirst(".unpack-".count).prefix(16))) {
            if (try? remover.removeLayerDirectory(layout.layersDirectory + "/" + entry)) != nil { removed += 1 }
        }
        for entry in temporary where entry.hasPrefix("removed-layer-") {
            if (try? remover.removeLayerDirectory(layout.temporaryDirectory + "/" + entry)) != nil { removed += 1 }
        }
        return removed
    }

    /// The image's manifest as stored (written by pull, load and import).
    public func manifest(of record: ImageRecord) throws(ImageStoreError) -> ImageManifest {
        let bytes: [UInt8]
        do { bytes = try FileSystem.readFile(layout.blobPath(record.manifestDigest)) } catch { throw .io(error) }
        guard let manifest = try? JSONDecoder().decode(ImageManifest.self, from: Data(bytes)) else {
            throw .invalidImage(image: record.names.first ?? record.shortID, reason: "its stored manifest is not valid JSON")
        }
        return manifest
    }

    /// Looks a name or id up in an index already read (under the lock).
    func lookup(_ text: String, in records: [ImageRecord]) throws(ImageStoreError) -> ImageRecord? {
        if let reference = try? ImageReference.parse(text) {
            let name = reference.description
            if let record = records.first(where: { $0.names.contains(name) || $0.repoDigests.contains(name) }) { return record }
        }
        var hex = Substring(text)
        if hex.hasPrefix("sha256:") { hex = hex.dropFirst(7) }
        guard !hex.isEmpty, hex.allSatisfy({ $0.isHexDigit }) else { return nil }
        let matches = records.filter { $0.id.hex.hasPrefix(hex) }
        if matches.count > 1 { throw .ambiguous(text) }
        return matches.first
    }
}
