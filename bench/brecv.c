/* Baseline multicast receiver for `make bench`: recvmmsg, 64 reads per call, one datagram a read, or with
 * "gro" UDP_GRO on, so that a read may bring a train of datagrams of one size, as mcast perf --serve reads.
 *
 * usage: brecv GROUP PORT IFADDR IDLE_SECONDS [gro]
 * Joins GROUP on the interface with address IFADDR, receives until nothing has arrived for IDLE_SECONDS
 * (after the first datagram; 20 s before it), and prints "received N lost L seconds T pps P": a GRO read
 * counts as ceil(length / segment size) datagrams, the segment size from its UDP_GRO control message; loss from
 * the sequence numbers in the first 8 bytes of each read's last datagram; the rate over first to last arrival. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#define BATCH 64
#define BUF 65536

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 5 && !(argc == 6 && strcmp(argv[5], "gro") == 0)) {
        fprintf(stderr, "usage: brecv GROUP PORT IFADDR IDLE_SECONDS [gro]\n");
        return 2;
    }
    struct ip_mreq mreq;
    if (inet_pton(AF_INET, argv[1], &mreq.imr_multiaddr) != 1 || inet_pton(AF_INET, argv[3], &mreq.imr_interface) != 1) {
        fprintf(stderr, "brecv: bad address\n");
        return 2;
    }
    double idle = atof(argv[4]);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int one = 1, zero = 0, rcvbuf = 16 << 20;
    struct sockaddr_in any = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof zero);
    if (bind(fd, (struct sockaddr *)&any, sizeof any) || setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof mreq)) {
        perror("brecv: bind/join");
        return 1;
    }
    int gro = argc == 6;
    if (gro && setsockopt(fd, IPPROTO_UDP, UDP_GRO, &one, sizeof one)) {
        perror("brecv: UDP_GRO");
        return 1;
    }
    fprintf(stderr, "brecv: listening\n");
    static unsigned char bufs[BATCH][BUF];
    static char controls[BATCH][CMSG_SPACE(sizeof(int))];
    struct iovec iov[BATCH];
    struct mmsghdr msgs[BATCH];
    for (int i = 0; i < BATCH; i++) {
        iov[i] = (struct iovec){.iov_base = bufs[i], .iov_len = BUF};
        memset(&msgs[i], 0, sizeof msgs[i]);
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    size_t control_len = gro ? sizeof controls[0] : 0;
    uint64_t received = 0, highest = 0;
    double first = 0, last = 0;
    struct timeval tv = {.tv_sec = 20};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    for (;;) {
        for (int i = 0; i < BATCH; i++) {
            msgs[i].msg_hdr.msg_control = gro ? controls[i] : NULL;
            msgs[i].msg_hdr.msg_controllen = control_len;
        }
        int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                break;
            perror("brecv: recvmmsg");
            return 1;
        }
        double t = now();
        if (received == 0) {
            first = t;
            tv = (struct timeval){.tv_sec = (time_t)idle, .tv_usec = (suseconds_t)((idle - (time_t)idle) * 1e6)};
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        }
        last = t;
        for (int i = 0; i < n; i++) {
            size_t len = msgs[i].msg_len, seg = len, count = 1;
            if (gro) {
                struct cmsghdr *c = CMSG_FIRSTHDR(&msgs[i].msg_hdr);
                if (c && c->cmsg_level == IPPROTO_UDP && c->cmsg_type == UDP_GRO) {
                    int s;
                    memcpy(&s, CMSG_DATA(c), sizeof s);
                    if (s > 0 && (size_t)s < len) {
                        seg = (size_t)s;
                        count = (len + seg - 1) / seg;
                    }
                }
            }
            received += count;
            if ((count - 1) * seg + 8 > len)
                continue;
            uint64_t be;
            memcpy(&be, bufs[i] + (count - 1) * seg, 8);
            uint64_t s = be64toh(be);
            if (s + 1 > highest)
                highest = s + 1;
        }
    }
    double secs = last - first;
    printf("received %llu lost %llu seconds %.6f pps %.0f\n", (unsigned long long)received,
           (unsigned long long)(highest > received ? highest - received : 0), secs, secs > 0 ? received / secs : 0.0);
    return 0;
}
