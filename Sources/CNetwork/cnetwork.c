#define _GNU_SOURCE
#include "cnetwork.h"
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <net/route.h>
#include <linux/if_tun.h>
#include <linux/fib_rules.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

// The mark and routing table that send a connector socket's replies back to it (see docs/network.md).
#define SWCTR_CONNECT_MARK 0x5377
#define SWCTR_CONNECT_TABLE 0x5377

// ---------------------------------------------------------------- passing fds

static int send_with_fd(int sock, const void *data, size_t length, int fd) {
    struct iovec iov = {.iov_base = (void *)data, .iov_len = length};
    union { char buffer[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } control;
    struct msghdr message = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fd >= 0) {
        memset(&control, 0, sizeof control);
        message.msg_control = control.buffer;
        message.msg_controllen = sizeof control.buffer;
        struct cmsghdr *header = CMSG_FIRSTHDR(&message);
        header->cmsg_level = SOL_SOCKET;
        header->cmsg_type = SCM_RIGHTS;
        header->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(header), &fd, sizeof(int));
    }
    ssize_t n;
    do { n = sendmsg(sock, &message, MSG_NOSIGNAL); } while (n < 0 && errno == EINTR);
    return n < 0 ? -1 : 0;
}

static ssize_t receive_with_fd(int sock, void *data, size_t length, int *fd) {
    struct iovec iov = {.iov_base = data, .iov_len = length};
    union { char buffer[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } control;
    struct msghdr message = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buffer,
                             .msg_controllen = sizeof control.buffer};
    *fd = -1;
    ssize_t n;
    do { n = recvmsg(sock, &message, MSG_CMSG_CLOEXEC); } while (n < 0 && errno == EINTR);
    if (n <= 0) return n;
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&message); h; h = CMSG_NXTHDR(&message, h)) {
        if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) memcpy(fd, CMSG_DATA(h), sizeof(int));
    }
    return n;
}

// ---------------------------------------------------------------- entering the namespaces

struct child_report { int error; char step[120]; };

static void report_failure(int sock, const char *step) {
    struct child_report report = {.error = errno};
    snprintf(report.step, sizeof report.step, "%s", step);
    send_with_fd(sock, &report, sizeof report, -1);
    _exit(1);
}

static void enter_namespaces(int sock, int user_ns, int net_ns) {
    if (setns(user_ns, CLONE_NEWUSER) != 0) report_failure(sock, "join the container's user namespace");
    if (setns(net_ns, CLONE_NEWNET) != 0) report_failure(sock, "join the container's network namespace");
}

struct inside_start {
    int pair[2];
    int user_ns, net_ns;
    void (*body)(int, const void *);
    const void *argument;
};

// The child of fork_inside: into the namespaces, then `body`.
static int run_inside(void *start_argument) {
    const struct inside_start *start = start_argument;
    int sock = start->pair[1];
    close(start->pair[0]);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    enter_namespaces(sock, start->user_ns, start->net_ns);
    // Hold nothing of the helper's: not its listeners, the TAP, nor its ready pipe.
    if (sock > 3) syscall(SYS_close_range, 3, sock - 1, 0);
    syscall(SYS_close_range, sock + 1, ~0U, 0);
    start->body(sock, start->argument);
    _exit(0);
}

#define INSIDE_STACK_SIZE (64 * 1024)

/// Starts a child that runs `body(sock, argument)` inside the namespaces; returns the
/// parent's end of the socket pair. With `brief`, the child is one that ends once it has
/// answered (the TAP's maker): it shares this process's memory and this process waits for its
/// end (CLONE_VM | CLONE_VFORK, as posix_spawn's child), so no page table is copied for it
/// and none torn down after it, and only system calls run in it. Otherwise (the connector,
/// which stays) it is forked.
static int fork_inside(int user_ns, int net_ns, pid_t *child, int type, void (*body)(int, const void *), const void *argument,
                       int brief, char *error, size_t error_size) {
    struct inside_start start = {.user_ns = user_ns, .net_ns = net_ns, .body = body, .argument = argument};
    if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, start.pair) != 0) {
        snprintf(error, error_size, "socketpair");
        return -1;
    }
    pid_t started = -1;
    if (brief) {
        void *stack = mmap(NULL, INSIDE_STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (stack != MAP_FAILED) {
            started = clone(run_inside, (char *)stack + INSIDE_STACK_SIZE, CLONE_VM | CLONE_VFORK | SIGCHLD, &start);
            int saved = errno;
            munmap(stack, INSIDE_STACK_SIZE);
            errno = saved;
        }
    } else {
        started = fork();
        if (started == 0) run_inside(&start);
    }
    if (started < 0) {
        snprintf(error, error_size, brief ? "clone" : "fork");
        close(start.pair[0]); close(start.pair[1]);
        return -1;
    }
    close(start.pair[1]);
    *child = started;
    return start.pair[0];
}

// ---------------------------------------------------------------- the TAP device

static int set_flags_up(int sock, const char *name) {
    struct ifreq request = {0};
    snprintf(request.ifr_name, IFNAMSIZ, "%s", name);
    if (ioctl(sock, SIOCGIFFLAGS, &request) != 0) return -1;
    request.ifr_flags |= IFF_UP | IFF_RUNNING;
    return ioctl(sock, SIOCSIFFLAGS, &request);
}

static int write_text(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n < 0 ? -1 : 0;
}

static void make_tap(int sock, const void *argument) {
    const struct swctr_tap_config *config = argument;
    int inet = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (inet < 0) report_failure(sock, "socket(AF_INET) in the container");
    if (set_flags_up(inet, "lo") != 0) report_failure(sock, "bring up lo");

    int tap = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (tap < 0) report_failure(sock, "open /dev/net/tun");
    struct ifreq request = {0};
    snprintf(request.ifr_name, IFNAMSIZ, "%s", config->name);
    request.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (ioctl(tap, TUNSETIFF, &request) != 0) report_failure(sock, "create the TAP device (TUNSETIFF)");
    // Persistent, so that it goes with the container's network namespace, in the kernel's own
    // clean-up work once the last process in it is gone, and not when the helper closes it: a
    // TAP device that closing unregisters waits in close() for RCU (synchronize_rcu_expedited
    // several times, then rcu_barrier), 12-18 ms here, which the helper's exit, and so
    // `swctr run`'s, paid. No reference of the device keeps the namespace alive; where the
    // flag cannot be set, the device goes as before.
    (void)ioctl(tap, TUNSETPERSIST, 1);

    memset(&request, 0, sizeof request);
    snprintf(request.ifr_name, IFNAMSIZ, "%s", config->name);
    request.ifr_hwaddr.sa_family = ARPHRD_ETHER;
    memcpy(request.ifr_hwaddr.sa_data, config->mac, 6);
    if (ioctl(inet, SIOCSIFHWADDR, &request) != 0) report_failure(sock, "set the TAP device's hardware address");

    memset(&request, 0, sizeof request);
    snprintf(request.ifr_name, IFNAMSIZ, "%s", config->name);
    request.ifr_mtu = config->mtu;
    if (ioctl(inet, SIOCSIFMTU, &request) != 0) report_failure(sock, "set the TAP device's MTU");

    struct sockaddr_in *address = (struct sockaddr_in *)&request.ifr_addr;
    memset(&request.ifr_addr, 0, sizeof request.ifr_addr);
    address->sin_family = AF_INET;
    address->sin_addr = config->address;
    if (ioctl(inet, SIOCSIFADDR, &request) != 0) report_failure(sock, "set the TAP device's address");
    address->sin_addr = config->netmask;
    if (ioctl(inet, SIOCSIFNETMASK, &request) != 0) report_failure(sock, "set the TAP device's netmask");

    if (config->ipv6) {
        // A fixed address: no duplicate detection (nothing else is on this link), no router
        // solicitation delay.
        char path[128];
        snprintf(path, sizeof path, "/proc/sys/net/ipv6/conf/%s/accept_dad", config->name);
        write_text(path, "0");
        snprintf(path, sizeof path, "/proc/sys/net/ipv6/conf/%s/accept_ra", config->name);
        write_text(path, "0");
    }
    if (set_flags_up(inet, config->name) != 0) report_failure(sock, "bring up the TAP device");

    struct rtentry route = {0};
    struct sockaddr_in *destination = (struct sockaddr_in *)&route.rt_dst;
    struct sockaddr_in *gateway = (struct sockaddr_in *)&route.rt_gateway;
    struct sockaddr_in *mask = (struct sockaddr_in *)&route.rt_genmask;
    destination->sin_family = AF_INET;
    mask->sin_family = AF_INET;
    gateway->sin_family = AF_INET;
    gateway->sin_addr = config->gateway;
    route.rt_flags = RTF_UP | RTF_GATEWAY;
    route.rt_dev = (char *)config->name;
    if (ioctl(inet, SIOCADDRT, &route) != 0) report_failure(sock, "add the default route");

    if (config->ipv6) {
        int inet6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (inet6 < 0) report_failure(sock, "socket(AF_INET6) in the container");
        // The kernel's struct in6_ifreq (linux/ipv6.h clashes with netinet/in.h).
        struct { struct in6_addr ifr6_addr; uint32_t ifr6_prefixlen; int ifr6_ifindex; } request6 = {0};
        request6.ifr6_addr = config->address6;
        request6.ifr6_prefixlen = (uint32_t)config->prefix6;
        request6.ifr6_ifindex = (int)if_nametoindex(config->name);
        if (ioctl(inet6, SIOCSIFADDR, &request6) != 0) report_failure(sock, "set the TAP device's IPv6 address");
        struct in6_rtmsg route6 = {0};
        route6.rtmsg_gateway = config->gateway6;
        route6.rtmsg_flags = RTF_UP | RTF_GATEWAY;
        route6.rtmsg_metric = 1;
        route6.rtmsg_ifindex = request6.ifr6_ifindex;
        if (ioctl(inet6, SIOCADDRT, &route6) != 0) report_failure(sock, "add the IPv6 default route");
        close(inet6);
    }
    close(inet);

    struct child_report done = {0};
    if (send_with_fd(sock, &done, sizeof done, tap) != 0) report_failure(sock, "send the TAP fd");
    _exit(0);
}

static int wait_for_child(pid_t child) {
    int status;
    while (waitpid(child, &status, 0) < 0) {
        if (errno != EINTR) return -1;
    }
    return status;
}

int swctr_net_open_tap(int user_ns, int net_ns, const struct swctr_tap_config *config, char *error, size_t error_size) {
    pid_t child;
    int sock = fork_inside(user_ns, net_ns, &child, SOCK_SEQPACKET, make_tap, config, 1, error, error_size);
    if (sock < 0) return -1;
    struct child_report report = {0};
    int tap = -1;
    ssize_t n = receive_with_fd(sock, &report, sizeof report, &tap);
    int saved = errno;
    close(sock);
    wait_for_child(child);
    if (n != (ssize_t)sizeof report) {
        snprintf(error, error_size, "the network setup child ended without an answer");
        errno = n < 0 ? saved : EPROTO;
        return -1;
    }
    if (report.error != 0 || tap < 0) {
        snprintf(error, error_size, "%s", report.step);
        errno = report.error ? report.error : EPROTO;
        if (tap >= 0) close(tap);
        return -1;
    }
    return tap;
}

// ---------------------------------------------------------------- the connector

static int add_attribute(struct nlmsghdr *header, size_t capacity, unsigned short type, const void *data, size_t length) {
    size_t at = NLMSG_ALIGN(header->nlmsg_len);
    size_t size = RTA_LENGTH(length);
    if (at + RTA_ALIGN(size) > capacity) return -1;
    struct rtattr *attribute = (struct rtattr *)((char *)header + at);
    attribute->rta_type = type;
    attribute->rta_len = (unsigned short)size;
    memcpy(RTA_DATA(attribute), data, length);
    header->nlmsg_len = (uint32_t)(at + RTA_ALIGN(size));
    return 0;
}

static int netlink_request(int sock, struct nlmsghdr *header) {
    static uint32_t sequence = 1;
    header->nlmsg_seq = sequence++;
    header->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
    if (send(sock, header, header->nlmsg_len, 0) < 0) return -1;
    char answer[4096];
    ssize_t n = recv(sock, answer, sizeof answer, 0);
    if (n < 0) return -1;
    struct nlmsghdr *reply = (struct nlmsghdr *)answer;
    if (NLMSG_OK(reply, (size_t)n) && reply->nlmsg_type == NLMSG_ERROR) {
        struct nlmsgerr *result = NLMSG_DATA(reply);
        if (result->error == 0 || result->error == -EEXIST) return 0;
        errno = -result->error;
        return -1;
    }
    return 0;
}

/// `ip rule add fwmark MARK lookup TABLE` and `ip route add local 0.0.0.0/0 dev lo table TABLE`,
/// and net.ipv4.tcp_fwmark_accept=1, so that replies to a marked connection are delivered locally.
static int route_marked_replies_locally(void) {
    if (write_text("/proc/sys/net/ipv4/tcp_fwmark_accept", "1") != 0) return -1;
    int sock = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (sock < 0) return -1;
    union { struct nlmsghdr header; char bytes[512]; } message;
    uint32_t table = SWCTR_CONNECT_TABLE, mark = SWCTR_CONNECT_MARK, priority = 100;

    memset(&message, 0, sizeof message);
    message.header.nlmsg_len = NLMSG_LENGTH(sizeof(struct fib_rule_hdr));
    message.header.nlmsg_type = RTM_NEWRULE;
    message.header.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
    struct fib_rule_hdr *rule = NLMSG_DATA(&message.header);
    rule->family = AF_INET;
    rule->action = FR_ACT_TO_TBL;
    rule->table = RT_TABLE_UNSPEC;
    add_attribute(&message.header, sizeof message, FRA_FWMARK, &mark, sizeof mark);
    add_attribute(&message.header, sizeof message, FRA_TABLE, &table, sizeof table);
    add_attribute(&message.header, sizeof message, FRA_PRIORITY, &priority, sizeof priority);
    if (netlink_request(sock, &message.header) != 0) { close(sock); return -1; }

    memset(&message, 0, sizeof message);
    message.header.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
    message.header.nlmsg_type = RTM_NEWROUTE;
    message.header.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
    struct rtmsg *route = NLMSG_DATA(&message.header);
    route->rtm_family = AF_INET;
    route->rtm_table = RT_TABLE_UNSPEC;
    route->rtm_protocol = RTPROT_BOOT;
    route->rtm_scope = RT_SCOPE_HOST;
    route->rtm_type = RTN_LOCAL;
    uint32_t loopback = if_nametoindex("lo");
    add_attribute(&message.header, sizeof message, RTA_OIF, &loopback, sizeof loopback);
    add_attribute(&message.header, sizeof message, RTA_TABLE, &table, sizeof table);
    int result = netlink_request(sock, &message.header);
    close(sock);
    return result;
}

struct connect_request { int type; struct sockaddr_in source; struct sockaddr_in target; };
struct connect_answer { int error; };

static void serve_connections(int sock, const void *argument) {
    (void)argument;
    int transparent = route_marked_replies_locally() == 0;
    struct child_report ready = {.error = 0};
    snprintf(ready.step, sizeof ready.step, "%s", transparent ? "transparent" : "plain");
    if (send_with_fd(sock, &ready, sizeof ready, -1) != 0) _exit(1);
    for (;;) {
        struct connect_request request;
        int ignored;
        ssize_t n = receive_with_fd(sock, &request, sizeof request, &ignored);
        if (n <= 0) _exit(0);
        if (ignored >= 0) close(ignored);
        struct connect_answer answer = {0};
        int fd = socket(AF_INET, request.type | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            answer.error = errno;
        } else {
            int one = 1, mark = SWCTR_CONNECT_MARK;
            if (transparent && request.source.sin_family == AF_INET &&
                setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof one) == 0 &&
                setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) == 0) {
                // Best effort: if the address cannot be taken, the container sees its own.
                if (bind(fd, (const struct sockaddr *)&request.source, sizeof request.source) != 0) {
                    close(fd);
                    fd = socket(AF_INET, request.type | SOCK_CLOEXEC, 0);
                }
            }
            if (fd >= 0 && connect(fd, (const struct sockaddr *)&request.target, sizeof request.target) != 0) {
                answer.error = errno;
                close(fd);
                fd = -1;
            }
        }
        send_with_fd(sock, &answer, sizeof answer, fd);
        if (fd >= 0) close(fd);
    }
}

int swctr_net_start_connector(int user_ns, int net_ns, pid_t *child, char *error, size_t error_size) {
    int sock = fork_inside(user_ns, net_ns, child, SOCK_SEQPACKET, serve_connections, NULL, 0, error, error_size);
    if (sock < 0) return -1;
    struct child_report report = {0};
    int ignored = -1;
    ssize_t n = receive_with_fd(sock, &report, sizeof report, &ignored);
    if (ignored >= 0) close(ignored);
    if (n != (ssize_t)sizeof report || report.error != 0) {
        snprintf(error, error_size, "%s", n == (ssize_t)sizeof report ? report.step : "the connector ended without an answer");
        errno = report.error ? report.error : EPROTO;
        close(sock);
        kill(*child, SIGKILL);
        wait_for_child(*child);
        return -1;
    }
    return sock;
}

int swctr_net_connect_inside(int control, int type, const struct sockaddr_in *source, const struct sockaddr_in *target) {
    struct connect_request request = {.type = type, .target = *target};
    if (source) request.source = *source;
    if (send_with_fd(control, &request, sizeof request, -1) != 0) return -1;
    struct connect_answer answer = {0};
    int fd = -1;
    ssize_t n = receive_with_fd(control, &answer, sizeof answer, &fd);
    if (n != (ssize_t)sizeof answer) { errno = EPIPE; return -1; }
    if (answer.error != 0 || fd < 0) { errno = answer.error ? answer.error : EPROTO; return -1; }
    return fd;
}

ssize_t swctr_net_read_frame(int tap, uint8_t *buffer, size_t capacity) {
    ssize_t n;
    do { n = read(tap, buffer, capacity); } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    return n;
}

int swctr_net_send_fds(int sock, int32_t value, const int *fds, int count) {
    if (count < 0 || count > 8) { errno = EINVAL; return -1; }
    struct iovec iov = {.iov_base = &value, .iov_len = sizeof value};
    union { char buffer[CMSG_SPACE(8 * sizeof(int))]; struct cmsghdr align; } control;
    memset(&control, 0, sizeof control);
    struct msghdr message = {.msg_iov = &iov, .msg_iovlen = 1};
    if (count > 0) {
        message.msg_control = control.buffer;
        message.msg_controllen = CMSG_SPACE((size_t)count * sizeof(int));
        struct cmsghdr *header = CMSG_FIRSTHDR(&message);
        header->cmsg_level = SOL_SOCKET;
        header->cmsg_type = SCM_RIGHTS;
        header->cmsg_len = CMSG_LEN((size_t)count * sizeof(int));
        memcpy(CMSG_DATA(header), fds, (size_t)count * sizeof(int));
    }
    ssize_t n;
    do { n = sendmsg(sock, &message, MSG_NOSIGNAL); } while (n < 0 && errno == EINTR);
    return n < 0 ? -1 : 0;
}

int swctr_net_receive_fds(int sock, int32_t *value, int *fds, int capacity) {
    struct iovec iov = {.iov_base = value, .iov_len = sizeof *value};
    union { char buffer[CMSG_SPACE(8 * sizeof(int))]; struct cmsghdr align; } control;
    struct msghdr message = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buffer,
                             .msg_controllen = sizeof control.buffer};
    ssize_t n;
    do { n = recvmsg(sock, &message, MSG_CMSG_CLOEXEC); } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof *value) return -1;
    int received = 0;
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&message); h; h = CMSG_NXTHDR(&message, h)) {
        if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) continue;
        int count = (int)((h->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        int *incoming = (int *)CMSG_DATA(h);
        for (int i = 0; i < count; i++) {
            if (received < capacity) fds[received++] = incoming[i];
            else close(incoming[i]);
        }
    }
    return received;
}

int swctr_net_accept(int listener, struct sockaddr_storage *peer, socklen_t *length) {
    return accept4(listener, (struct sockaddr *)peer, length, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

// ---------------------------------------------------------------- libslirp

static struct {
    Slirp *(*new_)(const SlirpConfig *, const SlirpCb *, void *);
    void (*cleanup)(Slirp *);
    void (*fill)(Slirp *, uint32_t *, SlirpAddPollCb, void *);
    void (*poll)(Slirp *, int, SlirpGetREventsCb, void *);
    void (*input)(Slirp *, const uint8_t *, int);
    const char *(*version)(void);
} slirp_api;

int swctr_slirp_load(char *error, size_t error_size) {
    if (slirp_api.new_) return 0;
    void *library = dlopen("libslirp.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        snprintf(error, error_size, "%s", dlerror());
        return -1;
    }
#define LOAD(field, symbol) \
    if (!(*(void **)&slirp_api.field = dlsym(library, symbol))) { snprintf(error, error_size, "libslirp has no %s", symbol); return -1; }
    LOAD(new_, "slirp_new")
    LOAD(cleanup, "slirp_cleanup")
    LOAD(fill, "slirp_pollfds_fill")
    LOAD(poll, "slirp_pollfds_poll")
    LOAD(input, "slirp_input")
    LOAD(version, "slirp_version_string")
#undef LOAD
    return 0;
}

Slirp *swctr_slirp_new(const SlirpConfig *config, const SlirpCb *callbacks, void *opaque) { return slirp_api.new_(config, callbacks, opaque); }
void swctr_slirp_cleanup(Slirp *slirp) { slirp_api.cleanup(slirp); }
void swctr_slirp_pollfds_fill(Slirp *slirp, uint32_t *timeout, SlirpAddPollCb add_poll, void *opaque) { slirp_api.fill(slirp, timeout, add_poll, opaque); }
void swctr_slirp_pollfds_poll(Slirp *slirp, int select_error, SlirpGetREventsCb get_revents, void *opaque) { slirp_api.poll(slirp, select_error, get_revents, opaque); }
void swctr_slirp_input(Slirp *slirp, const uint8_t *packet, int length) { slirp_api.input(slirp, packet, length); }
const char *swctr_slirp_version(void) { return slirp_api.version ? slirp_api.version() : "not loaded"; }
