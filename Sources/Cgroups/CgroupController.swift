/// The cgroup v2 controllers swctr uses.
public enum CgroupController: String, Codable, Sendable, CaseIterable, Comparable {
    case cpu, cpuset, io, memory, pids

    public static func < (lhs: CgroupController, rhs: CgroupController) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Parses a `cgroup.controllers` line ("cpuset cpu io memory pids"), keeping the ones we use.
    public static func parseList(_ text: String) -> Set<CgroupController> {
        Set(text.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { CgroupController(rawValue: String($0)) })
    }
}

/// The systemd drop-in that delegates every controller swctr uses.
public enum CgroupAdvice {
    public static let delegateDropIn =
        "/etc/systemd/system/user@.service.d/delegate.conf: [Service] Delegate=cpu cpuset io memory pids"
}
