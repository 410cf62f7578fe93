// HostCheck owns `swctr doctor` and the host half of `swctr info`: one small type per check, each
// of which tries the real thing (makes a user namespace, mounts an overlay, opens a device) and
// says what it found and, when that is not fine, the exact command that fixes it.
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// How a check came out.
public enum Verdict: String, Codable, Sendable {
    case ok
    case warning
    case failed
    case notApplicable = "not applicable"
}

/// One check's outcome: a verdict, a one-line finding and, when not ok, the command that fixes it.
public struct CheckResult: Codable, Equatable, Sendable {
    public let name: String
    public let verdict: Verdict
    public let finding: String
    public let fix: String?

    public init(name: String, verdict: Verdict, finding: String, fix: String? = nil) {
        self.name = name
        self.verdict = verdict
        self.finding = finding
        self.fix = fix
    }
}

/// A check of one thing swctr needs from the host. Runs bounded and leaves nothing behind.
public protocol Check {
    var name: String { get }
    func run(on host: HostContext) -> CheckResult
}

extension Check {
    func result(_ verdict: Verdict, _ finding: String, fix: String? = nil) -> CheckResult {
        CheckResult(name: name, verdict: verdict, finding: finding, fix: fix)
    }
}

/// Who runs swctr and where its store is: what the checks look at.
public struct HostContext: Sendable {
    public let userName: String
    public let uid: UInt32
    public let gid: UInt32
    /// `$XDG_DATA_HOME/swctr` (it may not exist yet).
    public let storeRoot: String

    public init(userName: String, uid: UInt32, gid: UInt32, storeRoot: String) {
        self.userName = userName
        self.uid = uid
        self.gid = gid
        self.storeRoot = storeRoot
    }

    public static func current(directories: UserDirectories = .current()) -> HostContext {
        let uid = getuid()
        let name = getpwuid(uid).flatMap { $0.pointee.pw_name.map { String(cString: $0) } } ?? String(uid)
        return HostContext(userName: name, uid: uid, gid: getgid(), storeRoot: directories.data)
    }

    /// The store, or the nearest directory above it that exists (what it will be made in).
    var existingStoreAncestor: String {
        var path = storeRoot
        while !FileSystem.isDirectory(path), let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            path = String(path[..<slash])
        }
        return FileSystem.isDirectory(path) ? path : "/"
    }
}

/// Reads a /proc/sys value (trimmed); nil when the kernel has no such setting.
enum KernelSetting {
    static func read(_ name: String) -> String? {
        guard let text = try? FileSystem.readText("/proc/sys/" + name.replacingDots()) else { return nil }
        return text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
    }

    static func integer(_ name: String) -> Int? { read(name).flatMap { Int($0.trimmingSpaces()) } }
}

extension String {
    func replacingDots() -> String { String(map { $0 == "." ? "/" : $0 }) }

    func trimmingSpaces() -> String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice = slice.dropFirst() }
        while let last = slice.last, last.isWhitespace { slice = slice.dropLast() }
        return String(slice)
    }
}
