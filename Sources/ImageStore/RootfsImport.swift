import CArchive
import FoundationEssentials
import ImageReference
import Registry
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// The configuration `import` writes: this host's platform, the runtime defaults from
/// `--change`, one layer and one history entry.
private struct ImportedConfiguration: Encodable {
    struct RootFilesystem: Encodable {
        var type = "layers"
        var diff_ids: [Digest]
    }
    struct History: Encodable {
        var created: String
        var created_by: String
        var comment: String?
    }
    var architecture: String
    var os: String
    var variant: String?
    var created: String
    var config: ContainerConfiguration
    var rootfs: RootFilesystem
    var history: [History]
}

extension ImageStore {
    /// Makes a one-layer image of a root filesystem tarball (plain or compressed) read from `fd`,
    /// as `docker import` does: the layer is stored gzip-compressed and unpacked, `changes` set the
    /// runtime defaults, `name` (normalised) names it. On failure the store is as it was.
    public func importRootfs(from fd: FileDescriptor, source: String, name: String?, changes: [ConfigurationChange], message: String?,
                             unpacker: LayerUnpacking) throws -> ImageRecord {
        var created: [String] = []
        do {
            let layer = try storeCompressedLayer(from: fd, source: source, created: &created)
            let destination = layout.layerPath(layer.diffID)
            if !FileSystem.isDirectory(destination) {
                do {
                    try unpacker.unpackLayer(blobPath: layout.blobPath(layer.descriptor.digest), mediaType: layer.descriptor.mediaType,
                                             diffID: layer.diffID, destination: destination)
                } catch let error as UserFacingError {
                    throw ImageStoreError.unpackFailed(layer: layer.descriptor.digest, reason: error.userMessage)
                }
                created.append(destination)
            }

            let now = Date.now.formatted(.iso8601)
            var defaults = ContainerConfiguration()
            for change in changes { change.apply(to: &defaults) }
            let platform = Platform.current
            let configuration = ImportedConfiguration(
                architecture: platform.architecture, os: platform.os, variant: platform.variant, created: now, config: defaults,
                rootfs: .init(diff_ids: [layer.diffID]),
                history: [.init(created: now, created_by: "swctr import", comment: message)])
            let configBytes = try Self.encodeJSON(configuration)
            let configDigest = ContentHasher.digest(of: configBytes)
            try storeBlob(bytes: configBytes, digest: configDigest, created: &created)
            let config = Descriptor(mediaType: MediaType.ociConfig, digest: configDigest, size: Int64(configBytes.count))
            let manifestBytes = try Self.encodeJSON(ImageManifest(mediaType: MediaType.ociManifest, config: config, layers: [layer.descriptor]))
            let manifestDigest = ContentHasher.digest(of: manifestBytes)
            try storeBlob(bytes: manifestBytes, digest: manifestDigest, created: &created)

            let record = ImageRecord(
                id: configDigest, names: name.map { [$0] } ?? [], repoDigests: [], manifestDigest: manifestDigest,
                layerDigests: [layer.descriptor.digest], diffIDs: [layer.diffID], chainIDs: [layer.diffID],
                size: layer.descriptor.size, created: now, pulled: now, platform: platform)
            try register(record)
            created.removeAll()
            return record
        } catch {
            removeUnreferenced(created, unpacker: unpacker)
            throw error
        }
    }

    /// Reads the tarball (decompressing whatever libarchive recognises), checks that it starts
    /// like a tar archive, and stores it gzip-compressed as a blob.
    private func storeCompressedLayer(from input: FileDescriptor, source: String, created: inout [String]) throws -> (descriptor: Descriptor, diffID: Digest) {
        let temp = layout.temporaryDirectory + "/import-" + FileSystem.randomHex(bytes: 6)
        let fd: FileDescriptor
        do { fd = try FileDescriptor.open(temp, O_WRONLY | O_CREAT | O_EXCL, mode: 0o600) } catch { throw ImageArchiveError.io(error) }
        var renamed = false
        defer {
            fd.close()
            if !renamed { unlink(temp) }
        }
        let compressor = GzipFileWriter(fd: fd)
        try decompress(input, source: source) { chunk throws(SystemCallError) in try compressor.write(chunk) }
        do { try compressor.finish(); try fd.sync() } catch { throw ImageArchiveError.io(error) }
        let digest = compressor.compressedHasher.finish()
        let path = layout.blobPath(digest)
        if !FileSystem.exists(path) {
            do { try systemCall("rename", on: path) { rename(temp, path) } } catch { throw ImageArchiveError.io(error) }
            renamed = true
            created.append(path)
        }
        return (Descriptor(mediaType: MediaType.ociLayerGzip, digest: digest, size: compressor.compressedSize), compressor.uncompressedHasher.finish())
    }

    /// Hands the uncompressed bytes of `input` to `body`; refuses input that is not a tar archive.
    private func decompress(_ input: FileDescriptor, source: String, body: (UnsafeRawBufferPointer) throws(SystemCallError) -> Void) throws {
        guard let archive = archive_read_new() else { throw ImageArchiveError.io(SystemCallError("archive_read_new", errno: ENOMEM)) }
        defer { archive_read_free(archive) }
        archive_read_support_format_raw(archive)
        for support in [archive_read_support_filter_none, archive_read_support_filter_gzip, archive_read_support_filter_bzip2,
                        archive_read_support_filter_xz, archive_read_support_filter_zstd] {
            _ = support(archive)
        }
        var entry: OpaquePointer?
        if archive_read_open_fd(archive, input.rawValue, 1 << 16) != ARCHIVE_OK || archive_read_next_header(archive, &entry) < ARCHIVE_WARN {
            throw ImageArchiveError.notATarArchive(source: source, reason: LayerUnpacker.archiveError(archive))
        }
        let capacity = 1 << 17
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        defer { buffer.deallocate() }
        // The first 512-byte header must carry the ustar magic (POSIX and GNU tar both write it).
        var header: [UInt8] = []
        while true {
            let n = archive_read_data(archive, buffer, capacity)
            if n < 0 { throw ImageArchiveError.damaged(source: source, reason: LayerUnpacker.archiveError(archive)) }
            if n == 0 { break }
            let chunk = UnsafeRawBufferPointer(start: buffer, count: n)
            if header.count < 512 {
                header.append(contentsOf: chunk.prefix(512 - header.count))
                if header.count == 512 && !header[257..<262].elementsEqual("ustar".utf8) {
                    throw ImageArchiveError.notATarArchive(source: source, reason: "no tar header at its start")
                }
            }
            do { try body(chunk) } catch { throw ImageArchiveError.io(error) }
        }
        if header.count < 512 { throw ImageArchiveError.notATarArchive(source: source, reason: header.isEmpty ? "it is empty" : "it is too short") }
    }
}
