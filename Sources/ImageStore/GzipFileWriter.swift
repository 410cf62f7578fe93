import CZlib
import ImageReference
import Registry
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// Compresses a stream into a file as gzip, hashing what goes in (a layer's diff_id) and what
/// comes out (its blob digest) on the way.
final class GzipFileWriter {
    private let fd: FileDescriptor
    private var zstream = z_stream()
    private let outputCapacity = 1 << 17
    private let output: UnsafeMutablePointer<UInt8>
    let uncompressedHasher = ContentHasher()
    let compressedHasher = ContentHasher()
    private(set) var compressedSize: Int64 = 0

    init(fd: FileDescriptor) {
        self.fd = fd
        output = .allocate(capacity: outputCapacity)
        // 15 + 16: a gzip header and trailer around the deflate stream.
        deflateInit2_(&zstream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
    }

    deinit {
        deflateEnd(&zstream)
        output.deallocate()
    }

    func write(_ chunk: UnsafeRawBufferPointer) throws(SystemCallError) {
        guard let base = chunk.baseAddress, chunk.count > 0 else { return }
        uncompressedHasher.update(chunk)
        zstream.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: UInt8.self))
        zstream.avail_in = UInt32(chunk.count)
        try deflateAvailableInput(flush: Z_NO_FLUSH)
    }

    /// Ends the gzip stream and writes what is left.
    func finish() throws(SystemCallError) {
        zstream.next_in = nil
        zstream.avail_in = 0
        try deflateAvailableInput(flush: Z_FINISH)
    }

    private func deflateAvailableInput(flush: Int32) throws(SystemCallError) {
        while true {
            zstream.next_out = output
            zstream.avail_out = UInt32(outputCapacity)
            let status = deflate(&zstream, flush)
            if status == Z_STREAM_ERROR { throw SystemCallError("deflate", errno: EINVAL) }
            let produced = outputCapacity - Int(zstream.avail_out)
            if produced > 0 {
                let bytes = UnsafeRawBufferPointer(start: output, count: produced)
                compressedHasher.update(bytes)
                try fd.writeAll(bytes)
                compressedSize += Int64(produced)
            }
            if flush == Z_FINISH ? status == Z_STREAM_END : zstream.avail_in == 0 && zstream.avail_out != 0 { return }
        }
    }
}
