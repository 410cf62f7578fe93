#define _GNU_SOURCE
#include "clinux.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <linux/filter.h>
#include <linux/fs.h>
#include <net/if.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/sendfile.h>
#include <sys/xattr.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int swctr_pipe2(int fds[2], int flags) { return pipe2(fds, flags); }
ssize_t swctr_getrandom(void *buffer, size_t length) { return getrandom(buffer, length, 0); }

int swctr_fsetxattr(int fd, const char *name, const void *value, size_t size) { return fsetxattr(fd, name, value, size, 0); }

int swctr_pty_unlock_and_number(int master) {
    int unlock = 0;
    unsigned int number = 0;
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0) return -1;
    if (ioctl(master, TIOCGPTN, &number) < 0) return -1;
    return (int)number;
}

int swctr_pivot_root(const char *new_root, const char *put_old) {
    return (int)syscall(SYS_pivot_root, new_root, put_old);
}

int swctr_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = flags;
    how.mode = mode;
    how.resolve = resolve;
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

int swctr_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

int swctr_pidfd_send_signal(int pidfd, int sig) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

int swctr_ioctl_ptr(int fd, unsigned long request, void *arg) { return ioctl(fd, request, arg); }
int swctr_ioctl_int(int fd, unsigned long request, int arg) { return ioctl(fd, request, arg); }
int swctr_prctl(int option, unsigned long arg2) { return prctl(option, arg2, 0, 0, 0); }

int swctr_mknodat(int dirfd, const char *path, mode_t mode, unsigned int major, unsigned int minor) {
    return mknodat(dirfd, path, mode, makedev(major, minor));
}

int swctr_send_fd(int sock, int fd, const void *data, size_t len) {
    struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
    char control[CMSG_SPACE(sizeof(int))];
    memset(control, 0, sizeof control);
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
    ssize_t n;
    do { n = sendmsg(sock, &msg, MSG_NOSIGNAL); } while (n < 0 && errno == EINTR);
    return n < 0 ? -1 : (int)n;
}

int swctr_recv_fd(int sock, void *data, size_t len, int *received_fd) {
    struct iovec iov = {.iov_base = data, .iov_len = len};
    char control[CMSG_SPACE(sizeof(int))];
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    *received_fd = -1;
    ssize_t n;
    do { n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC); } while (n < 0 && errno == EINTR);
    if (n < 0) return -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) memcpy(received_fd, CMSG_DATA(c), sizeof(int));
    }
    return (int)n;
}

static void fill_set(sigset_t *set, const int *signals, int count) {
    sigemptyset(set);
    for (int i = 0; i < count; i++) sigaddset(set, signals[i]);
}

void swctr_reset_reserved_signals(void) {
    // The kernel's struct sigaction; all zero is SIG_DFL with no flags and an empty mask.
    struct { void *handler; unsigned long flags; void *restorer; unsigned long mask; } standard;
    memset(&standard, 0, sizeof standard);
    for (int number = 32; number < SIGRTMIN; number++) (void)syscall(SYS_rt_sigaction, number, &standard, NULL, sizeof standard.mask);
}

int swctr_sigmask(int how, const int *signals, int count) {
    sigset_t set;
    fill_set(&set, signals, count);
    return pthread_sigmask(how, &set, NULL) == 0 ? 0 : -1;
}

int swctr_signalfd(const int *signals, int count) {
    sigset_t set;
    fill_set(&set, signals, count);
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

int swctr_read_signal(int fd) {
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof info);
    return n == (ssize_t)sizeof info ? (int)info.ssi_signo : -1;
}

int swctr_wifexited(int status) { return WIFEXITED(status); }
int swctr_wexitstatus(int status) { return WEXITSTATUS(status); }
int swctr_wifsignaled(int status) { return WIFSIGNALED(status); }
int swctr_wtermsig(int status) { return WTERMSIG(status); }

int swctr_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[],
                const int *fd_targets, const int *fd_sources, int fd_count, int new_session) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    int rc = posix_spawn_file_actions_init(&actions);
    if (rc) { errno = rc; return -1; }
    posix_spawnattr_init(&attr);
    // Sources are first moved above every target so that a dup2 never clobbers a later source.
    int high = 100;
    for (int i = 0; i < fd_count; i++) posix_spawn_file_actions_adddup2(&actions, fd_sources[i], high + i);
    for (int i = 0; i < fd_count; i++) posix_spawn_file_actions_adddup2(&actions, high + i, fd_targets[i]);
    int max_target = 2;
    for (int i = 0; i < fd_count; i++) if (fd_targets[i] > max_target) max_target = fd_targets[i];
    posix_spawn_file_actions_addclosefrom_np(&actions, max_target + 1);
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
    if (new_session) flags |= POSIX_SPAWN_SETSID;
    posix_spawnattr_setflags(&attr, flags);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setsigmask(&attr, &none);
    rc = posix_spawn(pid, path, &actions, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc) { errno = rc; return -1; }
    return 0;
}

struct swctr_spawn_batch {
    pthread_t thread;
    int count;
    char *const *paths;
    char *const *const *argvs;
    char *const *envp;
    int stdin_fd;
    int failure;
    int threaded;
    struct { int output_fd; pid_t pid; } programs[];
};

static void *spawn_batch_run(void *argument) {
    struct swctr_spawn_batch *batch = argument;
    for (int i = 0; i < batch->count; i++) {
        const int targets[3] = {0, 1, 2};
        const int output = batch->programs[i].output_fd;
        const int sources[3] = {batch->stdin_fd, output, output};
        if (swctr_spawn(&batch->programs[i].pid, batch->paths[i], batch->argvs[i], batch->envp, targets, sources, 3, 0) < 0) {
            batch->programs[i].pid = 0;
            batch->failure = errno;
            break;
        }
    }
    return NULL;
}

struct swctr_spawn_batch *swctr_spawn_batch_start(int count, char *const *paths, char *const *const *argvs,
                                                  char *const envp[], const int *output_fds, int stdin_fd) {
    struct swctr_spawn_batch *batch = calloc(1, sizeof *batch + (size_t)count * sizeof batch->programs[0]);
    if (!batch) return NULL;
    batch->count = count;
    batch->paths = paths;
    batch->argvs = argvs;
    batch->envp = envp;
    for (int i = 0; i < count; i++) batch->programs[i].output_fd = output_fds[i];
    batch->stdin_fd = stdin_fd;
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    // posix_spawn runs the child on a stack of its own: this thread needs little.
    pthread_attr_setstacksize(&attributes, 64 * 1024);
    // The thread starts with the signal mask of its creator: all blocked, so every signal stays
    // the main thread's.
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    batch->threaded = pthread_create(&batch->thread, &attributes, spawn_batch_run, batch) == 0;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    pthread_attr_destroy(&attributes);
    // No thread to be had: spawned here, as posix_spawn alone would.
    if (!batch->threaded) spawn_batch_run(batch);
    return batch;
}

int swctr_spawn_batch_finish(struct swctr_spawn_batch *batch, pid_t *pids) {
    if (batch->threaded) pthread_join(batch->thread, NULL);
    for (int i = 0; i < batch->count; i++) pids[i] = batch->programs[i].pid;
    int failure = batch->failure;
    free(batch);
    return failure;
}

int swctr_ofd_lock(int fd, int exclusive, int wait) {
    struct flock lock;
    memset(&lock, 0, sizeof lock);
    lock.l_type = exclusive ? F_WRLCK : F_RDLCK;
    lock.l_whence = SEEK_SET;
    return fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &lock);
}

int swctr_ofd_is_locked(int fd) {
    struct flock lock;
    memset(&lock, 0, sizeof lock);
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    if (fcntl(fd, F_OFD_GETLK, &lock) < 0) return -1;
    return lock.l_type != F_UNLCK;
}

int swctr_set_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }

int swctr_waitid_pidfd(int pidfd, int *status, int nowait, int nohang) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    int options = WEXITED | (nowait ? WNOWAIT : 0) | (nohang ? WNOHANG : 0);
    if (waitid((idtype_t)3 /* P_PIDFD */, (id_t)pidfd, &info, options) < 0) return -1;
    if (info.si_pid == 0) return 0;
    // Rebuild a wait status so the usual macros apply.
    if (info.si_code == CLD_EXITED) *status = (info.si_status & 0xff) << 8;
    else *status = info.si_status & 0x7f;
    return info.si_pid;
}

#include <sys/un.h>

static int fill_unix_address(struct sockaddr_un *address, const char *path) {
    memset(address, 0, sizeof *address);
    address->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof address->sun_path) { errno = ENAMETOOLONG; return -1; }
    strcpy(address->sun_path, path);
    return 0;
}

int swctr_unix_listen(const char *path) {
    struct sockaddr_un address;
    if (fill_unix_address(&address, path) < 0) return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    unlink(path);
    if (bind(fd, (struct sockaddr *)&address, sizeof address) < 0 || listen(fd, 16) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int swctr_unix_connect(const char *path) {
    struct sockaddr_un address;
    if (fill_unix_address(&address, path) < 0) return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&address, sizeof address) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

ssize_t swctr_copy_file_range(int from, int to, size_t length) {
    return copy_file_range(from, NULL, to, NULL, length, 0);
}

int swctr_memfd_create(const char *name, unsigned int flags) { return memfd_create(name, flags); }

int swctr_gettid(void) { return (int)gettid(); }

int swctr_seal_all(int fd) {
    return fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
}

ssize_t swctr_sendfile(int to, int from, size_t length) { return sendfile(to, from, NULL, length); }

int swctr_seccomp_set_filter(const void *program, size_t instructions) {
    struct sock_fprog prog = { .len = (unsigned short)instructions, .filter = (struct sock_filter *)program };
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

int swctr_loopback_up(void) {
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) return -1;
    struct ifreq request;
    memset(&request, 0, sizeof request);
    strcpy(request.ifr_name, "lo");
    int result = ioctl(sock, SIOCGIFFLAGS, &request);
    if (result == 0 && !(request.ifr_flags & IFF_UP)) {
        request.ifr_flags |= IFF_UP | IFF_RUNNING;
        result = ioctl(sock, SIOCSIFFLAGS, &request);
    }
    int saved = errno;
    close(sock);
    errno = saved;
    return result;
}

int swctr_set_topdir(int fd) {
    int flags = 0;
    if (ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) return -1;
    if (flags & FS_TOPDIR_FL) return 0;
    flags |= FS_TOPDIR_FL;
    return ioctl(fd, FS_IOC_SETFLAGS, &flags);
}

#include <sys/vfs.h>

long long swctr_filesystem_type(const char *path) {
    struct statfs info;
    if (statfs(path, &info) != 0) return -1;
    return (long long)(unsigned long)info.f_type;
}

long swctr_xattr_size(const char *path, const char *name) { return (long)getxattr(path, name, NULL, 0); }

long swctr_drop_overlay_xattrs(const char *path) {
    char names[4096];
    ssize_t size = llistxattr(path, names, sizeof names);
    if (size < 0) return -1;
    long others = 0;
    for (char *name = names; name < names + size; name += strlen(name) + 1) {
        if (strncmp(name, "user.overlay.", 13) == 0) {
            if (lremovexattr(path, name) != 0) return -1;
        } else {
            others++;
        }
    }
    return others;
}

int swctr_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags) {
    return renameat2(olddirfd, oldpath, newdirfd, newpath, flags);
}

ssize_t swctr_copy_file_range_at(int from, long long *from_offset, int to, long long *to_offset, size_t length) {
    off_t in = (off_t)*from_offset, out = (off_t)*to_offset;
    ssize_t n = copy_file_range(from, &in, to, &out, length, 0);
    *from_offset = in;
    *to_offset = out;
    return n;
}

int swctr_fallocate(int fd, int mode, long long offset, long long length) {
    return fallocate(fd, mode, (off_t)offset, (off_t)length);
}

// The last process to use an address space tears its page tables down as it exits, before its
// parent is told. A child that shares the address space (CLONE_VM, with its own copy of the
// descriptor table) and exits only once the caller is gone takes that work off the path of
// whoever waits for the caller: it waits for the end of a pipe whose write end the caller holds,
// and the caller's exit closes that end after it has let go of the address space. Every other
// descriptor is closed before the child is cloned, so that no copy of one (a pipe a shell reads
// to its end, a listening socket, a lock) outlives the caller in the child.
static char swctr_teardown_stack[4096] __attribute__((aligned(16)));

static int swctr_teardown_child(void *pipe_ends) {
    const int *fds = pipe_ends;
    char byte;
    syscall(SYS_close, fds[1]);
    while (syscall(SYS_read, fds[0], &byte, 1) < 0 && errno == EINTR) {}
    syscall(SYS_exit, 0);
    return 0;
}

void swctr_exit_leaving_teardown(int status) {
    static int fds[2];
    sigset_t all;
    fflush(NULL);
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, NULL);
    if (pipe2(fds, O_CLOEXEC) == 0) {
        int low = fds[0] < fds[1] ? fds[0] : fds[1], high = fds[0] < fds[1] ? fds[1] : fds[0];
        if (low > 0) syscall(SYS_close_range, 0U, (unsigned)low - 1, 0U);
        if (high > low + 1) syscall(SYS_close_range, (unsigned)low + 1, (unsigned)high - 1, 0U);
        syscall(SYS_close_range, (unsigned)high + 1, ~0U, 0U);
        if (clone(swctr_teardown_child, swctr_teardown_stack + sizeof swctr_teardown_stack,
                  CLONE_VM | CLONE_UNTRACED, fds) > 0)
            close(fds[0]);
    }
    _exit(status);
}

int swctr_detach_into_background(void) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid > 0) swctr_exit_leaving_teardown(0);
    (void)setsid();
    (void)chdir("/");
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        for (int target = 0; target <= 2; target++) dup2(null, target);
        if (null > 2) close(null);
    }
    return 0;
}
