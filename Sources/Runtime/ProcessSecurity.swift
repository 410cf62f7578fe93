import CCap
import CLinux
import CSeccomp
import RuntimeSpec
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// A step of the process's confinement that failed, with what to do about it.
public struct SecuritySetupError: Error {
    public let step: String
    public let errno: Int32
}

/// Capabilities through libcap: the bounding set is cut to the container's set before the user
/// switch, and the set becomes permitted and effective after it (so root in the container holds
/// exactly the set; any other user gets none at execve, as in Docker). Inheritable stays empty.
enum CapabilityControl {
    static let keepCapabilities: Int32 = 8  // PR_SET_KEEPCAPS
    static let noNewPrivileges: Int32 = 38  // PR_SET_NO_NEW_PRIVS

    static func numbers(_ names: [String]) -> [cap_value_t] {
        names.compactMap { Capability.number(of: $0) }.map { cap_value_t($0) }.filter { $0 < cap_max_bits() }
    }

    /// Drops every capability outside `names` from the bounding set (needs CAP_SETPCAP).
    static func limitBoundingSet(to names: [String]) throws(SecuritySetupError) {
        // A bit mask, not a Set: a Set of a new element type costs the container's init a
        // metadata instantiation (and its mangled-name lookups) before the command runs.
        var keep: UInt64 = 0
        for number in numbers(names) where number >= 0 && number < 64 { keep |= 1 << UInt64(number) }
        for capability in 0..<cap_max_bits() where capability >= 64 || keep & (1 << UInt64(capability)) == 0 {
            if cap_drop_bound(capability) != 0 && errno != EINVAL {
                throw SecuritySetupError(step: "drop \(Capability.names.indices.contains(Int(capability)) ? "CAP_" + Capability.names[Int(capability)] : String(capability)) from the bounding set", errno: errno)
            }
        }
    }

    /// Sets permitted and effective to `names`, inheritable to nothing.
    static func setProcessCapabilities(_ names: [String]) throws(SecuritySetupError) {
        guard let caps = cap_init() else { throw SecuritySetupError(step: "cap_init", errno: errno) }
        defer { cap_free(UnsafeMutableRawPointer(caps)) }
        let values = numbers(names)
        if !values.isEmpty {
            _ = values.withUnsafeBufferPointer { buffer in
                cap_set_flag(caps, CAP_PERMITTED, Int32(buffer.count), buffer.baseAddress, CAP_SET)
                    | cap_set_flag(caps, CAP_EFFECTIVE, Int32(buffer.count), buffer.baseAddress, CAP_SET)
            }
        }
        if cap_set_proc(caps) != 0 { throw SecuritySetupError(step: "set the process capabilities (cap_set_proc)", errno: errno) }
    }
}

/// A seccomp filter built with libseccomp from a profile in Docker's format.
public enum SeccompFilter {
    #if arch(x86_64)
    public static let nativeArchitecture = "SCMP_ARCH_X86_64"
    static let nativeArchitectureGoName = "amd64"
    #elseif arch(arm64)
    public static let nativeArchitecture = "SCMP_ARCH_AARCH64"
    static let nativeArchitectureGoName = "arm64"
    #else
    public static let nativeArchitecture = "SCMP_ARCH_NATIVE"
    static let nativeArchitectureGoName = ""
    #endif

    /// The libseccomp action for a profile action.
    static func action(_ name: String, errnoRet: UInt32?, defaultErrno: UInt32?) -> UInt32? {
        switch name {
        case "SCMP_ACT_ALLOW": return 0x7fff_0000
        case "SCMP_ACT_ERRNO": return 0x0005_0000 | ((errnoRet ?? defaultErrno ?? UInt32(EPERM)) & 0xffff)
        case "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD": return 0
        case "SCMP_ACT_KILL_PROCESS": return 0x8000_0000
        case "SCMP_ACT_TRAP": return 0x0003_0000
        case "SCMP_ACT_TRACE": return 0x7ff0_0000 | ((errnoRet ?? 0) & 0xffff)
        case "SCMP_ACT_LOG": return 0x7ffc_0000
        default: return nil
        }
    }

    static func comparison(_ op: String) -> scmp_compare? {
        switch op {
        case "SCMP_CMP_NE": return SCMP_CMP_NE
        case "SCMP_CMP_LT": return SCMP_CMP_LT
        case "SCMP_CMP_LE": return SCMP_CMP_LE
        case "SCMP_CMP_EQ": return SCMP_CMP_EQ
        case "SCMP_CMP_GE": return SCMP_CMP_GE
        case "SCMP_CMP_GT": return SCMP_CMP_GT
        case "SCMP_CMP_MASKED_EQ": return SCMP_CMP_MASKED_EQ
        default: return nil
        }
    }

    /// libseccomp's name for a profile architecture (SCMP_ARCH_X86_64 → x86_64).
    static func libseccompArchitecture(_ name: String) -> UInt32 {
        let short = name.hasPrefix("SCMP_ARCH_") ? String(name.dropFirst(10)).lowercased() : name.lowercased()
        return seccomp_arch_resolve_name(short)
    }

    /// Whether a rule's includes/excludes select it for this container.
    static func applies(_ rule: SeccompProfile.SyscallRule, capabilities: Set<String>) -> Bool {
        if let includes = rule.includes {
            if let caps = includes.caps, !caps.allSatisfy({ capabilities.contains(Capability.canonicalName($0) ?? $0) }) { return false }
            if let arches = includes.arches, !arches.contains(nativeArchitectureGoName) { return false }
        }
        if let excludes = rule.excludes {
            if let caps = excludes.caps, caps.contains(where: { capabilities.contains(Capability.canonicalName($0) ?? $0) }) { return false }
            if let arches = excludes.arches, arches.contains(nativeArchitectureGoName) { return false }
        }
        return true
    }

    /// Installs a compiled program. No no_new_privs is implied: the caller still holds
    /// CAP_SYS_ADMIN in the container's user namespace, which is what the kernel asks for instead.
    static func load(program: [UInt8]) throws(SecuritySetupError) {
        guard !program.isEmpty, program.count % 8 == 0 else {
            throw SecuritySetupError(step: "load the seccomp filter: the compiled program is damaged", errno: EINVAL)
        }
        let result = program.withUnsafeBytes { swctr_seccomp_set_filter($0.baseAddress, program.count / 8) }
        if result != 0 { throw SecuritySetupError(step: "load the seccomp filter", errno: errno) }
    }

    /// Compiles `profile` for a container holding `capabilities` into a classic BPF program (what
    /// the kernel loads), with libseccomp. Compiling costs milliseconds; loading the result costs
    /// microseconds, so `SeccompProgramCache` keeps the results.
    /// Names how `compile` lays programs out; part of the cache key, so a new layout is compiled anew.
    public static let programLayout = "bintree"

    public static func compile(_ profile: SeccompProfile, capabilities: [String]) throws(SecuritySetupError) -> [UInt8] {
        guard let defaultAction = action(profile.defaultAction, errnoRet: profile.defaultErrnoRet, defaultErrno: nil) else {
            throw SecuritySetupError(step: "seccomp: unknown default action \(profile.defaultAction)", errno: EINVAL)
        }
        guard let context = seccomp_init(defaultAction) else { throw SecuritySetupError(step: "seccomp_init", errno: ENOMEM) }
        defer { seccomp_release(context) }
        _ = seccomp_attr_set(context, SCMP_FLTATR_CTL_NNP, 0)
        // A binary tree over syscall numbers instead of a linear list: the kernel's load-time
        // analysis (it runs the filter for every syscall to find those always allowed) and each
        // filtered syscall then take a few comparisons instead of hundreds.
        _ = seccomp_attr_set(context, SCMP_FLTATR_CTL_OPTIMIZE, 2)

        var architectures: [String] = []
        if let groups = profile.archMap, let native = groups.first(where: { $0.architecture == nativeArchitecture }) {
            architectures = native.subArchitectures ?? []
        } else if let listed = profile.architectures {
            architectures = listed.filter { $0 != nativeArchitecture }
        }
        for name in architectures {
            let token = libseccompArchitecture(name)
            if token != 0 { _ = seccomp_arch_add(context, token) }  // -EEXIST or unsupported: skip
        }

        let held = Set(capabilities)
        for rule in profile.syscalls ?? [] where applies(rule, capabilities: held) {
            guard let ruleAction = action(rule.action, errnoRet: rule.errnoRet, defaultErrno: profile.defaultErrnoRet) else {
                throw SecuritySetupError(step: "seccomp: unknown action \(rule.action)", errno: EINVAL)
            }
            if ruleAction == defaultAction { continue }
            var conditions: [scmp_arg_cmp] = []
            for argument in rule.args ?? [] {
                guard let op = comparison(argument.op) else {
                    throw SecuritySetupError(step: "seccomp: unknown comparison \(argument.op)", errno: EINVAL)
                }
                conditions.append(scmp_arg_cmp(arg: argument.index, op: op, datum_a: argument.value, datum_b: argument.valueTwo ?? 0))
            }
            // libseccomp cannot test one argument twice in a rule: such conditions are alternatives.
            let indexes = conditions.map(\.arg)
            let groups: [[scmp_arg_cmp]] = Set(indexes).count == indexes.count ? [conditions] : conditions.map { [$0] }
            for name in rule.allNames {
                let number = seccomp_syscall_resolve_name(name)
                if number == __NR_SCMP_ERROR { continue }  // not a call this libseccomp knows
                for group in groups {
                    let result = group.withUnsafeBufferPointer { buffer in
                        seccomp_rule_add_array(context, ruleAction, number, UInt32(buffer.count), buffer.baseAddress)
                    }
                    if result < 0 && result != -EEXIST && result != -EOPNOTSUPP && result != -EDOM {
                        throw SecuritySetupError(step: "seccomp: add the rule for \(name)", errno: -result)
                    }
                }
            }
        }
        let memfd = swctr_memfd_create("seccomp", UInt32(0x0001))
        guard memfd >= 0 else { throw SecuritySetupError(step: "memfd_create", errno: errno) }
        defer { close(memfd) }
        let exported = seccomp_export_bpf(context, memfd)
        if exported < 0 { throw SecuritySetupError(step: "compile the seccomp filter", errno: -exported) }
        let size = Int(lseek(memfd, 0, SEEK_END))
        var program = [UInt8](repeating: 0, count: max(size, 0))
        let read = program.withUnsafeMutableBytes { pread(memfd, $0.baseAddress, size, 0) }
        guard read == size, size > 0 else { throw SecuritySetupError(step: "read the compiled seccomp filter", errno: EIO) }
        return program
    }
}

/// `--ulimit`: setrlimit before the user switch.
enum ResourceLimitControl {
    static func apply(_ limits: [ResourceLimit]) throws(SecuritySetupError) {
        for limit in limits where limit.resource >= 0 {
            var value = rlimit(rlim_cur: rlim_t(limit.soft), rlim_max: rlim_t(limit.hard))
            if setrlimit(__rlimit_resource_t(UInt32(limit.resource)), &value) != 0 {
                let code = errno
                var current = rlimit()
                getrlimit(__rlimit_resource_t(UInt32(limit.resource)), &current)
                let hard = current.rlim_max == rlim_t.max ? "unlimited" : String(current.rlim_max)
                throw SecuritySetupError(
                    step: "--ulimit \(limit.name): cannot raise the hard limit above \(hard), the limit swctr runs under (raise it on the host first, e.g. in /etc/security/limits.conf)",
                    errno: code)
            }
        }
    }
}
