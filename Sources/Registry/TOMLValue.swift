// The values of a TOML document, as far as containers-registries.conf(5) files use them:
// strings, integers, booleans, arrays and tables (no floats or dates).

/// One TOML value.
enum TOMLValue: Equatable, Sendable {
    case string(String)
    case integer(Int64)
    case boolean(Bool)
    case array([TOMLValue])
    case table(TOMLTable)

    /// What kind of value this is, for messages (`a string`, `an array`).
    var kind: String {
        switch self {
        case .string: return "a string"
        case .integer: return "an integer"
        case .boolean: return "a boolean"
        case .array: return "an array"
        case .table: return "a table"
        }
    }
}

/// A TOML table: keys to values, with the line each key was set on so that a file's reader can
/// point at the line of a value it rejects.
struct TOMLTable: Equatable, Sendable {
    private(set) var values: [String: TOMLValue] = [:]
    private(set) var lines: [String: Int] = [:]
    /// The line of the table's header (or of its first key; 0 for a document's root table).
    var line: Int

    init(line: Int = 0) { self.line = line }

    subscript(key: String) -> TOMLValue? { values[key] }

    var keys: Dictionary<String, TOMLValue>.Keys { values.keys }

    mutating func set(_ key: String, _ value: TOMLValue, line: Int) {
        values[key] = value
        lines[key] = line
    }

    /// The line a key was set on, else the table's own line.
    func line(of key: String) -> Int { lines[key] ?? line }

    /// Equal when they hold the same values, wherever those were written.
    static func == (left: TOMLTable, right: TOMLTable) -> Bool { left.values == right.values }
}

/// A malformed TOML document: the line and what is wrong there.
struct TOMLSyntaxError: Error, Equatable {
    let line: Int
    let message: String
}
