/* Traffic spread over many groups and many senders for `make bench` (part "scale").
 *
 * usage: spread FIRST_GROUP GROUPS PORT IFACE SOURCES RATE SECONDS
 * Sends 64-byte datagrams to GROUPS consecutive groups from FIRST_GROUP (IPv4 or IPv6: the last 32 bits count
 * up), in turn, out of IFACE (TTL/hop limit 1), each from the next of SOURCES sockets (so from as many source
 * ports), RATE datagrams/s (0: as fast as the kernel takes them) for SECONDS, never past them however slowly the
 * kernel takes each datagram; then prints "sent N failed M". */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: spread FIRST_GROUP GROUPS PORT IFACE SOURCES RATE SECONDS\n");
        return 2;
    }
    long groups = atol(argv[2]), sources = atol(argv[5]);
    double rate = atof(argv[6]), seconds = atof(argv[7]);
    unsigned short port = (unsigned short)atoi(argv[3]);
    unsigned ifindex = if_nametoindex(argv[4]);
    struct sockaddr_storage first = {0};
    struct sockaddr_in *v4 = (struct sockaddr_in *)&first;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&first;
    int family = AF_INET;
    if (inet_pton(AF_INET, argv[1], &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
    } else if (inet_pton(AF_INET6, argv[1], &v6->sin6_addr) == 1) {
        family = AF_INET6;
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
    } else {
        fprintf(stderr, "spread: bad group %s\n", argv[1]);
        return 2;
    }
    if (groups < 1 || sources < 1 || sources > 60000 || ifindex == 0) {
        fprintf(stderr, "spread: bad count or interface\n");
        return 2;
    }
    int *fds = calloc(sources, sizeof *fds);
    for (long i = 0; i < sources; i++) {
        int fd = socket(family, SOCK_DGRAM, 0), one = 1;
        if (fd < 0) {
            perror("spread: socket");
            return 1;
        }
        if (family == AF_INET) {
            struct ip_mreqn m = {.imr_ifindex = (int)ifindex};
            unsigned char ttl = 1;
            setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &m, sizeof m);
            setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl);
        } else {
            setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof ifindex);
            setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &one, sizeof one);
        }
        fds[i] = fd;
    }
    unsigned char payload[64] = {0};
    uint32_t base = family == AF_INET ? ntohl(v4->sin_addr.s_addr) : 0;
    if (family == AF_INET6)
        memcpy(&base, &v6->sin6_addr.s6_addr[12], 4), base = ntohl(base);
    unsigned long long sent = 0, failed = 0;
    double start = now(), end = start + seconds;
    long g = 0, s = 0;
    for (;;) {
        double t = now();
        if (t >= end)
            break;
        unsigned long long due = rate > 0 ? (unsigned long long)((t - start) * rate) + 1 : sent + failed + 64;
        if (sent + failed >= due) {
            usleep(50);
            continue;
        }
        /* The clock is read again every 64 datagrams: where each send is slow (a sending host whose neighbour
         * table is past its limit, as with thousands of groups) the run still ends on time. */
        while (sent + failed < due && ((sent + failed) % 64 != 63 || now() < end)) {
            struct sockaddr_storage to = first;
            uint32_t a = htonl(base + (uint32_t)g);
            if (family == AF_INET)
                ((struct sockaddr_in *)&to)->sin_addr.s_addr = a;
            else
                memcpy(&((struct sockaddr_in6 *)&to)->sin6_addr.s6_addr[12], &a, 4);
            socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
            if (sendto(fds[s], payload, sizeof payload, 0, (struct sockaddr *)&to, len) < 0)
                failed++;
            else
                sent++;
            g = (g + 1) % groups;
            s = (s + 1) % sources;
        }
    }
    printf("sent %llu failed %llu\n", sent, failed);
    return 0;
}
