/// Linux capabilities by name and number (linux/capability.h), and the set a container gets.
public enum Capability {
    /// Names without the CAP_ prefix, indexed by capability number.
    public static let names: [String] = [
        "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
        "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
        "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
        "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
        "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
        "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
    ]

    /// The set Docker and Podman give a container that asks for nothing else (CapEff 0xa80425fb).
    public static let defaultSet: [String] = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",
        "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SYS_CHROOT", "CAP_MKNOD", "CAP_AUDIT_WRITE",
        "CAP_SETFCAP",
    ]

    /// Every capability this table knows, as CAP_ names.
    public static var all: [String] { names.map { "CAP_" + $0 } }

    /// `CAP_SYS_ADMIN`, `sys_admin` and `SYS_ADMIN` all name the same capability; nil when unknown.
    public static func canonicalName(_ text: String) -> String? {
        var name = text.uppercased()
        if name.hasPrefix("CAP_") { name = String(name.dropFirst(4)) }
        return names.contains(name) ? "CAP_" + name : nil
    }

    /// The number of a CAP_ name.
    public static func number(of name: String) -> Int? {
        guard let canonical = canonicalName(name) else { return nil }
        return names.firstIndex(of: String(canonical.dropFirst(4)))
    }

    /// The container's set from the default, `--cap-add` and `--cap-drop` (each may say ALL), the
    /// way Docker combines them: drop ALL then add, or the default minus drops plus adds.
    public static func resolve(add: [String], drop: [String], privileged: Bool) throws(CapabilityError) -> [String] {
        if privileged { return all }
        func canonical(_ list: [String]) throws(CapabilityError) -> [String] {
            var result: [String] = []
            for entry in list where entry.uppercased() != "ALL" {
                guard let name = canonicalName(entry) else { throw .unknown(entry) }
                result.append(name)
            }
            return result
        }
        let adds = try canonical(add)
        let drops = try canonical(drop)
        let addAll = add.contains { $0.uppercased() == "ALL" }
        let dropAll = drop.contains { $0.uppercased() == "ALL" }
        var set: [String] = dropAll ? [] : defaultSet.filter { !drops.contains($0) }
        if addAll {
            set = all.filter { !drops.contains($0) || dropAll }
        }
        for name in adds where !set.contains(name) { set.append(name) }
        return all.filter { set.contains($0) }
    }
}

public enum CapabilityError: Error, Equatable {
    case unknown(String)

    public var message: String {
        switch self {
        case .unknown(let name):
            return "unknown capability \"\(name)\": use a name such as NET_ADMIN or CAP_SYS_PTRACE, or ALL"
        }
    }
}
