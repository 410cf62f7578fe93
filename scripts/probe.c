// probe: the test image's tool for trying what a container should not be able to do, and
// reporting each attempt as one line "<what>: ok" or "<what>: <errno name>". Built statically
// by make-test-images.py into test/probe.
#define _GNU_SOURCE
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int report(const char *what, int result) {
    if (result == 0) printf("%s: ok\n", what);
    else printf("%s: %s\n", what, strerrorname_np(errno) ? strerrorname_np(errno) : "?");
    fflush(stdout);
    return result == 0 ? 0 : 1;
}

static int try_mount(void) {
    mkdir("/probe-mnt", 0755);
    return report("mount", mount("none", "/probe-mnt", "tmpfs", 0, NULL));
}

// In a child: a successful unshare would leave this process in an unmapped namespace.
static int try_unshare_user(void) {
    pid_t child = fork();
    if (child == 0) _exit(report("unshare-user", unshare(CLONE_NEWUSER)));
    int status = 0;
    waitpid(child, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

static int try_keyctl(void) {
    // KEYCTL_GET_KEYRING_ID (0) of the session keyring (-3), creating it (1).
    long id = syscall(SYS_keyctl, 0, -3, 1);
    return report("keyctl", id < 0 ? -1 : 0);
}

// A child that turns into another user, then an attach to it: needs CAP_SYS_PTRACE.
static int try_ptrace_foreign(void) {
    int ready[2];
    if (pipe(ready) < 0) return report("pipe", -1);
    pid_t child = fork();
    if (child == 0) {
        if (setresgid(1, 1, 1) < 0 || setresuid(1, 1, 1) < 0) _exit(2);
        close(ready[0]);
        if (write(ready[1], "x", 1) < 0) _exit(3);
        pause();
        _exit(0);
    }
    close(ready[1]);
    char byte;
    if (read(ready[0], &byte, 1) != 1) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        printf("ptrace-foreign: child could not change user\n");
        return 1;
    }
    long result = ptrace(PTRACE_ATTACH, child, 0, 0);
    int code = report("ptrace-foreign", result < 0 ? -1 : 0);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    return code;
}

// The runc CVE-2019-5736 pattern: catch a process whose exe is not ours, hold /proc/PID/exe,
// and once it is gone try to open it for writing through the held descriptor.
static int try_exe_attack(int seconds) {
    char self[64];
    snprintf(self, sizeof self, "%d", getpid());
    time_t end = time(NULL) + seconds;
    int held = -1;
    char heldPid[32] = "";
    while (held < 0 && time(NULL) < end) {
        DIR *proc = opendir("/proc");
        struct dirent *entry;
        while (proc && (entry = readdir(proc))) {
            if (entry->d_name[0] < '0' || entry->d_name[0] > '9' || strcmp(entry->d_name, self) == 0) continue;
            char path[300], target[300];
            snprintf(path, sizeof path, "/proc/%s/exe", entry->d_name);
            ssize_t n = readlink(path, target, sizeof target - 1);
            if (n <= 0) continue;
            target[n] = 0;
            if (strstr(target, "swctr") == NULL && strstr(target, "memfd") == NULL) continue;
            held = open(path, O_PATH);
            if (held >= 0) {
                snprintf(heldPid, sizeof heldPid, "%s", entry->d_name);
                printf("exe-attack: holding %s (%s)\n", path, target);
                break;
            }
        }
        if (proc) closedir(proc);
    }
    if (held < 0) {
        printf("exe-attack: no swctr process seen\n");
        return 1;
    }
    char through[64];
    snprintf(through, sizeof through, "/proc/self/fd/%d", held);
    int written = -1;
    while (time(NULL) < end) {
        int fd = open(through, O_WRONLY);
        if (fd >= 0) {
            written = (int)write(fd, "#!/bin/sh\necho overwritten by a container\n", 43);
            close(fd);
            break;
        }
        if (errno != ETXTBSY) break;
        usleep(1000);
    }
    return report("exe-attack-write", written > 0 ? 0 : -1);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: probe mount|unshare-user|keyctl|ptrace-foreign|exe-attack SECONDS|all\n");
        return 2;
    }
    const char *what = argv[1];
    if (!strcmp(what, "mount")) return try_mount();
    if (!strcmp(what, "unshare-user")) return try_unshare_user();
    if (!strcmp(what, "keyctl")) return try_keyctl();
    if (!strcmp(what, "ptrace-foreign")) return try_ptrace_foreign();
    if (!strcmp(what, "exe-attack")) return try_exe_attack(argc > 2 ? atoi(argv[2]) : 10);
    if (!strcmp(what, "all")) {
        try_mount();
        try_unshare_user();
        try_keyctl();
        try_ptrace_foreign();
        return 0;
    }
    fprintf(stderr, "probe: unknown check %s\n", what);
    return 2;
}
