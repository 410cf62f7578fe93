// See cnamespaces.h. Runs before main() in a freshly exec'd process, or in a child just forked
// by swctr_nsinit_fork: only async-signal-safe calls, no allocation beyond the stack, every step
// checked and reported.
#define _GNU_SOURCE
#include "cnamespaces.h"
#include "clinux.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static int sync_fd = -1;
static int saved_argc;
static char **saved_argv;

int swctr_nsinit_sync_fd(void) { return sync_fd; }
int swctr_saved_argc(void) { return saved_argc; }
char **swctr_saved_argv(void) { return saved_argv; }

static void send_message(uint32_t type, int32_t value, const char *text) {
    struct swctr_sync_message m;
    memset(&m, 0, sizeof m);
    m.type = type;
    m.value = value;
    if (text) strncpy(m.text, text, sizeof m.text - 1);
    ssize_t n;
    do { n = send(sync_fd, &m, sizeof m, MSG_NOSIGNAL); } while (n < 0 && errno == EINTR);
}

static void fail(const char *step) {
    send_message(SWCTR_SYNC_ERROR, errno, step);
    _exit(1);
}

// Parses one decimal number; returns the position after it, or NULL.
static const char *parse_number(const char *s, unsigned long *value) {
    unsigned long v = 0;
    int seen = 0;
    for (; *s >= '0' && *s <= '9'; s++, seen++) v = v * 10 + (unsigned long)(*s - '0');
    if (!seen) return NULL;
    *value = v;
    return s;
}

// Parses "<fd>,<flags>[,<pid to join>[,<namespaces to join>]]" without stdio; returns 0 on success.
static int parse_spec(const char *s, int *fd, unsigned long *flags, pid_t *target, unsigned long *join) {
    unsigned long a, b, c = 0, d = 0;
    if (!(s = parse_number(s, &a)) || *s++ != ',') return -1;
    if (!(s = parse_number(s, &b))) return -1;
    if (*s == ',') {
        if (!(s = parse_number(s + 1, &c))) return -1;
    }
    if (*s == ',') {
        if (!(s = parse_number(s + 1, &d))) return -1;
    }
    if (*s) return -1;
    *fd = (int)a;
    *flags = b;
    *target = (pid_t)c;
    *join = d;
    return 0;
}

// Joins the namespaces of a running process in one step (setns on a pidfd, Linux 5.8+): the
// kernel enters the user namespace first, so the others are entered with its capabilities.
static void join_namespaces(pid_t target, unsigned long flags) {
    int pidfd = (int)syscall(SYS_pidfd_open, target, 0);
    if (pidfd < 0) fail("open the container's process (pidfd_open)");
    if (setns(pidfd, (int)flags) < 0) fail("join the container's namespaces (setns)");
    close(pidfd);
    // Our uid is the one mapped to root inside; drop the host's supplementary groups.
    (void)setgroups(0, NULL);
    // The container's processes must not reach this one's /proc/PID (its exe is the host binary).
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) fail("prctl(PR_SET_DUMPABLE)");
}

// Steps 1-3 of cnamespaces.h for a process whose sync socket is `sync_fd` already.
// Sends this process's user and network namespaces to the parent (SWCTR_SYNC_NAMESPACE, as a
// container's pid 1 does from Swift), so that it can hand them on before pid 1 is running.
static void send_own_namespaces(void) {
    static const struct { unsigned long flag; const char *path; } namespaces[] = {
        {CLONE_NEWUSER, "/proc/self/ns/user"}, {CLONE_NEWNET, "/proc/self/ns/net"}};
    for (unsigned i = 0; i < sizeof namespaces / sizeof namespaces[0]; i++) {
        int fd = open(namespaces[i].path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) fail("open the container's namespace to hand it over");
        struct swctr_sync_message m;
        memset(&m, 0, sizeof m);
        m.type = SWCTR_SYNC_NAMESPACE;
        m.value = (int32_t)namespaces[i].flag;
        if (swctr_send_fd(sync_fd, fd, &m, sizeof m) < 0) fail("hand the container's namespace over");
        close(fd);
    }
}

static void enter_namespaces(unsigned long flags, pid_t target, unsigned long join, int userns_fd, int netns_fd,
                             int send_namespaces) {
    // Die with swctr while the namespaces are being made: nothing would finish the handshake.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) fail("prctl(PR_SET_PDEATHSIG)");

    if (userns_fd >= 0) {
        // Only a user namespace, by an fd its owner sent (the container's init is undumpable,
        // so a pidfd of it may not be used to join): the FUSE overlay's server.
        if (setns(userns_fd, CLONE_NEWUSER) < 0) fail("join the container's user namespace (setns)");
        close(userns_fd);
        (void)setgroups(0, NULL);
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) fail("prctl(PR_SET_DUMPABLE)");
        // A network namespace made ahead in that user namespace (the holder's): joined, not made.
        if (netns_fd >= 0) {
            if (setns(netns_fd, CLONE_NEWNET) < 0) fail("join the container's network namespace (setns)");
            close(netns_fd);
            flags &= ~(unsigned long)CLONE_NEWNET;
        }
    } else if (target > 0) {
        // With <namespaces to join>, only those are joined and <flags> are made new (a container
        // sharing another's network: its user and network namespaces joined, the rest its own).
        join_namespaces(target, join ? join : flags);
    } else if (flags & CLONE_NEWUSER) {
        if (unshare(CLONE_NEWUSER) < 0) fail("unshare(CLONE_NEWUSER)");
        // newuidmap/newgidmap open /proc/PID of this process: keep it ours.
        if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0) fail("prctl(PR_SET_DUMPABLE)");
        send_message(SWCTR_SYNC_USERNS_READY, 0, NULL);
        struct swctr_sync_message m;
        ssize_t n;
        do { n = recv(sync_fd, &m, sizeof m, 0); } while (n < 0 && errno == EINTR);
        if (n != (ssize_t)sizeof m || m.type != SWCTR_SYNC_MAPS_WRITTEN) _exit(1);
        if (setresgid(0, 0, 0) < 0) fail("setresgid(0) in the user namespace");
        if (setresuid(0, 0, 0) < 0) fail("setresuid(0) in the user namespace");
        // Drop the host's supplementary groups where the map allows it (not with setgroups=deny).
        (void)setgroups(0, NULL);
        // Mapped: nobody needs /proc/PID of this process any more. Undumpable, it stays closed to
        // the container (its mm belongs to the host's user namespace), /proc/PID/exe included.
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) fail("prctl(PR_SET_DUMPABLE)");
    }

    unsigned long others = flags & ~(unsigned long)CLONE_NEWUSER;
    if ((target <= 0 || join) && others && unshare((int)others) < 0) fail("unshare of the container namespaces");
    if (send_namespaces) send_own_namespaces();

    if (flags & CLONE_NEWPID) {
        // The first child in the new pid namespace becomes its pid 1. CLONE_PARENT makes swctr
        // (our parent) its parent too, so swctr waits for it directly.
        long pid = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
        if (pid < 0) fail("clone into the new pid namespace");
        if (pid > 0) {
            send_message(SWCTR_SYNC_PID, (int32_t)pid, NULL);
            _exit(0);
        }
        // The new pid 1: its parent is swctr now.
        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) fail("prctl(PR_SET_PDEATHSIG)");
    } else {
        send_message(SWCTR_SYNC_PID, (int32_t)getpid(), NULL);
    }
}

// A foreground `swctr run` clones the holder of its container's namespaces (swctr_userns_holder,
// below) here, before the Swift runtime starts: newuidmap and newgidmap, the longest chain before
// the container's init can be cloned, start on it at once where swctr remembers them
// (early_id_maps.c). The holder makes the network namespace (about half a millisecond of kernel
// work) only when swctr is about to wait for the maps or the helpers' spawning
// (swctr_early_holder_go), or not at all when the container needs none: made at once, it took a
// CPU from the helpers. Swift takes
// the holder (PreparedUserNamespace.startHolder) or ends it if the container wants other
// namespaces; if the process exits first, it is killed as its parent ends.
static pid_t early_holder_pid = -1;
static int early_holder_ready = -1;
static void *early_holder_stack;

int swctr_looks_like_foreground_run(int count, char *const *arguments) {
    if (count < 2 || strcmp(arguments[0], "run") != 0) return 0;
    for (int i = 1; i < count; i++) {
        const char *argument = arguments[i];
        if (strcmp(argument, "--detach") == 0 || strncmp(argument, "--detach=", 9) == 0 || strcmp(argument, "--help") == 0
            || strcmp(argument, "-h") == 0 || strncmp(argument, "--userns", 8) == 0 || strncmp(argument, "container:", 10) == 0
            || strstr(argument, "=container:"))
            return 0;
        // -d, alone or among other one-letter flags (-dit).
        if (argument[0] == '-' && argument[1] != '-' && strchr(argument, 'd')) return 0;
    }
    return 1;
}

// The constructor's verdict on this process's own arguments, for swctr_process_looks_like_foreground_run.
static int process_verdict = -1;

int swctr_process_looks_like_foreground_run(void) {
    if (process_verdict < 0)
        process_verdict = saved_argc >= 1 && saved_argv && swctr_looks_like_foreground_run(saved_argc - 1, saved_argv + 1);
    return process_verdict;
}

static void start_early_holder(int argc, char **argv) {
    process_verdict = argc >= 1 && swctr_looks_like_foreground_run(argc - 1, argv + 1);
    if (!process_verdict) return;
    int go = -1;
    early_holder_pid = swctr_userns_holder_waiting(1, &early_holder_ready, &early_holder_stack, &go);
    if (early_holder_pid > 0) swctr_start_early_id_maps(early_holder_pid, go);
}

pid_t swctr_take_early_holder(int *ready_fd, void **stack) {
    pid_t pid = early_holder_pid;
    early_holder_pid = -1;
    *ready_fd = early_holder_ready;
    *stack = early_holder_stack;
    return pid;
}

// glibc passes argc/argv to constructors. Kept because after joining a container's mount namespace
// /proc/self (where the Swift runtime may read the arguments from) is the container's /proc.
__attribute__((constructor)) static void swctr_nsinit(int argc, char **argv) {
    saved_argc = argc;
    saved_argv = argv;
    start_early_holder(argc, argv);
    const char *spec = getenv("_SWCTR_NSINIT");
    if (!spec) return;
    unsigned long flags, join;
    pid_t target;
    if (parse_spec(spec, &sync_fd, &flags, &target, &join) < 0) _exit(125);
    // posix_spawn's dup2 cleared close-on-exec: set it again, so a successful execve of the
    // container's command shows up in the parent as end-of-file on this socket.
    if (fcntl(sync_fd, F_SETFD, FD_CLOEXEC) < 0) _exit(125);
    int userns_fd = -1, netns_fd = -1;
    const char *userns = getenv("_SWCTR_NSINIT_USERNS");
    if (userns) {
        unsigned long nsfd;
        const char *end = parse_number(userns, &nsfd);
        if (!end || *end) _exit(125);
        userns_fd = (int)nsfd;
        unsetenv("_SWCTR_NSINIT_USERNS");
    }
    const char *netns = getenv("_SWCTR_NSINIT_NETNS");
    if (netns) {
        unsigned long nsfd;
        const char *end = parse_number(netns, &nsfd);
        if (!end || *end || userns_fd < 0) _exit(125);
        netns_fd = (int)nsfd;
        unsetenv("_SWCTR_NSINIT_NETNS");
    }
    enter_namespaces(flags, target, join, userns_fd, netns_fd, 0);
    unsetenv("_SWCTR_NSINIT");
}

// What swctr_nsinit_fork's child is to do, read by it from its parent's memory or a copy of it.
struct nsinit_start {
    const int *fd_targets;
    const int *fd_sources;
    int fd_count;
    int child_sync_fd;
    unsigned long flags;
    pid_t target;
    unsigned long join;
    int userns_fd;
    int netns_fd;
    void (*body)(void *);
    void *context;
    // The CPUs the parent may run on, for a child started on the parent's CPU only; else NULL.
    const cpu_set_t *restore_affinity;
    int send_namespaces;
};

// The child: what posix_spawn does for a spawned role (fd layout, signals), then the constructor's
// steps, then the role itself; it never returns.
static int nsinit_child(void *argument) {
    const struct nsinit_start *start = argument;
    if (start->restore_affinity) (void)sched_setaffinity(0, sizeof(cpu_set_t), start->restore_affinity);
    // Sources are first moved above every source and target, so no dup2 clobbers a later one.
    int high = start->child_sync_fd;
    for (int i = 0; i < start->fd_count; i++) {
        if (start->fd_sources[i] > high) high = start->fd_sources[i];
        if (start->fd_targets[i] > high) high = start->fd_targets[i];
    }
    high++;
    for (int i = 0; i < start->fd_count; i++) {
        if (dup2(start->fd_sources[i], high + i) < 0) _exit(125);
    }
    int max_target = 2;
    for (int i = 0; i < start->fd_count; i++) {
        if (dup2(high + i, start->fd_targets[i]) < 0) _exit(125);
        if (start->fd_targets[i] > max_target) max_target = start->fd_targets[i];
    }
    closefrom(max_target + 1);
    struct sigaction standard;
    memset(&standard, 0, sizeof standard);
    standard.sa_handler = SIG_DFL;
    for (int signal_number = 1; signal_number < NSIG; signal_number++) (void)sigaction(signal_number, &standard, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    sync_fd = start->child_sync_fd;
    if (fcntl(sync_fd, F_SETFD, FD_CLOEXEC) < 0) _exit(125);
    enter_namespaces(start->flags, start->target, start->join, start->userns_fd, start->netns_fd, start->send_namespaces);
    start->body(start->context);
    _exit(125);
}

// The stack of a child that shares its parent's memory; its pid 1 goes on with a copy of it, so it
// is as large as a thread's (only the pages used are ever allocated).
#define NSINIT_CHILD_STACK_SIZE (8 * 1024 * 1024)

pid_t swctr_nsinit_fork(const int *fd_targets, const int *fd_sources, int fd_count, int child_sync_fd,
                        unsigned long flags, pid_t target, unsigned long join, int userns_fd, int netns_fd,
                        int send_namespaces, void (*body)(void *), void *context) {
    struct nsinit_start start = {fd_targets, fd_sources, fd_count, child_sync_fd, flags, target, join,
                                 userns_fd, netns_fd, body, context, NULL, send_namespaces};
    // A container's init in namespaces made ahead: the first child only joins them, makes the rest
    // and clones pid 1, with no answer to wait for from this process. It shares this process's
    // memory while this process waits (CLONE_VFORK), as posix_spawn's child does: cloning it copies
    // no page tables and ending it tears none down (about 0.3 ms each for swctr's address space).
    // Pid 1 gets the copy of the memory, as it would from fork. Every other case (a user namespace
    // the child makes and this process maps, another container's namespaces) forks.
    if ((flags & CLONE_NEWPID) && userns_fd >= 0 && target <= 0) {
        void *stack = mmap(NULL, NSINIT_CHILD_STACK_SIZE, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
        if (stack != MAP_FAILED) {
            // The child is born on this CPU, which this process leaves to it at once (CLONE_VFORK).
            // Left to the scheduler, it was often queued on the other CPU behind a running
            // newgidmap while this one idled: a CPU that just went idle does not pull a task from
            // another when it has been busy lately (its average idle time is below
            // sched_migration_cost). The child puts the CPUs back before it clones pid 1.
            cpu_set_t allowed;
            int cpu = sched_getcpu();
            if (cpu >= 0 && cpu < CPU_SETSIZE && sched_getaffinity(0, sizeof allowed, &allowed) == 0 && CPU_COUNT(&allowed) > 1
                && CPU_ISSET(cpu, &allowed)) {
                cpu_set_t here;
                CPU_ZERO(&here);
                CPU_SET(cpu, &here);
                if (sched_setaffinity(0, sizeof here, &here) == 0) start.restore_affinity = &allowed;
            }
            // The child sets sync_fd (its pid 1 needs it) in this process's memory: put it back.
            int own_sync_fd = sync_fd;
            pid_t pid = clone(nsinit_child, (char *)stack + NSINIT_CHILD_STACK_SIZE, CLONE_VM | CLONE_VFORK | SIGCHLD, &start);
            int saved = errno;
            if (start.restore_affinity) (void)sched_setaffinity(0, sizeof allowed, &allowed);
            sync_fd = own_sync_fd;
            munmap(stack, NSINIT_CHILD_STACK_SIZE);
            errno = saved;
            return pid;
        }
    }
    pid_t pid = fork();
    if (pid != 0) return pid;
    return nsinit_child(&start);
}

#if defined(__x86_64__) || defined(__aarch64__)
// The holder shares its parent's memory (CLONE_VM): cloning it copies no page tables and ending it
// tears none down (each was about 0.3 ms for swctr's address space). It therefore runs on a stack
// of its own and makes raw system calls only: nothing of glibc's that writes errno or other
// thread-local state, which is its parent's.
static long holder_syscall(long number, long a, long b, long c, long d) {
    long result;
#if defined(__x86_64__)
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall" : "=a"(result) : "a"(number), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
#else
    register long x8 __asm__("x8") = number;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
    result = x0;
#endif
    return result;
}

#define HOLDER_STACK_SIZE (64 * 1024)

// At the bottom of the holder's stack mapping, written before the clone.
struct holder_start {
    long parent;
    int make_network;
    int ready[2];
    int go[2];
};

static int holder_main(void *argument) {
    const struct holder_start *start = argument;
    unsigned long all = ~0UL;
    holder_syscall(SYS_rt_sigprocmask, SIG_SETMASK, (long)&all, 0, sizeof all);
    if (holder_syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0) < 0 || holder_syscall(SYS_getppid, 0, 0, 0, 0) != start->parent)
        holder_syscall(SYS_exit, 1, 0, 0, 0);
    if (start->make_network) {
        // Made here, on whichever CPU this child runs on, while the parent goes on: a network
        // namespace costs the kernel about a millisecond (its loopback device, sysctl tables).
        // The full capabilities a new user namespace gives are enough; no map is needed.
        holder_syscall(SYS_close, start->ready[0], 0, 0, 0);
        if (start->go[0] >= 0) {
            unsigned char ignored;
            holder_syscall(SYS_close, start->go[1], 0, 0, 0);
            while (holder_syscall(SYS_read, start->go[0], (long)&ignored, 1, 0) == -EINTR) {}
            holder_syscall(SYS_close, start->go[0], 0, 0, 0);
        }
        long made = holder_syscall(SYS_unshare, CLONE_NEWNET, 0, 0, 0);
        unsigned char report = made < 0 ? (unsigned char)-made : 0;  // 0, or why not (an errno)
        if (holder_syscall(SYS_write, start->ready[1], (long)&report, 1, 0) != 1 || report) holder_syscall(SYS_exit, 1, 0, 0, 0);
        holder_syscall(SYS_close, start->ready[1], 0, 0, 0);
        // The loopback interface up (0.1 ms of kernel work), now that the namespace is reported
        // ready and the parent goes on: the container's init finds it up and leaves it. Best
        // effort: the init brings it up itself if this did not.
        long sock = holder_syscall(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0, 0);
        if (sock >= 0) {
            struct ifreq request;
            for (unsigned i = 0; i < sizeof request; i++) ((volatile char *)&request)[i] = 0;
            request.ifr_name[0] = 'l';
            request.ifr_name[1] = 'o';
            request.ifr_flags = IFF_UP | IFF_RUNNING;
            holder_syscall(SYS_ioctl, sock, SIOCSIFFLAGS, (long)&request, 0);
            holder_syscall(SYS_close, sock, 0, 0, 0);
        }
    }
    for (;;) holder_syscall(SYS_pause, 0, 0, 0, 0);
    return 0;
}

pid_t swctr_userns_holder(int make_network, int *ready_fd, void **stack) {
    return swctr_userns_holder_waiting(make_network, ready_fd, stack, NULL);
}

pid_t swctr_userns_holder_waiting(int make_network, int *ready_fd, void **stack, int *go_fd) {
    if (go_fd) *go_fd = -1;
    void *mapping = mmap(NULL, HOLDER_STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (mapping == MAP_FAILED) return -1;
    struct holder_start *start = mapping;
    start->parent = getpid();
    start->make_network = make_network;
    start->ready[0] = start->ready[1] = -1;
    start->go[0] = start->go[1] = -1;
    if (make_network && pipe2(start->ready, O_CLOEXEC) < 0) {
        munmap(mapping, HOLDER_STACK_SIZE);
        return -1;
    }
    // A socket pair rather than a pipe: its writers send with MSG_NOSIGNAL, so a holder already
    // gone costs them no SIGPIPE.
    if (make_network && go_fd && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, start->go) < 0) {
        close(start->ready[0]);
        close(start->ready[1]);
        munmap(mapping, HOLDER_STACK_SIZE);
        return -1;
    }
    // newuidmap/newgidmap open /proc/PID of the holder: its memory is this process's, dumpable.
    pid_t pid = clone(holder_main, (char *)mapping + HOLDER_STACK_SIZE, CLONE_VM | CLONE_NEWUSER | SIGCHLD, start);
    if (make_network) {
        close(start->ready[1]);
        if (pid < 0) close(start->ready[0]); else *ready_fd = start->ready[0];
    }
    if (start->go[0] >= 0) {
        close(start->go[0]);
        if (pid < 0) close(start->go[1]); else *go_fd = start->go[1];
    }
    if (pid < 0) {
        int saved = errno;
        munmap(mapping, HOLDER_STACK_SIZE);
        errno = saved;
        return -1;
    }
    *stack = mapping;
    return pid;
}

void swctr_userns_holder_release(void *stack) {
    if (stack) munmap(stack, HOLDER_STACK_SIZE);
}
#else
pid_t swctr_userns_holder(int make_network, int *ready_fd, void **stack) {
    pid_t parent = getpid();
    int ready[2] = {-1, -1};
    *stack = NULL;
    if (make_network && pipe2(ready, O_CLOEXEC) < 0) return -1;
    // A plain clone rather than fork(): the child calls nothing of glibc's that atfork handlers
    // prepare for, and is in its new user namespace from its first instruction.
    long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (pid != 0) {
        if (make_network) {
            close(ready[1]);
            if (pid < 0) close(ready[0]); else *ready_fd = ready[0];
        }
        return (pid_t)pid;
    }
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent) _exit(1);
    // newuidmap/newgidmap open /proc/PID of this process: keep it its owner's.
    (void)prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    if (make_network) {
        close(ready[0]);
        unsigned char report = unshare(CLONE_NEWNET) < 0 ? (unsigned char)errno : 0;  // 0, or why not
        if (write(ready[1], &report, 1) != 1 || report) _exit(1);
        close(ready[1]);
    }
    for (;;) pause();
}

void swctr_userns_holder_release(void *stack) { (void)stack; }

pid_t swctr_userns_holder_waiting(int make_network, int *ready_fd, void **stack, int *go_fd) {
    if (go_fd) *go_fd = -1;
    return swctr_userns_holder(make_network, ready_fd, stack);
}
#endif
