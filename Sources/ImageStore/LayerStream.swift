import CZlib
import CZstd
import ImageReference
import Registry
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// The uncompressed bytes of a layer blob, hashed as they are read so the result can be checked
/// against the image configuration's diff_id.
final class LayerStream {
    enum Compression { case none, gzip, zstd }

    private let fd: FileDescriptor
    private let compression: Compression
    private var zstream = z_stream()
    private var zstdStream: OpaquePointer?
    private var zstdInput = ZSTD_inBuffer()
    /// Whether the current zstd frame is complete (a blob may end only between frames).
    private var zstdFrameDone = true
    private let inputCapacity = 1 << 17
    private let input: UnsafeMutablePointer<UInt8>
    let outputCapacity = 1 << 18
    /// The last chunk `read()` produced.
    let output: UnsafeMutablePointer<UInt8>
    private var inputEnded = false
    private var streamEnded = false
    let hasher = ContentHasher()
    private(set) var failure: String?

    init(path: String) throws(SystemCallError) {
        fd = try FileDescriptor.open(path, O_RDONLY)
        var magic = [UInt8](repeating: 0, count: 4)
        let n = pread(fd.rawValue, &magic, 4, 0)
        if n == 4 && magic == [0x28, 0xb5, 0x2f, 0xfd] {
            compression = .zstd
        } else {
            compression = n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b ? .gzip : .none
        }
        input = .allocate(capacity: inputCapacity)
        output = .allocate(capacity: outputCapacity)
        if compression == .gzip {
            // 15 + 32: a gzip (or zlib) header is detected automatically.
            inflateInit2_(&zstream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        } else if compression == .zstd {
            zstdStream = ZSTD_createDStream()
            ZSTD_initDStream(zstdStream)
        }
    }

    deinit {
        if compression == .gzip { inflateEnd(&zstream) }
        if let zstdStream { ZSTD_freeDStream(zstdStream) }
        input.deallocate()
        output.deallocate()
        fd.close()
    }

    private func readRaw(into buffer: UnsafeMutablePointer<UInt8>, capacity: Int) -> Int {
        while true {
            let n = Glibc.read(fd.rawValue, buffer, capacity)
            if n < 0 && errno == EINTR { continue }
            if n < 0 { failure = "cannot read the layer blob: \(String(cString: strerror(errno)))" }
            return n
        }
    }

    /// Puts the next uncompressed bytes in `output`; returns how many (0 at the end, -1 on error).
    func read() -> Int {
        switch compression {
        case .none:
            let n = readRaw(into: output, capacity: outputCapacity)
            if n > 0 { hasher.update(UnsafeRawBufferPointer(start: output, count: n)) }
            return n
        case .gzip:
            while !streamEnded {
                if zstream.avail_in == 0 && !inputEnded {
                    let n = readRaw(into: input, capacity: inputCapacity)
                    if n < 0 { return -1 }
                    if n == 0 { inputEnded = true }
                    zstream.next_in = input
                    zstream.avail_in = UInt32(n)
                }
                zstream.next_out = output
                zstream.avail_out = UInt32(outputCapacity)
                let status = inflate(&zstream, Z_NO_FLUSH)
                let produced = outputCapacity - Int(zstream.avail_out)
                if status == Z_STREAM_END {
                    // A layer may hold several gzip members one after the other.
                    if zstream.avail_in == 0 && inputEnded {
                        streamEnded = true
                    } else if zstream.avail_in == 0 {
                        let n = readRaw(into: input, capacity: inputCapacity)
                        if n < 0 { return -1 }
                        if n == 0 { inputEnded = true; streamEnded = true } else {
                            zstream.next_in = input
                            zstream.avail_in = UInt32(n)
                            inflateReset(&zstream)
                        }
                    } else {
                        inflateReset(&zstream)
                    }
                } else if status != Z_OK && !(status == Z_BUF_ERROR && produced == 0 && !inputEnded) {
                    failure = status == Z_BUF_ERROR ? "the layer's gzip stream ends early (truncated blob)" : "the layer's gzip stream is corrupt (zlib error \(status))"
                    return -1
                }
                if produced > 0 {
                    hasher.update(UnsafeRawBufferPointer(start: output, count: produced))
                    return produced
                }
                if inputEnded && zstream.avail_in == 0 && !streamEnded {
                    failure = "the layer's gzip stream ends early (truncated blob)"
                    return -1
                }
            }
            return 0
        case .zstd:
            return readZstd()
        }
    }

    private func readZstd() -> Int {
        while true {
            if zstdInput.pos == zstdInput.size {
                let n = readRaw(into: input, capacity: inputCapacity)
                if n < 0 { return -1 }
                if n == 0 {
                    if !zstdFrameDone {
                        failure = "the layer's zstd stream ends early (truncated blob)"
                        return -1
                    }
                    return 0
                }
                zstdInput = ZSTD_inBuffer(src: input, size: n, pos: 0)
            }
            var outputBuffer = ZSTD_outBuffer(dst: output, size: outputCapacity, pos: 0)
            let hint = ZSTD_decompressStream(zstdStream, &outputBuffer, &zstdInput)
            if ZSTD_isError(hint) != 0 {
                failure = "the layer's zstd stream is corrupt (\(String(cString: ZSTD_getErrorName(hint))))"
                return -1
            }
            // A hint of 0 means a frame just ended; another may follow (zstd allows concatenation).
            zstdFrameDone = hint == 0
            if outputBuffer.pos > 0 {
                hasher.update(UnsafeRawBufferPointer(start: output, count: outputBuffer.pos))
                return outputBuffer.pos
            }
        }
    }

    /// Reads what is left (tar padding after the end-of-archive marker) so the hash covers it all.
    func drain() -> Bool {
        while true {
            let n = read()
            if n < 0 { return false }
            if n == 0 { return true }
        }
    }
}
