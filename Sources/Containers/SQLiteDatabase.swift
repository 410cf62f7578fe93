import CSQLite
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// A failed SQLite call, with SQLite's own message.
public struct DatabaseError: Error, UserFacingError {
    public let code: Int32
    public let message: String
    public var userMessage: String { "state database: \(message) (code \(code))" }
}

/// A value bound to, or read from, a statement.
public enum DatabaseValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)

    public var text: String? { if case .text(let value) = self { return value } else { return nil } }
    public var integer: Int64? { if case .integer(let value) = self { return value } else { return nil } }
    public var real: Double? {
        switch self {
        case .real(let value): return value
        case .integer(let value): return Double(value)
        default: return nil
        }
    }
}

/// One connection to an SQLite database in WAL mode: statements run with bound values, writes in
/// `BEGIN IMMEDIATE` transactions so concurrent swctr processes serialise instead of failing.
public final class SQLiteDatabase {
    private var handle: OpaquePointer?

    public init(path: String) throws(DatabaseError) {
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let result = sqlite3_open_v2(path, &db, flags, nil)
        handle = db
        if result != SQLITE_OK {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open \(path)"
            sqlite3_close(db)
            handle = nil
            throw DatabaseError(code: result, message: message)
        }
        sqlite3_busy_timeout(db, 30_000)
        try execute("PRAGMA journal_mode=WAL")
        try execute("PRAGMA synchronous=NORMAL")
        try execute("PRAGMA foreign_keys=ON")
        // A small WAL: a connection that opens the database alone reads all of it again (see
        // `leaveCheckpointToOthers`), so it is checkpointed at 128 pages (512 KiB) at most.
        try execute("PRAGMA wal_autocheckpoint=128")
    }

    /// Closes without checkpointing: what this connection wrote stays in the WAL (consistent, not
    /// yet synced) for a later connection's checkpoint. For a process whose writes need not
    /// outlive a power cut, this saves the close's two fsyncs, and the next writer the fsyncs of
    /// a new WAL's header and directory entry.
    public func leaveCheckpointToOthers() {
        _ = swctr_sqlite3_set_no_checkpoint_on_close(handle, 1)
    }

    deinit { sqlite3_close_v2(handle) }

    private func error(_ code: Int32) -> DatabaseError {
        DatabaseError(code: code, message: String(cString: sqlite3_errmsg(handle)))
    }

    /// Runs one statement and returns its rows, each a list of column values.
    @discardableResult
    public func execute(_ sql: String, _ values: [DatabaseValue] = []) throws(DatabaseError) -> [[DatabaseValue]] {
        var statement: OpaquePointer?
        var result = sqlite3_prepare_v2(handle, sql, -1, &statement, nil)
        guard result == SQLITE_OK else { throw error(result) }
        defer { sqlite3_finalize(statement) }
        for (index, value) in values.enumerated() {
            let position = Int32(index + 1)
            switch value {
            case .null: result = sqlite3_bind_null(statement, position)
            case .integer(let number): result = sqlite3_bind_int64(statement, position, number)
            case .real(let number): result = sqlite3_bind_double(statement, position, number)
            case .text(let text):
                // SQLITE_TRANSIENT: SQLite copies the bytes.
                result = sqlite3_bind_text(statement, position, text, -1, unsafeBitCast(-1, to: sqlite3_destructor_type.self))
            }
            guard result == SQLITE_OK else { throw error(result) }
        }
        var rows: [[DatabaseValue]] = []
        while true {
            result = sqlite3_step(statement)
            if result == SQLITE_DONE { return rows }
            guard result == SQLITE_ROW else { throw error(result) }
            let count = sqlite3_column_count(statement)
            var row: [DatabaseValue] = []
            row.reserveCapacity(Int(count))
            for column in 0..<count {
                switch sqlite3_column_type(statement, column) {
                case SQLITE_INTEGER: row.append(.integer(sqlite3_column_int64(statement, column)))
                case SQLITE_FLOAT: row.append(.real(sqlite3_column_double(statement, column)))
                case SQLITE_NULL: row.append(.null)
                default:
                    if let text = sqlite3_column_text(statement, column) {
                        row.append(.text(String(cString: text)))
                    } else {
                        row.append(.null)
                    }
                }
            }
            rows.append(row)
        }
    }

    /// Number of rows the last INSERT/UPDATE/DELETE changed.
    public var changes: Int { Int(sqlite3_changes(handle)) }

    /// Runs `body` in a write transaction; rolls back if it throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            _ = try? execute("ROLLBACK")
            throw error
        }
    }
}
