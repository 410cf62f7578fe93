import FoundationEssentials
import SystemSupport

/// Errors about containers that a user sees.
public enum ContainerError: Error, UserFacingError {
    case notFound(String)
    case ambiguous(String, matches: Int)
    case nameInUse(String, by: String)
    case invalidName(String)
    case notRunning(String)
    case alreadyRunning(String)
    case busy(String)
    case isRunning(String)
    case corruptRecord(id: String, reason: String)

    public var userMessage: String {
        switch self {
        case .notFound(let name): return "no such container: \(name) (see swctr ps -a)"
        case .ambiguous(let prefix, let count): return "\"\(prefix)\" matches \(count) containers: give more of the id, or the name"
        case .nameInUse(let name, let id):
            return "the container name \"\(name)\" is already in use by container \(id.prefix(12)): remove it (swctr rm \(name)) or choose another --name"
        case .invalidName(let name): return "invalid container name \"\(name)\": use letters, digits, and _ . - (starting with a letter or digit)"
        case .notRunning(let name): return "container \(name) is not running"
        case .alreadyRunning(let name): return "container \(name) is already running"
        case .busy(let name): return "container \(name) is being changed by another swctr command; try again"
        case .isRunning(let name): return "container \(name) is running: stop it first, or use rm -f"
        case .corruptRecord(let id, let reason): return "container \(id.prefix(12)) has an unreadable record (\(reason)): remove it with swctr rm -f \(id.prefix(12))"
        }
    }
}

/// The containers table in `$XDG_DATA_HOME/swctr/state.db` (SQLite, WAL): the one place container
/// records live. Names are unique by constraint, so two racing `create --name` cannot both win.
public final class ContainerDatabase {
    private let path: String
    private var connection: SQLiteDatabase?
    private var checkpointLeftToOthers = false

    static let columns = "id, name, settings, created, status, pid, monitor_pid, started, finished, exit_code, restart_count, stop_requested, error"

    /// Opens nothing yet: the database is opened (and its table made) by the first statement. A
    /// foreground `run` first writes it once its container's init is cloned, while the init sets
    /// the container up on the other CPU (opening reads the write-ahead log back, about 0.4 ms).
    public init(path: String) {
        self.path = path
    }

    /// The connection, opened on first use.
    var database: SQLiteDatabase {
        get throws(DatabaseError) {
            if let connection { return connection }
            let opened = try SQLiteDatabase(path: path)
            try Self.makeTable(in: opened)
            if checkpointLeftToOthers { opened.leaveCheckpointToOthers() }
            connection = opened
            return opened
        }
    }

    /// Opens the database now rather than at its first statement (for a thread with time to spare).
    public func open() throws(DatabaseError) {
        _ = try database
    }

    private static func makeTable(in database: SQLiteDatabase) throws(DatabaseError) {
        try database.execute("""
            CREATE TABLE IF NOT EXISTS containers (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                settings TEXT NOT NULL,
                created REAL NOT NULL,
                status TEXT NOT NULL,
                pid INTEGER,
                monitor_pid INTEGER,
                started REAL,
                finished REAL,
                exit_code INTEGER,
                restart_count INTEGER NOT NULL DEFAULT 0,
                stop_requested INTEGER NOT NULL DEFAULT 0,
                error TEXT
            )
            """)
    }

    private func record(from row: [DatabaseValue]) throws(ContainerError) -> ContainerRecord {
        let id = row[0].text ?? ""
        guard let settingsText = row[2].text,
              let settings = try? JSONDecoder().decode(ContainerSettings.self, from: Data(settingsText.utf8)) else {
            throw .corruptRecord(id: id, reason: "settings do not decode")
        }
        guard let status = row[4].text.flatMap(ContainerStatus.init(rawValue:)) else {
            throw .corruptRecord(id: id, reason: "unknown status")
        }
        return ContainerRecord(
            id: id, name: row[1].text ?? "", settings: settings, created: row[3].real ?? 0, status: status,
            pid: row[5].integer.map { Int32($0) }, monitorPID: row[6].integer.map { Int32($0) },
            started: row[7].real, finished: row[8].real, exitCode: row[9].integer.map { Int32($0) },
            restartCount: Int(row[10].integer ?? 0), stopRequested: (row[11].integer ?? 0) != 0, error: row[12].text)
    }

    /// Adds a container; fails with `nameInUse` if the name is taken.
    public func insert(_ record: ContainerRecord) throws {
        let settings = String(decoding: try JSONEncoder().encode(record.settings), as: UTF8.self)
        try database.transaction {
            if let existing = try database.execute("SELECT id FROM containers WHERE name = ?", [.text(record.name)]).first {
                throw ContainerError.nameInUse(record.name, by: existing[0].text ?? "")
            }
            try database.execute(
                "INSERT INTO containers (id, name, settings, created, status, restart_count, stop_requested) VALUES (?, ?, ?, ?, ?, 0, 0)",
                [.text(record.id), .text(record.name), .text(settings), .real(record.created), .text(record.status.rawValue)])
        }
    }

    public func all() throws -> [ContainerRecord] {
        var result: [ContainerRecord] = []
        for row in try database.execute("SELECT \(Self.columns) FROM containers ORDER BY created DESC") {
            result.append(try record(from: row))
        }
        return result
    }

    public func get(id: String) throws -> ContainerRecord? {
        try database.execute("SELECT \(Self.columns) FROM containers WHERE id = ?", [.text(id)]).first.map { row throws in try record(from: row) }
    }

    /// Finds a container by full id, name, or unique id prefix (Docker's order).
    public func find(_ text: String) throws -> ContainerRecord {
        if let row = try database.execute("SELECT \(Self.columns) FROM containers WHERE id = ? OR name = ? ORDER BY id = ? DESC LIMIT 1",
                                          [.text(text), .text(text), .text(text)]).first {
            return try record(from: row)
        }
        guard !text.isEmpty, text.allSatisfy({ $0.isHexDigit }) else { throw ContainerError.notFound(text) }
        let rows = try database.execute("SELECT \(Self.columns) FROM containers WHERE id LIKE ? LIMIT 2", [.text(text.lowercased() + "%")])
        if rows.count > 1 { throw ContainerError.ambiguous(text, matches: rows.count) }
        guard let row = rows.first else { throw ContainerError.notFound(text) }
        return try record(from: row)
    }

    /// One field change, applied only when the status is still one of `from` (nil: any).
    /// Returns whether the row changed.
    @discardableResult
    public func update(id: String, from: [ContainerStatus]? = nil, set changes: [String: DatabaseValue]) throws -> Bool {
        let keys = changes.keys.sorted()
        var sql = "UPDATE containers SET " + keys.map { "\($0) = ?" }.concatenated(separator: ", ") + " WHERE id = ?"
        var values = keys.map { changes[$0]! } + [.text(id)]
        if let from {
            sql += " AND status IN (" + from.map { _ in "?" }.concatenated(separator: ", ") + ")"
            values += from.map { .text($0.rawValue) }
        }
        return try database.transaction {
            try database.execute(sql, values)
            return try database.changes > 0
        }
    }

    /// Renames; fails with `nameInUse` if the new name is taken.
    public func rename(id: String, to name: String) throws {
        try database.transaction {
            if let existing = try database.execute("SELECT id FROM containers WHERE name = ? AND id != ?", [.text(name), .text(id)]).first {
                throw ContainerError.nameInUse(name, by: existing[0].text ?? "")
            }
            try database.execute("UPDATE containers SET name = ? WHERE id = ?", [.text(name), .text(id)])
        }
    }

    /// For a process whose writes need not be synced when it ends (a `run --rm`: its record is
    /// gone again with it; after a power cut the next command reconciles whatever state is left).
    func leaveCheckpointToOthers() {
        checkpointLeftToOthers = true
        connection?.leaveCheckpointToOthers()
    }

    public func delete(id: String) throws {
        try database.transaction { try database.execute("DELETE FROM containers WHERE id = ?", [.text(id)]) }
    }

    /// Image ids that some container uses (for rmi).
    public func imageIDsInUse() throws -> Set<String> {
        Set(try all().map { $0.settings.imageID })
    }
}
