// The pre-exec stage of swctr's internal roles: entering namespaces before any thread exists.
//
// A process that swctr spawns with _SWCTR_NSINIT="<fd>,<clone flags>" in its environment runs
// swctr_nsinit (a constructor, so before Swift's main and before any thread) which:
//   1. unshare(CLONE_NEWUSER), then tells the parent over <fd> (SWCTR_SYNC_USERNS_READY) and waits
//      for it to write the uid/gid maps (SWCTR_SYNC_MAPS_WRITTEN);
//   2. becomes root of the new user namespace and unshares the other namespaces in <clone flags>;
//   3. with CLONE_NEWPID, clones once (CLONE_PARENT, so swctr stays the parent) to become pid 1,
//      and the intermediate process exits; reports the final pid (SWCTR_SYNC_PID);
//   4. returns, so main() runs the role inside the namespaces.
// With "<fd>,<clone flags>,<pid>" it joins the namespaces of the running process <pid> instead of
// making new ones (steps 1-2 become one setns; 3 and 4 are the same): that is how `exec` enters.
// With "<fd>,<clone flags>,<pid>,<join flags>" it joins only <join flags> of <pid> and then makes
// the <clone flags> namespaces new: how `--network container:NAME` shares another's network.
// Any failure is reported as SWCTR_SYNC_ERROR {errno, step} and the process exits 1.
#ifndef SWCTR_CNAMESPACES_H
#define SWCTR_CNAMESPACES_H
#include <stdint.h>
#include <sys/types.h>

enum {
    SWCTR_SYNC_USERNS_READY = 1,  // child → parent: user namespace made, write the maps
    SWCTR_SYNC_MAPS_WRITTEN = 2,  // parent → child: maps written, go on (also to a container's pid 1
                                  // forked into a prepared user namespace before its maps were)
    SWCTR_SYNC_PID = 3,           // child → parent: value = the pid of the process that goes on
    SWCTR_SYNC_ERROR = 4,         // child → parent: value = errno, text = what failed
    SWCTR_SYNC_TTY = 5,           // child → parent: carries the pty master fd (SCM_RIGHTS)
    SWCTR_SYNC_EXEC_ERROR = 6,    // child → parent: value = errno of execve, text = the command
    SWCTR_SYNC_ABORT = 7,         // parent → child: give up
    SWCTR_SYNC_GO = 8,            // parent → container init: the network is up, run the command
    SWCTR_SYNC_NAMESPACE = 9,     // container init → parent: value = CLONE_NEW*, carries that namespace's fd
    SWCTR_SYNC_FUSE = 10,         // container init → parent: carries the /dev/fuse fd it mounted the rootfs with
};

struct swctr_sync_message {
    uint32_t type;
    int32_t value;
    char text[504];
};

/// The sync fd when this process was started as a namespaced role (and the constructor ran), else -1.
int swctr_nsinit_sync_fd(void);
/// Clones a child into a new user namespace that it only holds, unmapped, for its parent to map
/// (newuidmap/newgidmap on its pid) and open as /proc/PID/ns/user while it prepares the rest of a
/// container. The child blocks every signal and waits to be killed (SIGKILL, also when its parent
/// dies). With `make_network`, the child also makes a network namespace (owned by the new user
/// namespace) and then writes one byte to the pipe whose read end is stored in `*ready_fd`
/// (close-on-exec): 0 once made, else the errno of its unshare. `*stack` gets the child's own
/// stack (it may share this process's memory), to give to swctr_userns_holder_release once the
/// child has been reaped. Returns its pid, or -1 with errno set.
pid_t swctr_userns_holder(int make_network, int *ready_fd, void **stack);
/// `swctr_userns_holder` whose child, with `make_network`, makes the network namespace only once
/// it can read a byte (or end-of-file) from the socket pair whose other end is stored in `*go_fd`
/// (close-on-exec; -1 without a network or a socket): see swctr_start_early_id_maps.
pid_t swctr_userns_holder_waiting(int make_network, int *ready_fd, void **stack, int *go_fd);
void swctr_userns_holder_release(void *stack);
/// Whether swctr's arguments (without the program's name) look like a foreground `run`: a guess
/// from the raw arguments, false when anything in them asks for something else (detached,
/// --userns, another container's network, help). The constructor begins the container's
/// namespaces for such a run; Swift's EarlyRunStart asks the same.
int swctr_looks_like_foreground_run(int count, char *const *arguments);
/// swctr_looks_like_foreground_run for this process's own arguments (as the constructor got them),
/// worked out once, by the constructor.
int swctr_process_looks_like_foreground_run(void);
/// The holder (with a network namespace) that the constructor cloned for `swctr run`, if any and
/// not yet taken: its pid, as swctr_userns_holder gives one, or -1. Taken once.
pid_t swctr_take_early_holder(int *ready_fd, void **stack);

/// The file, in swctr's runtime directory ($XDG_RUNTIME_DIR/swctr, else /tmp/swctr-run-UID), in
/// which swctr remembers how newuidmap and newgidmap map its containers: a header line, then for
/// each helper a line with its path and a line with its ranges ("0 1000 1 1 100000 65536").
#define SWCTR_ID_MAP_HELPERS_FILE "id-map-helpers"

/// What the constructor did for the early holder's id maps (swctr_take_early_id_maps).
struct swctr_early_id_maps {
    /// The remembered file's text as read (NUL-terminated), or NULL.
    const char *text;
    unsigned long length;
    /// With the helpers started: the spawning batch (for swctr_spawn_batch_finish), the helpers'
    /// paths, the pipes their output goes to (the write ends to close once the batch is
    /// finished) and their stdin (/dev/null, also to close then).
    struct swctr_spawn_batch *batch;
    const char *paths[2];
    int output_read_fds[2];
    int output_write_fds[2];
    int stdin_fd;
};

/// Called by the constructor once it has cloned the early holder: starts newuidmap and newgidmap
/// on it, on a thread of their own (swctr_spawn_batch_start), as the remembered file says, if
/// that file is this user's own and names root's helpers. Swift later checks the file's text
/// against the maps it works out itself before it uses the holder. `go_fd` (this process's end of
/// the holder's socket pair from swctr_userns_holder_waiting, or -1) is closed at once when they
/// are not started; when they are, it is kept for swctr_early_holder_go, and the holder makes the
/// network namespace only then. Made while the helpers run, the namespace took a CPU from them,
/// and the scheduler left the other CPU idle rather than move a task that had just run there.
void swctr_start_early_id_maps(pid_t holder, int go_fd);
/// Lets the early holder make its network namespace now: swctr is about to wait for the maps, so
/// a CPU is free. Once; a no-op without an early holder waiting.
void swctr_early_holder_go(void);
/// Taken once: -1 if the constructor did not try (no early holder), 0 if it tried and started
/// nothing (`text` is what it read, if anything), 1 if the helpers were started.
int swctr_take_early_id_maps(struct swctr_early_id_maps *maps);
/// The same steps without an exec: forks (for an init joining prepared namespaces, clones a child
/// that shares this process's memory until it has cloned pid 1, see nsinit.c), lays the child's fds out (`fd_sources[i]` at
/// `fd_targets[i]`, all others closed), resets its signals, enters the namespaces with the sync
/// socket at `child_sync_fd` (`userns_fd` >= 0: join that user namespace instead of making one, and
/// with `netns_fd` >= 0 that network namespace too), then calls
/// `body(context)` in the process that goes on; the child never returns. For a single-threaded
/// caller only. With `send_namespaces`, the child sends its user and network namespaces
/// (SWCTR_SYNC_NAMESPACE) once it has made its namespaces, before it reports the pid.
/// Returns the child's pid (the parent's side of the handshake is unchanged), or -1.
pid_t swctr_nsinit_fork(const int *fd_targets, const int *fd_sources, int fd_count, int child_sync_fd,
                        unsigned long flags, pid_t target, unsigned long join, int userns_fd, int netns_fd,
                        int send_namespaces, void (*body)(void *), void *context);
/// The process's argc/argv as the C runtime gave them (0/NULL before the constructor ran).
int swctr_saved_argc(void);
char **swctr_saved_argv(void);
#endif
