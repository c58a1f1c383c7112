/* Many groups in one receiver, inside this process's namespace: 60 IPv4 groups over lo with the membership
 * limit lowered so that they need several sockets; IPv4 and IPv6 groups together on va, read through the
 * caller's own poll(2); source-specific groups; and the bad input each call refuses. Every traffic test checks
 * the bytes, the sender, the group, the interface and the exact count per group, both as datagrams arrive and in
 * mcast_multi_stats(). */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_MEMBERSHIPS "/proc/sys/net/ipv4/igmp_max_memberships"

/* Reads or writes a sysctl of this namespace; false with a message on failure. */
static bool sysctl_read(const char *path, char *text, size_t len) {
    FILE *f = fopen(path, "r");
    if (f == NULL || fgets(text, (int)len, f) == NULL) {
        fprintf(stderr, "    read %s: %s\n", path, strerror(errno));
        if (f != NULL)
            fclose(f);
        return false;
    }
    fclose(f);
    return true;
}

static bool sysctl_write(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "    open %s: %s\n", path, strerror(errno));
        return false;
    }
    bool ok = fputs(text, f) >= 0;
    ok = fclose(f) == 0 && ok;
    return ok;
}

static bool contains(const int *fds, size_t n, int fd) {
    for (size_t i = 0; i < n; i++)
        if (fds[i] == fd)
            return true;
    return false;
}

#define GROUPS 60
#define LIMIT 7

/* Group i of 239.10.0.1-60 gets 1 + i % 3 datagrams, "g<i> n<k>". */
static bool test_multi_spreads_60_groups_over_sockets_and_counts_each(void) {
    char old[32];
    CHECK(sysctl_read(MAX_MEMBERSHIPS, old, sizeof old));
    CHECK(sysctl_write(MAX_MEMBERSHIPS, "7\n"));
    struct mcast_opts opts = MCAST_OPTS_INIT;
    opts.iface = "lo";
    struct mcast_multi *m = NULL;
    int opened = mcast_multi_open("239.10.0.1-239.10.0.60:5100", &opts, &m);
    /* The limit applies to joins only: restore it before anything can fail. */
    CHECK(sysctl_write(MAX_MEMBERSHIPS, old));
    CHECK(opened == 0 && m != NULL);

    /* 60 groups, 7 to a socket: 9 sockets. */
    size_t nfds = 0;
    CHECK_OK(mcast_multi_fds(m, NULL, 0, &nfds));
    CHECK(nfds > 1);
    CHECK(nfds == (GROUPS + LIMIT - 1) / LIMIT);
    int fds[16];
    size_t short_count = 12345;
    CHECK_ERR(mcast_multi_fds(m, fds, nfds - 1, &short_count), ERANGE);
    CHECK_MSG("mcast_multi_fds: fds has room for");
    CHECK(short_count == 12345);
    size_t again = 0;
    CHECK_OK(mcast_multi_fds(m, fds, sizeof fds / sizeof fds[0], &again));
    CHECK(again == nfds);
    for (size_t i = 0; i < nfds; i++) {
        CHECK(fds[i] >= 0 && local_port(fds[i]) == 5100);
        for (size_t j = 0; j < i; j++)
            CHECK(fds[i] != fds[j]);
    }

    opts.ttl = 1;
    int tx = mcast_sender("239.10.0.1:5100", &opts);
    CHECK_OK(tx);
    int port = local_port(tx);
    unsigned int expected[GROUPS], got[GROUPS];
    uint64_t expected_bytes[GROUPS];
    unsigned int total = 0;
    for (int g = 0; g < GROUPS; g++) {
        char group[32], text[32];
        snprintf(group, sizeof group, "239.10.0.%d:5100", g + 1);
        expected[g] = 1 + (unsigned int)g % 3;
        expected_bytes[g] = 0;
        got[g] = 0;
        for (unsigned int k = 0; k < expected[g]; k++) {
            int len = snprintf(text, sizeof text, "g%d n%u", g, k);
            CHECK(mcast_send_to(tx, text, (size_t)len, group) == len);
            expected_bytes[g] += (uint64_t)len;
            total++;
        }
    }
    CHECK(total == 120);

    for (unsigned int i = 0; i < total; i++) {
        char buf[64];
        struct mcast_rxinfo info = MCAST_RXINFO_INIT;
        memset(&info, 0x5a, sizeof info);
        info.size = sizeof info;
        ssize_t n = mcast_multi_recv(m, buf, sizeof buf - 1, &info, 5000);
        CHECK(n > 0);
        buf[n] = '\0';
        int g = -1;
        unsigned int k = 0;
        CHECK(sscanf(buf, "g%d n%u", &g, &k) == 2 && g >= 0 && g < GROUPS);
        char group[32];
        snprintf(group, sizeof group, "239.10.0.%d", g + 1);
        CHECK(addr_is(&info.group, group, 0));
        CHECK(addr_is(&info.source, "127.0.0.1", port));
        CHECK(info.ifindex == ifindex("lo") && info.ttl == 1);
        CHECK(info.len == (size_t)n && info.full_len == (size_t)n && info.truncated == 0);
        CHECK(k == got[g]); /* one group's datagrams keep their order */
        got[g]++;
    }
    /* Exactly that many: nothing more on any socket. */
    char spare[64];
    CHECK_ERR(mcast_multi_recv(m, spare, sizeof spare, NULL, 300), EAGAIN);
    CHECK_MSG("mcast_multi_recv: no datagram within 300 ms");
    for (int g = 0; g < GROUPS; g++)
        CHECK(got[g] == expected[g]);

    size_t count = 0;
    CHECK_OK(mcast_multi_stats(m, NULL, 0, &count));
    CHECK(count == GROUPS);
    struct mcast_multi_stat stats[GROUPS];
    memset(stats, 0x5a, sizeof stats);
    size_t left = 999;
    CHECK_ERR(mcast_multi_stats(m, stats, GROUPS - 1, &left), ERANGE);
    CHECK(left == 999 && stats[0].datagrams == 0x5a5a5a5a5a5a5a5aULL);
    CHECK_OK(mcast_multi_stats(m, stats, GROUPS, &count));
    CHECK(count == GROUPS);
    unsigned int per_fd[16] = {0};
    for (int g = 0; g < GROUPS; g++) {
        char group[32];
        snprintf(group, sizeof group, "239.10.0.%d", g + 1);
        CHECK(addr_is(&stats[g].group, group, 5100));
        CHECK(stats[g].source.ss_family == AF_UNSPEC);
        CHECK(stats[g].ifindex == ifindex("lo"));
        CHECK(contains(fds, nfds, stats[g].fd));
        for (size_t i = 0; i < nfds; i++)
            per_fd[i] += fds[i] == stats[g].fd;
        CHECK(stats[g].datagrams == expected[g]);
        CHECK(stats[g].bytes == expected_bytes[g]);
        CHECK(stats[g].truncated == 0);
    }
    for (size_t i = 0; i < nfds; i++)
        CHECK(per_fd[i] >= 1 && per_fd[i] <= LIMIT);

    CHECK_OK(mcast_close(tx));
    mcast_multi_free(m);
    return true;
}

/* IPv4 and IPv6 groups in one receiver on va, read the way an event loop does: poll(2) on the receiver's
 * descriptors, then mcast_multi_recv() with timeout 0. Sent at TTL/hop limit 0, looped back on va. */
static bool test_multi_mixed_families_through_the_callers_poll(void) {
    struct mcast_opts opts = MCAST_OPTS_INIT;
    opts.iface = "va";
    struct mcast_multi *m = NULL;
    CHECK_OK(mcast_multi_open("239.11.0.1-239.11.0.3:5200, [ff15::11-ff15::12]:5200", &opts, &m));
    size_t nfds = 0;
    int fds[8];
    CHECK_OK(mcast_multi_fds(m, fds, 8, &nfds));
    CHECK(nfds == 2); /* one socket per family */

    opts.ttl = 0;
    opts.loop = 1;
    int tx4 = mcast_sender("239.11.0.1:5200", &opts);
    int tx6 = mcast_sender("[ff15::11]:5200", &opts);
    CHECK_OK(tx4);
    CHECK_OK(tx6);
    const char *groups[] = {"239.11.0.1", "239.11.0.2", "239.11.0.3", "ff15::11", "ff15::12"};
    for (int round = 0; round < 2; round++) {
        for (int g = 0; g < 5; g++) {
            char to[48], text[16];
            snprintf(to, sizeof to, g < 3 ? "%s:5200" : "[%s]:5200", groups[g]);
            int len = snprintf(text, sizeof text, "%d.%d", g, round);
            CHECK(mcast_send_to(g < 3 ? tx4 : tx6, text, (size_t)len, to) == len);
        }
    }

    unsigned int got[5] = {0}, total = 0;
    while (total < 10) {
        struct pollfd p[8];
        for (size_t i = 0; i < nfds; i++)
            p[i] = (struct pollfd){.fd = fds[i], .events = POLLIN, .revents = 0};
        int ready = poll(p, (nfds_t)nfds, 5000);
        if (ready <= 0)
            fprintf(stderr, "    %u of 10 datagrams arrived\n", total);
        CHECK(ready > 0);
        for (;;) {
            char buf[32];
            struct mcast_rxinfo info = MCAST_RXINFO_INIT;
            errno = 0;
            ssize_t n = mcast_multi_recv(m, buf, sizeof buf - 1, &info, 0);
            if (n == -1) {
                CHECK(errno == EAGAIN);
                break;
            }
            buf[n] = '\0';
            int g = -1, round = -1;
            CHECK(sscanf(buf, "%d.%d", &g, &round) == 2 && g >= 0 && g < 5);
            CHECK(round == (int)got[g]);
            CHECK(addr_is(&info.group, groups[g], 0));
            if (g < 3) {
                CHECK(addr_is(&info.source, "10.9.0.1", local_port(tx4)));
            } else {
                /* va's only IPv6 address is its link-local one. */
                const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&info.source;
                CHECK(info.source.ss_family == AF_INET6 && IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr));
                CHECK(ntohs(s6->sin6_port) == local_port(tx6));
            }
            CHECK(info.ifindex == ifindex("va"));
            got[g]++;
            total++;
        }
    }
    char spare[16];
    CHECK_ERR(mcast_multi_recv(m, spare, sizeof spare, NULL, 300), EAGAIN);
    struct mcast_multi_stat stats[5];
    size_t count = 0;
    CHECK_OK(mcast_multi_stats(m, stats, 5, &count));
    CHECK(count == 5);
    for (int g = 0; g < 5; g++) {
        CHECK(got[g] == 2);
        CHECK(addr_is(&stats[g].group, groups[g], 5200));
        CHECK(stats[g].ifindex == ifindex("va"));
        CHECK(stats[g].datagrams == 2 && stats[g].bytes == 6 && stats[g].truncated == 0);
        CHECK(contains(fds, nfds, stats[g].fd));
        CHECK(stats[g].fd == stats[g < 3 ? 0 : 3].fd);
    }
    CHECK(stats[0].fd != stats[3].fd);
    CHECK_OK(mcast_close(tx4));
    CHECK_OK(mcast_close(tx6));
    mcast_multi_free(m);
    return true;
}

/* Source-specific groups: opts->source admits 127.0.0.1's datagrams, and the kernel keeps out 127.0.0.2's. A
 * datagram cut by a small buffer is counted in full. */
static bool test_multi_source_specific_groups(void) {
    struct mcast_opts opts = MCAST_OPTS_INIT;
    opts.source = "127.0.0.1";
    struct mcast_multi *m = NULL;
    CHECK_OK(mcast_multi_open("232.1.1.1-2:5300", &opts, &m));

    int from[2];
    const char *sources[] = {"127.0.0.1", "127.0.0.2"};
    for (int s = 0; s < 2; s++) {
        from[s] = mcast_open(AF_INET, SOCK_DGRAM, 0);
        CHECK_OK(from[s]);
        struct sockaddr_in sin;
        memset(&sin, 0, sizeof sin);
        sin.sin_family = AF_INET;
        CHECK(inet_pton(AF_INET, sources[s], &sin.sin_addr) == 1);
        CHECK(bind(from[s], (struct sockaddr *)&sin, sizeof sin) == 0);
    }
    for (int s = 1; s >= 0; s--) {
        CHECK(mcast_send_to(from[s], "0123456789", 10, "232.1.1.1:5300") == 10);
        CHECK(mcast_send_to(from[s], "abc", 3, "232.1.1.2:5300") == 3);
    }
    /* Both groups share one socket, so they arrive in the order sent. */
    char buf[4];
    struct mcast_rxinfo info = MCAST_RXINFO_INIT;
    CHECK(mcast_multi_recv(m, buf, sizeof buf, &info, 5000) == 4);
    CHECK(addr_is(&info.group, "232.1.1.1", 0) && addr_is(&info.source, "127.0.0.1", local_port(from[0])));
    CHECK(info.truncated == 1 && info.len == 4 && info.full_len == 10 && memcmp(buf, "0123", 4) == 0);
    CHECK(mcast_multi_recv(m, buf, sizeof buf, &info, 5000) == 3);
    CHECK(addr_is(&info.group, "232.1.1.2", 0) && addr_is(&info.source, "127.0.0.1", local_port(from[0])));
    CHECK(info.truncated == 0 && info.full_len == 3 && memcmp(buf, "abc", 3) == 0);
    CHECK_ERR(mcast_multi_recv(m, buf, sizeof buf, NULL, 300), EAGAIN);
    struct mcast_multi_stat stats[2];
    size_t count = 0;
    CHECK_OK(mcast_multi_stats(m, stats, 2, &count));
    CHECK(count == 2);
    CHECK(addr_is(&stats[0].group, "232.1.1.1", 5300) && addr_is(&stats[0].source, "127.0.0.1", 0));
    CHECK(stats[0].datagrams == 1 && stats[0].bytes == 10 && stats[0].truncated == 1);
    CHECK(addr_is(&stats[1].group, "232.1.1.2", 5300) && addr_is(&stats[1].source, "127.0.0.1", 0));
    CHECK(stats[1].datagrams == 1 && stats[1].bytes == 3 && stats[1].truncated == 0);
    CHECK(stats[0].ifindex == 0); /* the route's choice */
    for (int s = 0; s < 2; s++)
        CHECK_OK(mcast_close(from[s]));
    mcast_multi_free(m);
    return true;
}

/* Bad input: -1, the documented errno, a message naming the call, and *out left alone. */
static bool test_multi_refuses_bad_input(void) {
    static char token;
    struct mcast_multi *const sentinel = (struct mcast_multi *)(void *)&token;
    struct mcast_multi *m = sentinel;
    CHECK_ERR(mcast_multi_open(NULL, NULL, &m), EINVAL);
    CHECK_MSG("mcast_multi_open: groups is NULL");
    CHECK_ERR(mcast_multi_open("239.1.1.1:5000", NULL, NULL), EINVAL);
    CHECK_MSG("out is NULL");
    CHECK_ERR(mcast_multi_open("239.1.1.9-239.1.1.1:5000", NULL, &m), EINVAL);
    CHECK_MSG("reversed range");
    CHECK_ERR(mcast_multi_open("10.0.0.1-10.0.0.5:5000", NULL, &m), EINVAL);
    CHECK_MSG("10.0.0.1");
    CHECK_ERR(mcast_multi_open("239.1.1.1:5000,192.168.0.1:5000", NULL, &m), EINVAL);
    CHECK_ERR(mcast_multi_open("239.1.1.1", NULL, &m), EINVAL);
    CHECK_MSG("no port");
    CHECK_ERR(mcast_multi_open("239.0.0.0-239.255.255.255:5000", NULL, &m), ERANGE);
    CHECK_MSG("range larger than 65536 groups");
    CHECK_ERR(mcast_multi_open("[ff02::1]:5000", NULL, &m), ENODEV);
    CHECK_MSG("name the interface");
    struct mcast_opts opts = MCAST_OPTS_INIT;
    opts.iface = "nosuchif0";
    CHECK_ERR(mcast_multi_open("239.1.1.1:5000", &opts, &m), ENODEV);
    opts.iface = NULL;
    opts.source = "::1";
    CHECK_ERR(mcast_multi_open("232.1.1.1:5000", &opts, &m), EAFNOSUPPORT);
    opts.source = "nobody";
    CHECK_ERR(mcast_multi_open("232.1.1.1:5000", &opts, &m), EINVAL);
    opts.source = "239.1.1.1";
    CHECK_ERR(mcast_multi_open("232.1.1.1:5000", &opts, &m), EINVAL);
    CHECK_MSG("source 239.1.1.1 is a multicast address; a source must be a unicast address");
    CHECK(m == sentinel);

    size_t count = 7;
    int fds[2] = {-2, -2};
    char buf[8];
    struct mcast_multi_stat stat;
    CHECK_ERR(mcast_multi_fds(NULL, fds, 2, &count), EINVAL);
    CHECK_MSG("mcast_multi_fds: multi is NULL");
    CHECK_ERR(mcast_multi_stats(NULL, &stat, 1, &count), EINVAL);
    CHECK_ERR(mcast_multi_recv(NULL, buf, sizeof buf, NULL, 0), EINVAL);
    CHECK(count == 7 && fds[0] == -2);

    /* A real receiver: missing outputs and buffers. */
    CHECK_OK(mcast_multi_open("239.12.0.1-239.12.0.2:5400", NULL, &m));
    CHECK(m != sentinel);
    CHECK_ERR(mcast_multi_fds(m, fds, 2, NULL), EINVAL);
    CHECK_MSG("count is NULL");
    CHECK_ERR(mcast_multi_fds(m, NULL, 2, &count), EINVAL);
    CHECK_MSG("fds is NULL but cap is 2");
    CHECK_ERR(mcast_multi_stats(m, NULL, 1, &count), EINVAL);
    CHECK_ERR(mcast_multi_stats(m, &stat, 1, &count), ERANGE);
    CHECK(count == 7);
    CHECK_ERR(mcast_multi_recv(m, NULL, 8, NULL, 0), EINVAL);
    CHECK_MSG("buf is NULL");
    CHECK_ERR(mcast_multi_recv(m, buf, sizeof buf, NULL, 0), EAGAIN); /* nothing sent */
    mcast_multi_free(m);
    mcast_multi_free(NULL); /* ignored */
    return true;
}

/* A list past the total cap (256 ranges of 65536 groups, 16 million in all) is refused with ERANGE before
 * anything is made: no allocation of gigabytes, no abort, *out left alone. */
static bool test_multi_refuses_lists_past_the_cap(void) {
    static char list[256 * sizeof "239.255.0.0-239.255.255.255:5000"];
    size_t used = 0;
    for (int i = 0; i < 256; i++) {
        int n = snprintf(list + used, sizeof list - used, "%s239.%d.0.0-239.%d.255.255:5000", i ? "," : "", i, i);
        CHECK(n > 0 && (size_t)n < sizeof list - used);
        used += (size_t)n;
    }
    static char token;
    struct mcast_multi *const sentinel = (struct mcast_multi *)(void *)&token;
    struct mcast_multi *m = sentinel;
    CHECK_ERR(mcast_multi_open(list, NULL, &m), ERANGE);
    CHECK_MSG("mcast_multi_open: the group list holds 16777216 groups; a list may hold at most 65536 groups");
    /* One group past the cap. */
    CHECK_ERR(mcast_multi_open("239.1.0.0-239.1.255.255:5000,239.2.0.0:5000", NULL, &m), ERANGE);
    CHECK_MSG("holds 65537 groups");
    CHECK(m == sentinel);
    return true;
}

const struct test_case multi_tests[] = {
    TEST(test_multi_spreads_60_groups_over_sockets_and_counts_each),
    TEST(test_multi_mixed_families_through_the_callers_poll),
    TEST(test_multi_source_specific_groups),
    TEST(test_multi_refuses_bad_input),
    TEST(test_multi_refuses_lists_past_the_cap),
    {NULL, NULL},
};
