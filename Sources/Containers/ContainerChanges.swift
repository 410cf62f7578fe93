import SystemSupport
#if canImport(Glibc)
    import Glibc
#endif

/// What happened to a path in a container, as `docker diff` prints it.
public enum ChangeKind: UInt8, Sendable, Codable {
    /// Not in the image's layers.
    case added = 0x41  // A
    /// In the image's layers, and different now (a directory: something under it changed).
    case changed = 0x43  // C
    /// In the image's layers, gone from the container.
    case deleted = 0x44  // D

    public var letter: String { String(UnicodeScalar(rawValue)) }
}

/// One line of `swctr diff`.
public struct ContainerChange: Sendable, Equatable {
    public let kind: ChangeKind
    /// The absolute path in the container, as raw bytes (names need not be UTF-8).
    public let path: [UInt8]

    public var pathText: String { String(decoding: path, as: UTF8.self) }
}

/// Where a walk sends what it finds, in tar order: a directory before what is in it.
protocol ChangeSink {
    /// An added or changed entry; `source` says where its metadata and content are read.
    mutating func entry(_ kind: ChangeKind, at path: EntryPath, source: EntrySource) throws
    /// A path the image has and the container does not. `insideOpaqueDirectory`: an opaque
    /// directory above it already hides it (a layer needs no whiteout of its own for it).
    mutating func deleted(_ path: EntryPath, insideOpaqueDirectory: Bool) throws
    /// A directory (already given to `entry`) that hides everything the layers below have in it.
    mutating func opaque(_ path: EntryPath) throws
}

/// An entry as found in a layer stack: enough to write it to a tar.
struct EntrySource {
    let stack: LayerStack
    let entry: LayerEntry
}

/// Finds a container's changes against its image's layers. Two layouts of the writable layer:
/// - `overlayChanges`: the overlay's upper directory, which holds only changes (whiteouts, opaque
///   directories, copied-up and new files);
/// - `treeChanges`: a whole tree (the copy driver), compared with the merged layers by metadata
///   (type, mode, owner, size, modification time, link target), as Podman's naive diff does.
/// Directories whose content changed are reported as changed before their content. Mount points
/// the runtime makes for its own mounts (`ignoredMountPoints`, while still empty) are not changes.
struct ChangeWalk<Sink: ChangeSink> {
    let upper: LayerStack
    let lower: LayerStack
    let ignoredMountPoints: Set<EntryPath>
    var sink: Sink

    /// Directories entered whose own entry waits until something under them is reported (or
    /// they turn out changed themselves).
    private var pending: [(path: EntryPath, source: EntrySource, opaque: Bool, written: Bool)] = []

    init(upper: LayerStack, lower: LayerStack, ignoredMountPoints: Set<EntryPath>, sink: Sink) {
        self.upper = upper
        self.lower = lower
        self.ignoredMountPoints = ignoredMountPoints
        self.sink = sink
    }

    // MARK: - The overlay's upper directory

    mutating func overlayChanges() throws {
        let root = upper.root
        let hidesLower = try upper.isOpaque(.root, layer: 0)
        try walkUpper(root, lowerDirectory: lower.count > 0 ? lower.root : nil, lowerHidden: hidesLower)
    }

    /// `lowerHidden`: an opaque directory at or above this one hides the lower layers' content
    /// (which still tells changed from added, as the names existed before).
    private mutating func walkUpper(_ directory: MergedDirectory, lowerDirectory: MergedDirectory?, lowerHidden: Bool) throws {
        let upperEntries = try upper.children(of: directory, keepingWhiteouts: true)
        let lowerEntries = try lowerDirectory.map { try lower.children(of: $0) } ?? []
        let lowerByName = Dictionary(lowerEntries.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        if lowerHidden {
            let present = Set(upperEntries.filter { $0.kind != .whiteout }.map(\.name))
            for entry in lowerEntries where !present.contains(entry.name) {
                try reportDeleted(directory.path.appending(entry.name), insideOpaqueDirectory: true)
            }
        }
        for entry in upperEntries {
            let path = directory.path.appending(entry.name)
            let below = lowerByName[entry.name]
            switch entry.kind {
            case .whiteout:
                if below != nil && !lowerHidden {
                    try reportDeleted(path, insideOpaqueDirectory: false)
                }
            case .other:
                continue
            case .directory:
                guard let below else {
                    if !isIgnoredMountPoint(path, entry) { try addTree(entry, in: directory, stack: upper) }
                    continue
                }
                let opaque = try upper.isOpaque(path, layer: 0)
                let subdirectory = try upper.subdirectory(entry, of: directory)
                var lowerSubdirectory: MergedDirectory?
                if below.kind == .directory, let lowerDirectory {
                    lowerSubdirectory = try lower.subdirectory(below, of: lowerDirectory)
                }
                // Removed and made again (opaque), or made where the layers have something else:
                // a new directory under an old name, whose old content is gone.
                let replaced = lowerHidden || opaque || below.kind != .directory
                enter(path, EntrySource(stack: upper, entry: entry), opaque: opaque)
                try walkUpper(subdirectory, lowerDirectory: lowerSubdirectory, lowerHidden: replaced)
                if replaced || Self.ownershipOrModeDiffers(entry.info, below.info) { try writePending() }
                leave()
            default:
                if below == nil && isIgnoredMountPoint(path, entry) { continue }
                try reportEntry(below == nil ? .added : .changed, at: path, source: EntrySource(stack: upper, entry: entry))
            }
        }
    }

    // MARK: - A whole tree (the copy driver)

    mutating func treeChanges() throws {
        try walkTree(upper.root, lowerDirectory: lower.count > 0 ? lower.root : nil)
    }

    private mutating func walkTree(_ directory: MergedDirectory, lowerDirectory: MergedDirectory?) throws {
        let upperEntries = try upper.children(of: directory).filter { $0.kind != .other && $0.kind != .whiteout }
        let lowerEntries = try lowerDirectory.map { try lower.children(of: $0) } ?? []
        let lowerByName = Dictionary(lowerEntries.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let present = Set(upperEntries.map(\.name))
        for entry in lowerEntries where !present.contains(entry.name) && entry.kind != .other {
            try reportDeleted(directory.path.appending(entry.name), insideOpaqueDirectory: false)
        }
        for entry in upperEntries {
            let path = directory.path.appending(entry.name)
            guard let below = lowerByName[entry.name], let lowerDirectory else {
                if !isIgnoredMountPoint(path, entry) { try addTree(entry, in: directory, stack: upper) }
                continue
            }
            let source = EntrySource(stack: upper, entry: entry)
            if entry.kind == .directory && below.kind == .directory {
                let subdirectory = try upper.subdirectory(entry, of: directory)
                let lowerSubdirectory = try lower.subdirectory(below, of: lowerDirectory)
                enter(path, source, opaque: false)
                try walkTree(subdirectory, lowerDirectory: lowerSubdirectory)
                if Self.ownershipOrModeDiffers(entry.info, below.info) { try writePending() }
                leave()
            } else if entry.kind == .directory {
                // A directory where the layers have something else: all of it is new.
                try reportEntry(.changed, at: path, source: source)
                try addContent(of: try upper.subdirectory(entry, of: directory), stack: upper)
            } else if try differs(entry, from: below, at: path) {
                try reportEntry(.changed, at: path, source: source)
            }
        }
    }

    private func differs(_ entry: LayerEntry, from below: LayerEntry, at path: EntryPath) throws -> Bool {
        if entry.kind != below.kind || Self.ownershipOrModeDiffers(entry.info, below.info) { return true }
        if entry.info.st_size != below.info.st_size || entry.info.st_mtim.tv_sec != below.info.st_mtim.tv_sec
            || entry.info.st_mtim.tv_nsec != below.info.st_mtim.tv_nsec
        {
            return true
        }
        if entry.kind == .symlink {
            return try upper.linkTarget(path, layer: entry.layer) != lower.linkTarget(path, layer: below.layer)
        }
        return false
    }

    static func ownershipOrModeDiffers(_ one: stat, _ other: stat) -> Bool {
        one.st_mode != other.st_mode || one.st_uid != other.st_uid || one.st_gid != other.st_gid
    }

    // MARK: - Shared steps

    /// An empty file or directory the runtime made to mount something on, where the image has nothing.
    private func isIgnoredMountPoint(_ path: EntryPath, _ entry: LayerEntry) -> Bool {
        guard ignoredMountPoints.contains(path) else { return false }
        switch entry.kind {
        case .regular: return entry.info.st_size == 0
        case .directory:
            guard let content = try? upper.entries(at: path, layer: entry.layer) else { return false }
            return content.isEmpty
        default: return false
        }
    }

    /// An added entry and, for a directory, everything in it.
    private mutating func addTree(_ entry: LayerEntry, in parent: MergedDirectory, stack: LayerStack) throws {
        let path = parent.path.appending(entry.name)
        try reportEntry(.added, at: path, source: EntrySource(stack: stack, entry: entry))
        if entry.kind == .directory { try addContent(of: try stack.subdirectory(entry, of: parent), stack: stack) }
    }

    private mutating func addContent(of directory: MergedDirectory, stack: LayerStack) throws {
        for child in try stack.children(of: directory) where child.kind != .other && child.kind != .whiteout {
            if isIgnoredMountPoint(directory.path.appending(child.name), child) { continue }
            try addTree(child, in: directory, stack: stack)
        }
    }

    private mutating func enter(_ path: EntryPath, _ source: EntrySource, opaque: Bool) {
        pending.append((path, source, opaque, false))
    }

    private mutating func leave() { pending.removeLast() }

    /// Writes the directories entered and not yet written (outermost first).
    private mutating func writePending() throws {
        for index in pending.indices where !pending[index].written {
            let directory = pending[index]
            try sink.entry(.changed, at: directory.path, source: directory.source)
            if directory.opaque { try sink.opaque(directory.path) }
            pending[index].written = true
        }
    }

    private mutating func reportEntry(_ kind: ChangeKind, at path: EntryPath, source: EntrySource) throws {
        try writePending()
        try sink.entry(kind, at: path, source: source)
    }

    private mutating func reportDeleted(_ path: EntryPath, insideOpaqueDirectory: Bool) throws {
        try writePending()
        try sink.deleted(path, insideOpaqueDirectory: insideOpaqueDirectory)
    }
}

/// The merged tree of a stack of layers, every entry once, parents first: what `export` writes.
struct MergedTreeWalk {
    let stack: LayerStack

    func walk(_ visit: (EntryPath, EntrySource) throws -> Void) throws {
        try walk(stack.root, visit)
    }

    private func walk(_ directory: MergedDirectory, _ visit: (EntryPath, EntrySource) throws -> Void) throws {
        for entry in try stack.children(of: directory) where entry.kind != .other {
            try visit(directory.path.appending(entry.name), EntrySource(stack: stack, entry: entry))
            if entry.kind == .directory { try walk(try stack.subdirectory(entry, of: directory), visit) }
        }
    }
}
