/*
 * client: joins a multicast group and prints each datagram with its source and group.
 *
 *     cc client.c $(pkg-config --cflags --libs mcast) -o client
 *     ./client [GROUP:PORT [IFACE [COUNT]]]     (default 239.255.0.1:5000, the route's interface, forever)
 *
 * Prints "SOURCE:PORT -> GROUP on IFACE: TEXT" per datagram; stops after COUNT datagrams if given.
 */
#define _POSIX_C_SOURCE 200809L /* getnameinfo */

#include <mcast.h>

#include <net/if.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    const char *group = argc > 1 ? argv[1] : "239.255.0.1:5000";
    long count = argc > 3 ? atol(argv[3]) : 0;
    struct mcast_opts opts = MCAST_OPTS_INIT;
    opts.iface = argc > 2 ? argv[2] : NULL;

    /* socket(), SO_REUSEADDR, bind() to the port, IP_ADD_MEMBERSHIP, in one call. */
    int fd = mcast_receiver(group, &opts);
    if (fd < 0) {
        fprintf(stderr, "client: %s\n", mcast_last_error());
        return 1;
    }
    for (long n = 0; count == 0 || n < count; n++) {
        char buf[65536], host[64], port[8], dest[64] = "?", iface[IF_NAMESIZE] = "?";
        struct mcast_rxinfo info = MCAST_RXINFO_INIT;
        ssize_t len = mcast_recv(fd, buf, sizeof buf, &info);
        if (len < 0) {
            fprintf(stderr, "client: %s\n", mcast_last_error());
            mcast_close(fd);
            return 1;
        }
        getnameinfo((struct sockaddr *)&info.source, sizeof info.source, host, sizeof host, port, sizeof port,
                    NI_NUMERICHOST | NI_NUMERICSERV);
        if (info.group.ss_family != AF_UNSPEC)
            getnameinfo((struct sockaddr *)&info.group, sizeof info.group, dest, sizeof dest, NULL, 0,
                        NI_NUMERICHOST);
        if (info.ifindex != 0)
            if_indextoname(info.ifindex, iface);
        printf("%s:%s -> %s on %s: %.*s%s\n", host, port, dest, iface, (int)len, buf,
               info.truncated ? " [truncated]" : "");
        fflush(stdout);
    }
    mcast_close(fd);
    return 0;
}
