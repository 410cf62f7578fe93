import Runtime

/// Unprivileged user namespaces: makes one (mapping only the user's own ids, so that neither the
/// helpers nor subordinate ids matter here), and reads the settings that forbid them.
struct UserNamespaceCheck: Check {
    let name = "user namespaces"

    func run(on host: HostContext) -> CheckResult {
        let failure = NamespaceTrial.run(.nothing, namespaces: .user, idMaps: NamespaceTrial.singleIDMap(for: host))
        let restricted = KernelSetting.integer("kernel.apparmor_restrict_unprivileged_userns") == 1
        let restrictionFix = "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"
        guard let failure else {
            if restricted {
                return result(.warning, "a user namespace was made, but AppArmor (kernel.apparmor_restrict_unprivileged_userns=1) denies it the capabilities to mount", fix: restrictionFix)
            }
            return result(.ok, "made a user namespace as \(host.userName)")
        }
        let finding = "cannot make a user namespace: \(failure)"
        if KernelSetting.integer("user.max_user_namespaces") == 0 {
            return result(.failed, finding + " (user.max_user_namespaces is 0)", fix: "sudo sysctl -w user.max_user_namespaces=28633")
        }
        if KernelSetting.integer("kernel.unprivileged_userns_clone") == 0 {
            return result(.failed, finding + " (kernel.unprivileged_userns_clone is 0)", fix: "sudo sysctl -w kernel.unprivileged_userns_clone=1")
        }
        if restricted {
            return result(.failed, finding + " (kernel.apparmor_restrict_unprivileged_userns is 1)", fix: restrictionFix)
        }
        return result(.failed, finding, fix: "check that the kernel has CONFIG_USER_NS and that no security module denies unshare(CLONE_NEWUSER)")
    }
}
