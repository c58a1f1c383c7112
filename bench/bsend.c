/* Baseline multicast senders for `make bench`: a plain sendto loop, or UDP_SEGMENT (GSO) trains.
 *
 * usage: bsend sendto|gso GROUP PORT SIZE SECONDS IFADDR [SEGMENTS [RATE]]
 * Sends datagrams of SIZE bytes (the first 8 are a big-endian sequence number) to GROUP:PORT from the
 * interface with address IFADDR, TTL 1, as fast as the kernel takes them, for SECONDS; then prints
 * "sent N". With gso, each sendmsg carries SEGMENTS datagrams (default 16) cut by the kernel. With RATE
 * (datagrams/s), paced as mcast perf paces: datagram k is due k / RATE seconds after the start, a call
 * carries what is due (at most SEGMENTS), and the sender sleeps until then when nothing is, spinning the
 * last 200 us. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <endian.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 7) {
        fprintf(stderr, "usage: bsend sendto|gso GROUP PORT SIZE SECONDS IFADDR [SEGMENTS]\n");
        return 2;
    }
    int gso = strcmp(argv[1], "gso") == 0;
    size_t size = strtoul(argv[4], NULL, 10);
    double seconds = atof(argv[5]);
    int segs = argc > 7 ? atoi(argv[7]) : 16;
    double rate = argc > 8 ? atof(argv[8]) : 0;
    if (size < 8 || size > 65507 || segs < 1 || segs > 64 || size * segs > 65507 || rate < 0) {
        fprintf(stderr, "bsend: bad size, segment count or rate\n");
        return 2;
    }
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[3]))};
    struct in_addr ifaddr;
    if (inet_pton(AF_INET, argv[2], &dst.sin_addr) != 1 || inet_pton(AF_INET, argv[6], &ifaddr) != 1) {
        fprintf(stderr, "bsend: bad address\n");
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int ttl = 1, sndbuf = 4 << 20;
    if (fd < 0 || setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl) ||
        setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &ifaddr, sizeof ifaddr)) {
        perror("bsend: socket setup");
        return 1;
    }
    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf);
    int n = gso ? segs : 1;
    unsigned char *buf = calloc(n, size);
    uint64_t seq = 0;
    double start = now(), end = start + seconds;
    char control[CMSG_SPACE(sizeof(uint16_t))];
    while (now() < end) {
        /* The clock is read once per 64 sends, so the loop measures the kernel, not clock_gettime. */
        for (int round = 0; round < 64; round++) {
            int k = n;
            if (rate > 0) {
                double t;
                uint64_t due;
                while ((due = (uint64_t)(((t = now()) - start) * rate) + 1) <= seq) {
                    if (t >= end)
                        goto done;
                    double left = (double)seq / rate - (t - start);
                    if (left > 200e-6)
                        usleep((useconds_t)((left - 100e-6) * 1e6));
                }
                if (due - seq < (uint64_t)k)
                    k = (int)(due - seq);
            }
            for (int i = 0; i < k; i++) {
                uint64_t be = htobe64(seq + i);
                memcpy(buf + (size_t)i * size, &be, 8);
            }
            ssize_t r;
            if (gso) {
                struct iovec iov = {.iov_base = buf, .iov_len = size * k};
                struct msghdr msg = {.msg_name = &dst, .msg_namelen = sizeof dst, .msg_iov = &iov, .msg_iovlen = 1};
                memset(control, 0, sizeof control);
                msg.msg_control = control;
                msg.msg_controllen = sizeof control;
                struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
                c->cmsg_level = SOL_UDP;
                c->cmsg_type = UDP_SEGMENT;
                c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
                uint16_t seg = size;
                memcpy(CMSG_DATA(c), &seg, sizeof seg);
                r = sendmsg(fd, &msg, 0);
            } else {
                r = sendto(fd, buf, size, 0, (struct sockaddr *)&dst, sizeof dst);
            }
            if (r < 0) {
                perror("bsend: send");
                return 1;
            }
            seq += k;
        }
    }
done:
    printf("sent %llu\n", (unsigned long long)seq);
    return 0;
}
