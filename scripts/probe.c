// probe: the test image's tool for trying what a container should not be able to do, and
// reporting each attempt as one line "<what>: ok" or "<what>: <errno name>"; and small network
// servers that print the client address they see. Built statically by make-test-images.py into
// test/probe.
#define _GNU_SOURCE
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/socket.h>
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

// A TCP echo server on 0.0.0.0:port: prints "peer ADDRESS:PORT" per connection (the address the
// container sees), echoes every byte back; ends after `count` connections (0: never).
static int tcp_echo(int port, int count) {
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (bind(listener, (struct sockaddr *)&address, sizeof address) || listen(listener, 512)) return report("tcp-listen", -1);
    printf("listening %d\n", port);
    fflush(stdout);
    signal(SIGCHLD, SIG_IGN);
    for (int served = 0; count == 0 || served < count; served++) {
        struct sockaddr_in peer;
        socklen_t length = sizeof peer;
        int client = accept(listener, (struct sockaddr *)&peer, &length);
        if (client < 0) continue;
        printf("peer %s:%d\n", inet_ntoa(peer.sin_addr), ntohs(peer.sin_port));
        fflush(stdout);
        if (fork() == 0) {
            char buffer[65536];
            ssize_t n;
            while ((n = read(client, buffer, sizeof buffer)) > 0) {
                for (ssize_t done = 0; done < n;) {
                    ssize_t w = write(client, buffer + done, (size_t)(n - done));
                    if (w <= 0) _exit(1);
                    done += w;
                }
            }
            _exit(0);
        }
        close(client);
    }
    while (wait(NULL) > 0) {}
    return 0;
}

// A UDP echo server: prints "peer ADDRESS:PORT" per datagram and sends it back.
static int udp_echo(int port, int count) {
    int sock = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (bind(sock, (struct sockaddr *)&address, sizeof address)) return report("udp-bind", -1);
    printf("listening %d\n", port);
    fflush(stdout);
    for (int served = 0; count == 0 || served < count; served++) {
        char buffer[65536];
        struct sockaddr_in peer;
        socklen_t length = sizeof peer;
        ssize_t n = recvfrom(sock, buffer, sizeof buffer, 0, (struct sockaddr *)&peer, &length);
        if (n < 0) continue;
        printf("peer %s:%d\n", inet_ntoa(peer.sin_addr), ntohs(peer.sin_port));
        fflush(stdout);
        sendto(sock, buffer, (size_t)n, 0, (struct sockaddr *)&peer, length);
    }
    return 0;
}

// Sends one UDP datagram to HOST:PORT and prints the answer ("reply TEXT") or "reply timeout".
static int udp_ask(const char *host, int port, const char *text) {
    int sock = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &address.sin_addr);
    struct timeval wait = {.tv_sec = 5};
    setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
    sendto(sock, text, strlen(text), 0, (struct sockaddr *)&address, sizeof address);
    char buffer[2048];
    ssize_t n = recv(sock, buffer, sizeof buffer - 1, 0);
    if (n < 0) { printf("reply timeout\n"); return 1; }
    buffer[n] = 0;
    printf("reply %s\n", buffer);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: probe mount|unshare-user|keyctl|ptrace-foreign|exe-attack SECONDS|all\n"
                        "       probe tcp-echo PORT [COUNT] | udp-echo PORT [COUNT] | udp-ask HOST PORT TEXT\n");
        return 2;
    }
    const char *what = argv[1];
    if (!strcmp(what, "mount")) return try_mount();
    if (!strcmp(what, "unshare-user")) return try_unshare_user();
    if (!strcmp(what, "keyctl")) return try_keyctl();
    if (!strcmp(what, "ptrace-foreign")) return try_ptrace_foreign();
    if (!strcmp(what, "exe-attack")) return try_exe_attack(argc > 2 ? atoi(argv[2]) : 10);
    if (!strcmp(what, "tcp-echo") && argc > 2) return tcp_echo(atoi(argv[2]), argc > 3 ? atoi(argv[3]) : 0);
    if (!strcmp(what, "udp-echo") && argc > 2) return udp_echo(atoi(argv[2]), argc > 3 ? atoi(argv[3]) : 0);
    if (!strcmp(what, "udp-ask") && argc > 4) return udp_ask(argv[2], atoi(argv[3]), argv[4]);
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
