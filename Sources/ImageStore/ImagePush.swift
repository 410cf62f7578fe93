import FoundationEssentials
import ImageReference
import Registry
import SystemSupport

extension ImageStore {
    /// Pushes an image to `destination`: each blob the repository lacks (several at once), then
    /// the manifest as stored, so its digest stays the same. Returns the manifest digest.
    @discardableResult
    public func push(_ record: ImageRecord, to destination: ImageReference, client: RegistryClient,
                     note: @escaping @Sendable (String) -> Void = { _ in }) throws -> Digest {
        let manifestBytes: [UInt8]
        do { manifestBytes = try FileSystem.readFile(layout.blobPath(record.manifestDigest)) } catch { throw ImageStoreError.io(error) }
        let manifest = try decode(ImageManifest.self, manifestBytes, what: "stored manifest of \(record.names.first ?? record.shortID)")
        let repository = destination.repository
        let blobs = [manifest.config] + manifest.layers
        for blob in blobs where !FileSystem.exists(layout.blobPath(blob.digest)) {
            throw ImageStoreError.invalidImage(image: record.names.first ?? record.shortID,
                                               reason: "blob \(blob.digest) is missing from the store — pull the image again")
        }
        let queue = JobQueue(count: blobs.count)
        WorkerThreads.run(count: min(Self.pullWorkers, blobs.count)) { _ in
            while let next = queue.take() {
                let blob = blobs[next]
                let what = next == 0 ? "config" : "blob"
                do {
                    if try client.blobExists(repository: repository, digest: blob.digest) {
                        note("Copying \(what) \(blob.digest.description.prefix(19)) skipped: already exists")
                        continue
                    }
                    note("Copying \(what) \(blob.digest.description.prefix(19)) (\(Self.formatSize(blob.size)))")
                    try client.uploadBlob(repository: repository, digest: blob.digest, path: self.layout.blobPath(blob.digest), size: blob.size)
                } catch {
                    queue.fail(error)
                }
            }
        }
        if let failure = queue.failure { throw failure }
        note("Writing manifest to \(destination.description)")
        let mediaType = manifest.mediaType ?? MediaType.ociManifest
        try client.putManifest(repository: repository, reference: destination.tag ?? ImageReference.defaultTag, bytes: manifestBytes, mediaType: mediaType)
        return record.manifestDigest
    }
}
