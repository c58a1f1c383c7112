/* The C ABI's per-datagram cost for `make bench` (BENCH_PARTS=capi): a loop of mcast_send() against the same
 * loop of send(2), and a loop of mcast_recv() against recvmsg(2) doing the same job (every field of struct
 * mcast_rxinfo: source address, group and interface, TTL, drop count, lengths; see plain_recv), on the same
 * sockets over lo, 64-byte datagrams.
 *
 * usage: capi ROUNDS COUNT
 * Each round times COUNT sends with each call, then fills the receiver with twice COUNT datagrams and times
 * draining COUNT with each call, the two calls taking turns every CHUNK datagrams. Prints, per direction, the median over the rounds of
 * the ratio of the library's CPU time to the system call's, with the quartiles, and the median CPU ns per
 * datagram.
 * Run inside a network namespace whose lo is up with a 224.0.0.0/4 route (bench/run.sh makes one). */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mcast.h>

#define SIZE 64
#define CHUNK 500L

/* This thread's CPU time (user and system): time other processes take from it on a loaded machine does not
 * count, so both calls are charged only what they cost. */
static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void die(const char *what) {
    fprintf(stderr, "capi: %s: %s (%s)\n", what, strerror(errno), mcast_last_error());
    exit(1);
}

static double time_send(int fd, int lib, long count) {
    unsigned char buf[SIZE] = {0};
    double t0 = now();
    for (long i = 0; i < count; i++) {
        ssize_t n = lib ? mcast_send(fd, buf, SIZE) : send(fd, buf, SIZE, MSG_NOSIGNAL);
        if (n != SIZE)
            die(lib ? "mcast_send" : "send");
    }
    return now() - t0;
}

/* What a C program does to learn what mcast_recv() reports, written into the same struct: recvmsg(2) with the
 * sender's address straight into info->source, then the control messages the socket asked for (mcast_receiver
 * turns on IP_PKTINFO, IP_RECVTTL, IP_RECVTOS, SO_TIMESTAMPNS and SO_RXQ_OVFL, so both loops get the same ones
 * from the kernel) walked with CMSG_NXTHDR, reading what struct mcast_rxinfo holds: the group and interface
 * (IP_PKTINFO), the TTL and the drop count; the length, full length and truncation from MSG_TRUNC. A function
 * of its own, as mcast_recv() is, so that callgrind counts each per call (docs/performance.md). */
static __attribute__((noinline)) ssize_t plain_recv(int fd, unsigned char *buf, size_t len, struct mcast_rxinfo *info) {
    union {
        char bytes[256];
        struct cmsghdr align;
    } control;
    struct iovec iov = {buf, len};
    struct msghdr msg = {.msg_name = &info->source, .msg_namelen = sizeof info->source, .msg_iov = &iov,
                         .msg_iovlen = 1, .msg_control = control.bytes, .msg_controllen = sizeof control.bytes};
    ssize_t n = recvmsg(fd, &msg, MSG_TRUNC);
    if (n < 0)
        return n;
    info->full_len = (size_t)n;
    info->len = (size_t)n < len ? (size_t)n : len;
    info->truncated = (msg.msg_flags & MSG_TRUNC) != 0;
    info->group.ss_family = AF_UNSPEC;
    info->ifindex = 0;
    info->ttl = -1;
    info->drops = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
            struct in_pktinfo pi;
            memcpy(&pi, CMSG_DATA(c), sizeof pi);
            struct sockaddr_in group = {.sin_family = AF_INET, .sin_addr = pi.ipi_addr};
            memcpy(&info->group, &group, sizeof group);
            info->ifindex = (unsigned int)pi.ipi_ifindex;
        } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) {
            memcpy(&info->ttl, CMSG_DATA(c), sizeof info->ttl);
        } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
            memcpy(&info->drops, CMSG_DATA(c), sizeof info->drops);
        }
    }
    return (ssize_t)info->len;
}

static double time_recv(int fd, int lib, long count) {
    unsigned char buf[SIZE * 2];
    struct mcast_rxinfo info = MCAST_RXINFO_INIT;
    double t0 = now();
    for (long i = 0; i < count; i++) {
        ssize_t n = lib ? mcast_recv(fd, buf, sizeof buf, &info) : plain_recv(fd, buf, sizeof buf, &info);
        if (n != SIZE)
            die(lib ? "mcast_recv" : "recvmsg");
    }
    return now() - t0;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *what, double *ratio, double *ns, int rounds) {
    qsort(ratio, (size_t)rounds, sizeof *ratio, cmp);
    qsort(ns, (size_t)rounds, sizeof *ns, cmp);
    printf("%-22s %6.3fx (%5.3f-%5.3f)   %7.1f ns/datagram (the system call's)\n", what, ratio[rounds / 2],
           ratio[rounds / 4], ratio[(3 * rounds) / 4], ns[rounds / 2]);
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 15;
    long count = argc > 2 ? atol(argv[2]) : 20000;
    count -= count % CHUNK;
    if (rounds < 1 || rounds > 1000 || count < CHUNK) {
        fprintf(stderr, "usage: capi ROUNDS COUNT\n");
        return 2;
    }
    struct mcast_opts opts = MCAST_OPTS_INIT;
    opts.iface = "lo";
    opts.rcvbuf = 256u << 20; /* room for COUNT queued datagrams */
    int rx = mcast_receiver("239.99.3.1:5400", &opts);
    int tx = mcast_sender("239.99.3.1:5400", &opts);
    /* A second sender to a group nobody joined: the send loops measure the send path alone. */
    int quiet = mcast_sender("239.99.3.2:5401", &opts);
    if (rx < 0 || tx < 0 || quiet < 0)
        die("setup");
    double *sr = calloc((size_t)rounds, sizeof *sr), *sn = calloc((size_t)rounds, sizeof *sn);
    double *rr = calloc((size_t)rounds, sizeof *rr), *rn = calloc((size_t)rounds, sizeof *rn);
    if (!sr || !sn || !rr || !rn)
        die("calloc");
    time_send(quiet, 0, count); /* warm up */
    /* Within a round the two calls take turns every CHUNK datagrams, so that the drifts of a loaded machine,
     * which last far longer than a chunk, fall on both alike. */
    for (int r = 0; r < rounds; r++) {
        double t[2] = {0, 0};
        for (long done = 0; done < count; done += CHUNK)
            for (int k = 0; k < 2; k++) {
                int use_lib = (r + k) % 2;
                t[use_lib] += time_send(quiet, use_lib, CHUNK);
            }
        sr[r] = t[1] / t[0];
        sn[r] = t[0] / (double)count * 1e9;
        /* Fill the receiver with twice the count, then drain it taking turns. */
        time_send(tx, 0, 2 * count);
        t[0] = t[1] = 0;
        for (long done = 0; done < count; done += CHUNK)
            for (int k = 0; k < 2; k++) {
                int use_lib = (r + k) % 2;
                t[use_lib] += time_recv(rx, use_lib, CHUNK);
            }
        rr[r] = t[1] / t[0];
        rn[r] = t[0] / (double)count * 1e9;
    }
    printf("capi: %d rounds of %ld datagrams of %d bytes over lo; ratio median (quartiles)\n", rounds, count, SIZE);
    printf("      recv: one socket for both loops (same control messages from the kernel: pktinfo, TTL, TOS,\n"
           "      timestamp, drops); both fill a struct mcast_rxinfo (recvmsg + CMSG_NXTHDR walk in C)\n");
    report("mcast_send / send", sr, sn, rounds);
    report("mcast_recv / recvmsg", rr, rn, rounds);
    free(sr);
    free(sn);
    free(rr);
    free(rn);
    mcast_close(quiet);
    mcast_close(tx);
    mcast_close(rx);
    return 0;
}
