/* Traffic spread over many groups and many senders for `make bench` (part "scale").
 *
 * usage: spread FIRST_GROUP GROUPS PORT IFACE SOURCES RATE SECONDS [udp]
 * Sends 64-byte datagrams to GROUPS consecutive groups from FIRST_GROUP (IPv4 or IPv6: the last 32 bits count
 * up), in turn, out of IFACE (TTL/hop limit 1), each from the next of SOURCES source ports, RATE datagrams/s
 * (0: as fast as the kernel takes them) for SECONDS, never past them however slowly the kernel takes each
 * datagram; then prints "sent N failed M".
 *
 * The datagrams are written whole (IP and UDP headers, the Ethernet destination the group's multicast MAC) to
 * a packet socket on IFACE, from IFACE's first address of the family: a UDP socket would pass each through
 * the sending host's neighbour table, which holds an entry per group and past its limit (gc_thresh3, 1,024
 * by default, one table for the whole machine) makes every send slow, so that a receiver of 10,000 groups
 * would be measured by its sender's table. With "udp", UDP sockets as an ordinary sender has them (one per
 * source). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
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

/* The one's complement sum of `len` bytes, folded into `sum`. */
static uint32_t sum16(uint32_t sum, const unsigned char *p, size_t len) {
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)p[i] << 8 | p[i + 1];
    if (len & 1)
        sum += (uint32_t)p[len - 1] << 8;
    return sum;
}

static uint16_t fold(uint32_t sum) {
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* IFACE's first address of `family` into `out` (4 or 16 bytes); 0 when it has none. */
static int iface_addr(const char *iface, int family, unsigned char *out) {
    struct ifaddrs *all, *a;
    int found = 0;
    if (getifaddrs(&all))
        return 0;
    for (a = all; a && !found; a = a->ifa_next) {
        if (!a->ifa_addr || a->ifa_addr->sa_family != family || strcmp(a->ifa_name, iface))
            continue;
        if (family == AF_INET)
            memcpy(out, &((struct sockaddr_in *)a->ifa_addr)->sin_addr, 4);
        else
            memcpy(out, &((struct sockaddr_in6 *)a->ifa_addr)->sin6_addr, 16);
        found = 1;
    }
    freeifaddrs(all);
    return found;
}

/* One datagram to group `g` (4 or 16 bytes) from `src`, source port `sport`, into `frame`; its length. */
static size_t build(unsigned char *frame, int family, const unsigned char *src, const unsigned char *g,
                    uint16_t sport, uint16_t dport, size_t payload) {
    size_t ip = family == AF_INET ? 20 : 40, udp_len = 8 + payload;
    unsigned char *u = frame + ip;
    memset(frame, 0, ip + udp_len);
    if (family == AF_INET) {
        frame[0] = 0x45;
        frame[2] = (unsigned char)((ip + udp_len) >> 8), frame[3] = (unsigned char)(ip + udp_len);
        frame[8] = 1;   /* TTL */
        frame[9] = 17;  /* UDP */
        memcpy(frame + 12, src, 4);
        memcpy(frame + 16, g, 4);
        uint16_t c = fold(sum16(0, frame, 20));
        frame[10] = (unsigned char)(c >> 8), frame[11] = (unsigned char)c;
    } else {
        frame[0] = 0x60;
        frame[4] = (unsigned char)(udp_len >> 8), frame[5] = (unsigned char)udp_len;
        frame[6] = 17;  /* UDP */
        frame[7] = 1;   /* hop limit */
        memcpy(frame + 8, src, 16);
        memcpy(frame + 24, g, 16);
    }
    u[0] = (unsigned char)(sport >> 8), u[1] = (unsigned char)sport;
    u[2] = (unsigned char)(dport >> 8), u[3] = (unsigned char)dport;
    u[4] = (unsigned char)(udp_len >> 8), u[5] = (unsigned char)udp_len;
    /* The UDP checksum over the pseudo-header (IPv6 requires it; IPv4 gets one too). */
    uint32_t sum = 17 + (uint32_t)udp_len;
    sum = family == AF_INET ? sum16(sum16(sum, src, 4), g, 4) : sum16(sum16(sum, src, 16), g, 16);
    uint16_t c = fold(sum16(sum, u, udp_len));
    if (c == 0)
        c = 0xffff;
    u[6] = (unsigned char)(c >> 8), u[7] = (unsigned char)c;
    return ip + udp_len;
}

int main(int argc, char **argv) {
    if (argc != 8 && !(argc == 9 && strcmp(argv[8], "udp") == 0)) {
        fprintf(stderr, "usage: spread FIRST_GROUP GROUPS PORT IFACE SOURCES RATE SECONDS [udp]\n");
        return 2;
    }
    int raw = argc == 8;
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
    int pfd = -1;
    unsigned char src[16] = {0};
    if (raw) {
        pfd = socket(AF_PACKET, SOCK_DGRAM, 0);
        if (pfd < 0 || !iface_addr(argv[4], family, src)) {
            fprintf(stderr, "spread: no packet socket or no address of the family on %s\n", argv[4]);
            return 1;
        }
    }
    for (long i = 0; i < (raw ? 0 : sources); i++) {
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
            ssize_t r;
            if (raw) {
                unsigned char frame[40 + 8 + sizeof payload], group[16];
                struct sockaddr_ll ll = {.sll_family = AF_PACKET, .sll_ifindex = (int)ifindex, .sll_halen = 6};
                if (family == AF_INET) {
                    memcpy(group, &a, 4);
                    ll.sll_protocol = htons(ETH_P_IP);
                    /* 01:00:5e and the group's low 23 bits. */
                    unsigned char mac[6] = {0x01, 0x00, 0x5e, group[1] & 0x7f, group[2], group[3]};
                    memcpy(ll.sll_addr, mac, 6);
                } else {
                    memcpy(group, &((struct sockaddr_in6 *)&to)->sin6_addr, 16);
                    ll.sll_protocol = htons(ETH_P_IPV6);
                    /* 33:33 and the group's low 32 bits. */
                    unsigned char mac[6] = {0x33, 0x33, group[12], group[13], group[14], group[15]};
                    memcpy(ll.sll_addr, mac, 6);
                }
                size_t n = build(frame, family, src, group, (uint16_t)(40000 + s), port, sizeof payload);
                r = sendto(pfd, frame, n, 0, (struct sockaddr *)&ll, sizeof ll);
            } else {
                r = sendto(fds[s], payload, sizeof payload, 0, (struct sockaddr *)&to, len);
            }
            if (r < 0)
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
