// libfuse3's low-level session around an OverlayFilesystem: the operation table (C callbacks that
// call into Swift), the mount (a /dev/fuse fd someone else mounted, or a mount point of our own),
// and the multi-threaded loop.
import CFuse
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// Entries and attributes may be cached for a day: nothing but this filesystem changes the layers.
private let cacheSeconds: Double = 86_400

private func overlay(_ request: fuse_req_t?) -> OverlayFilesystem {
    Unmanaged<OverlayFilesystem>.fromOpaque(fuse_req_userdata(request)!).takeUnretainedValue()
}

private func caller(_ request: fuse_req_t?) -> Caller {
    guard let context = fuse_req_ctx(request) else { return Caller(uid: 0, gid: 0) }
    return Caller(uid: context.pointee.uid, gid: context.pointee.gid)
}

private func entry(_ node: OverlayNode, _ info: stat) -> fuse_entry_param {
    var parameters = fuse_entry_param()
    parameters.ino = fuse_ino_t(node.id)
    parameters.attr = info
    parameters.attr_timeout = cacheSeconds
    parameters.entry_timeout = cacheSeconds
    return parameters
}

/// Runs one operation; a thrown errno becomes the reply.
private func attempt(_ request: fuse_req_t?, _ body: () throws(FilesystemError) -> Void) {
    do throws(FilesystemError) {
        try body()
    } catch {
        fuse_reply_err(request, error.code)
    }
}

private func replyEntry(_ request: fuse_req_t?, _ made: (OverlayNode, stat)) {
    var parameters = entry(made.0, made.1)
    fuse_reply_entry(request, &parameters)
}

private func name(_ pointer: UnsafePointer<CChar>?) -> String {
    pointer.map { String(cString: $0) } ?? ""
}

private func directoryHandle(_ info: UnsafeMutablePointer<fuse_file_info>?) -> DirectoryHandle? {
    guard let info, let pointer = UnsafeRawPointer(bitPattern: UInt(info.pointee.fh)) else { return nil }
    return Unmanaged<DirectoryHandle>.fromOpaque(pointer).takeUnretainedValue()
}

private func readDirectory(_ request: fuse_req_t?, _ directory: fuse_ino_t, _ size: Int, _ offset: off_t,
                           _ info: UnsafeMutablePointer<fuse_file_info>?, plus: Bool) {
    let filesystem = overlay(request)
    let handle: DirectoryHandle
    if let opened = directoryHandle(info) {
        handle = opened
    } else {
        do throws(FilesystemError) {
            handle = try filesystem.listing(UInt64(directory), fresh: offset == 0)
        } catch {
            fuse_reply_err(request, error.code)
            return
        }
    }
    let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: max(size, 1))
    defer { buffer.deallocate() }
    var used = 0
    var index = Int(offset)
    while index < handle.entries.count {
        let item = handle.entries[index]
        let next = off_t(index + 1)
        index += 1
        if plus {
            let needed = fuse_add_direntry_plus(request, nil, 0, item.name, nil, 0)
            if needed > size - used { break }
            var parameters = fuse_entry_param()
            if item.name == "." || item.name == ".." {
                parameters.attr.st_ino = ino_t(item.inode)
                parameters.attr.st_mode = mode_t(item.type) << 12
            } else if let found = try? filesystem.lookup(parent: UInt64(directory), name: item.name) {
                parameters = entry(found.0, found.1)
            } else {
                continue  // gone since opendir
            }
            used += fuse_add_direntry_plus(request, buffer + used, size - used, item.name, &parameters, next)
        } else {
            var attributes = stat()
            attributes.st_ino = ino_t(item.inode)
            attributes.st_mode = mode_t(item.type) << 12
            let needed = fuse_add_direntry(request, buffer + used, size - used, item.name, &attributes, next)
            if needed > size - used { break }
            used += needed
        }
    }
    fuse_reply_buf(request, buffer, used)
}

private func operations() -> fuse_lowlevel_ops {
    var ops = fuse_lowlevel_ops()
    ops.`init` = { userdata, connection in
        guard let userdata, let connection else { return }
        let filesystem = Unmanaged<OverlayFilesystem>.fromOpaque(userdata).takeUnretainedValue()
        let wanted = [FUSE_CAP_SPLICE_WRITE, FUSE_CAP_SPLICE_MOVE, FUSE_CAP_READDIRPLUS, FUSE_CAP_PARALLEL_DIROPS,
                      FUSE_CAP_ASYNC_READ, FUSE_CAP_CACHE_SYMLINKS]
        for capability in wanted where connection.pointee.capable & UInt32(capability) != 0 {
            connection.pointee.want |= UInt32(capability)
        }
        // Always READDIRPLUS: a listing is nearly always followed by a stat of every entry.
        connection.pointee.want &= ~UInt32(FUSE_CAP_READDIRPLUS_AUTO)
        // No writeback cache: 1 MiB writes go straight through, and attributes stay cached
        // (with it the kernel asks for them again after every close).
        connection.pointee.want &= ~UInt32(FUSE_CAP_WRITEBACK_CACHE)
        filesystem.writebackCache = false
        filesystem.zeroMessageOpendir = connection.pointee.capable & UInt32(FUSE_CAP_NO_OPENDIR_SUPPORT) != 0
        connection.pointee.max_readahead = 1 << 20
        connection.pointee.time_gran = 1
    }
    ops.lookup = { request, parent, pointer in
        let filesystem = overlay(request)
        do throws(FilesystemError) {
            replyEntry(request, try filesystem.lookup(parent: UInt64(parent), name: name(pointer)))
        } catch {
            if error.code == ENOENT {
                // A negative entry the kernel may cache too: names appear only through us.
                var parameters = fuse_entry_param()
                parameters.entry_timeout = cacheSeconds
                fuse_reply_entry(request, &parameters)
            } else {
                fuse_reply_err(request, error.code)
            }
        }
    }
    ops.forget = { request, node, count in
        overlay(request).forget(UInt64(node), count: count)
        fuse_reply_none(request)
    }
    ops.forget_multi = { request, count, forgets in
        let filesystem = overlay(request)
        if let forgets {
            for index in 0..<count { filesystem.forget(UInt64(forgets[index].ino), count: forgets[index].nlookup) }
        }
        fuse_reply_none(request)
    }
    ops.getattr = { request, node, info in
        attempt(request) { () throws(FilesystemError) in
            var attributes = try overlay(request).attributes(UInt64(node), handle: info.map { $0.pointee.fh })
            fuse_reply_attr(request, &attributes, cacheSeconds)
        }
    }
    ops.setattr = { request, node, wanted, fields, info in
        attempt(request) { () throws(FilesystemError) in
            guard let wanted else { throw FilesystemError(EINVAL) }
            var attributes = try overlay(request).setAttributes(UInt64(node), wanted.pointee, fields: fields, handle: info.map { $0.pointee.fh })
            fuse_reply_attr(request, &attributes, cacheSeconds)
        }
    }
    ops.readlink = { request, node in
        attempt(request) { () throws(FilesystemError) in
            let target = try overlay(request).readLink(UInt64(node))
            fuse_reply_readlink(request, target)
        }
    }
    ops.mknod = { request, parent, pointer, mode, device in
        attempt(request) { () throws(FilesystemError) in
            replyEntry(request, try overlay(request).makeNode(parent: UInt64(parent), name: name(pointer), mode: mode, device: device, caller: caller(request)))
        }
    }
    ops.mkdir = { request, parent, pointer, mode in
        attempt(request) { () throws(FilesystemError) in
            replyEntry(request, try overlay(request).makeDirectory(parent: UInt64(parent), name: name(pointer), mode: mode, caller: caller(request)))
        }
    }
    ops.symlink = { request, target, parent, pointer in
        attempt(request) { () throws(FilesystemError) in
            replyEntry(request, try overlay(request).makeSymlink(target: name(target), parent: UInt64(parent), name: name(pointer), caller: caller(request)))
        }
    }
    ops.link = { request, node, parent, pointer in
        attempt(request) { () throws(FilesystemError) in
            replyEntry(request, try overlay(request).link(UInt64(node), newParent: UInt64(parent), newName: name(pointer)))
        }
    }
    ops.unlink = { request, parent, pointer in
        attempt(request) { () throws(FilesystemError) in
            try overlay(request).unlink(parent: UInt64(parent), name: name(pointer))
            fuse_reply_err(request, 0)
        }
    }
    ops.rmdir = { request, parent, pointer in
        attempt(request) { () throws(FilesystemError) in
            try overlay(request).removeDirectory(parent: UInt64(parent), name: name(pointer))
            fuse_reply_err(request, 0)
        }
    }
    ops.rename = { request, parent, pointer, newParent, newPointer, flags in
        attempt(request) { () throws(FilesystemError) in
            try overlay(request).rename(parent: UInt64(parent), name: name(pointer), newParent: UInt64(newParent), newName: name(newPointer), flags: flags)
            fuse_reply_err(request, 0)
        }
    }
    ops.open = { request, node, info in
        attempt(request) { () throws(FilesystemError) in
            guard let info else { throw FilesystemError(EINVAL) }
            info.pointee.fh = try overlay(request).open(UInt64(node), flags: info.pointee.flags)
            swctr_fuse_file_flags(info, 1, 0, 0)
            if fuse_reply_open(request, info) != 0 { overlay(request).release(info.pointee.fh) }
        }
    }
    ops.create = { request, parent, pointer, mode, info in
        attempt(request) { () throws(FilesystemError) in
            guard let info else { throw FilesystemError(EINVAL) }
            let (node, attributes, handle) = try overlay(request).create(parent: UInt64(parent), name: name(pointer), mode: mode,
                                                                         flags: info.pointee.flags, caller: caller(request))
            info.pointee.fh = handle
            swctr_fuse_file_flags(info, 1, 0, 0)
            var parameters = entry(node, attributes)
            if fuse_reply_create(request, &parameters, info) != 0 { overlay(request).release(handle) }
        }
    }
    ops.read = { request, _, size, offset, info in
        guard let info else {
            fuse_reply_err(request, EBADF)
            return
        }
        swctr_fuse_reply_fd(request, OpenFile.fd(info.pointee.fh), size, offset)
    }
    ops.write_buf = { request, _, buffer, offset, info in
        attempt(request) { () throws(FilesystemError) in
            guard let info, let buffer else { throw FilesystemError(EBADF) }
            fuse_reply_write(request, try overlay(request).write(info.pointee.fh, buffer: buffer, offset: offset))
        }
    }
    // No flush: locks are the kernel's own (no lock operations here), so a close needs no
    // round trip; without the operation the kernel stops sending FLUSH after the first.
    ops.release = { request, _, info in
        if let info { overlay(request).release(info.pointee.fh) }
        fuse_reply_err(request, 0)
    }
    ops.fsync = { request, _, dataOnly, info in
        attempt(request) { () throws(FilesystemError) in
            guard let info else { throw FilesystemError(EBADF) }
            try overlay(request).sync(info.pointee.fh, dataOnly: dataOnly != 0)
            fuse_reply_err(request, 0)
        }
    }
    ops.fallocate = { request, _, mode, offset, length, info in
        attempt(request) { () throws(FilesystemError) in
            guard let info else { throw FilesystemError(EBADF) }
            try overlay(request).allocate(info.pointee.fh, mode: mode, offset: offset, length: length)
            fuse_reply_err(request, 0)
        }
    }
    ops.lseek = { request, _, offset, whence, info in
        attempt(request) { () throws(FilesystemError) in
            guard let info else { throw FilesystemError(EBADF) }
            fuse_reply_lseek(request, try overlay(request).seek(info.pointee.fh, offset: offset, whence: whence))
        }
    }
    ops.opendir = { request, node, info in
        if overlay(request).zeroMessageOpendir {
            // The kernel then opens directories itself (keeping their listings cached) and
            // never sends OPENDIR or RELEASEDIR again: two round trips less per directory walked.
            fuse_reply_err(request, ENOSYS)
            return
        }
        attempt(request) { () throws(FilesystemError) in
            guard let info else { throw FilesystemError(EINVAL) }
            let handle = try overlay(request).openDirectory(UInt64(node))
            info.pointee.fh = UInt64(UInt(bitPattern: Unmanaged.passRetained(handle).toOpaque()))
            swctr_fuse_file_flags(info, 1, 0, 1)
            if fuse_reply_open(request, info) != 0 { Unmanaged.passUnretained(handle).release() }
        }
    }
    ops.readdir = { request, node, size, offset, info in
        readDirectory(request, node, size, offset, info, plus: false)
    }
    ops.readdirplus = { request, node, size, offset, info in
        readDirectory(request, node, size, offset, info, plus: true)
    }
    ops.releasedir = { request, _, info in
        if let info, let pointer = UnsafeRawPointer(bitPattern: UInt(info.pointee.fh)) {
            Unmanaged<DirectoryHandle>.fromOpaque(pointer).release()
        }
        fuse_reply_err(request, 0)
    }
    ops.fsyncdir = { request, node, _, _ in
        attempt(request) { () throws(FilesystemError) in
            try overlay(request).syncDirectory(UInt64(node))
            fuse_reply_err(request, 0)
        }
    }
    ops.statfs = { request, _ in
        attempt(request) { () throws(FilesystemError) in
            var statistics = try overlay(request).filesystemStatistics()
            fuse_reply_statfs(request, &statistics)
        }
    }
    ops.getxattr = { request, node, pointer, size in
        attempt(request) { () throws(FilesystemError) in
            let value = try overlay(request).getAttribute(UInt64(node), name: name(pointer), size: size)
            if size == 0 {
                fuse_reply_xattr(request, value.count)
            } else {
                value.withUnsafeBytes { _ = fuse_reply_buf(request, $0.baseAddress?.assumingMemoryBound(to: CChar.self), $0.count) }
            }
        }
    }
    ops.listxattr = { request, node, size in
        attempt(request) { () throws(FilesystemError) in
            let names = try overlay(request).listAttributes(UInt64(node))
            if size == 0 {
                fuse_reply_xattr(request, names.count)
            } else if names.count > size {
                throw FilesystemError(ERANGE)
            } else {
                names.withUnsafeBytes { _ = fuse_reply_buf(request, $0.baseAddress?.assumingMemoryBound(to: CChar.self), $0.count) }
            }
        }
    }
    ops.setxattr = { request, node, pointer, value, size, flags in
        attempt(request) { () throws(FilesystemError) in
            try overlay(request).setAttribute(UInt64(node), name: name(pointer), value: value.map { UnsafeRawPointer($0) }, size: size, flags: flags)
            fuse_reply_err(request, 0)
        }
    }
    ops.removexattr = { request, node, pointer in
        attempt(request) { () throws(FilesystemError) in
            try overlay(request).removeAttribute(UInt64(node), name: name(pointer))
            fuse_reply_err(request, 0)
        }
    }
    return ops
}

public enum FuseServerError: Error, UserFacingError {
    case session
    case mount(String, errno: Int32)

    public var userMessage: String {
        switch self {
        case .session: return "libfuse could not start a session"
        case .mount(let point, let code): return "cannot mount the FUSE overlay on \(point): \(String(cString: strerror(code)))"
        }
    }
}

/// One mounted overlay and the loop serving it.
public final class FuseServer {
    public enum MountTarget {
        /// A /dev/fuse fd already mounted by someone else (the container's init).
        case descriptor(Int32)
        /// A directory to mount on (the mount namespace's root may mount FUSE itself).
        case directory(String)
    }

    /// Threads serving requests ($SWCTR_FUSE_THREADS, default 8; one thread was slower and less steady
    /// in runs of 10k creates and stats on 2 cores).
    public static var defaultThreads: Int {
        getenv("SWCTR_FUSE_THREADS").flatMap { Int(String(cString: $0)) }.map { max(1, min($0, 64)) } ?? 8
    }

    private let session: OpaquePointer
    private let filesystem: Unmanaged<OverlayFilesystem>
    private let target: MountTarget

    public init(filesystem: OverlayFilesystem, target: MountTarget) throws(FuseServerError) {
        let arguments = ["swctr", "-o", "fsname=swctr-overlay,subtype=swctr-overlay,default_permissions,allow_other"]
        var pointers = arguments.map { strdup($0) }
        defer { for pointer in pointers { free(pointer) } }
        let retained = Unmanaged.passRetained(filesystem)
        var ops = operations()
        let made = pointers.withUnsafeMutableBufferPointer { buffer -> OpaquePointer? in
            var fuseArguments = fuse_args(argc: Int32(buffer.count), argv: buffer.baseAddress, allocated: 0)
            defer { fuse_opt_free_args(&fuseArguments) }
            return fuse_session_new(&fuseArguments, &ops, MemoryLayout<fuse_lowlevel_ops>.size, retained.toOpaque())
        }
        guard let made else {
            retained.release()
            throw .session
        }
        let mountPoint: String
        switch target {
        case .descriptor(let fd): mountPoint = "/dev/fd/\(fd)"
        case .directory(let path): mountPoint = path
        }
        if fuse_session_mount(made, mountPoint) != 0 {
            let code = errno
            fuse_session_destroy(made)
            retained.release()
            throw .mount(mountPoint, errno: code == 0 ? EPERM : code)
        }
        session = made
        self.filesystem = retained
        self.target = target
    }

    /// Serves requests until the filesystem is unmounted (or SIGTERM/SIGINT/SIGHUP); unmounts a
    /// mount of its own on the way out. Returns libfuse's result (0: unmounted cleanly).
    public func run(threads: Int = FuseServer.defaultThreads) -> Int32 {
        _ = fuse_set_signal_handlers(session)
        let result: Int32
        if threads <= 1 {
            result = fuse_session_loop(session)
        } else {
            let configuration = fuse_loop_cfg_create()
            fuse_loop_cfg_set_clone_fd(configuration, 0)
            fuse_loop_cfg_set_max_threads(configuration, UInt32(threads))
            fuse_loop_cfg_set_idle_threads(configuration, UInt32(max(1, threads / 2)))
            result = fuse_session_loop_mt(session, configuration)
            fuse_loop_cfg_destroy(configuration)
        }
        fuse_remove_signal_handlers(session)
        if case .directory = target { fuse_session_unmount(session) }
        fuse_session_destroy(session)
        filesystem.release()
        return result
    }
}
