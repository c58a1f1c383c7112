/* Many distinct senders for the soak (bench/soak.sh): each datagram leaves from its own socket bound to the next
 * of PORTS source ports, so a receiver sees PORTS different senders, over and over.
 *
 * usage: soaksend GROUP PORT IFADDR PORTS RATE SECONDS
 * Sends RATE datagrams/s of 32 bytes to GROUP:PORT from IFADDR (IP_MULTICAST_IF, TTL 1) for SECONDS, the source
 * port cycling through 30000..30000+PORTS-1; then prints "sent N failed M". */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
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
    if (argc != 7) {
        fprintf(stderr, "usage: soaksend GROUP PORT IFADDR PORTS RATE SECONDS\n");
        return 2;
    }
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2]))};
    struct in_addr ifaddr;
    if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1 || inet_pton(AF_INET, argv[3], &ifaddr) != 1) {
        fprintf(stderr, "soaksend: bad address\n");
        return 2;
    }
    long ports = atol(argv[4]), rate = atol(argv[5]);
    double secs = atof(argv[6]);
    if (ports < 1 || ports > 30000 || rate < 1) {
        fprintf(stderr, "soaksend: PORTS 1..30000, RATE at least 1\n");
        return 2;
    }
    const char msg[32] = "soak";
    long sent = 0, failed = 0;
    double start = now(), gap = 1.0 / (double)rate;
    for (long i = 0; now() - start < secs; i++) {
        double due = start + (double)i * gap, t = now();
        if (due > t) {
            struct timespec d = {(time_t)(due - t), (long)((due - t - (double)(time_t)(due - t)) * 1e9)};
            nanosleep(&d, NULL);
        }
        int fd = socket(AF_INET, SOCK_DGRAM, 0), one = 1, ttl = 1;
        if (fd < 0) {
            failed++;
            continue;
        }
        struct sockaddr_in from = {.sin_family = AF_INET, .sin_addr = ifaddr,
                                   .sin_port = htons((unsigned short)(30000 + i % ports))};
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
            setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &ifaddr, sizeof ifaddr) != 0 ||
            setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl) != 0 ||
            bind(fd, (struct sockaddr *)&from, sizeof from) != 0 ||
            sendto(fd, msg, sizeof msg, 0, (struct sockaddr *)&to, sizeof to) != (ssize_t)sizeof msg)
            failed++;
        else
            sent++;
        close(fd);
    }
    printf("sent %ld failed %ld\n", sent, failed);
    return 0;
}
