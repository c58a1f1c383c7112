/* A program as 0.1 users built it: compiled against 0.1's mcast.h (this directory), linked against a
 * libmcast.so.0 whose symbols carry no version (a stub made from that header's names, as 0.1's library was),
 * and run against the current library. Its references bind to the MCAST_0.1 entry points, which must still
 * take 0.1's structs: struct mcast_opts without size, struct mcast_rxinfo without size.
 *
 * Checked: the library's layout table has 0.1's structs as this compiler lays them out (mcast_opts_0_1 and
 * mcast_rxinfo_0_1 for the two that grew, the others under their names); mcast_opts_init fills exactly 0.1's
 * struct; a sender and a receiver built from 0.1 options work (TTL, loop, interface, non-blocking); mcast_recv
 * and mcast_recv_batch fill 0.1's rxinfo and not a byte past it. IPv4 over lo, in a network namespace of its
 * own. Prints "N passed, M failed". */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mcast.h>

#define CHECK(cond)                                                                                               \
    do {                                                                                                          \
        if (!(cond)) {                                                                                            \
            fprintf(stderr, "    %s:%d: check failed: %s (errno %d; \"%s\")\n", __FILE__, __LINE__, #cond, errno,    \
                    mcast_last_error());                                                                          \
            return false;                                                                                         \
        }                                                                                                         \
    } while (0)

#define CANARY 0xa5

/* The library's line for type.field, NULL if it has none. */
static const struct mcast_abi_entry *line(const char *type, const char *field) {
    size_t n = 0;
    const struct mcast_abi_entry *t = mcast_abi_layout(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].type, type) == 0 &&
            ((field == NULL && t[i].field == NULL) || (field && t[i].field && strcmp(t[i].field, field) == 0)))
            return &t[i];
    return NULL;
}

static bool same(const char *type, const char *field, size_t offset, size_t size) {
    const struct mcast_abi_entry *e = line(type, field);
    if (e == NULL || e->offset != offset || e->size != size) {
        fprintf(stderr, "    %s.%s: 0.1 header offset %zu size %zu, library %s\n", type, field ? field : "", offset,
                size, e ? "differs" : "has no such line");
        return false;
    }
    return true;
}

#define WHOLE(T, NAME) same(NAME, NULL, 0, sizeof(struct T))
#define FIELD(T, NAME, f) same(NAME, #f, offsetof(struct T, f), sizeof(((struct T *)0)->f))

static bool test_layout_of_0_1_structs_holds(void) {
    CHECK(WHOLE(mcast_opts, "mcast_opts_0_1"));
    CHECK(FIELD(mcast_opts, "mcast_opts_0_1", ttl) && FIELD(mcast_opts, "mcast_opts_0_1", loop));
    CHECK(FIELD(mcast_opts, "mcast_opts_0_1", iface) && FIELD(mcast_opts, "mcast_opts_0_1", source));
    CHECK(FIELD(mcast_opts, "mcast_opts_0_1", reuse) && FIELD(mcast_opts, "mcast_opts_0_1", nonblock));
    CHECK(FIELD(mcast_opts, "mcast_opts_0_1", rcvbuf));
    CHECK(WHOLE(mcast_rxinfo, "mcast_rxinfo_0_1"));
    CHECK(FIELD(mcast_rxinfo, "mcast_rxinfo_0_1", source) && FIELD(mcast_rxinfo, "mcast_rxinfo_0_1", group));
    CHECK(FIELD(mcast_rxinfo, "mcast_rxinfo_0_1", len) && FIELD(mcast_rxinfo, "mcast_rxinfo_0_1", full_len));
    CHECK(FIELD(mcast_rxinfo, "mcast_rxinfo_0_1", ifindex) && FIELD(mcast_rxinfo, "mcast_rxinfo_0_1", ttl));
    CHECK(FIELD(mcast_rxinfo, "mcast_rxinfo_0_1", truncated) && FIELD(mcast_rxinfo, "mcast_rxinfo_0_1", drops));
    /* The structs that did not change keep their names and layouts. */
    CHECK(WHOLE(mcast_iface, "mcast_iface") && FIELD(mcast_iface, "mcast_iface", ipv6));
    CHECK(WHOLE(mcast_multi_stat, "mcast_multi_stat") && FIELD(mcast_multi_stat, "mcast_multi_stat", truncated));
    CHECK(WHOLE(mcast_abi_entry, "mcast_abi_entry") && FIELD(mcast_abi_entry, "mcast_abi_entry", align));
    return true;
}

/* A 0.1 struct followed by bytes the library must never write. */
struct guarded_opts {
    struct mcast_opts opts;
    unsigned char after[64];
};

static bool untouched(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != CANARY)
            return false;
    return true;
}

static bool test_opts_init_fills_0_1s_struct_only(void) {
    struct guarded_opts g;
    memset(&g, CANARY, sizeof g);
    mcast_opts_init(&g.opts);
    struct mcast_opts macro = MCAST_OPTS_INIT;
    CHECK(g.opts.ttl == macro.ttl && g.opts.loop == macro.loop && g.opts.reuse == macro.reuse);
    CHECK(g.opts.iface == NULL && g.opts.source == NULL && g.opts.nonblock == 0 && g.opts.rcvbuf == 0);
    CHECK(untouched(g.after, sizeof g.after));
    return true;
}

struct guarded_info {
    struct mcast_rxinfo info[2];
    unsigned char after[64];
};

static bool is_group(const struct sockaddr_storage *ss, const char *ip) {
    struct in_addr want;
    return ss->ss_family == AF_INET && inet_pton(AF_INET, ip, &want) == 1 &&
           ((const struct sockaddr_in *)ss)->sin_addr.s_addr == want.s_addr;
}

static bool wait_readable(int fd) {
    struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
    return poll(&p, 1, 5000) == 1;
}

static bool test_sender_receiver_and_recv_take_0_1s_structs(void) {
    struct mcast_opts ropts = MCAST_OPTS_INIT, sopts = MCAST_OPTS_INIT;
    ropts.iface = "lo";
    ropts.nonblock = 1;
    int rx = mcast_receiver("239.5.6.7:5917", &ropts);
    CHECK(rx >= 0);
    CHECK((fcntl(rx, F_GETFL) & O_NONBLOCK) != 0); /* 0.1's nonblock field was read where 0.1 put it */
    sopts.ttl = 3;
    sopts.loop = 1;
    sopts.iface = "lo";
    int tx = mcast_sender("239.5.6.7:5917", &sopts);
    CHECK(tx >= 0);
    int ttl = -1;
    CHECK(mcast_get_ttl(tx, &ttl) == 0 && ttl == 3);

    CHECK(mcast_send(tx, "old-abi-1", 9) == 9);
    CHECK(wait_readable(rx));
    struct guarded_info g;
    memset(&g, CANARY, sizeof g);
    char buf[64];
    CHECK(mcast_recv(rx, buf, sizeof buf, &g.info[0]) == 9 && memcmp(buf, "old-abi-1", 9) == 0);
    CHECK(g.info[0].len == 9 && g.info[0].full_len == 9 && g.info[0].truncated == 0);
    CHECK(is_group(&g.info[0].group, "239.5.6.7") && g.info[0].ifindex == if_nametoindex("lo"));
    CHECK(g.info[0].ttl == 3);
    CHECK(untouched((const unsigned char *)&g.info[1], sizeof g.info[1]) && untouched(g.after, sizeof g.after));

    /* Two datagrams in one batch, into an array of 0.1 entries. */
    CHECK(mcast_send(tx, "old-abi-2", 9) == 9 && mcast_send(tx, "old-abi-three", 13) == 13);
    char b1[32], b2[32];
    struct iovec iov[2] = {{b1, sizeof b1}, {b2, sizeof b2}};
    memset(&g, CANARY, sizeof g);
    int got = 0;
    for (int tries = 0; tries < 50 && got < 2; tries++) {
        CHECK(wait_readable(rx));
        int n = mcast_recv_batch(rx, iov + got, g.info + got, 2 - (size_t)got);
        CHECK(n >= 1);
        got += n;
    }
    CHECK(got == 2);
    CHECK(g.info[0].len == 9 && memcmp(b1, "old-abi-2", 9) == 0);
    CHECK(g.info[1].len == 13 && memcmp(b2, "old-abi-three", 13) == 0);
    CHECK(is_group(&g.info[1].group, "239.5.6.7") && g.info[1].ttl == 3);
    CHECK(untouched(g.after, sizeof g.after));
    CHECK(mcast_close(tx) == 0 && mcast_close(rx) == 0);
    return true;
}

static bool test_version_is_the_new_librarys(void) {
    /* The library is newer than the header this program was built with. */
    CHECK(strcmp(mcast_version(), "0.1.0") != 0);
    return true;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (unshare(CLONE_NEWNET) != 0 || system("ip link set lo up multicast on") != 0 ||
        system("ip route add 224.0.0.0/4 dev lo src 127.0.0.1") != 0) {
        printf("0 passed, 1 failed (network namespace setup: needs root)\n");
        return 1;
    }
    struct {
        const char *name;
        bool (*run)(void);
    } tests[] = {
        {"test_layout_of_0_1_structs_holds", test_layout_of_0_1_structs_holds},
        {"test_opts_init_fills_0_1s_struct_only", test_opts_init_fills_0_1s_struct_only},
        {"test_sender_receiver_and_recv_take_0_1s_structs", test_sender_receiver_and_recv_take_0_1s_structs},
        {"test_version_is_the_new_librarys", test_version_is_the_new_librarys},
    };
    int passed = 0, failed = 0;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        bool ok = tests[i].run();
        printf("%s %s\n", ok ? "ok  " : "FAIL", tests[i].name);
        ok ? passed++ : failed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
