/*
 * mcast.h - IP multicast over UDP for C: libmcast.
 *
 * The calls mirror the socket options of ip(7) and ipv6(7), on plain file descriptors, so poll(2), epoll(7)
 * and select(2) work on them and any socket call can be mixed in. Build with:
 *
 *     cc prog.c $(pkg-config --cflags --libs mcast)
 *
 * Conventions, for every function below unless its comment says otherwise:
 *
 *   Return    0 on success, or a count for I/O calls; -1 on failure with errno set. A failure also leaves a
 *             message for mcast_last_error() naming the call, the option, the group and the interface:
 *             "mcast_join: IP_ADD_MEMBERSHIP 239.1.2.3 on eth1: No such device (os error 19)".
 *   errno     EINVAL   a NULL pointer where one is needed, text that does not parse, a group that is not
 *                      multicast, a value out of range (TTL 256);
 *             EBADF    a negative or closed descriptor;
 *             EAFNOSUPPORT  a descriptor that is not an AF_INET/AF_INET6 SOCK_DGRAM or SOCK_RAW socket, or a
 *                      group of the other family;
 *             ENODEV   no interface by that name, index or address;
 *             EIO      an internal error (a bug: please report it with mcast_last_error()'s text);
 *             anything else comes from the system call that failed (see its man page).
 *   Outputs   Output parameters are written only when the call succeeds; on failure they keep their value.
 *   Strings   Group, interface and source arguments are NUL-terminated UTF-8 text.
 *             A group is "239.1.2.3", "ff12::1" or "ff02::1%eth0" (an IPv6 zone: interface name or index);
 *             where a port is needed it is "239.1.2.3:5000" or "[ff12::1%eth0]:5000".
 *             An interface is a name ("lan0"), an index ("2") or one of its addresses ("192.168.1.10").
 *   Sockets   The descriptor is the caller's: no function closes it except mcast_close(), not even on failure.
 *   Signals   EINTR is retried inside: a signal whose handler returns does not end a blocking call. Use a
 *             non-blocking descriptor or poll(2) first to stay responsive.
 *   Threads   Every function may be called from any thread. The library keeps no state of its own about a
 *             descriptor, so calls on one descriptor from several threads are as safe as the system calls they
 *             make. On one descriptor at the same time:
 *               - any number of threads may send (mcast_send, mcast_send_to, mcast_send_batch): each datagram
 *                 leaves whole; the order between threads is unspecified;
 *               - any number may receive (mcast_recv, mcast_recv_batch): each datagram goes to exactly one of
 *                 them. Make the descriptor non-blocking, or a blocked thread may go on waiting after
 *                 another took the datagram that woke it;
 *               - one thread may send while another receives (a descriptor from mcast_receiver() used both
 *                 ways, or a sender and a receiver pair shared between threads);
 *               - option and membership calls (mcast_set_*, mcast_get_*, mcast_join*, mcast_leave*) may run
 *                 beside sends and receives; concurrent settings of one option end with one of the values.
 *             Not allowed: mcast_close() while another thread still uses the descriptor, since its number may
 *             be reused at once by an open elsewhere. mcast_last_error() and mcast_strerror() answer for the
 *             calling thread only. tests/c/test_threads.c runs these cases under ThreadSanitizer.
 *   Memory    Nothing is allocated for the caller except by mcast_if_list(), freed by mcast_if_list_free(), and
 *             by mcast_multi_open(), freed by mcast_multi_free().
 *             The strings returned by mcast_version(), mcast_last_error() and mcast_strerror() belong to the
 *             library and must not be freed.
 *
 * Multicast is for AF_INET and AF_INET6 sockets of type SOCK_DGRAM and SOCK_RAW only.
 */
#ifndef MCAST_H
#define MCAST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The most datagrams one mcast_send_batch() or mcast_recv_batch() call handles; larger counts are cut. */
#define MCAST_BATCH_MAX 64

/* ------------------------------------------------------------------------------------------------------------
 * Library and errors
 */

/* The library's version, "MAJOR.MINOR.PATCH". A static string. */
const char *mcast_version(void);

/* The message of the last call that failed on this thread, "" if none has. Successful calls leave it as it is,
 * like errno. Valid until the next failing call on this thread. */
const char *mcast_last_error(void);

/* strerror(3)'s text for errnum, with what it usually means for multicast where that helps
 * ("No such device (no such interface, or one that cannot do multicast)"). Never NULL. Valid until the next
 * mcast_strerror() on this thread. */
const char *mcast_strerror(int errnum);

/* ------------------------------------------------------------------------------------------------------------
 * Sockets
 */

/* socket(2) for multicast: family AF_INET or AF_INET6, type SOCK_DGRAM or SOCK_RAW (or-ed with SOCK_NONBLOCK
 * if wanted; SOCK_CLOEXEC is always set), protocol as for socket(2) (IPPROTO_IGMP, IPPROTO_ICMPV6, ... for raw
 * sockets, which need CAP_NET_RAW). It also turns on IP_PKTINFO and IP_RECVTTL (IPv6: IPV6_RECVPKTINFO,
 * IPV6_RECVHOPLIMIT), so mcast_recv() can report the group, interface and TTL. Bind it with bind(2).
 * IP_MULTICAST_ALL keeps Linux's default (on): a socket bound to the wildcard address also gets the groups other
 * sockets of the host joined on its port; mcast_receiver() turns it off. Returns the descriptor. Errors: EAFNOSUPPORT for another family or type, EPERM for a raw socket without
 * CAP_NET_RAW, or socket(2)'s. */
int mcast_open(int family, int type, int protocol);

/* close(2): the one call that ends a descriptor (any descriptor). Memberships end with it. EBADF if fd is not
 * open. */
int mcast_close(int fd);

/* ------------------------------------------------------------------------------------------------------------
 * Socket options, by the socket's family: IPv4 (IPPROTO_IP) or IPv6 (IPPROTO_IPV6)
 */

/* IP_MULTICAST_TTL (0..255) or IPV6_MULTICAST_HOPS (0..255, or -1 for the route's default). The default is 1:
 * this subnet. 0 keeps datagrams on this host; 32 site, 64 region, 128 continent, 255 unrestricted.
 * EINVAL, before any system call, for a value out of range.
 * Linux's exceptions: sent by lo itself, a datagram is looped back whatever the TTL and loop setting; and an
 * IPv6 datagram with hop limit 0 is discarded only where a member on the outgoing interface gets a looped copy
 * (without one it goes on the link). */
int mcast_set_ttl(int fd, int ttl);
int mcast_get_ttl(int fd, int *ttl);

/* IP_MULTICAST_LOOP / IPV6_MULTICAST_LOOP: whether this host's members get a copy of what fd sends. Any
 * non-zero value is on (the default); *on reads 0 or 1. */
int mcast_set_loop(int fd, int on);
int mcast_get_loop(int fd, int *on);

/* IP_MULTICAST_IF / IPV6_MULTICAST_IF: the interface multicast leaves by, instead of the route's choice.
 * mcast_set_if takes a name, an index or an address; "0", "0.0.0.0" and "::" revert to the route's choice. IPv4
 * sets it by the interface's address when it has one, else by index (ip_mreqn). ENODEV for an unknown
 * interface. */
int mcast_set_if(int fd, const char *iface);
int mcast_set_if_index(int fd, unsigned int ifindex);

/* The outgoing interface's index, 0 for the route's choice. Linux reports an IPv4 socket's interface by its
 * address, so an IPv4 interface set by index on an interface without an IPv4 address reads 0. */
int mcast_get_if(int fd, unsigned int *ifindex);

/* IPv4 only: the address IP_MULTICAST_IF reports (INADDR_ANY for the route's choice). EAFNOSUPPORT on IPv6. */
int mcast_get_if_addr(int fd, struct in_addr *addr);

/* ------------------------------------------------------------------------------------------------------------
 * Group membership. Each membership belongs to one interface; join on several to hear several. Closing the
 * socket drops its memberships. To receive, bind the group's port on the wildcard address first (and set
 * SO_REUSEADDR if other sockets share the port) - or let mcast_receiver() do it all.
 */

/* Joins group on iface: a name, index or address, or NULL for the group's %zone if it has one, else the
 * route's choice. IPv4 uses IP_ADD_MEMBERSHIP with ip_mreq (by the interface's address) or ip_mreqn (by index,
 * for an interface without an IPv4 address); IPv6 uses IPV6_JOIN_GROUP. A ":port" in group is ignored.
 * EINVAL for a group that is not multicast, EAFNOSUPPORT for one of the other family, ENODEV for an unknown
 * interface, EADDRINUSE when already joined there, ENOBUFS past the kernel's limit of
 * memberships. */
int mcast_join(int fd, const char *group, const char *iface);

/* Drops the membership mcast_join() with the same arguments made. EADDRNOTAVAIL if there is none. */
int mcast_leave(int fd, const char *group, const char *iface);

/* Source-specific multicast (RFC 4607; groups 232.0.0.0/8 and ff3x::/96): receive group only from source.
 * IP_ADD_SOURCE_MEMBERSHIP, or MCAST_JOIN_SOURCE_GROUP for IPv6 and interfaces without an IPv4 address.
 * Joining several sources of one group adds them to its filter. Dropping the last source leaves the group;
 * dropping a source from a group not joined is EINVAL. */
int mcast_join_source(int fd, const char *group, const char *source, const char *iface);
int mcast_leave_source(int fd, const char *group, const char *source, const char *iface);

/* The same with binary addresses (network byte order) and an interface index (0: the route's choice):
 * IP_ADD_MEMBERSHIP with ip_mreqn, and IPV6_JOIN_GROUP with ipv6_mreq. */
int mcast_join_addr(int fd, const struct in_addr *group, unsigned int ifindex);
int mcast_leave_addr(int fd, const struct in_addr *group, unsigned int ifindex);
int mcast_join_addr6(int fd, const struct in6_addr *group, unsigned int ifindex);
int mcast_leave_addr6(int fd, const struct in6_addr *group, unsigned int ifindex);

/* ------------------------------------------------------------------------------------------------------------
 * A correct sender or receiver in one call
 */

/* Settings for mcast_sender() and mcast_receiver(). Start from MCAST_OPTS_INIT or mcast_opts_init(): an
 * all-zero struct means TTL 0 and no SO_REUSEADDR. The strings are only read during the call. */
struct mcast_opts {
    int ttl;             /* sender: TTL or hop limit 0..255; -1 (default) keeps the kernel's, 1 */
    int loop;            /* sender: 1 loops copies to this host's members, 0 does not; -1 (default): on */
    const char *iface;   /* both: interface name, index or address; NULL (default): the route's choice */
    const char *source;  /* receiver: receive only from this address (SSM); NULL (default): any source */
    int reuse;           /* receiver: 1 (default) sets SO_REUSEADDR so other receivers share the port */
    int nonblock;        /* both: 1 makes the descriptor non-blocking; 0 (default) */
    unsigned int rcvbuf; /* receiver: receive buffer in bytes (SO_RCVBUFFORCE if allowed); 0 (default) */
};

#define MCAST_OPTS_INIT { -1, -1, NULL, NULL, 1, 0, 0u }

/* Fills *opts with the defaults, as MCAST_OPTS_INIT does. NULL is ignored. */
void mcast_opts_init(struct mcast_opts *opts);

/* A UDP socket that sends to group_port ("239.1.2.3:5000", "[ff12::1%eth0]:5000"): TTL, loop and interface
 * from opts (NULL: defaults), connected to the group so send(2), mcast_send() and mcast_send_batch() need no
 * address. A link-local IPv6 group needs an interface (its %zone or opts->iface). Returns the descriptor.
 * EINVAL for a group that is not multicast or has no port, or a TTL out of range; ENODEV for an unknown
 * interface. */
int mcast_sender(const char *group_port, const struct mcast_opts *opts);

/* A UDP socket that receives group_port: SO_REUSEADDR (opts->reuse), bound to the port on the wildcard
 * address, joined on opts->iface (or the group's %zone, or the route's choice), only from opts->source if
 * given, with IP_MULTICAST_ALL off (else Linux hands a wildcard-bound socket every group any socket on the
 * host joined on that port) and destination, interface and TTL reporting on. Returns the descriptor.
 * Errors as for mcast_sender() and mcast_join(). */
int mcast_receiver(const char *group_port, const struct mcast_opts *opts);

/* ------------------------------------------------------------------------------------------------------------
 * Datagrams
 */

/* What mcast_recv() learnt about one datagram. */
struct mcast_rxinfo {
    struct sockaddr_storage source; /* the sender: a struct sockaddr_in or sockaddr_in6, with its port */
    struct sockaddr_storage group;  /* the destination address (normally the group), port 0; ss_family is
                                       AF_UNSPEC when unknown (IP_PKTINFO/IPV6_RECVPKTINFO off) */
    size_t len;                     /* bytes placed in the buffer (what mcast_recv returns) */
    size_t full_len;                /* the datagram's real size: more than len when it was truncated */
    unsigned int ifindex;           /* arrival interface; 0 when unknown */
    int ttl;                        /* TTL or hop limit on arrival; -1 when unknown */
    int truncated;                  /* 1 when the datagram did not fit: full_len - len bytes were lost */
    uint32_t drops;                 /* datagrams the socket dropped so far for lack of buffer space
                                       (SO_RXQ_OVFL, on in mcast_receiver sockets); 0 when unknown */
};

/* Sends one datagram on a connected socket (as mcast_sender() makes). Returns the bytes sent. buf must not be
 * NULL, even for len 0. EDESTADDRREQ if fd is not connected. */
ssize_t mcast_send(int fd, const void *buf, size_t len);

/* Sends one datagram to group_port ("239.1.2.3:5000"). EINVAL unless it is a multicast group with a port. */
ssize_t mcast_send_to(int fd, const void *buf, size_t len, const char *group_port);

/* Receives one datagram into buf, blocking unless fd is non-blocking (then EAGAIN when none is queued).
 * Returns the bytes placed in buf; a larger datagram is cut, and *info says so (truncated, full_len). info may
 * be NULL. With UDP_GRO on, one read may hold several datagrams: see mcast_set_gro(). */
ssize_t mcast_recv(int fd, void *buf, size_t len, struct mcast_rxinfo *info);

/* Sends bufs[0..count) as count datagrams with one sendmmsg(2), on a connected socket. Returns how many were
 * sent, which may be fewer than count (at most MCAST_BATCH_MAX): send the rest again. ENOTCONN if fd is not
 * connected. */
int mcast_send_batch(int fd, const struct iovec *bufs, size_t count);

/* Receives up to count datagrams (at most MCAST_BATCH_MAX) with one recvmmsg(2): waits for the first (unless
 * fd is non-blocking), then takes what else is already queued. Datagram i goes into bufs[i], described by
 * infos[i]. Returns how many arrived (0 at once for count 0). The buffers must not overlap, and none may be
 * NULL. */
int mcast_recv_batch(int fd, const struct iovec *bufs, struct mcast_rxinfo *infos, size_t count);

/* ------------------------------------------------------------------------------------------------------------
 * Interfaces
 */

/* One network interface. */
struct mcast_iface {
    char name[16];                /* NUL-terminated (IF_NAMESIZE) */
    unsigned int index;           /* if_nametoindex(3); 0 only in the entry that ends the list */
    unsigned int flags;           /* IFF_UP, IFF_MULTICAST, IFF_LOOPBACK, ... (SIOCGIFFLAGS) */
    unsigned int mtu;             /* 0 when unknown */
    size_t n_ipv4;                /* the IPv4 addresses (SIOCGIFCONF), network byte order */
    const struct in_addr *ipv4;   /*   NULL when n_ipv4 is 0 */
    size_t n_ipv6;                /* the IPv6 addresses (/proc/net/if_inet6) */
    const struct in6_addr *ipv6;  /*   NULL when n_ipv6 is 0 */
};

/* Every interface of this network namespace, in index order. *list receives an array of *count entries
 * followed by one more whose index is 0; count may be NULL. An interface that cannot do multicast lacks
 * IFF_MULTICAST in flags. Free the list with mcast_if_list_free(). */
int mcast_if_list(struct mcast_iface **list, size_t *count);

/* Frees a list from mcast_if_list(), addresses included. NULL is ignored. */
void mcast_if_list_free(struct mcast_iface *list);

/* ------------------------------------------------------------------------------------------------------------
 * Many groups (begin). One receiver for tens or thousands of groups, IPv4 and IPv6 mixed. Linux limits the
 * memberships of one socket (net.ipv4.igmp_max_memberships, 20 by default, then ENOBUFS; for IPv6 the socket's
 * option memory, net.core.optmem_max), so the receiver spreads its joins over as many sockets as it needs, all
 * bound to the group's port with SO_REUSEADDR and IP_MULTICAST_ALL off. It owns those descriptors: read them with
 * mcast_multi_recv(), or put them in your own poll(2)/epoll(7) set (mcast_multi_fds()) and call
 * mcast_multi_recv() with timeout 0 when one is readable. Never close them: mcast_multi_free() does.
 * Threads: one struct mcast_multi is used by one thread at a time (mcast_multi_recv() updates its counters);
 * separate receivers are independent.
 */

/* The receiver: opaque, made by mcast_multi_open(), ended by mcast_multi_free(). */
struct mcast_multi;

/* One membership of a receiver and what arrived for it (mcast_multi_stats()). */
struct mcast_multi_stat {
    struct sockaddr_storage group;  /* the group and port: a struct sockaddr_in, or a sockaddr_in6 whose
                                       sin6_scope_id is its zone */
    struct sockaddr_storage source; /* the only sender received from (source-specific), port 0; ss_family is
                                       AF_UNSPEC for any source */
    unsigned int ifindex;           /* the interface joined on; 0 when the kernel chose by route */
    int fd;                         /* the descriptor (one of mcast_multi_fds()) that holds the membership */
    uint64_t datagrams;             /* datagrams received for this membership */
    uint64_t bytes;                 /* their sizes, counted in full even when a buffer cut them */
    uint64_t truncated;             /* how many of them did not fit the buffer they were read into */
};

/* Joins every group of groups, written as for `mcast recv`: a comma list of groups with ports and of ranges,
 * "239.1.1.1-239.1.1.50:5000", "239.1.1.1-50:5000", "[ff15::1-ff15::20]:5000", "[ff02::1%eth0]:6000", both
 * families mixed; one range holds at most 65536 groups. From opts (NULL: defaults) it takes iface (every group
 * is joined there; NULL: each group's %zone, else the route's choice), source (every group is received only
 * from it, so all groups must be of its family) and rcvbuf (for each socket); the other fields do not apply: the
 * sockets always share their port and are always non-blocking. On success *out is the receiver.
 * EINVAL for a list that does not parse, a group that is not multicast or has no port, or a range that ends
 * before it starts; ENODEV for an unknown interface or a link-local group without one; EAFNOSUPPORT for a source
 * of the other family; ENOBUFS or ENOMEM when even an empty socket cannot take one more membership (the message
 * names the sysctl to raise and a value); EMFILE when the descriptors run out. Nothing stays joined on failure. */
int mcast_multi_open(const char *groups, const struct mcast_opts *opts, struct mcast_multi **out);

/* The receiver's descriptors, for poll(2) or epoll(7): *count receives their number (more than one when the
 * groups did not fit one socket) and fds[0..*count) the descriptors, in the order of mcast_multi_stat.fd's
 * sockets. fds NULL with cap 0 asks for the number only; otherwise ERANGE, with nothing written, when cap is
 * less than the number. The set does not change for the receiver's life. */
int mcast_multi_fds(const struct mcast_multi *multi, int *fds, size_t cap, size_t *count);

/* Receives the next datagram of any of the receiver's groups into buf, waiting at most timeout_ms milliseconds:
 * 0 takes only what is already queued, a negative value waits for ever. The sockets are served in turn, so a
 * busy group cannot starve the others. Returns the bytes placed in buf (0 for an empty datagram); *info
 * (may be NULL) says who sent it and to which group, and whether it was cut (truncated, full_len). The datagram
 * is counted for its group in mcast_multi_stats(). When nothing arrives in time: -1 with errno EAGAIN (0 cannot
 * mean a timeout, since empty datagrams exist). buf must not be NULL. */
ssize_t mcast_multi_recv(struct mcast_multi *multi, void *buf, size_t len, struct mcast_rxinfo *info,
                         int timeout_ms);

/* The counters of every membership, in the order the groups were given (repeats dropped), into
 * stats[0..*count). stats NULL with cap 0 asks for the number only; otherwise ERANGE, with nothing written, when
 * cap is less than the number. */
int mcast_multi_stats(const struct mcast_multi *multi, struct mcast_multi_stat *stats, size_t cap,
                      size_t *count);

/* Closes the receiver's descriptors, which ends their memberships, and frees it. NULL is ignored. */
void mcast_multi_free(struct mcast_multi *multi);

/* Many groups (end). */

/* ------------------------------------------------------------------------------------------------------------
 * Raw sockets for IGMP and MLD (begin). Open one with mcast_open(AF_INET, SOCK_RAW, IPPROTO_IGMP) or
 * mcast_open(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6), which needs CAP_NET_RAW (EPERM without it, and
 * mcast_last_error() says how to grant it). mcast_open() already turns on IP_PKTINFO / IPV6_RECVPKTINFO, so
 * mcast_recv() reports each message's arrival interface; an IPv4 raw socket receives the IPv4 header too. Such a
 * socket hears the IGMP or MLD that IP delivers to this host: join 224.0.0.22 (IGMPv3 reports) or ff02::16
 * (MLDv2 reports) to hear the reports of a link; docs/raw-sockets.md tells the rest.
 */

/* IP_HDRINCL (raw(7)): the program writes the IPv4 header of what fd sends (the kernel still fills in a zero
 * source address, a zero identification and the header checksum). Any non-zero value is on. EAFNOSUPPORT on an
 * IPv6 socket, ENOPROTOOPT on one that is not raw. */
int mcast_set_hdrincl(int fd, int on);

/* The Router Alert that IGMP (RFC 2236, 3376) and MLD (RFC 3810) messages must carry, on everything fd sends:
 * IPv4 sets IP_OPTIONS to the Router Alert option (RFC 2113); IPv6 sets the sticky IPV6_HOPOPTS to a hop-by-hop
 * header with a Router Alert of value 0, MLD (RFC 2711). 0 clears it. Linux's surprise: an IPv4 socket that has
 * had IP_OPTIONS, even cleared again, can no longer send with IP_HDRINCL (EINVAL); write the option into your
 * own header there instead. IP_ROUTER_ALERT and IPV6_ROUTER_ALERT are something else: receive-side options for
 * routers. */
int mcast_set_router_alert(int fd, int on);

/* ICMP6_FILTER (RFC 3542) that passes only the MLD types: query 130, v1 report 131, v1 done 132, v2 report 143.
 * EAFNOSUPPORT on an IPv4 socket. */
int mcast_set_mld_filter(int fd);

/* Whether the kernel handles the checksums of a raw ICMPv6 socket: on (the default), it fills in the checksum of
 * what is sent and silently drops what arrives with a bad one; 0 turns both off, so the program may send any
 * bytes and sees bad checksums. This is IPV6_CHECKSUM at level SOL_RAW (Linux): RFC 3542 refuses IPV6_CHECKSUM
 * at IPPROTO_IPV6 on ICMPv6 sockets. EAFNOSUPPORT on an IPv4 socket. */
int mcast_set_kernel_checksum(int fd, int on);

/* Raw sockets for IGMP and MLD (end). */

/* ------------------------------------------------------------------------------------------------------------
 * Segmented send and GRO (begin). UDP segmentation offload (UDP_SEGMENT, udp(7), Linux 4.18) hands the kernel
 * one buffer that it cuts into datagrams of one size as late as possible: far fewer trips through the stack
 * than one send per datagram, and every member still gets each segment as its own datagram. Its constraints:
 * every segment has one size except the last, which may be shorter; at most 64 segments (MCAST_SEGMENTS_MAX)
 * and 65,507 bytes in one send; each segment must fit the path MTU whole, since segments are never
 * IP-fragmented. UDP_GRO (Linux 5.0) is the receiving side: the kernel may coalesce datagrams of one flow into
 * one read, with the segment size in a control message; mcast_recv_gro() splits such a read again.
 */

/* The most datagrams one mcast_send_segments() or mcast_send_segments_to() call sends. */
#define MCAST_SEGMENTS_MAX 64

/* Sends buf[0..len) as datagrams of segment bytes, the last one shorter if len is not a multiple, on a
 * connected socket (as mcast_sender() makes), with one sendmsg(2) carrying UDP_SEGMENT. When the kernel lacks
 * UDP_SEGMENT, or refuses it for this send (a segment longer than the path MTU: EINVAL/EMSGSIZE from the
 * kernel), the same datagrams go with sendmmsg(2) instead, transparently; such datagrams may then be
 * IP-fragmented like any other send. The refusal is not remembered: each call tries UDP_SEGMENT first.
 * One call sends at most MCAST_SEGMENTS_MAX datagrams and, with UDP_SEGMENT, at most 65,507 bytes (so at most
 * 46 of 1400 bytes). Returns how many datagrams were sent, which may be fewer than len needs (the cap above, or
 * a full buffer on a non-blocking socket): datagram n starts at buf + n * segment, so send the rest again from
 * there. len 0 sends nothing and returns 0. EINVAL for a NULL buf or a segment of 0 or above 65,507;
 * ENOTCONN if fd is not connected; EMSGSIZE when plain datagrams of that size cannot leave either (a segment
 * longer than the path MTU with fragmentation forbidden: IP_MTU_DISCOVER / IPV6_MTU_DISCOVER set to
 * IP_PMTUDISC_DO). */
int mcast_send_segments(int fd, const void *buf, size_t len, size_t segment);

/* The same to group_port ("239.1.2.3:5000"), on any UDP socket. EINVAL unless it is a multicast group with a
 * port. */
int mcast_send_segments_to(int fd, const void *buf, size_t len, size_t segment, const char *group_port);

/* 1 if the kernel accepts UDP_SEGMENT on fd (it has UDP GSO), 0 if not (an old kernel, or a raw socket).
 * mcast_send_segments() works either way; this says only whether it can use the fast path. A path may still
 * refuse a segmented send; mcast_send_segments() then falls back by itself. */
int mcast_gso_supported(int fd);

/* UDP_GRO on (any non-zero on) or off (the default); *on reads 0 or 1. With it on, one read may hold several
 * datagrams of one sender, end to end, up to 64 KiB: read them with mcast_recv_gro() and a buffer of 65,535
 * bytes. mcast_recv() and mcast_recv_batch() do not split such a read: they return it as one buffer (len and
 * full_len count all its bytes), and a buffer shorter than the read cuts it (truncated). ENOPROTOOPT on a raw
 * socket. */
int mcast_set_gro(int fd, int on);
int mcast_get_gro(int fd, int *on);

/* Receives one read into buf, as mcast_recv() does (blocking unless fd is non-blocking, then EAGAIN), and
 * describes each datagram in it: infos[i] is datagram i, with its own len and full_len and the source, group,
 * interface and TTL they share. The datagrams lie end to end in buf: datagram i starts at buf + i * infos[0].len.
 * Returns how many entries were written: 1 for a read the kernel did not coalesce (GRO off, or nothing to
 * coalesce), more for a coalesced one. Give count >= 64: Linux coalesces at most 64 datagrams from the network
 * (UDP_GRO_CNT_MAX) and this library sends at most 64 per call; a longer read (another program's segmented send
 * looped back on this host) ends in one last entry that covers all the remaining bytes, so nothing is ever left
 * undescribed. A read cut by a short buffer marks its last datagram truncated, whose full_len then counts every
 * byte from its start to the end of the read. EINVAL for a NULL buf or infos, or count 0. */
int mcast_recv_gro(int fd, void *buf, size_t len, struct mcast_rxinfo *infos, size_t count);

/* Segmented send and GRO (end). */

/* ------------------------------------------------------------------------------------------------------------
 * ABI check: the library's own view of the structs above, so a program (or the test suite) can verify that
 * the header it was compiled with matches the library it runs with.
 */

/* One line of the layout table: a struct (field NULL, offset 0) or one of its fields. */
struct mcast_abi_entry {
    const char *type;  /* "mcast_rxinfo", ... (without "struct ") */
    const char *field; /* "full_len", ...; NULL for the whole struct */
    size_t offset;     /* offsetof(struct type, field); 0 for the whole struct */
    size_t size;       /* sizeof the field or struct */
    size_t align;      /* alignof the field or struct */
};

/* The table, a static array of *count entries (count may be NULL). Never fails. */
const struct mcast_abi_entry *mcast_abi_layout(size_t *count);

#ifdef __cplusplus
}
#endif

#endif /* MCAST_H */
