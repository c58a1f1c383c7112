/* Raw sockets for IGMP and MLD: IP_HDRINCL, the Router Alert, the MLD filter and the kernel's ICMPv6 checksum, set
 * and read back with plain getsockopt(2), then messages sent and received in the suite's namespace (lo for IPv4;
 * the va-vb veth pair for IPv6). */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

static bool test_raw_igmp_options(void) {
    int fd = mcast_open(AF_INET, SOCK_RAW, IPPROTO_IGMP);
    CHECK_OK(fd);
    int on = -1;
    socklen_t len = sizeof on;
    CHECK_OK(mcast_set_hdrincl(fd, 7));
    CHECK(getsockopt(fd, IPPROTO_IP, IP_HDRINCL, &on, &len) == 0 && on == 1);
    CHECK_OK(mcast_set_hdrincl(fd, 0));
    len = sizeof on;
    CHECK(getsockopt(fd, IPPROTO_IP, IP_HDRINCL, &on, &len) == 0 && on == 0);

    unsigned char opts[40];
    len = sizeof opts;
    CHECK_OK(mcast_set_router_alert(fd, 1));
    CHECK(getsockopt(fd, IPPROTO_IP, IP_OPTIONS, opts, &len) == 0 && len == 4);
    CHECK(opts[0] == 0x94 && opts[1] == 4 && opts[2] == 0 && opts[3] == 0);
    CHECK_OK(mcast_set_router_alert(fd, 0));
    len = sizeof opts;
    CHECK(getsockopt(fd, IPPROTO_IP, IP_OPTIONS, opts, &len) == 0 && len == 0);

    /* The IPv6 options refuse an IPv4 socket, naming the option. */
    CHECK_ERR(mcast_set_mld_filter(fd), EAFNOSUPPORT);
    CHECK_MSG("ICMP6_FILTER is for IPv6 raw sockets");
    CHECK_ERR(mcast_set_kernel_checksum(fd, 0), EAFNOSUPPORT);
    CHECK_OK(mcast_close(fd));
    return true;
}

static bool test_raw_mld_options(void) {
    int fd = mcast_open(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
    CHECK_OK(fd);
    struct icmp6_filter filter;
    socklen_t len = sizeof filter;
    CHECK_OK(mcast_set_mld_filter(fd));
    CHECK(getsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, &len) == 0 && len == sizeof filter);
    for (int type = 0; type < 256; type++) {
        bool mld = type == 130 || type == 131 || type == 132 || type == 143;
        CHECK(ICMP6_FILTER_WILLPASS(type, &filter) == mld);
    }

    unsigned char hop[64];
    len = sizeof hop;
    CHECK_OK(mcast_set_router_alert(fd, 1));
    CHECK(getsockopt(fd, IPPROTO_IPV6, IPV6_HOPOPTS, hop, &len) == 0 && len == 8);
    const unsigned char router_alert[] = {5, 2, 0, 0, 1, 0}; /* Router Alert, value 0 (MLD); PadN */
    CHECK(memcmp(hop + 2, router_alert, sizeof router_alert) == 0);

    int offset = 0;
    len = sizeof offset;
    CHECK(getsockopt(fd, SOL_RAW, IPV6_CHECKSUM, &offset, &len) == 0 && offset == 2);
    CHECK_OK(mcast_set_kernel_checksum(fd, 0));
    len = sizeof offset;
    CHECK(getsockopt(fd, SOL_RAW, IPV6_CHECKSUM, &offset, &len) == 0 && offset == -1);
    CHECK_OK(mcast_set_kernel_checksum(fd, 1));
    len = sizeof offset;
    CHECK(getsockopt(fd, SOL_RAW, IPV6_CHECKSUM, &offset, &len) == 0 && offset == 2);

    CHECK_ERR(mcast_set_hdrincl(fd, 1), EAFNOSUPPORT);
    CHECK_OK(mcast_close(fd));

    int udp = mcast_open(AF_INET, SOCK_DGRAM, 0);
    CHECK_OK(udp);
    CHECK_ERR(mcast_set_hdrincl(udp, 1), ENOPROTOOPT); /* the kernel's answer: not a raw socket */
    CHECK_MSG("IP_HDRINCL");
    CHECK_OK(mcast_close(udp));
    CHECK_ERR(mcast_set_router_alert(-1, 1), EBADF);
    return true;
}

/* sendto(2) to an address without a port: raw sockets have none, and mcast_send_to() wants GROUP:PORT. */
static ssize_t send_raw(int fd, const void *buf, size_t len, int family, const char *addr, unsigned int scope) {
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1)
            return -1;
        sl = sizeof *sin;
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_scope_id = scope;
        if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1)
            return -1;
        sl = sizeof *sin6;
    }
    return sendto(fd, buf, len, 0, (struct sockaddr *)&ss, sl);
}

/* Reads messages from fd for up to 5 s until one whose byte at `at` is `type`; returns its length or -1. */
static ssize_t recv_type(int fd, unsigned char *buf, size_t len, size_t at, unsigned char type,
                         struct mcast_rxinfo *info) {
    for (int i = 0; i < 50; i++) {
        ssize_t n = recv_wait(fd, buf, len, info);
        if (n < 0)
            return -1;
        if ((size_t)n > at && buf[at] == type)
            return n;
    }
    fprintf(stderr, "    no message of type %u among 50\n", type);
    return -1;
}

/* An IGMPv2 query sent on lo with the Router Alert from IP_OPTIONS, then one with a header of the test's own
 * (IP_HDRINCL): a raw IGMP socket receives each with its IPv4 header. */
static bool test_raw_igmp_router_alert_on_the_wire(void) {
    int rx = mcast_open(AF_INET, SOCK_RAW, IPPROTO_IGMP);
    int tx = mcast_open(AF_INET, SOCK_RAW, IPPROTO_IGMP);
    CHECK_OK(rx);
    CHECK_OK(tx);
    CHECK_OK(mcast_set_if(tx, "lo"));
    CHECK_OK(mcast_set_ttl(tx, 1));
    CHECK_OK(mcast_set_router_alert(tx, 1));
    /* Type 0x11, max response 2.0 s, general (group 0.0.0.0), checksum 0xeeeb. */
    const unsigned char query[8] = {0x11, 20, 0xee, 0xeb, 0, 0, 0, 0};
    CHECK(send_raw(tx, query, sizeof query, AF_INET, "224.0.0.1", 0) == (ssize_t)sizeof query);
    unsigned char buf[256];
    struct mcast_rxinfo info = MCAST_RXINFO_INIT;
    ssize_t n = recv_type(rx, buf, sizeof buf, 24, 0x11, &info);
    CHECK(n == 24 + 8);
    CHECK(buf[0] == 0x46);                                              /* version 4, IHL 6: one option word */
    CHECK(buf[8] == 1 && buf[9] == IPPROTO_IGMP);                        /* TTL 1, protocol 2 */
    CHECK(buf[20] == 0x94 && buf[21] == 4 && buf[22] == 0 && buf[23] == 0); /* Router Alert, value 0 */
    CHECK(memcmp(buf + 24, query, sizeof query) == 0);
    CHECK(info.ifindex == ifindex("lo"));

    /* IP_HDRINCL: the whole header is ours; the kernel fills the zero source and identification and the checksum.
     * A socket that has had IP_OPTIONS cannot send so, even once they are cleared (EINVAL: Linux keeps an empty
     * option list, and a header of the program's own does not mix with options of the socket's); a fresh one can.
     * The IGMP type 0x16 (a v2 report of 239.9.9.9) tells this datagram from the first. */
    unsigned char datagram[28] = {0x45, 0xc0, 0, 28, 0, 0, 0x40, 0, 1, IPPROTO_IGMP, 0, 0, 0, 0, 0, 0, 224, 0, 0, 1,
                                  0x16, 0, 0xf1, 0xec, 239, 9, 9, 9};
    CHECK_OK(mcast_set_hdrincl(tx, 1));
    CHECK_ERR(send_raw(tx, datagram, sizeof datagram, AF_INET, "224.0.0.1", 0), EINVAL);
    CHECK_OK(mcast_set_router_alert(tx, 0));
    CHECK_ERR(send_raw(tx, datagram, sizeof datagram, AF_INET, "224.0.0.1", 0), EINVAL);
    CHECK_OK(mcast_close(tx));
    tx = mcast_open(AF_INET, SOCK_RAW, IPPROTO_IGMP);
    CHECK_OK(tx);
    CHECK_OK(mcast_set_if(tx, "lo"));
    CHECK_OK(mcast_set_hdrincl(tx, 1));
    CHECK(send_raw(tx, datagram, sizeof datagram, AF_INET, "224.0.0.1", 0) == (ssize_t)sizeof datagram);
    n = recv_type(rx, buf, sizeof buf, 20, 0x16, &info);
    CHECK(n == 28);
    CHECK(buf[0] == 0x45 && buf[1] == 0xc0 && buf[8] == 1);
    CHECK(buf[12] != 0); /* the kernel chose the source address */
    CHECK(memcmp(buf + 20, datagram + 20, 8) == 0);
    CHECK_OK(mcast_close(tx));
    CHECK_OK(mcast_close(rx));
    return true;
}

/* An MLDv2 query from va with the hop-by-hop Router Alert, checksum by the kernel, crossing to vb; an echo request
 * sent first never reaches the receiver's MLD filter. The receiver reads the hop-by-hop options it arrived with. */
static bool test_raw_mld_query_crosses_the_veth(void) {
    int rx = mcast_open(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
    int tx = mcast_open(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
    CHECK_OK(rx);
    CHECK_OK(tx);
    CHECK_OK(mcast_set_mld_filter(rx));
    int on = 1;
    CHECK(setsockopt(rx, IPPROTO_IPV6, IPV6_RECVHOPOPTS, &on, sizeof on) == 0);
    CHECK_OK(mcast_set_if(tx, "va"));
    CHECK_OK(mcast_set_loop(tx, 0));
    CHECK_OK(mcast_set_ttl(tx, 1));
    CHECK_OK(mcast_set_router_alert(tx, 1));
    const unsigned char echo[8] = {128, 0, 0, 0, 0, 1, 0, 1};
    CHECK(send_raw(tx, echo, sizeof echo, AF_INET6, "ff02::1", ifindex("va")) == (ssize_t)sizeof echo);
    unsigned char query[28] = {130, 0, 0, 0, 0x03, 0xe8}; /* max response 1000 ms, general, the rest zero */
    query[24] = 2;                                         /* QRV 2 */
    query[25] = 125;                                       /* QQIC 125 s */
    CHECK(send_raw(tx, query, sizeof query, AF_INET6, "ff02::1", ifindex("va")) == (ssize_t)sizeof query);

    unsigned char buf[256], control[256];
    struct sockaddr_in6 from;
    for (int i = 0; i < 50; i++) {
        CHECK(readable(rx, 5000));
        struct iovec iov = {buf, sizeof buf};
        struct msghdr msg = {&from, sizeof from, &iov, 1, control, sizeof control, 0};
        ssize_t n = recvmsg(rx, &msg, 0);
        CHECK(n >= 0);
        CHECK(buf[0] != 128); /* the filter keeps echo away */
        if (buf[0] != 130)
            continue;
        CHECK(n == 28);
        CHECK(memcmp(buf + 4, query + 4, sizeof query - 4) == 0);
        CHECK(buf[2] != 0 || buf[3] != 0); /* the sender's kernel filled the checksum; ours verified it */
        CHECK(IN6_IS_ADDR_LINKLOCAL(&from.sin6_addr));
        CHECK(from.sin6_scope_id == ifindex("vb"));
        bool router_alert = false;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPOPTS && c->cmsg_len >= CMSG_LEN(8)) {
                const unsigned char *h = CMSG_DATA(c);
                router_alert = h[2] == 5 && h[3] == 2 && h[4] == 0 && h[5] == 0;
            }
        }
        CHECK(router_alert);
        CHECK_OK(mcast_close(tx));
        CHECK_OK(mcast_close(rx));
        return true;
    }
    CHECK(!"no MLD query among 50 messages");
    return false;
}

const struct test_case raw_tests[] = {
    TEST(test_raw_igmp_options),
    TEST(test_raw_mld_options),
    TEST(test_raw_igmp_router_alert_on_the_wire),
    TEST(test_raw_mld_query_crosses_the_veth),
    {NULL, NULL},
};
