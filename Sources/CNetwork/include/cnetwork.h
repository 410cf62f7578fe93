// The network helper's C side: what must run in a forked child that enters the container's user
// and network namespaces (making the TAP device, connecting to published ports from inside), the
// rtnetlink messages for that, and libslirp loaded with dlopen (so that only the helper pays for
// loading it and glib). No policy here: the Swift side decides addresses, ports and lifetimes.
#ifndef SWCTR_CNETWORK_H
#define SWCTR_CNETWORK_H
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <slirp/libslirp.h>

/// How the container's side of the network is set up.
struct swctr_tap_config {
    char name[16];          // interface name, e.g. "tap0"
    int mtu;
    uint8_t mac[6];         // the interface's hardware address (the helper addresses frames to it)
    struct in_addr address; // 10.0.2.100
    struct in_addr netmask; // 255.255.255.0
    struct in_addr gateway; // 10.0.2.2
    int ipv6;               // also give it address6/prefix6 with gateway6 as the default route
    struct in6_addr address6;
    int prefix6;
    struct in6_addr gateway6;
};

/// In a child that joins the user and network namespaces `user_ns` and `net_ns` (nsfs fds): brings loopback up, makes the
/// TAP device and configures it as `config` says; returns the TAP fd (in this process), or -1 with
/// `error` holding the failed step and errno set.
int swctr_net_open_tap(int user_ns, int net_ns, const struct swctr_tap_config *config, char *error, size_t error_size);

/// Starts the connector: a child in the user and network namespaces given that makes sockets
/// connected to the container's ports on request. It sets up the policy routing that lets a
/// connection carry the outside client's address as its source (IP_TRANSPARENT + fwmark; see
/// docs/network.md). Returns the control socket (end of file stops the child), or -1.
int swctr_net_start_connector(int user_ns, int net_ns, pid_t *child, char *error, size_t error_size);

/// Asks the connector for a socket of `type` (SOCK_STREAM/SOCK_DGRAM) connected to `target`, with
/// `source` as its local address when the container allows it (else the container's own).
/// Returns the fd, or -1 with errno set.
int swctr_net_connect_inside(int control, int type, const struct sockaddr_in *source, const struct sockaddr_in *target);

/// Ethernet frames on the TAP fd: reads one into `buffer` (length, 0 when none is waiting, -1).
ssize_t swctr_net_read_frame(int tap, uint8_t *buffer, size_t capacity);

/// Sends `value` with `count` fds (SCM_RIGHTS) on a socket: 0, or -1/errno.
int swctr_net_send_fds(int sock, int32_t value, const int *fds, int count);
/// Receives what swctr_net_send_fds sent: the number of fds received (up to `capacity`), or -1 at
/// end of file or on error.
int swctr_net_receive_fds(int sock, int32_t *value, int *fds, int capacity);

/// accept4(2) with SOCK_NONBLOCK | SOCK_CLOEXEC.
int swctr_net_accept(int listener, struct sockaddr_storage *peer, socklen_t *length);

/// Loads libslirp: 0, or -1 with `error` set.
int swctr_slirp_load(char *error, size_t error_size);
Slirp *swctr_slirp_new(const SlirpConfig *config, const SlirpCb *callbacks, void *opaque);
void swctr_slirp_cleanup(Slirp *slirp);
void swctr_slirp_pollfds_fill(Slirp *slirp, uint32_t *timeout, SlirpAddPollCb add_poll, void *opaque);
void swctr_slirp_pollfds_poll(Slirp *slirp, int select_error, SlirpGetREventsCb get_revents, void *opaque);
void swctr_slirp_input(Slirp *slirp, const uint8_t *packet, int length);
const char *swctr_slirp_version(void);
#endif
