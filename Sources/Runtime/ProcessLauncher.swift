import CLinux
import CNamespaces
import RuntimeSpec
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// The last steps of every container process, whether it is the container's init or an `exec`:
/// resolve the user in the container's /etc/passwd, make the terminal, enter the working
/// directory, drop to the user, and execute. Runs inside the container's namespaces and root;
/// every failure goes to the parent over `channel`.
public struct ProcessLauncher {
    let process: ProcessSpec
    let channel: RoleChannel
    /// The compiled seccomp program (read from the container's directory by the caller); compiled
    /// here, slowly, when missing.
    let seccompProgram: [UInt8]?
    /// Whether `loadBuiltinFilterEarly` loaded the filter already.
    private var filterLoaded = false

    public init(process: ProcessSpec, channel: RoleChannel, seccompProgram: [UInt8]? = nil) {
        self.process = process
        self.channel = channel
        self.seccompProgram = seccompProgram
    }

    /// Loads the built-in profile's filter now rather than in `launch`, for a caller with time to
    /// spare: a container's init while it waits for its parent's GO (loading takes about 0.3 ms,
    /// and the parent was often still writing the record). That profile allows every call made
    /// from there to the exec (the GO's recv, reading /etc/passwd, rlimits, the terminal, chdir,
    /// the bounding set, the user switch, capset, execve). A profile the user gave is loaded
    /// where runc loads one: after the working directory, before the user switch.
    public mutating func loadBuiltinFilterEarly() {
        guard process.seccomp == .builtinDefault else { return }
        loadFilter()
        filterLoaded = true
    }

    private func loadFilter() {
        confine(step: { () throws(SecuritySetupError) in
            var program = seccompProgram ?? []
            if program.isEmpty {
                let profile: SeccompProfile
                if case .profile(let given) = process.seccomp { profile = given } else { profile = DefaultSeccompProfile.profile }
                program = try SeccompFilter.compile(profile, capabilities: process.capabilities)
            }
            try SeccompFilter.load(program: program)
        })
    }

    public func launch() -> Never {
        let user: ResolvedUser
        do {
            let groupText = try? FileSystem.readText("/etc/group")
            user = try UserResolver.resolve(process.user, passwd: try? FileSystem.readText("/etc/passwd"), group: groupText,
                                            additionalGroups: process.additionalGroups)
        } catch {
            channel.fail(error.message)
        }
        confine(step: { () throws(SecuritySetupError) in try ResourceLimitControl.apply(process.resourceLimits) })
        if process.terminal { attachTerminal(owner: user) }
        enterWorkingDirectory()
        confine(step: { () throws(SecuritySetupError) in try CapabilityControl.limitBoundingSet(to: process.capabilities) })
        if process.seccomp != .unconfined && !filterLoaded { loadFilter() }
        // Keep the permitted set across the user switch, then set it exactly.
        _ = swctr_prctl(CapabilityControl.keepCapabilities, 1)
        switchUser(user)
        confine(step: { () throws(SecuritySetupError) in try CapabilityControl.setProcessCapabilities(process.capabilities) })
        _ = swctr_prctl(CapabilityControl.keepCapabilities, 0)
        if process.noNewPrivileges && swctr_prctl(CapabilityControl.noNewPrivileges, 1) != 0 {
            channel.fail("set no_new_privs", errno: errno)
        }
        if process.runsInit { MinimalInit.startCommand(terminal: process.terminal) }
        execute(home: user.home)
    }

    private func confine(step: () throws(SecuritySetupError) -> Void) {
        do { try step() } catch { channel.fail(error.step, errno: error.errno) }
    }

    /// Makes a pty in the container's own devpts, gives the master to the parent, and makes the
    /// slave this process's controlling terminal and stdio.
    private func attachTerminal(owner: ResolvedUser) {
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        if master < 0 { channel.fail("open /dev/ptmx", errno: errno) }
        let number = swctr_pty_unlock_and_number(master)
        if number < 0 { channel.fail("unlock the pty", errno: errno) }
        let slavePath = "/dev/pts/\(number)"
        let slave = open(slavePath, O_RDWR | O_NOCTTY)
        if slave < 0 { channel.fail("open \(slavePath)", errno: errno) }
        fchown(slave, owner.uid, UInt32.max)
        channel.send(type: SWCTR_SYNC_TTY, fd: master)
        close(master)
        if setsid() < 0 { channel.fail("setsid", errno: errno) }
        if swctr_ioctl_int(slave, UInt(0x540E) /* TIOCSCTTY */, 0) != 0 { channel.fail("set the controlling terminal", errno: errno) }
        for target in Int32(0)...2 { dup2(slave, target) }
        if slave > 2 { close(slave) }
    }

    private func enterWorkingDirectory() {
        let directory = process.workingDirectory
        if chdir(directory) == 0 { return }
        // Docker makes a missing working directory.
        try? FileSystem.makeDirectories(directory)
        if chdir(directory) != 0 { channel.fail("chdir to the working directory \(directory)", errno: errno) }
    }

    private func switchUser(_ user: ResolvedUser) {
        let groups = user.supplementaryGroups.map { gid_t($0) }
        if setgroups(groups.count, groups) != 0 && errno != EPERM { channel.fail("setgroups", errno: errno) }
        if setgid(user.gid) != 0 { channel.fail("setgid \(user.gid) (is it mapped in the user namespace?)", errno: errno) }
        if setuid(user.uid) != 0 { channel.fail("setuid \(user.uid) (is it mapped in the user namespace?)", errno: errno) }
    }

    private func execute(home: String) -> Never {
        var environment = process.environment
        if !environment.contains(where: { $0.hasPrefix("HOME=") }) { environment.append("HOME=" + home) }
        let command = process.arguments[0]
        let searchPath = environment.last(where: { $0.hasPrefix("PATH=") }).map { String($0.dropFirst(5)) } ?? ""
        var executable = command
        if !command.contains("/") {
            var found: String?
            var lastError = ENOENT
            for directory in searchPath.split(separator: ":") {
                // String(Substring) + String: concrete, not the generic append of a Substring
                // (whose first use scans every protocol conformance of the binary).
                let candidate = String(directory) + "/" + command
                var info = stat()
                if stat(candidate, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG {
                    if access(candidate, X_OK) == 0 { found = candidate; break }
                    lastError = EACCES
                }
            }
            guard let found else {
                channel.send(type: SWCTR_SYNC_EXEC_ERROR, value: lastError, text: command)
                _exit(lastError == ENOENT ? 127 : 126)
            }
            executable = found
        }
        let argv = process.arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        // Signals swctr's caller ignored are reset at spawn; glibc's own two only here.
        swctr_reset_reserved_signals()
        execve(executable, argv, envp)
        let code = errno
        channel.send(type: SWCTR_SYNC_EXEC_ERROR, value: code, text: command)
        _exit(code == ENOENT ? 127 : 126)
    }
}
