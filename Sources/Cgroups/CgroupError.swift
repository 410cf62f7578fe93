// Cgroups owns cgroup v2 for containers: finding the user's cgroup and what was delegated to it,
// one cgroup per container (create, limit, freeze, kill, remove) and reading its statistics.
// Nothing here touches cgroup v1: on a v1 or hybrid host containers run without a cgroup.
import SystemSupport

/// What can go wrong with cgroups, each with what to do about it.
public enum CgroupError: Error, UserFacingError, Equatable {
    /// A flag needs a controller that this user cannot have: which flag, which controller, why.
    case controllerUnavailable(flag: String, controller: CgroupController, reason: String)
    /// A flag was given on a container that runs without a cgroup (pause, stats, update).
    case noCgroup(container: String, reason: String)
    /// A limit value the kernel (or we) refuse.
    case invalidValue(flag: String, value: String, expected: String)
    /// A cgroup file could not be read or written.
    case file(SystemCallError)
    /// /proc/self/oom_score_adj refused the value.
    case oomScoreAdjustment(Int, SystemCallError)

    public var userMessage: String {
        switch self {
        case .controllerUnavailable(let flag, let controller, let reason):
            return "\(flag) needs the cgroup v2 \(controller.rawValue) controller delegated to you; \(reason)"
        case .noCgroup(let container, let reason):
            return "container \(container) has no cgroup: \(reason)"
        case .invalidValue(let flag, let value, let expected):
            return "invalid \(flag) \"\(value)\": \(expected)"
        case .file(let error):
            return "cgroup \(error.description) — check that the cgroup is still delegated to you"
        case .oomScoreAdjustment(let value, let error):
            return "cannot set --oom-score-adj \(value): \(error.reason) — an ordinary user can only raise it (0 to 1000)"
        }
    }
}
