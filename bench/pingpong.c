/* Baseline multicast ping-pong for `make bench`, measured the way `mcast ping` measures: the client sends a
 * probe to the group every INTERVAL_US with CLOCK_REALTIME written into it just before sending; the server
 * answers by unicast; the round trip is the answer's kernel arrival stamp (SO_TIMESTAMPNS) minus that time.
 *
 * usage: pingpong server GROUP PORT IFADDR COUNT [busy]
 *        pingpong client GROUP PORT IFADDR COUNT INTERVAL_US [busy]
 * The client prints "median_us M p99_us P received N"; busy spins on MSG_DONTWAIT instead of blocking. */
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

static uint64_t realtime_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t)t.tv_sec * 1000000000u + t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* One datagram, waiting until `deadline` (CLOCK_REALTIME ns): blocking in poll(), or spinning on
 * MSG_DONTWAIT when busy. Returns its length (-1: nothing came) and its kernel stamp in *stamp (0 if none). */
static ssize_t receive(int fd, void *buf, size_t len, struct sockaddr_in *from, int busy, uint64_t deadline,
                       uint64_t *stamp) {
    char control[256];
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    for (;;) {
        uint64_t now = realtime_ns();
        if (now >= deadline)
            return -1;
        if (!busy) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            int ms = (int)((deadline - now + 999999) / 1000000);
            if (poll(&p, 1, ms) <= 0)
                continue;
        }
        struct msghdr msg = {.msg_name = from, .msg_namelen = sizeof *from, .msg_iov = &iov, .msg_iovlen = 1,
                             .msg_control = control, .msg_controllen = sizeof control};
        ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);
        if (n < 0)
            continue;
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

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: pingpong server|client GROUP PORT IFADDR COUNT [INTERVAL_US] [busy]\n");
        return 2;
    }
    int server = strcmp(argv[1], "server") == 0;
    long count = atol(argv[5]);
    long interval_us = !server && argc > 6 ? atol(argv[6]) : 0;
    int busy = strcmp(argv[argc - 1], "busy") == 0;
    struct sockaddr_in group = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[3]))};
    struct ip_mreq mreq;
    if (inet_pton(AF_INET, argv[2], &group.sin_addr) != 1 || inet_pton(AF_INET, argv[4], &mreq.imr_interface) != 1) {
        fprintf(stderr, "pingpong: bad address\n");
        return 2;
    }
    mreq.imr_multiaddr = group.sin_addr;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int one = 1, zero = 0, ttl = 1;
    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl);
    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mreq.imr_interface, sizeof mreq.imr_interface);
    unsigned char buf[64];
    struct sockaddr_in from;
    uint64_t stamp;
    if (server) {
        struct sockaddr_in any = {.sin_family = AF_INET, .sin_port = group.sin_port};
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof zero);
        if (bind(fd, (struct sockaddr *)&any, sizeof any) || setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof mreq)) {
            perror("pingpong: bind/join");
            return 1;
        }
        fprintf(stderr, "pingpong: answering\n");
        long answered = 0;
        for (int idle = 0; answered < count && idle < 20;) {
            ssize_t n = receive(fd, buf, sizeof buf, &from, busy, realtime_ns() + 1000000000u, &stamp);
            idle = n < 0 ? idle + 1 : 0;
            answered += n > 0;
            if (n > 0)
                sendto(fd, buf, n, 0, (struct sockaddr *)&from, sizeof from);
        }
        return 0;
    }
    /* Like `mcast ping`: a probe every INTERVAL_US whatever the answers do, and answers taken as they come
     * until the next probe is due (then for a second after the last). */
    uint64_t *rtt = calloc(count, sizeof *rtt);
    long got = 0;
    uint64_t next = realtime_ns();
    for (long i = 0; i <= count; i++) {
        uint64_t until = i < count ? next : realtime_ns() + 1000000000u;
        ssize_t n;
        while ((n = receive(fd, buf, sizeof buf, &from, busy, until, &stamp)) >= 0) {
            uint64_t sent;
            if (n >= 8 && stamp && got < count) {
                memcpy(&sent, buf, 8);
                rtt[got++] = stamp - sent;
            }
        }
        if (i == count)
            break;
        uint64_t t = realtime_ns();
        memcpy(buf, &t, 8);
        sendto(fd, buf, 28, 0, (struct sockaddr *)&group, sizeof group);
        next += interval_us * 1000;
    }
    qsort(rtt, got, sizeof *rtt, cmp);
    printf("median_us %.3f p99_us %.3f received %ld\n", got ? rtt[(got - 1) / 2] / 1e3 : 0.0,
           got ? rtt[(long)((got - 1) * 0.99)] / 1e3 : 0.0, got);
    return 0;
}
