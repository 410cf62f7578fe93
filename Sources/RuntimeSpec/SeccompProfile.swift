import FoundationEssentials

/// A seccomp profile in the JSON format Docker and Podman read (`--security-opt seccomp=FILE`),
/// which is also the shape of the OCI runtime spec's `linux.seccomp` with Docker's additions
/// (`names`, `includes`/`excludes` by capability and architecture, `archMap`).
public struct SeccompProfile: Codable, Sendable, Equatable {
    public var defaultAction: String
    public var defaultErrnoRet: UInt32?
    public var architectures: [String]?
    public var archMap: [ArchitectureGroup]?
    public var syscalls: [SyscallRule]?
    public var flags: [String]?

    public struct ArchitectureGroup: Codable, Sendable, Equatable {
        public var architecture: String
        public var subArchitectures: [String]?
    }

    public struct SyscallRule: Codable, Sendable, Equatable {
        public var names: [String]?
        /// The older single-name spelling.
        public var name: String?
        public var action: String
        public var errnoRet: UInt32?
        public var args: [ArgumentCondition]?
        public var includes: Filter?
        public var excludes: Filter?

        public init(names: [String], action: String, errnoRet: UInt32? = nil, args: [ArgumentCondition]? = nil,
                    includes: Filter? = nil, excludes: Filter? = nil) {
            self.names = names
            self.action = action
            self.errnoRet = errnoRet
            self.args = args
            self.includes = includes
            self.excludes = excludes
        }

        public var allNames: [String] { (names ?? []) + (name.map { [$0] } ?? []) }
    }

    public struct ArgumentCondition: Codable, Sendable, Equatable {
        public var index: UInt32
        public var value: UInt64
        public var valueTwo: UInt64?
        public var op: String

        public init(index: UInt32, value: UInt64, valueTwo: UInt64? = nil, op: String) {
            self.index = index
            self.value = value
            self.valueTwo = valueTwo
            self.op = op
        }
    }

    /// When a rule applies: the container has all these capabilities / runs on one of these
    /// architectures (`includes`), or not (`excludes`).
    public struct Filter: Codable, Sendable, Equatable {
        public var caps: [String]?
        public var arches: [String]?
        public var minKernel: String?

        public init(caps: [String]? = nil, arches: [String]? = nil, minKernel: String? = nil) {
            self.caps = caps
            self.arches = arches
            self.minKernel = minKernel
        }
    }

    public init(defaultAction: String, defaultErrnoRet: UInt32?, archMap: [ArchitectureGroup], syscalls: [SyscallRule]) {
        self.defaultAction = defaultAction
        self.defaultErrnoRet = defaultErrnoRet
        self.archMap = archMap
        self.syscalls = syscalls
    }

    /// The actions this format knows.
    public static let actions: Set<String> = [
        "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_TRAP", "SCMP_ACT_TRACE", "SCMP_ACT_LOG",
    ]
    public static let operators: Set<String> = [
        "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ",
    ]

    /// Parses and checks a profile file's contents; the error says what is wrong where.
    public static func parse(_ bytes: [UInt8]) throws(SeccompProfileError) -> SeccompProfile {
        let profile: SeccompProfile
        do {
            profile = try JSONDecoder().decode(SeccompProfile.self, from: Data(bytes))
        } catch {
            throw .invalid("not a seccomp profile in Docker's JSON format (\(error))")
        }
        guard actions.contains(profile.defaultAction) else { throw .invalid("unknown defaultAction \"\(profile.defaultAction)\"") }
        for (index, rule) in (profile.syscalls ?? []).enumerated() {
            guard actions.contains(rule.action) else { throw .invalid("syscalls[\(index)]: unknown action \"\(rule.action)\"") }
            guard !rule.allNames.isEmpty else { throw .invalid("syscalls[\(index)]: no names") }
            for condition in rule.args ?? [] where !operators.contains(condition.op) || condition.index > 5 {
                throw .invalid("syscalls[\(index)]: bad argument condition (index \(condition.index), op \(condition.op))")
            }
        }
        return profile
    }
}

public enum SeccompProfileError: Error, Equatable {
    case invalid(String)
    case unreadable(path: String, reason: String)

    public var message: String {
        switch self {
        case .invalid(let reason): return "invalid seccomp profile: \(reason)"
        case .unreadable(let path, let reason): return "cannot read the seccomp profile \(path): \(reason)"
        }
    }
}

/// What filter a container's processes get.
public enum SeccompSetting: Codable, Sendable, Equatable {
    /// No filter (`--security-opt seccomp=unconfined`, `--privileged`).
    case unconfined
    /// swctr's built-in profile (`DefaultSeccompProfile`), with Docker's semantics.
    case builtinDefault
    /// A profile the user gave.
    case profile(SeccompProfile)
}
