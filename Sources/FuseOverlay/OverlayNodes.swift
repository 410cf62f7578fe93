// The inodes the kernel knows of: each is a name under a parent (hard links: several names), so
// its path in any layer is the chain of names up to the root. Guarded by the table's lock.
#if canImport(Glibc)
import Glibc
#endif

/// Device and inode number of a file in a layer: hard links found under several names are one node.
struct FileIdentity: Hashable {
    let device: UInt64
    let inode: UInt64
}

final class OverlayNode {
    let id: UInt64
    /// (parent, name) for every name the kernel looked this node up by; the first is its path.
    var links: [(parent: OverlayNode, name: String)]
    /// The topmost layer holding it.
    var layer: Int
    /// For a directory: the layers (top first) whose directories merge into it.
    var directoryLayers: [Int]
    var isDirectory: Bool
    var identity: FileIdentity?
    /// How many times the kernel was given this node in a reply (lookup, create, readdirplus…)
    /// minus what it forgot.
    var lookups: UInt64 = 0
    /// The children the kernel knows, by name.
    var children: [String: OverlayNode] = [:]
    /// A directory's merged listing while the kernel reads it in pieces (without opendir handles).
    var listing: DirectoryHandle?

    init(id: UInt64, parent: OverlayNode?, name: String, entry: FoundEntry) {
        self.id = id
        self.links = parent.map { [($0, name)] } ?? []
        self.layer = entry.layer
        self.directoryLayers = entry.directoryLayers
        self.isDirectory = entry.isDirectory
    }

    var isUpper: Bool { layer == OverlayLayers.upper }
}

/// Nodes by FUSE node id, with the root as id 1.
final class NodeTable {
    let root: OverlayNode
    private var nodes: [UInt64: OverlayNode] = [:]
    private var byIdentity: [FileIdentity: OverlayNode] = [:]
    private var nextID: UInt64 = 2

    init(root entry: FoundEntry) {
        root = OverlayNode(id: 1, parent: nil, name: "", entry: entry)
        root.lookups = 1
        nodes[1] = root
    }

    subscript(id: UInt64) -> OverlayNode? { nodes[id] }

    var count: Int { nodes.count }

    /// The node's path relative to the layer roots ("." for the root).
    func path(of node: OverlayNode) -> String {
        guard let first = node.links.first else { return "." }
        var parts = [first.name]
        var current = first.parent
        while let link = current.links.first {
            parts.append(link.name)
            current = link.parent
        }
        return parts.reversed().joined(separator: "/")
    }

    /// The node for `name` under `parent` as just found, counted as one more lookup: the known
    /// one when there is one (hard links by their identity), else a new one.
    func remember(_ entry: FoundEntry, name: String, parent: OverlayNode) -> OverlayNode {
        if let known = parent.children[name], known.isDirectory == entry.isDirectory {
            known.layer = entry.layer
            known.directoryLayers = entry.directoryLayers
            known.lookups += 1
            return known
        }
        if let stale = parent.children[name] { unlink(stale, from: parent, name: name) }
        let identity = entry.isDirectory || entry.info.st_nlink <= 1 ? nil
            : FileIdentity(device: UInt64(entry.info.st_dev), inode: UInt64(entry.info.st_ino))
        if let identity, let known = byIdentity[identity] {
            known.links.append((parent, name))
            parent.children[name] = known
            known.lookups += 1
            return known
        }
        let node = OverlayNode(id: nextID, parent: parent, name: name, entry: entry)
        nextID += 1
        node.identity = identity
        if let identity { byIdentity[identity] = node }
        node.lookups = 1
        nodes[node.id] = node
        parent.children[name] = node
        return node
    }

    /// A new name for a known node (link(2)).
    func addLink(_ node: OverlayNode, parent: OverlayNode, name: String, identity: FileIdentity) {
        if let stale = parent.children[name], stale !== node { unlink(stale, from: parent, name: name) }
        node.links.append((parent, name))
        parent.children[name] = node
        if let old = node.identity, byIdentity[old] === node { byIdentity[old] = nil }
        node.identity = identity
        byIdentity[identity] = node
        node.lookups += 1
    }

    /// The node's file changed identity (copied up).
    func moved(_ node: OverlayNode, to identity: FileIdentity?) {
        if let old = node.identity, byIdentity[old] === node { byIdentity[old] = nil }
        node.identity = identity
        if let identity { byIdentity[identity] = node }
    }

    /// A name went away (unlink, rmdir, or replaced by a rename); the node stays until forgotten.
    func unlink(_ node: OverlayNode, from parent: OverlayNode, name: String) {
        if parent.children[name] === node { parent.children[name] = nil }
        node.links.removeAll { $0.parent === parent && $0.name == name }
    }

    /// rename(2) of a name.
    func rename(_ node: OverlayNode, from parent: OverlayNode, name: String, to newParent: OverlayNode, newName: String) {
        if let replaced = newParent.children[newName], replaced !== node { unlink(replaced, from: newParent, name: newName) }
        if parent.children[name] === node { parent.children[name] = nil }
        if let index = node.links.firstIndex(where: { $0.parent === parent && $0.name == name }) {
            node.links[index] = (newParent, newName)
        } else {
            node.links.insert((newParent, newName), at: 0)
        }
        newParent.children[newName] = node
    }

    func forget(_ id: UInt64, count: UInt64) {
        guard id != 1, let node = nodes[id] else { return }
        node.lookups = node.lookups > count ? node.lookups - count : 0
        guard node.lookups == 0 else { return }
        nodes[id] = nil
        for link in node.links where link.parent.children[link.name] === node {
            link.parent.children[link.name] = nil
        }
        if let identity = node.identity, byIdentity[identity] === node { byIdentity[identity] = nil }
    }

    /// Every known node below `ancestor` (after a directory was copied up whole).
    func descendants(of ancestor: OverlayNode) -> [OverlayNode] {
        var result: [OverlayNode] = []
        var pending = Array(ancestor.children.values)
        while let node = pending.popLast() {
            result.append(node)
            pending.append(contentsOf: node.children.values)
        }
        return result
    }
}
