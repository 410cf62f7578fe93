// Reading layer directories as one tree, the way the kernel overlay merges them: what `diff`,
// `commit` and `export` walk (inside the user namespace, where the files' owners are mapped).
import CLinux
import SystemSupport
#if canImport(Glibc)
    import Glibc
#endif

/// A path inside a container's filesystem, as the raw bytes of its components (file names need
/// not be UTF-8, and must reach the disk unchanged).
struct EntryPath: Hashable, Comparable {
    var components: [[UInt8]]

    static let root = EntryPath(components: [])

    func appending(_ name: [UInt8]) -> EntryPath { EntryPath(components: components + [name]) }

    var name: [UInt8] { components.last ?? [] }
    var parent: EntryPath { EntryPath(components: Array(components.dropLast())) }

    /// `etc/hosts`: relative, as tar entries and openat2 want it (`.` for the root).
    var relative: [UInt8] {
        components.isEmpty ? Array(".".utf8) : Array(components.joined(separator: [UInt8(ascii: "/")]))
    }

    /// `/etc/hosts`: as a user in the container names it.
    var absolute: [UInt8] { [UInt8(ascii: "/")] + (components.isEmpty ? [] : relative) }

    var displayName: String { String(decoding: absolute, as: UTF8.self) }

    static func < (left: EntryPath, right: EntryPath) -> Bool { left.absolute.lexicographicallyPrecedes(right.absolute) }

    /// `etc/hostname` → its components.
    init(text: String) { components = text.split(separator: "/").filter { $0 != "." }.map { Array($0.utf8) } }

    init(components: [[UInt8]]) { self.components = components }
}

/// The kinds of directory entries the walks tell apart.
enum EntryKind: Equatable {
    case directory, regular, symlink, fifo
    /// A character device 0/0: the overlay's mark of a deleted path.
    case whiteout
    /// Device nodes and sockets: not content of a layer (devices cannot even be made in a user namespace).
    case other

    init(_ info: stat) {
        switch info.st_mode & S_IFMT {
        case S_IFDIR: self = .directory
        case S_IFREG: self = .regular
        case S_IFLNK: self = .symlink
        case S_IFIFO: self = .fifo
        case S_IFCHR where info.st_rdev == 0: self = .whiteout
        default: self = .other
        }
    }
}

/// One name found in a directory of a layer stack: its metadata and the layer it comes from.
struct LayerEntry {
    let name: [UInt8]
    let info: stat
    /// Index into the stack (0: the top layer).
    let layer: Int

    var kind: EntryKind { EntryKind(info) }
}

/// A directory of the merged tree: where it is, and the layers (top first) whose directories of
/// that path are visible in it. The list stops below an opaque directory, as overlay's lookup does.
struct MergedDirectory {
    let path: EntryPath
    let layers: [Int]
}

/// Layer directories (top first) read as the overlay merges them: a whiteout hides the name in
/// every layer below, an opaque directory (`user.overlay.opaque` = "y") hides everything below it,
/// and a non-directory ends the lookup of that name. Every open goes through openat2 beneath the
/// layer's root without following any symlink, so a container that swaps a directory for a link
/// while it is read cannot lead the walk out of its layers.
final class LayerStack {
    private let roots: [FileDescriptor]
    private let attributes: ExtendedAttributeReader

    /// Opens the layer directories, top first.
    init(directories: [String], attributes: ExtendedAttributeReader) throws(SystemCallError) {
        var opened: [FileDescriptor] = []
        for directory in directories {
            do {
                opened.append(try FileDescriptor.open(directory, O_RDONLY | O_DIRECTORY))
            } catch {
                opened.forEach { $0.close() }
                throw error
            }
        }
        roots = opened
        self.attributes = attributes
    }

    deinit { roots.forEach { $0.close() } }

    var count: Int { roots.count }

    /// The merged root directory.
    var root: MergedDirectory {
        var layers: [Int] = []
        for layer in roots.indices {
            layers.append(layer)
            if (try? isOpaque(.root, layer: layer)) == true { break }
        }
        return MergedDirectory(path: .root, layers: layers)
    }

    /// Opens `path` in one layer (relative to its root, never through a symlink).
    func open(_ path: EntryPath, layer: Int, flags: Int32) throws(SystemCallError) -> FileDescriptor {
        let resolve = UInt64(SWCTR_RESOLVE_BENEATH | SWCTR_RESOLVE_NO_SYMLINKS | SWCTR_RESOLVE_NO_MAGICLINKS)
        let fd = path.relative.withUnsafeBufferPointer { bytes in
            (bytes.map { CChar(bitPattern: $0) } + [0]).withUnsafeBufferPointer { name in
                swctr_openat2(roots[layer].rawValue, name.baseAddress!, UInt64(flags | O_CLOEXEC | O_NOFOLLOW), 0, resolve)
            }
        }
        if fd < 0 { throw SystemCallError("open", on: path.displayName, errno: errno) }
        return FileDescriptor(rawValue: fd)
    }

    /// Whether the directory at `path` in `layer` is marked opaque.
    func isOpaque(_ path: EntryPath, layer: Int) throws(SystemCallError) -> Bool {
        let directory: FileDescriptor
        do { directory = try open(path, layer: layer, flags: O_RDONLY | O_DIRECTORY) } catch {
            if error.errno == ENOENT && !path.components.isEmpty { return false }  // gone since it was listed
            throw error
        }
        defer { directory.close() }
        return attributes.isOpaque(directory)
    }

    /// The entries of one layer's directory at `path`, with their metadata (nothing followed).
    /// A directory below the root that is gone (a running container removed it since its parent
    /// was listed) has no entries.
    func entries(at path: EntryPath, layer: Int) throws(SystemCallError) -> [LayerEntry] {
        let directory: FileDescriptor
        do { directory = try open(path, layer: layer, flags: O_RDONLY | O_DIRECTORY) } catch {
            if error.errno == ENOENT && !path.components.isEmpty { return [] }
            throw error
        }
        defer { directory.close() }
        let copy = dup(directory.rawValue)
        guard copy >= 0, let handle = fdopendir(copy) else {
            let code = errno
            if copy >= 0 { Glibc.close(copy) }
            throw SystemCallError("opendir", on: path.displayName, errno: code)
        }
        defer { closedir(handle) }
        var result: [LayerEntry] = []
        while true {
            errno = 0
            guard let item = readdir(handle) else {
                if errno != 0 { throw SystemCallError("readdir", on: path.displayName, errno: errno) }
                break
            }
            let name = withUnsafeBytes(of: item.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            if name == [0x2E] || name == [0x2E, 0x2E] { continue }
            var info = stat()
            let found = name.withUnsafeBufferPointer { bytes in
                (bytes.map { CChar(bitPattern: $0) } + [0]).withUnsafeBufferPointer {
                    fstatat(directory.rawValue, $0.baseAddress!, &info, AT_SYMLINK_NOFOLLOW)
                }
            }
            // Gone since it was listed (the container may be running): not there.
            if found != 0 {
                if errno == ENOENT { continue }
                throw SystemCallError("stat", on: path.appending(name).displayName, errno: errno)
            }
            result.append(LayerEntry(name: name, info: info, layer: layer))
        }
        return result
    }

    /// The merged entries of a directory, sorted by name. Whiteouts hide names from the layers
    /// below them; with `keepingWhiteouts` (a writable layer read alone) they are returned.
    func children(of directory: MergedDirectory, keepingWhiteouts: Bool = false) throws(SystemCallError) -> [LayerEntry] {
        var found: [[UInt8]: LayerEntry] = [:]
        var hidden = Set<[UInt8]>()
        for layer in directory.layers {
            for entry in try entries(at: directory.path, layer: layer) where found[entry.name] == nil && !hidden.contains(entry.name) {
                if entry.kind == .whiteout && !keepingWhiteouts {
                    hidden.insert(entry.name)
                } else {
                    found[entry.name] = entry
                }
            }
        }
        return found.values.sorted { $0.name.lexicographicallyPrecedes($1.name) }
    }

    /// The merged directory an entry of `parent` opens: its directory in the entry's layer and in
    /// each lower layer down to the first opaque one, or the first that has something else there.
    func subdirectory(_ entry: LayerEntry, of parent: MergedDirectory) throws(SystemCallError) -> MergedDirectory {
        let path = parent.path.appending(entry.name)
        var layers: [Int] = []
        for layer in parent.layers where layer >= entry.layer {
            var info = stat()
            if layer != entry.layer {
                let parentDirectory: FileDescriptor
                do { parentDirectory = try open(parent.path, layer: layer, flags: O_RDONLY | O_DIRECTORY) } catch {
                    if error.errno == ENOENT || error.errno == ENOTDIR { continue }
                    throw error
                }
                let found = entry.name.withUnsafeBufferPointer { bytes in
                    (bytes.map { CChar(bitPattern: $0) } + [0]).withUnsafeBufferPointer {
                        fstatat(parentDirectory.rawValue, $0.baseAddress!, &info, AT_SYMLINK_NOFOLLOW)
                    }
                }
                parentDirectory.close()
                if found != 0 { continue }
                if EntryKind(info) != .directory { break }
            }
            layers.append(layer)
            if try isOpaque(path, layer: layer) { break }
        }
        return MergedDirectory(path: path, layers: layers)
    }

    /// A symbolic link's target.
    func linkTarget(_ path: EntryPath, layer: Int) throws(SystemCallError) -> [UInt8] {
        let parent = try open(path.parent, layer: layer, flags: O_RDONLY | O_DIRECTORY)
        defer { parent.close() }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = path.name.withUnsafeBufferPointer { bytes in
            (bytes.map { CChar(bitPattern: $0) } + [0]).withUnsafeBufferPointer {
                readlinkat(parent.rawValue, $0.baseAddress!, &buffer, buffer.count - 1)
            }
        }
        if length < 0 { throw SystemCallError("readlink", on: path.displayName, errno: errno) }
        return buffer.prefix(length).map { UInt8(bitPattern: $0) }
    }

    /// The extended attributes of an opened file that belong in a layer (overlay's own left out).
    func contentAttributes(of fd: FileDescriptor, info: stat) -> [(name: String, value: [UInt8])] {
        attributes.read(fd, info: info).filter { !ExtendedAttributeReader.isOverlayBookkeeping($0.name) }
    }
}
