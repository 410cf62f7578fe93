/// swctr's default seccomp profile. Same semantics as Docker's default: an allow list, every other
/// system call fails with EPERM; the calls that only make sense with a capability (mount, unshare,
/// setns, ptrace of others, module loading, the clock, …) are allowed only when the container has
/// that capability; namespace-making clone flags are refused without CAP_SYS_ADMIN; clone3 answers
/// ENOSYS so that C libraries fall back to clone, whose flags the filter can see. Keyrings
/// (add_key, keyctl, request_key), kexec, bpf without CAP_BPF, userfaultfd, personality changes
/// other than the harmless ones, and the obsolete or host-wide calls are not on the list.
public enum DefaultSeccompProfile {
    static let allowed: [String] = [
        "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat", "capget", "capset",
        "chdir", "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64", "clock_getres",
        "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64",
        "close", "close_range", "connect", "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create",
        "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old",
        "eventfd", "eventfd2", "execve", "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64",
        "fadvise64_64", "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown",
        "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork",
        "fremovexattr", "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate",
        "ftruncate64", "futex", "futex_requeue", "futex_time64", "futex_wait", "futex_waitv", "futex_wake",
        "futimesat", "getcpu", "getcwd", "getdents", "getdents64", "getegid", "getegid32", "geteuid", "geteuid32",
        "getgid", "getgid32", "getgroups", "getgroups32", "getitimer", "getpeername", "getpgid", "getpgrp", "getpid",
        "getppid", "getpriority", "getrandom", "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit",
        "get_robust_list", "getrusage", "getsid", "getsockname", "getsockopt", "get_thread_area", "gettid",
        "gettimeofday", "getuid", "getuid32", "getxattr", "inotify_add_watch", "inotify_init", "inotify_init1",
        "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy", "io_getevents", "io_pgetevents",
        "io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup", "io_submit", "io_uring_enter",
        "io_uring_register", "io_uring_setup", "ipc", "kill", "landlock_add_rule", "landlock_create_ruleset",
        "landlock_restrict_self", "lchown", "lchown32", "lgetxattr", "link", "linkat", "listen", "listxattr",
        "llistxattr", "_llseek", "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64", "madvise",
        "map_shadow_stack", "membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod",
        "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mq_getsetattr", "mq_notify",
        "mq_open", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink",
        "mremap", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock", "munlockall", "munmap",
        "name_to_handle_at", "nanosleep", "newfstatat", "_newselect", "open", "openat", "openat2", "pause",
        "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect", "poll",
        "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2", "prlimit64", "process_mrelease",
        "pselect6", "pselect6_time64", "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink",
        "readlinkat", "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg", "remap_file_pages",
        "removexattr", "rename", "renameat", "renameat2", "restart_syscall", "rmdir", "rseq", "rt_sigaction",
        "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
        "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr", "sched_getparam",
        "sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler", "sched_rr_get_interval",
        "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr", "sched_setparam",
        "sched_setscheduler", "sched_yield", "seccomp", "select", "semctl", "semget", "semop", "semtimedop",
        "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto", "setfsgid",
        "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32", "setitimer",
        "setpgid", "setpriority", "setregid", "setregid32", "setresgid", "setresgid32", "setresuid", "setresuid32",
        "setreuid", "setreuid32", "setrlimit", "set_robust_list", "setsid", "setsockopt", "set_thread_area",
        "set_tid_address", "setuid", "setuid32", "setxattr", "shmat", "shmctl", "shmdt", "shmget", "shutdown",
        "sigaltstack", "signalfd", "signalfd4", "sigprocmask", "sigreturn", "socketcall", "socketpair", "splice",
        "stat", "stat64", "statfs", "statfs64", "statx", "symlink", "symlinkat", "sync", "sync_file_range",
        "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete", "timer_getoverrun",
        "timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64", "timerfd_create",
        "timerfd_gettime", "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times", "tkill",
        "truncate", "truncate64", "ugetrlimit", "umask", "uname", "unlink", "unlinkat", "utime", "utimensat",
        "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid", "waitpid", "write", "writev",
        // Safe since Linux 4.8 (seccomp runs after ptrace): same-owner tracing, as in Docker.
        "ptrace", "process_vm_readv", "process_vm_writev",
    ]

    /// Calls allowed only when the container holds the capability (key).
    static let byCapability: [(capability: String, names: [String])] = [
        ("CAP_DAC_READ_SEARCH", ["open_by_handle_at"]),
        ("CAP_SYS_ADMIN", ["bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
                           "lookup_dcookie", "mount", "mount_setattr", "move_mount", "open_tree", "perf_event_open",
                           "quotactl", "quotactl_fd", "setdomainname", "sethostname", "setns", "syslog", "umount",
                           "umount2", "unshare"]),
        ("CAP_SYS_BOOT", ["reboot"]),
        ("CAP_SYS_CHROOT", ["chroot"]),
        ("CAP_SYS_MODULE", ["delete_module", "init_module", "finit_module"]),
        ("CAP_SYS_PACCT", ["acct"]),
        ("CAP_SYS_PTRACE", ["kcmp", "pidfd_getfd", "process_madvise"]),
        ("CAP_SYS_RAWIO", ["iopl", "ioperm"]),
        ("CAP_SYS_TIME", ["settimeofday", "stime", "clock_settime", "clock_settime64"]),
        ("CAP_SYS_TTY_CONFIG", ["vhangup"]),
        ("CAP_SYS_NICE", ["get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"]),
        ("CAP_SYSLOG", ["syslog"]),
        ("CAP_BPF", ["bpf"]),
        ("CAP_PERFMON", ["perf_event_open"]),
    ]

    /// Flags of clone(2) that make namespaces: NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET.
    static let namespaceCloneFlags: UInt64 = 0x7E02_0000
    /// AF_VSOCK: a way out of the container to the hypervisor, refused as in Docker.
    static let vsockFamily: UInt64 = 40

    public static let profile: SeccompProfile = {
        var rules: [SeccompProfile.SyscallRule] = [
            .init(names: allowed, action: "SCMP_ACT_ALLOW"),
            // personality(2): only the harmless personas (PER_LINUX, PER_LINUX32, UNAME26 variants, query).
            .init(names: ["personality"], action: "SCMP_ACT_ALLOW", args: [.init(index: 0, value: 0x0, op: "SCMP_CMP_EQ")]),
            .init(names: ["personality"], action: "SCMP_ACT_ALLOW", args: [.init(index: 0, value: 0x8, op: "SCMP_CMP_EQ")]),
            .init(names: ["personality"], action: "SCMP_ACT_ALLOW", args: [.init(index: 0, value: 0x20000, op: "SCMP_CMP_EQ")]),
            .init(names: ["personality"], action: "SCMP_ACT_ALLOW", args: [.init(index: 0, value: 0x20008, op: "SCMP_CMP_EQ")]),
            .init(names: ["personality"], action: "SCMP_ACT_ALLOW", args: [.init(index: 0, value: 0xffff_ffff, op: "SCMP_CMP_EQ")]),
            .init(names: ["socket"], action: "SCMP_ACT_ALLOW", args: [.init(index: 0, value: vsockFamily, op: "SCMP_CMP_NE")]),
            .init(names: ["arch_prctl", "modify_ldt"], action: "SCMP_ACT_ALLOW",
                  includes: .init(arches: ["amd64", "x32", "x86"])),
            .init(names: ["arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls"],
                  action: "SCMP_ACT_ALLOW", includes: .init(arches: ["arm", "arm64"])),
            // Without CAP_SYS_ADMIN: clone without namespace flags, and no clone3 (ENOSYS: use clone).
            .init(names: ["clone"], action: "SCMP_ACT_ALLOW",
                  args: [.init(index: 0, value: namespaceCloneFlags, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ")],
                  excludes: .init(caps: ["CAP_SYS_ADMIN"])),
            .init(names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: 38, excludes: .init(caps: ["CAP_SYS_ADMIN"])),
        ]
        for (capability, names) in byCapability {
            rules.append(.init(names: names, action: "SCMP_ACT_ALLOW", includes: .init(caps: [capability])))
        }
        return SeccompProfile(
            defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 1,
            archMap: [
                .init(architecture: "SCMP_ARCH_X86_64", subArchitectures: ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]),
                .init(architecture: "SCMP_ARCH_AARCH64", subArchitectures: ["SCMP_ARCH_ARM"]),
            ],
            syscalls: rules)
    }()
}
