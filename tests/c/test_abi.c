/* What 0.2 promises about growth and errors: the size at the head of struct mcast_opts and struct mcast_rxinfo
 * (read and written no further than it says), error texts that stay valid, mcast_recv_timeout, and the two
 * places where header and library once disagreed. Traffic on lo (IPv4) and across va-vb (IPv6). */
#include "harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <stddef.h>
#include <unistd.h>

#define CANARY 0xa5

static bool untouched(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != CANARY)
            return false;
    return true;
}

/* Sends one datagram to rx's group and waits until it is queued. */
static bool queue_one(int tx, int rx, const char *text) {
    CHECK(mcast_send(tx, text, strlen(text)) == (ssize_t)strlen(text));
    CHECK(readable(rx, 5000));
    return true;
}

static bool rxinfo_sizes(int rx, int tx, const char *group, const char *source) {
    char buf[64];
    /* A newer caller's larger struct: the library writes its own fields and nothing past them. */
    struct {
        struct mcast_rxinfo info;
        unsigned char later[48];
    } big;
    memset(&big, CANARY, sizeof big);
    big.info.size = sizeof big;
    CHECK(queue_one(tx, rx, "big"));
    CHECK(mcast_recv(rx, buf, sizeof buf, &big.info) == 3);
    CHECK(big.info.size == sizeof big && big.info.len == 3 && addr_is(&big.info.group, group, 0));
    CHECK(addr_is(&big.info.source, source, local_port(tx)));
    CHECK(untouched(big.later, sizeof big.later));

    /* An older caller's shorter struct, up to full_len: the fields past it are not written. */
    struct mcast_rxinfo small;
    memset(&small, CANARY, sizeof small);
    small.size = offsetof(struct mcast_rxinfo, full_len) + sizeof small.full_len;
    CHECK(queue_one(tx, rx, "small"));
    CHECK(mcast_recv(rx, buf, sizeof buf, &small) == 5);
    CHECK(small.len == 5 && small.full_len == 5 && addr_is(&small.group, group, 0));
    CHECK(untouched((const unsigned char *)&small.ifindex, sizeof small - offsetof(struct mcast_rxinfo, ifindex)));

    /* A size that cannot be right is refused before anything is read: the datagram stays queued. */
    struct mcast_rxinfo bad = MCAST_RXINFO_INIT;
    bad.size = 0;
    CHECK(queue_one(tx, rx, "kept"));
    CHECK_ERR(mcast_recv(rx, buf, sizeof buf, &bad), EINVAL);
    CHECK_MSG("mcast_recv: info->size is 0: set it to sizeof(struct mcast_rxinfo)");
    bad.size = sizeof bad + 3;
    CHECK_ERR(mcast_recv(rx, buf, sizeof buf, &bad), EINVAL);
    struct iovec iov = {buf, sizeof buf};
    CHECK_ERR(mcast_recv_batch(rx, &iov, &bad, 1), EINVAL);
    CHECK_MSG("infos->size");
    struct mcast_rxinfo info = MCAST_RXINFO_INIT;
    CHECK(mcast_recv(rx, buf, sizeof buf, &info) == 4 && memcmp(buf, "kept", 4) == 0);
    CHECK(info.size == sizeof info);
    CHECK(quiet(rx));
    return true;
}

static bool test_rxinfo_size_is_respected(void) {
    struct mcast_opts opts = MCAST_OPTS_INIT;
    opts.iface = "lo";
    int rx = mcast_receiver("239.3.0.1:5301", &opts);
    CHECK_OK(rx);
    int tx = mcast_sender("239.3.0.1:5301", &opts);
    CHECK_OK(tx);
    CHECK(rxinfo_sizes(rx, tx, "239.3.0.1", "127.0.0.1"));
    CHECK_OK(mcast_close(tx));
    CHECK_OK(mcast_close(rx));

    char va_addr[INET6_ADDRSTRLEN];
    CHECK(link_local("va", va_addr, sizeof va_addr));
    opts.iface = "vb";
    rx = mcast_receiver("[ff12::3:1]:6301", &opts);
    CHECK_OK(rx);
    tx = mcast_sender("[ff12::3:1%va]:6301", NULL);
    CHECK_OK(tx);
    CHECK(rxinfo_sizes(rx, tx, "ff12::3:1", va_addr));
    CHECK_OK(mcast_close(tx));
    CHECK_OK(mcast_close(rx));
    return true;
}

static bool test_opts_size_is_respected(void) {
    /* A shorter struct, up to ttl: the fields past it take their defaults (loop on, reuse on). */
    struct mcast_opts opts;
    memset(&opts, CANARY, sizeof opts);
    opts.size = offsetof(struct mcast_opts, ttl) + sizeof opts.ttl;
    opts.ttl = 7;
    int tx = mcast_sender("239.3.0.2:5302", &opts);
    CHECK_OK(tx);
    int v = -1;
    CHECK_OK(mcast_get_ttl(tx, &v));
    CHECK(v == 7);
    CHECK_OK(mcast_get_loop(tx, &v));
    CHECK(v == 1);
    CHECK((fcntl(tx, F_GETFL) & O_NONBLOCK) == 0);
    CHECK_OK(mcast_close(tx));

    /* A newer caller's larger struct: accepted when what this library does not know is zero ... */
    struct {
        struct mcast_opts opts;
        unsigned char later[16];
    } big;
    memset(&big, 0, sizeof big);
    mcast_opts_init(&big.opts);
    big.opts.size = sizeof big;
    big.opts.ttl = 9;
    big.opts.nonblock = 1;
    tx = mcast_sender("239.3.0.2:5302", &big.opts);
    CHECK_OK(tx);
    CHECK_OK(mcast_get_ttl(tx, &v));
    CHECK(v == 9);
    CHECK((fcntl(tx, F_GETFL) & O_NONBLOCK) != 0);
    CHECK_OK(mcast_close(tx));
    /* ... and refused when it is set, rather than ignored. */
    big.later[5] = 1;
    CHECK_ERR(mcast_sender("239.3.0.2:5302", &big.opts), E2BIG);
    CHECK_MSG("update libmcast");
    CHECK_ERR(mcast_receiver("239.3.0.2:5302", &big.opts), E2BIG);
    struct mcast_multi *multi = NULL;
    CHECK_ERR(mcast_multi_open("239.3.0.2:5302", &big.opts, &multi), E2BIG);
    CHECK(multi == NULL);
    /* A size that cannot be right. */
    struct mcast_opts zero = MCAST_OPTS_INIT;
    zero.size = 0;
    CHECK_ERR(mcast_sender("239.3.0.2:5302", &zero), EINVAL);
    CHECK_MSG("opts->size is 0");
    return true;
}

static bool test_recv_timeout(void) {
    struct mcast_opts opts = MCAST_OPTS_INIT;
    opts.iface = "lo";
    int rx = mcast_receiver("239.3.0.3:5303", &opts); /* a blocking descriptor */
    CHECK_OK(rx);
    int tx = mcast_sender("239.3.0.3:5303", &opts);
    CHECK_OK(tx);
    char buf[32];
    struct mcast_rxinfo info = MCAST_RXINFO_INIT;
    CHECK_ERR(mcast_recv_timeout(rx, buf, sizeof buf, &info, 0), EAGAIN);
    CHECK_ERR(mcast_recv_timeout(rx, buf, sizeof buf, &info, 50), EAGAIN);
    CHECK_MSG("mcast_recv_timeout: no datagram within 50 ms");
    CHECK(mcast_send(tx, "in time", 7) == 7);
    CHECK(mcast_recv_timeout(rx, buf, sizeof buf, &info, 5000) == 7 && memcmp(buf, "in time", 7) == 0);
    CHECK(info.len == 7 && addr_is(&info.group, "239.3.0.3", 0) && addr_is(&info.source, "127.0.0.1", -1));
    CHECK(info.ifindex == ifindex("lo"));
    CHECK(mcast_send(tx, "", 0) == 0); /* an empty datagram is 0, not a timeout */
    CHECK(mcast_recv_timeout(rx, buf, sizeof buf, NULL, 5000) == 0);
    CHECK(mcast_send(tx, "queued", 6) == 6);
    CHECK(readable(rx, 5000));
    CHECK(mcast_recv_timeout(rx, buf, sizeof buf, &info, 0) == 6);
    CHECK(quiet(rx));
    CHECK_ERR(mcast_recv_timeout(rx, NULL, 1, &info, 0), EINVAL);
    CHECK_ERR(mcast_recv_timeout(-1, buf, sizeof buf, &info, 0), EBADF);
    CHECK_OK(mcast_close(tx));
    CHECK_OK(mcast_close(rx));
    return true;
}

static bool test_error_texts_stay_valid(void) {
    const char *a = mcast_strerror(ENODEV), *b = mcast_strerror(EINVAL);
    /* Both still readable, and the same text every time: static. */
    CHECK(strstr(a, "No such device") != NULL && strstr(a, "no such interface") != NULL);
    CHECK(strcmp(b, "Invalid argument") == 0);
    CHECK(mcast_strerror(ENODEV) == a && mcast_strerror(EINVAL) == b);
    CHECK(strcmp(mcast_strerror(-5), "Unknown error") == 0 && strcmp(mcast_strerror(100000), "Unknown error") == 0);
    char buf[128];
    memset(buf, CANARY, sizeof buf);
    CHECK_OK(mcast_strerror_r(ENODEV, buf, sizeof buf));
    CHECK(strcmp(buf, a) == 0);
    char small[8];
    CHECK_ERR(mcast_strerror_r(ENODEV, small, sizeof small), ERANGE);
    CHECK(strcmp(small, "No such") == 0); /* cut, and terminated */
    CHECK_ERR(mcast_strerror_r(ENODEV, small, 0), ERANGE);
    CHECK_ERR(mcast_strerror_r(ENODEV, NULL, 8), EINVAL);

    /* The last error stays until this thread's next failing call; successful calls leave it. */
    CHECK_ERR(mcast_set_ttl(-1, 1), EBADF);
    const char *last = mcast_last_error();
    char copy[256];
    snprintf(copy, sizeof copy, "%s", last);
    CHECK(strstr(copy, "mcast_set_ttl") != NULL);
    CHECK(strlen(mcast_strerror(EIO)) > 0);
    int fd = mcast_open(AF_INET, SOCK_DGRAM, 0);
    CHECK_OK(fd);
    CHECK_OK(mcast_close(fd));
    CHECK(mcast_last_error() == last && strcmp(last, copy) == 0);
    return true;
}

/* The header's promises where it once disagreed with the library. */
static bool test_header_and_library_agree(void) {
    int v4 = mcast_open(AF_INET, SOCK_DGRAM, 0), v6 = mcast_open(AF_INET6, SOCK_DGRAM, 0);
    CHECK_OK(v4);
    CHECK_OK(v6);
    /* An unknown interface names the option and the group. */
    CHECK_ERR(mcast_join(v4, "239.3.0.4", "nosuch0"), ENODEV);
    CHECK_MSG("mcast_join: IP_ADD_MEMBERSHIP 239.3.0.4: ");
    CHECK_MSG("nosuch0");
    CHECK_ERR(mcast_join(v6, "ff12::3:4", "nosuch0"), ENODEV);
    CHECK_MSG("mcast_join: IPV6_JOIN_GROUP ff12::3:4: ");
    CHECK_ERR(mcast_leave(v4, "239.3.0.4", "nosuch0"), ENODEV);
    CHECK_MSG("IP_DROP_MEMBERSHIP 239.3.0.4");
    CHECK_ERR(mcast_join_source(v4, "232.3.0.4", "127.0.0.1", "nosuch0"), ENODEV);
    CHECK_MSG("IP_ADD_SOURCE_MEMBERSHIP 232.3.0.4");
    /* A pipe is not a socket: ENOTSOCK, for option calls and datagram calls alike. */
    int p[2];
    CHECK(pipe(p) == 0);
    CHECK_ERR(mcast_set_ttl(p[0], 1), ENOTSOCK);
    CHECK_ERR(mcast_send(p[1], "x", 1), ENOTSOCK);
    char buf[4];
    CHECK_ERR(mcast_recv(p[0], buf, sizeof buf, NULL), ENOTSOCK);
    CHECK_ERR(mcast_recv_timeout(p[0], buf, sizeof buf, NULL, 0), ENOTSOCK);
    CHECK(close(p[0]) == 0 && close(p[1]) == 0);
    /* A closed descriptor: EBADF from the kernel. */
    CHECK_ERR(mcast_send(p[1], "x", 1), EBADF);
    CHECK_ERR(mcast_recv(p[0], buf, sizeof buf, NULL), EBADF);
    CHECK_OK(mcast_close(v4));
    CHECK_OK(mcast_close(v6));
    return true;
}

const struct test_case abi_tests[] = {
    TEST(test_rxinfo_size_is_respected),
    TEST(test_opts_size_is_respected),
    TEST(test_recv_timeout),
    TEST(test_error_texts_stay_valid),
    TEST(test_header_and_library_agree),
    {NULL, NULL},
};
