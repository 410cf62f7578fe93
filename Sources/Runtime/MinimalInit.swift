import CLinux
import CNamespaces
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// `--init`: pid 1 of the container stays a small loop of swctr's own instead of becoming the
/// command. It forwards every signal it can catch to the command, reaps every process that ends
/// under it (orphans are reparented to pid 1), and exits as the command did (128+N for a signal),
/// the job tini does for Docker. It never executes anything, so /proc/1/exe stays the host's swctr
/// binary with the process undumpable: the container cannot open it.
enum MinimalInit {
    /// Forks: returns in the child, which goes on to execute the command; the parent becomes the
    /// init and never returns.
    static func startCommand(terminal: Bool) {
        var all = sigset_t()
        sigfillset(&all)
        var previous = sigset_t()
        sigprocmask(SIG_BLOCK, &all, &previous)
        let child = fork()
        if child < 0 {
            RoleChannel.current?.fail("fork the command under --init", errno: errno)
        }
        if child == 0 {
            if terminal {
                // Own process group, in the terminal's foreground: Ctrl-C reaches the command.
                setpgid(0, 0)
                tcsetpgrp(0, getpid())
            }
            sigprocmask(SIG_SETMASK, &previous, nil)
            return
        }
        // The child keeps the sync socket until its execve closes it; the parent lets go now.
        if let channel = RoleChannel.current { close(channel.fd) }
        superviseForever(command: child, signals: all)
    }

    private static func superviseForever(command: pid_t, signals: sigset_t) -> Never {
        var set = signals
        var commandStatus: Int32?
        while true {
            var info = siginfo_t()
            let signal = sigwaitinfo(&set, &info)
            if signal < 0 { continue }
            if signal == SIGCHLD {
                while true {
                    var status: Int32 = 0
                    let reaped = waitpid(-1, &status, WNOHANG)
                    if reaped <= 0 { break }
                    if reaped == command { commandStatus = status }
                }
                if let status = commandStatus {
                    if swctr_wifexited(status) != 0 { _exit(swctr_wexitstatus(status)) }
                    _exit(128 + swctr_wtermsig(status))
                }
            } else {
                kill(command, signal)
            }
        }
    }
}
