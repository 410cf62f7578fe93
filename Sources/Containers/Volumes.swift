import FoundationEssentials
import ImageStore
import RuntimeSpec
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// A named volume: a directory of the user's, `$XDG_DATA_HOME/swctr/volumes/NAME/_data`, bound
/// into containers. Anonymous volumes (from `-v /path` and the image's `Volumes`) have a random
/// 64-hex name and go with the container that made them when it is removed with `--rm` or `rm -v`.
public struct VolumeRecord: Sendable, Equatable {
    public var name: String
    public var created: Double
    public var anonymous: Bool
    public var mountpoint: String
}

public enum VolumeError: Error, UserFacingError {
    case notFound(String)
    case inUse(String, containers: [String])
    case invalidName(String)
    case exists(String)

    public var userMessage: String {
        switch self {
        case .notFound(let name): return "no such volume: \(name) (see swctr volume ls)"
        case .inUse(let name, let containers):
            return "volume \(name) is in use by container \(containers.joined(separator: ", ")): remove the container first (swctr rm \(containers[0]))"
        case .invalidName(let name): return "invalid volume name \"\(name)\": use letters, digits, _ . - (starting with a letter or digit)"
        case .exists(let name): return "volume \(name) already exists"
        }
    }
}

/// The volumes table (in the same state database as the containers) and the directories.
public final class VolumeStore {
    let database: SQLiteDatabase
    let containers: ContainerDatabase
    let tools: UserNamespaceTools
    /// `…/swctr/volumes`.
    public let root: String

    init(context: ContainerContext) throws {
        containers = context.database
        database = try context.database.database
        tools = context.tools
        root = context.layout.root + "/volumes"
        try database.execute("""
            CREATE TABLE IF NOT EXISTS volumes (
                name TEXT PRIMARY KEY,
                created REAL NOT NULL,
                anonymous INTEGER NOT NULL DEFAULT 0
            )
            """)
    }

    func dataPath(_ name: String) -> String { root + "/" + name + "/_data" }

    private func record(_ row: [DatabaseValue]) -> VolumeRecord? {
        guard let name = row[0].text else { return nil }
        return VolumeRecord(name: name, created: row[1].real ?? 0, anonymous: (row[2].integer ?? 0) != 0, mountpoint: dataPath(name))
    }

    public func list() throws -> [VolumeRecord] {
        try database.execute("SELECT name, created, anonymous FROM volumes ORDER BY name").compactMap(record)
    }

    public func get(_ name: String) throws -> VolumeRecord? {
        try database.execute("SELECT name, created, anonymous FROM volumes WHERE name = ?", [.text(name)]).first.flatMap(record)
    }

    /// The volume called `name`, made if it does not exist; with nil, a new anonymous one.
    /// `exclusive` (for `volume create`) fails when it exists.
    @discardableResult
    public func ensure(_ name: String?, exclusive: Bool = false) throws -> VolumeRecord {
        let volumeName = name ?? FileSystem.randomHex(bytes: 32)
        guard MountRequestNames.isValid(volumeName) else { throw VolumeError.invalidName(volumeName) }
        let inserted = try database.transaction { () throws -> Bool in
            if try get(volumeName) != nil { return false }
            try database.execute("INSERT INTO volumes (name, created, anonymous) VALUES (?, ?, ?)",
                                 [.text(volumeName), .real(Timestamp.now), .integer(name == nil ? 1 : 0)])
            return true
        }
        if !inserted && exclusive { throw VolumeError.exists(volumeName) }
        do {
            try FileSystem.makeDirectories(dataPath(volumeName), mode: 0o755)
        } catch {
            if inserted { _ = try? database.execute("DELETE FROM volumes WHERE name = ?", [.text(volumeName)]) }
            throw error
        }
        guard let record = try get(volumeName) else { throw VolumeError.notFound(volumeName) }
        return record
    }

    /// Containers (any state) whose mounts name each volume.
    public func users() throws -> [String: [String]] {
        var result: [String: [String]] = [:]
        for container in try containers.all() {
            for volume in container.settings.volumeNames {
                result[volume, default: []].append(container.name)
            }
        }
        return result
    }

    /// Removes a volume no container uses; its files may belong to subordinate ids, so they go
    /// through the user namespace. The directory is renamed away first: a crash leaves no
    /// half-removed volume under its name.
    public func remove(_ name: String, users known: [String: [String]]? = nil) throws {
        guard try get(name) != nil else { throw VolumeError.notFound(name) }
        let holders = try (known ?? users())[name] ?? []
        if !holders.isEmpty { throw VolumeError.inUse(name, containers: holders) }
        let directory = root + "/" + name
        let trash = root + "/.removing-" + FileSystem.randomHex(bytes: 8)
        if FileSystem.exists(directory) {
            try systemCall("rename", on: directory) { rename(directory, trash) }
        }
        try database.execute("DELETE FROM volumes WHERE name = ?", [.text(name)])
        if FileSystem.exists(trash) { try tools.removeTree(trash) }
    }

    /// Removes unused volumes: anonymous ones, or all with `all`. Returns their names.
    public func prune(all: Bool) throws -> [String] {
        let inUse = try users()
        var removed: [String] = []
        for volume in try list() where (all || volume.anonymous) && inUse[volume.name] == nil {
            try remove(volume.name, users: inUse)
            removed.append(volume.name)
        }
        // Leftovers of removals that were interrupted.
        for entry in (try? FileSystem.listDirectory(root)) ?? [] where entry.hasPrefix(".removing-") {
            try? tools.removeTree(root + "/" + entry)
        }
        return removed
    }
}

/// The volume-name rule, shared with the flag parser.
enum MountRequestNames {
    static func isValid(_ name: String) -> Bool { MountRequest.isValidVolumeName(name) }
}

extension ContainerService {
    /// The user's volumes.
    public func volumeStore() throws -> VolumeStore { try VolumeStore(context: context) }
}
