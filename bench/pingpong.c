/* Baseline multicast ping-pong for `make bench`, measured the way `mcast ping` measures: the client sends a
 * probe to the group every INTERVAL_US with CLOCK_REALTIME written into it just before sending; the server
 * answers by unicast; the round trip is the answer's kernel arrival stamp (SO_TIMESTAMPNS) minus that time.
 * Probes and answers are mcast's own (docs/protocol.md: a 28-byte header, type 1 a probe, 3 a unicast answer,
 * 2 a multicast answer), so this client can probe `mcast ping --serve` and `mcast ping` can probe this server.
 *
 * With "both" it does the whole of `mcast ping`'s job: the server answers each probe twice, by unicast to the
 * prober and then to the group, and the client is a member of the group (joined on IFADDR, bound to PORT) so
 * that it hears the multicast answers, sending its probes from a second socket on an ephemeral port where the
 * unicast answers come back. Without "both" the client is not a member and the server answers by unicast only.
 * With "noloop" the client's probes are not looped back to this host (IP_MULTICAST_LOOP off on the sending
 * socket), as `mcast ping` does while it is the only member of the group on its host: then the kernel makes no
 * copy of each probe for the client's own joined socket.
 *
 * usage: pingpong server GROUP PORT IFADDR COUNT [busy] [both]
 *        pingpong client GROUP PORT IFADDR COUNT INTERVAL_US [busy] [both] [noloop] [wait=MS]
 * The client prints "median_us M p99_us P received N mcast_median_us M2 mcast_received N2"; busy spins on
 * MSG_DONTWAIT instead of sleeping in poll(); wait=MS is how long the client waits for answers after its last
 * probe (default 200). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PROBE_LEN 28 /* an mcast probe: its header without payload */
#define TYPE 5        /* the header's type byte */
#define PROBE 1
#define MULTICAST 2
#define UNICAST 3

static void put_be64(unsigned char *p, uint64_t v) {
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static uint64_t get_be64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static uint64_t realtime_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t)t.tv_sec * 1000000000u + t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* One datagram from either of fds[0..nfds), waiting until `deadline` (CLOCK_REALTIME ns): blocking in poll(),
 * or spinning on MSG_DONTWAIT when busy. Returns its length (-1: nothing came), which socket in *which, and its
 * kernel stamp in *stamp (0 if none). */
static ssize_t receive(const int *fds, int nfds, void *buf, size_t len, struct sockaddr_in *from, int busy,
                       uint64_t deadline, int *which, uint64_t *stamp) {
    char control[256];
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    for (;;) {
        uint64_t now = realtime_ns();
        if (now >= deadline)
            return -1;
        struct pollfd p[2];
        if (!busy) {
            for (int i = 0; i < nfds; i++)
                p[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
            int ms = (int)((deadline - now + 999999) / 1000000);
            if (poll(p, nfds, ms) <= 0)
                continue;
        }
        for (int i = 0; i < nfds; i++) {
            if (!busy && !(p[i].revents & POLLIN))
                continue;
            struct msghdr msg = {.msg_name = from, .msg_namelen = sizeof *from, .msg_iov = &iov, .msg_iovlen = 1,
                                 .msg_control = control, .msg_controllen = sizeof control};
            ssize_t n = recvmsg(fds[i], &msg, MSG_DONTWAIT);
            if (n < 0)
                continue;
            *which = i;
            *stamp = 0;
            for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS) {
                    struct timespec ts;
                    memcpy(&ts, CMSG_DATA(c), sizeof ts);
                    *stamp = (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
                }
            }
            return n;
        }
    }
}

/* A UDP socket with arrival stamps, sending to the group from `ifaddr` with TTL 1. */
static int udp_socket(struct in_addr ifaddr) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int one = 1, ttl = 1;
    if (fd < 0) {
        perror("pingpong: socket");
        exit(1);
    }
    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl);
    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &ifaddr, sizeof ifaddr);
    return fd;
}

/* A socket bound to the group's port and joined to it on the interface with address mreq->imr_interface. */
static int member_socket(const struct ip_mreq *mreq, in_port_t port) {
    int fd = udp_socket(mreq->imr_interface);
    int one = 1, zero = 0;
    struct sockaddr_in any = {.sin_family = AF_INET, .sin_port = port};
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof zero);
    if (bind(fd, (struct sockaddr *)&any, sizeof any) || setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, mreq, sizeof *mreq)) {
        perror("pingpong: bind/join");
        exit(1);
    }
    return fd;
}

static double median_us(uint64_t *v, long n) {
    qsort(v, n, sizeof *v, cmp);
    return n ? v[(n - 1) / 2] / 1e3 : 0.0;
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr,
                "usage: pingpong server|client GROUP PORT IFADDR COUNT [INTERVAL_US] [busy] [both] [noloop] [wait=MS]\n");
        return 2;
    }
    int server = strcmp(argv[1], "server") == 0;
    long count = atol(argv[5]);
    long interval_us = !server && argc > 6 ? atol(argv[6]) : 0;
    int busy = 0, both = 0, noloop = 0;
    uint64_t wait_ns = 200000000u;
    for (int i = 6; i < argc; i++) {
        busy |= strcmp(argv[i], "busy") == 0;
        both |= strcmp(argv[i], "both") == 0;
        noloop |= strcmp(argv[i], "noloop") == 0;
        if (strncmp(argv[i], "wait=", 5) == 0)
            wait_ns = (uint64_t)atol(argv[i] + 5) * 1000000u;
    }
    struct sockaddr_in group = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[3]))};
    struct ip_mreq mreq;
    if (inet_pton(AF_INET, argv[2], &group.sin_addr) != 1 || inet_pton(AF_INET, argv[4], &mreq.imr_interface) != 1) {
        fprintf(stderr, "pingpong: bad address\n");
        return 2;
    }
    mreq.imr_multiaddr = group.sin_addr;
    unsigned char buf[64];
    struct sockaddr_in from;
    uint64_t stamp;
    int which;
    if (server) {
        int fd = member_socket(&mreq, group.sin_port);
        fprintf(stderr, "pingpong: answering\n");
        long answered = 0;
        for (int idle = 0; answered < count && idle < 20;) {
            ssize_t n = receive(&fd, 1, buf, sizeof buf, &from, busy, realtime_ns() + 1000000000u, &which, &stamp);
            idle = n < 0 ? idle + 1 : 0;
            /* With "both" the server also reads its own multicast answers (it is a member): only probes are
             * answered, by changing the type byte. */
            if (n < PROBE_LEN || memcmp(buf, "MCST\1", 5) != 0 || buf[TYPE] != PROBE)
                continue;
            answered++;
            buf[TYPE] = UNICAST;
            sendto(fd, buf, n, 0, (struct sockaddr *)&from, sizeof from);
            if (both) {
                buf[TYPE] = MULTICAST;
                sendto(fd, buf, n, 0, (struct sockaddr *)&group, sizeof group);
            }
        }
        return 0;
    }
    /* Like `mcast ping`: a probe every INTERVAL_US whatever the answers do, and answers taken as they come
     * until the next probe is due (then for wait=MS after the last). */
    int fds[2] = {udp_socket(mreq.imr_interface), -1};
    int nfds = 1;
    if (noloop) {
        unsigned char zero = 0;
        setsockopt(fds[0], IPPROTO_IP, IP_MULTICAST_LOOP, &zero, sizeof zero);
    }
    if (both) {
        struct sockaddr_in any = {.sin_family = AF_INET};
        if (bind(fds[0], (struct sockaddr *)&any, sizeof any)) {
            perror("pingpong: bind");
            return 1;
        }
        fds[1] = member_socket(&mreq, group.sin_port);
        nfds = 2;
    }
    uint64_t *rtt = calloc(count, sizeof *rtt), *mrtt = calloc(count, sizeof *mrtt);
    unsigned char session[4];
    uint32_t id = (uint32_t)(realtime_ns() ^ (uint64_t)getpid() << 16);
    memcpy(session, &id, 4);
    long got = 0, mgot = 0;
    uint64_t next = realtime_ns();
    for (long i = 0; i <= count; i++) {
        uint64_t until = i < count ? next : realtime_ns() + wait_ns;
        ssize_t n;
        while ((n = receive(fds, nfds, buf, sizeof buf, &from, busy, until, &which, &stamp)) >= 0) {
            if (n < PROBE_LEN || !stamp || memcmp(buf, "MCST\1", 5) != 0 || memcmp(buf + 8, session, 4) != 0)
                continue;
            uint64_t sent = get_be64(buf + 20);
            if (buf[TYPE] == UNICAST && got < count)
                rtt[got++] = stamp - sent;
            else if (buf[TYPE] == MULTICAST && mgot < count)
                mrtt[mgot++] = stamp - sent;
        }
        if (i == count)
            break;
        memcpy(buf, "MCST\1\1\0\0", 8); /* magic, version, type: probe, no payload */
        memcpy(buf + 8, session, 4);
        put_be64(buf + 12, (uint64_t)i);
        put_be64(buf + 20, realtime_ns());
        sendto(fds[0], buf, PROBE_LEN, 0, (struct sockaddr *)&group, sizeof group);
        next += interval_us * 1000;
    }
    double median = median_us(rtt, got); /* sorts rtt */
    printf("median_us %.3f p99_us %.3f received %ld", median, got ? rtt[(long)((got - 1) * 0.99)] / 1e3 : 0.0, got);
    printf(" mcast_median_us %.3f mcast_received %ld\n", median_us(mrtt, mgot), mgot);
    return 0;
}
