import SystemSupport
#if canImport(Glibc)
    import Glibc
#endif

/// A transient systemd user scope with `Delegate=yes`, made by `systemd-run --user --scope`
/// (which asks the user manager over D-Bus, then executes the command in the new scope as the
/// same process, keeping its file descriptors). A login session's own scope belongs to root, so
/// this is how an ordinary user gets a cgroup it may divide, as Podman does.
public enum SystemdScope {
    /// Set in the environment of a process started in a scope of ours.
    public static let marker = "_SWCTR_CGROUP_SCOPE"

    /// Whether this process was started in a scope of ours.
    public static func isInside(environment: [String: String] = ProcessEnvironment.current) -> Bool {
        environment[marker] == "1"
    }

    /// systemd-run's argument vector that runs `arguments` (arguments[0] the program) in a new
    /// delegated scope named `unit`.scope.
    public static func command(systemdRun: String, unit: String, arguments: [String]) -> [String] {
        [systemdRun, "--user", "--scope", "--quiet", "--collect", "-p", "Delegate=yes", "--unit", unit + ".scope", "--"] + arguments
    }

    /// The path of the running executable (what /proc/self/exe points at), for a command line
    /// that another program executes.
    public static func currentExecutable() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { return nil }
        buffer[length] = 0
        return String(cString: buffer)
    }

    /// Replaces this process with itself run in a new delegated scope (the same arguments; the
    /// marker in the environment). Returns only if that cannot be done.
    public static func reexecute(systemdRun: String, unit: String, arguments: [String]) {
        guard let executable = currentExecutable() else { return }
        let argv = command(systemdRun: systemdRun, unit: unit, arguments: [executable] + arguments.dropFirst())
        var environment = ProcessEnvironment.current
        environment[marker] = "1"
        let cArguments = argv.map { strdup($0) } + [nil]
        let cEnvironment = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        execve(systemdRun, cArguments, cEnvironment)
        cArguments.forEach { free($0) }
        cEnvironment.forEach { free($0) }
    }
}
