// Typed wrappers for Linux calls that Swift cannot reach directly: variadic functions (ioctl,
// prctl, syscall) and syscalls glibc does not wrap (pivot_root, openat2). No logic beyond the call.
#ifndef SWCTR_CLINUX_H
#define SWCTR_CLINUX_H
#include <stdint.h>
#include <sys/types.h>
#include <signal.h>

int swctr_pipe2(int fds[2], int flags);
/// Sets IFF_UP on "lo" in this process's network namespace: 0, or -1/errno.
int swctr_loopback_up(void);
ssize_t swctr_copy_file_range(int from, int to, size_t length);
// renameat2(2) (RENAME_NOREPLACE 1, RENAME_EXCHANGE 2, RENAME_WHITEOUT 4).
int swctr_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags);
// copy_file_range(2) between explicit offsets, which it advances.
ssize_t swctr_copy_file_range_at(int from, long long *from_offset, int to, long long *to_offset, size_t length);
int swctr_fallocate(int fd, int mode, long long offset, long long length);
int swctr_memfd_create(const char *name, unsigned int flags);
// The calling thread's id in the kernel.
int swctr_gettid(void);
/// Adds every write-preventing seal (and F_SEAL_SEAL) to a memfd.
int swctr_seal_all(int fd);
ssize_t swctr_sendfile(int to, int from, size_t length);
/// Installs a classic BPF seccomp program (8-byte instructions): 0, or -1/errno.
int swctr_seccomp_set_filter(const void *program, size_t instructions);
ssize_t swctr_getrandom(void *buffer, size_t length);
int swctr_fsetxattr(int fd, const char *name, const void *value, size_t size);
/// Unlocks a pty master and returns its number, or -1.
int swctr_pty_unlock_and_number(int master);
int swctr_pivot_root(const char *new_root, const char *put_old);
/// openat2(2) with RESOLVE_* flags; returns fd or -1/errno.
int swctr_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve);
int swctr_pidfd_open(pid_t pid);
int swctr_pidfd_send_signal(int pidfd, int sig);
int swctr_ioctl_ptr(int fd, unsigned long request, void *arg);
int swctr_ioctl_int(int fd, unsigned long request, int arg);
int swctr_prctl(int option, unsigned long arg2);
int swctr_mknodat(int dirfd, const char *path, mode_t mode, unsigned int major, unsigned int minor);
int swctr_send_fd(int sock, int fd, const void *data, size_t len);
int swctr_recv_fd(int sock, void *data, size_t len, int *received_fd);
/// Sets the calling thread's signal mask; how is SIG_BLOCK/SIG_UNBLOCK/SIG_SETMASK.
/// Sets the signals glibc keeps for itself (32 up to SIGRTMIN, which sigaction refuses to touch)
/// back to SIG_DFL with the raw system call, so an ignored one does not pass through execve.
void swctr_reset_reserved_signals(void);
int swctr_sigmask(int how, const int *signals, int count);
int swctr_signalfd(const int *signals, int count);
/// Reads one signal from a signalfd: its number, or -1 when none is pending.
int swctr_read_signal(int fd);
int swctr_wifexited(int status);
int swctr_wexitstatus(int status);
int swctr_wifsignaled(int status);
int swctr_wtermsig(int status);
/// posix_spawn with the fd layout given as (target <- source) pairs, every other fd >= 3 closed,
/// default signal dispositions, an empty signal mask, optionally a new session.
int swctr_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[],
                const int *fd_targets, const int *fd_sources, int fd_count, int new_session);

/// Programs being spawned by a thread of their own (`swctr_spawn_batch_start`).
struct swctr_spawn_batch;

/// Starts a thread that spawns `count` programs one after another, each as `swctr_spawn` would
/// with stdin from `stdin_fd` and stdout and stderr to `output_fds[i]`: posix_spawn keeps its
/// caller waiting until the program has been exec'd, which for a setuid helper is about half a
/// millisecond the caller can spend on other work. The thread has every signal blocked; where no
/// thread can be started, the programs are spawned before this returns. `paths`, `argvs` and
/// `envp` must stay valid until `swctr_spawn_batch_finish` (`output_fds` is copied). NULL (errno
/// set) only when no memory could be had.
struct swctr_spawn_batch *swctr_spawn_batch_start(int count, char *const *paths, char *const *const *argvs,
                                                  char *const envp[], const int *output_fds, int stdin_fd);

/// Waits for the thread and frees the batch: `pids[i]` is each program's pid, or 0 when it was not
/// started. Returns 0, or the error number of the first spawn that failed (later ones were not
/// tried).
int swctr_spawn_batch_finish(struct swctr_spawn_batch *batch, pid_t *pids);

/// Open-file-description locks (F_OFD_*): held by the open file, inherited by children that get the fd.
/// Returns 0, or -1/errno (EAGAIN when another holder has it and wait is 0).
int swctr_ofd_lock(int fd, int exclusive, int wait);
/// 1 when some other open file description holds a lock on the file, 0 when none, -1/errno.
int swctr_ofd_is_locked(int fd);
int swctr_set_child_subreaper(void);
__attribute__((noreturn)) void swctr_exit_leaving_teardown(int status);
/// Goes on in a forked child, in a session of its own, in /, with stdio on /dev/null, and returns 0
/// there; the parent exits at once with status 0 (as swctr_exit_leaving_teardown). Returns -1
/// (errno set) where no child could be forked. What daemon(3) does, minus the parent's wait for
/// the teardown of its memory.
int swctr_detach_into_background(void);
/// waitid(P_PIDFD): the pid when it ended (status as waitpid would give), 0 with nohang and still
/// running, -1/errno. With nowait the child stays waitable.
int swctr_waitid_pidfd(int pidfd, int *status, int nowait, int nohang);

/// A listening unix stream socket (non-blocking, close-on-exec) at path, replacing a stale one.
int swctr_unix_listen(const char *path);
/// A connected unix stream socket (close-on-exec).
int swctr_unix_connect(const char *path);

#define SWCTR_RESOLVE_NO_XDEV 0x01
#define SWCTR_RESOLVE_NO_MAGICLINKS 0x02
#define SWCTR_RESOLVE_NO_SYMLINKS 0x04
#define SWCTR_RESOLVE_BENEATH 0x08
#define SWCTR_RESOLVE_IN_ROOT 0x10
/// Marks a directory as the top of a hierarchy (FS_TOPDIR_FL): ext4 then places each new
/// subdirectory in a block group of its own choosing (Orlov) instead of its parent's. 0, or -1
/// with errno (ENOTTY/EOPNOTSUPP where the filesystem has no such flag).
int swctr_set_topdir(int fd);

/// The filesystem `path` is on (statfs f_type, the *_MAGIC numbers of linux/magic.h), or -1 with errno.
long long swctr_filesystem_type(const char *path);

/// The size of extended attribute `name` of `path` (following symlinks), or -1 with errno.
long swctr_xattr_size(const char *path, const char *name);

/// Removes the overlay's own attributes (`user.overlay.*`, such as the `uuid` a 6.6+ kernel keeps
/// on the root of an upper directory) of `path` itself (not following a symlink); returns how many
/// other extended attributes it has, or -1 with errno.
long swctr_drop_overlay_xattrs(const char *path);

#endif
