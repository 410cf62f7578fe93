import SystemSupport

/// systemd lingering: without it, logging out ends the user's processes, detached containers too.
struct LingerCheck: Check {
    let name = "lingering"

    func run(on host: HostContext) -> CheckResult {
        guard FileSystem.isDirectory("/run/systemd/system") else {
            return result(.notApplicable, "no systemd: nothing stops detached containers at logout")
        }
        if FileSystem.exists("/var/lib/systemd/linger/" + host.userName) {
            return result(.ok, "lingering is enabled for \(host.userName): detached containers outlive the login session")
        }
        return result(.warning, "lingering is off for \(host.userName): detached containers are stopped at logout",
                      fix: "sudo loginctl enable-linger \(host.userName)")
    }
}
