/// One `--ulimit NAME=SOFT[:HARD]` (setrlimit(2)); -1 or "unlimited" means no limit.
public struct ResourceLimit: Codable, Sendable, Equatable {
    public var name: String
    public var soft: UInt64
    public var hard: UInt64

    /// RLIMIT_* numbers by the names Docker accepts.
    public static let resources: [String: Int32] = [
        "cpu": 0, "fsize": 1, "data": 2, "stack": 3, "core": 4, "rss": 5, "nproc": 6, "nofile": 7,
        "memlock": 8, "as": 9, "locks": 10, "sigpending": 11, "msgqueue": 12, "nice": 13, "rtprio": 14, "rttime": 15,
    ]
    public static let unlimited = UInt64.max

    public var resource: Int32 { Self.resources[name] ?? -1 }

    public init(name: String, soft: UInt64, hard: UInt64) {
        self.name = name
        self.soft = soft
        self.hard = hard
    }

    public static func parse(_ text: String) throws(ResourceLimitError) -> ResourceLimit {
        guard let equals = text.firstIndex(of: "=") else { throw .syntax(text) }
        let name = String(text[..<equals]).lowercased()
        guard resources[name] != nil else { throw .unknown(name) }
        let values = text[text.index(after: equals)...].split(separator: ":", omittingEmptySubsequences: false)
        guard values.count == 1 || values.count == 2 else { throw .syntax(text) }
        func value(_ part: Substring) throws(ResourceLimitError) -> UInt64 {
            if part == "-1" || part == "unlimited" { return unlimited }
            guard let number = UInt64(part) else { throw .syntax(text) }
            return number
        }
        let soft = try value(values[0])
        let hard = values.count == 2 ? try value(values[1]) : soft
        if soft > hard { throw .softAboveHard(text) }
        return ResourceLimit(name: name, soft: soft, hard: hard)
    }
}

public enum ResourceLimitError: Error, Equatable {
    case syntax(String)
    case unknown(String)
    case softAboveHard(String)

    public var message: String {
        switch self {
        case .syntax(let text): return "invalid --ulimit \"\(text)\": use NAME=SOFT[:HARD], e.g. nofile=1024:2048"
        case .unknown(let name):
            return "unknown --ulimit \"\(name)\": use one of \(ResourceLimit.resources.keys.sorted().joined(separator: ", "))"
        case .softAboveHard(let text): return "invalid --ulimit \"\(text)\": the soft limit is above the hard limit"
        }
    }
}
