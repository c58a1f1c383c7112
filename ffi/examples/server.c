/*
 * server: sends each line of standard input as one datagram to a multicast group.
 *
 *     cc server.c $(pkg-config --cflags --libs mcast) -o server
 *     ./server [GROUP:PORT [IFACE [TTL]]]       (default 239.255.0.1:5000, the route's interface, TTL 1)
 *
 * With ./client running on another host of the subnet (or this one), every line typed here shows up there.
 */
#include <mcast.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    const char *group = argc > 1 ? argv[1] : "239.255.0.1:5000";
    struct mcast_opts opts = MCAST_OPTS_INIT;
    opts.iface = argc > 2 ? argv[2] : NULL; /* IP_MULTICAST_IF */
    opts.ttl = argc > 3 ? atoi(argv[3]) : 1; /* IP_MULTICAST_TTL: 1 stays on this subnet */

    /* socket(), IP_MULTICAST_TTL, IP_MULTICAST_IF and connect() to the group, in one call. */
    int fd = mcast_sender(group, &opts);
    if (fd < 0) {
        fprintf(stderr, "server: %s\n", mcast_last_error());
        return 1;
    }
    char line[1472]; /* the largest UDP payload an Ethernet frame carries over IPv4 */
    while (fgets(line, sizeof line, stdin) != NULL) {
        size_t len = strcspn(line, "\n");
        if (mcast_send(fd, line, len) < 0) {
            fprintf(stderr, "server: %s\n", mcast_last_error());
            mcast_close(fd);
            return 1;
        }
    }
    mcast_close(fd);
    return 0;
}
