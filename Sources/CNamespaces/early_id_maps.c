// The id-map helpers of `swctr run`'s early holder, started by the constructor (see
// cnamespaces.h, swctr_start_early_id_maps). Runs in a freshly exec'd swctr before the Swift
// runtime starts, on the main thread, with no other thread yet.
#define _GNU_SOURCE
#include "cnamespaces.h"
#include "clinux.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_HEADER "swctr id-map helpers 2\n"
// The last line: what swctr worked the maps out from (IDMapPlan.currentSources), for Swift.
#define SOURCES_PREFIX "sources "
// The longest file read (larger ones are not used): 2 paths, 2 lines of at most 32 ranges and
// the sources line (a hash).
#define TEXT_LIMIT 4096
// Per helper: its path, the holder's pid, and at most 32 ranges of 3 numbers.
#define MAX_ARGUMENTS (2 + 3 * 32 + 1)

static int early_state = -1;  // -1 not tried, 0 tried and not started, 1 started
static char early_text[TEXT_LIMIT + 1];
static size_t early_length;
static struct swctr_spawn_batch *early_batch;
static int early_pipes[2][2] = {{-1, -1}, {-1, -1}};
static int early_stdin = -1;
static char early_pid_text[16];
static char *early_paths[2];
static char *early_arguments[2][MAX_ARGUMENTS];
static char *const *early_argvs[2] = {early_arguments[0], early_arguments[1]};
static char *const early_environment[] = {NULL};
// This process's end of the early holder's socket pair (swctr_userns_holder_waiting), for
// swctr_early_holder_go.
static int early_go = -1;

// The file's text, if it is this user's own (file and directory owned by the user, neither
// writable by anyone else): whoever can write it chooses programs this process runs.
static int read_remembered(const char *directory) {
    int dir = open(directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir < 0) return -1;
    struct stat info;
    int fd = -1;
    if (fstat(dir, &info) == 0 && info.st_uid == getuid() && (info.st_mode & 022) == 0)
        fd = openat(dir, SWCTR_ID_MAP_HELPERS_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    close(dir);
    if (fd < 0) return -1;
    ssize_t total = 0;
    if (fstat(fd, &info) == 0 && S_ISREG(info.st_mode) && info.st_uid == getuid() && (info.st_mode & 022) == 0
        && info.st_size <= TEXT_LIMIT) {
        ssize_t n;
        while (total < TEXT_LIMIT && (n = read(fd, early_text + total, TEXT_LIMIT - (size_t)total)) > 0) total += n;
    } else {
        total = -1;
    }
    close(fd);
    if (total <= 0) return -1;
    early_text[total] = 0;
    early_length = (size_t)total;
    return 0;
}

// A helper named in the file: an absolute path to a regular file that root owns and nobody else
// may write, as the setuid (or file-capability) newuidmap and newgidmap are.
static int trusted_helper(const char *path) {
    struct stat info;
    return path[0] == '/' && stat(path, &info) == 0 && S_ISREG(info.st_mode) && info.st_uid == 0
           && (info.st_mode & 022) == 0;
}

// Splits the text (in place, in a copy) into the two helpers' argument lists:
// header, then for each helper a line with its path and a line of space-separated numbers, then
// the sources line (not read here).
static int parse_remembered(char *text) {
    if (strncmp(text, FILE_HEADER, strlen(FILE_HEADER)) != 0) return -1;
    char *cursor = text + strlen(FILE_HEADER);
    for (int helper = 0; helper < 2; helper++) {
        char *path = cursor;
        char *end = strchr(path, '\n');
        if (!end) return -1;
        *end = 0;
        char *numbers = end + 1;
        end = strchr(numbers, '\n');
        if (!end) return -1;
        *end = 0;
        cursor = end + 1;
        if (!trusted_helper(path)) return -1;
        early_paths[helper] = path;
        int count = 0;
        early_arguments[helper][count++] = path;
        early_arguments[helper][count++] = early_pid_text;
        for (char *token = strtok(numbers, " "); token; token = strtok(NULL, " ")) {
            if (count >= MAX_ARGUMENTS - 1 || token[strspn(token, "0123456789")] != 0) return -1;
            early_arguments[helper][count++] = token;
        }
        if (count < 5 || (count - 2) % 3 != 0) return -1;
        early_arguments[helper][count] = NULL;
    }
    if (strncmp(cursor, SOURCES_PREFIX, strlen(SOURCES_PREFIX)) != 0) return -1;
    char *end = strchr(cursor, '\n');
    return end && end[1] == 0 ? 0 : -1;
}

static char early_copy[TEXT_LIMIT + 1];

void swctr_start_early_id_maps(pid_t holder, int go_fd) {
    early_state = 0;
    if (holder <= 0 || getuid() == 0) goto go;
    char directory[PATH_MAX];
    const char *runtime = getenv("XDG_RUNTIME_DIR");
    int length = runtime && runtime[0] == '/'
                     ? snprintf(directory, sizeof directory, "%s/swctr", runtime)
                     : snprintf(directory, sizeof directory, "/tmp/swctr-run-%u", (unsigned)getuid());
    if (length <= 0 || (size_t)length >= sizeof directory) goto go;
    if (read_remembered(directory) < 0) goto go;
    snprintf(early_pid_text, sizeof early_pid_text, "%d", (int)holder);
    memcpy(early_copy, early_text, early_length + 1);
    if (parse_remembered(early_copy) < 0) goto go;
    int (*pipes)[2] = early_pipes;
    early_stdin = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (early_stdin < 0 || pipe2(pipes[0], O_CLOEXEC) < 0 || pipe2(pipes[1], O_CLOEXEC) < 0) goto fail;
    const int outputs[2] = {pipes[0][1], pipes[1][1]};
    early_batch = swctr_spawn_batch_start(2, early_paths, early_argvs, early_environment, outputs, early_stdin);
    if (!early_batch) goto fail;
    early_state = 1;
    early_go = go_fd;
    return;
fail:
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            if (pipes[i][j] >= 0) {
                close(pipes[i][j]);
                pipes[i][j] = -1;
            }
    if (early_stdin >= 0) close(early_stdin);
    early_stdin = -1;
go:
    if (go_fd >= 0) close(go_fd);
}

void swctr_early_holder_go(void) {
    if (early_go < 0) return;
    const char byte = 1;
    while (send(early_go, &byte, 1, MSG_NOSIGNAL) < 0 && errno == EINTR) {}
    close(early_go);
    early_go = -1;
}

int swctr_take_early_id_maps(struct swctr_early_id_maps *maps) {
    int state = early_state;
    early_state = -1;
    memset(maps, 0, sizeof *maps);
    if (state < 0) return -1;
    maps->text = early_length > 0 ? early_text : NULL;
    maps->length = early_length;
    if (state == 0) return 0;
    maps->batch = early_batch;
    maps->paths[0] = early_paths[0];
    maps->paths[1] = early_paths[1];
    for (int i = 0; i < 2; i++) {
        maps->output_read_fds[i] = early_pipes[i][0];
        maps->output_write_fds[i] = early_pipes[i][1];
    }
    maps->stdin_fd = early_stdin;
    return 1;
}
