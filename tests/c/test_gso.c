/* Segmented send (UDP_SEGMENT) and GRO receive, inside this process's namespace: IPv4 over lo, IPv6 across the
 * veth pair va-vb (MTU 1500, hop limit 1). Every traffic test checks the bytes, size, sender, group, interface
 * and number of the datagrams that arrived. */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

/* Byte j of datagram i: distinct per datagram and per position, so a misplaced cut shows. */
static unsigned char pattern(size_t i, size_t j) {
    return (unsigned char)(i * 31 + j * 7 + 1);
}

static void fill(unsigned char *buf, size_t len, size_t segment) {
    for (size_t k = 0; k < len; k++)
        buf[k] = pattern(k / segment, k % segment);
}

/* Datagram i of a buffer of len bytes cut at segment: its size, and whether data holds its bytes. */
static size_t expected_len(size_t len, size_t segment, size_t i) {
    size_t start = i * segment;
    return len - start < segment ? len - start : segment;
}

static bool holds(const unsigned char *data, size_t n, size_t i) {
    for (size_t j = 0; j < n; j++)
        if (data[j] != pattern(i, j))
            return false;
    return true;
}

/* Receives the count datagrams a buffer of len bytes cut at segment makes, one mcast_recv() each, and checks
 * each one's bytes, size, sender, group, interface and TTL; then that nothing more arrives. */
static bool expect_datagrams(int rx, size_t len, size_t segment, size_t count, const char *source, int port,
                             const char *group, const char *iface) {
    static unsigned char buf[65536];
    for (size_t i = 0; i < count; i++) {
        struct mcast_rxinfo info = MCAST_RXINFO_INIT;
        ssize_t n = recv_wait(rx, buf, sizeof buf, &info);
        CHECK(n == (ssize_t)expected_len(len, segment, i));
        CHECK(holds(buf, (size_t)n, i));
        CHECK(info.len == (size_t)n && info.full_len == (size_t)n && info.truncated == 0);
        CHECK(addr_is(&info.source, source, port));
        CHECK(addr_is(&info.group, group, 0));
        CHECK(info.ifindex == ifindex(iface));
        CHECK(info.ttl == 1);
    }
    CHECK(quiet(rx));
    return true;
}

/* Sends len bytes cut at segment with one mcast_send_segments() from tx_iface to a receiver on rx_iface. */
static bool segments_round_trip(const char *group_port, const char *tx_iface, const char *rx_iface,
                                const char *source, const char *group, size_t len, size_t segment) {
    static unsigned char out[65536];
    size_t count = (len + segment - 1) / segment;
    struct mcast_opts opts = MCAST_OPTS_INIT;
    opts.iface = rx_iface;
    opts.rcvbuf = 1u << 20;
    int rx = mcast_receiver(group_port, &opts);
    CHECK_OK(rx);
    opts.iface = tx_iface;
    int tx = mcast_sender(group_port, &opts);
    CHECK_OK(tx);
    fill(out, len, segment);
    CHECK(mcast_send_segments(tx, out, len, segment) == (int)count);
    CHECK(expect_datagrams(rx, len, segment, count, source, local_port(tx), group, rx_iface));
    CHECK_OK(mcast_close(tx));
    CHECK_OK(mcast_close(rx));
    return true;
}

static bool test_sixteen_segments_arrive_as_sixteen_datagrams(void) {
    char va_addr[INET6_ADDRSTRLEN];
    CHECK(link_local("va", va_addr, sizeof va_addr));
    CHECK(segments_round_trip("239.1.3.1:5101", "lo", "lo", "127.0.0.1", "239.1.3.1", 1600, 100));
    CHECK(segments_round_trip("[ff12::3:1%va]:6101", "va", "vb", va_addr, "ff12::3:1", 1600, 100));
    return true;
}

static bool test_the_last_segment_may_be_shorter(void) {
    char va_addr[INET6_ADDRSTRLEN];
    CHECK(link_local("va", va_addr, sizeof va_addr));
    CHECK(segments_round_trip("239.1.3.2:5102", "lo", "lo", "127.0.0.1", "239.1.3.2", 1550, 100));
    CHECK(segments_round_trip("[ff12::3:2%va]:6102", "va", "vb", va_addr, "ff12::3:2", 1401, 700));
    /* Shorter than one segment: one datagram of all of it. */
    CHECK(segments_round_trip("239.1.3.2:5103", "lo", "lo", "127.0.0.1", "239.1.3.2", 42, 100));
    return true;
}

/* One call sends at most MCAST_SEGMENTS_MAX datagrams, and with UDP_SEGMENT at most 65,507 bytes; the caller
 * sends the rest from where the count says, and every datagram arrives once, in order. */
static bool test_a_call_sends_at_most_the_maximum_and_the_rest_follows(void) {
    enum { SMALL = 10, MANY = 100, BIG = 1400 };
    static unsigned char out[MANY * BIG];
    int rx = mcast_receiver("239.1.3.3:5104", &(struct mcast_opts){sizeof(struct mcast_opts), -1, -1, "lo", NULL, 1, 0, 4u << 20});
    CHECK_OK(rx);
    int tx = mcast_sender("239.1.3.3:5104", &(struct mcast_opts){sizeof(struct mcast_opts), -1, -1, "lo", NULL, 1, 0, 0});
    CHECK_OK(tx);
    int port = local_port(tx);

    fill(out, MANY * SMALL, SMALL);
    CHECK(mcast_send_segments(tx, out, MANY * SMALL, SMALL) == MCAST_SEGMENTS_MAX);
    CHECK(mcast_send_segments(tx, out + MCAST_SEGMENTS_MAX * SMALL, (MANY - MCAST_SEGMENTS_MAX) * SMALL, SMALL) ==
          MANY - MCAST_SEGMENTS_MAX);
    /* fill() numbers the datagrams across the whole buffer, so the second call's continue the first's. */
    CHECK(expect_datagrams(rx, MANY * SMALL, SMALL, MANY, "127.0.0.1", port, "239.1.3.3", "lo"));

    /* 1400-byte segments: 46 fit 65,507 bytes when UDP_SEGMENT is used, else sendmmsg takes 64. */
    fill(out, MANY * BIG, BIG);
    int first = mcast_send_segments(tx, out, MANY * BIG, BIG);
    CHECK(first == (mcast_gso_supported(tx) == 1 ? 65507 / BIG : MCAST_SEGMENTS_MAX));
    int sent = first;
    while (sent < MANY) {
        int n = mcast_send_segments(tx, out + (size_t)sent * BIG, (size_t)(MANY - sent) * BIG, BIG);
        CHECK(n >= 1);
        sent += n;
    }
    CHECK(sent == MANY);
    CHECK(expect_datagrams(rx, MANY * BIG, BIG, MANY, "127.0.0.1", port, "239.1.3.3", "lo"));
    CHECK(mcast_send_segments(tx, out, 0, BIG) == 0); /* nothing to send */
    CHECK(quiet(rx));
    CHECK_OK(mcast_close(tx));
    CHECK_OK(mcast_close(rx));
    return true;
}

/* va's MTU is 1500. A 2000-byte segment cannot go with UDP_SEGMENT (segments are never fragmented): the kernel
 * refuses, and the same datagrams go with sendmmsg, fragmented on the link and reassembled at vb, whole. With
 * fragmentation forbidden (IPV6_PMTUDISC_DO) they cannot go at all: EMSGSIZE, and nothing arrives. */
static bool test_a_segment_larger_than_the_mtu_falls_back_to_fragments(void) {
    enum { SEG = 2000, LEN = 3 * SEG + 1000 };
    static unsigned char out[LEN];
    char va_addr[INET6_ADDRSTRLEN];
    CHECK(link_local("va", va_addr, sizeof va_addr));
    int rx = mcast_receiver("[ff12::3:4]:6104", &(struct mcast_opts){sizeof(struct mcast_opts), -1, -1, "vb", NULL, 1, 0, 1u << 20});
    CHECK_OK(rx);
    int tx = mcast_sender("[ff12::3:4%va]:6104", NULL);
    CHECK_OK(tx);
    fill(out, LEN, SEG);
    CHECK(mcast_send_segments(tx, out, LEN, SEG) == 4);
    CHECK(expect_datagrams(rx, LEN, SEG, 4, va_addr, local_port(tx), "ff12::3:4", "vb"));

    int dont = IPV6_PMTUDISC_DO;
    CHECK(setsockopt(tx, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &dont, sizeof dont) == 0);
    CHECK_ERR(mcast_send_segments(tx, out, LEN, SEG), EMSGSIZE);
    CHECK_MSG("mcast_send_segments: sendmmsg");
    /* Segments that fit the MTU still go, segmented. */
    fill(out, 1000, 500);
    CHECK(mcast_send_segments(tx, out, 1000, 500) == 2);
    CHECK(expect_datagrams(rx, 1000, 500, 2, va_addr, local_port(tx), "ff12::3:4", "vb"));
    CHECK_OK(mcast_close(tx));
    CHECK_OK(mcast_close(rx));
    return true;
}

/* Checks the n entries mcast_recv_gro() wrote for a buffer of len bytes cut at segment. */
static bool gro_entries(const unsigned char *buf, const struct mcast_rxinfo *infos, int n, size_t first,
                        size_t len, size_t segment, const char *source, int port, const char *group,
                        const char *iface) {
    size_t at = 0;
    for (int k = 0; k < n; k++) {
        size_t i = first + (size_t)k;
        CHECK(infos[k].len == expected_len(len, segment, i));
        CHECK(infos[k].full_len == infos[k].len && infos[k].truncated == 0);
        CHECK(holds(buf + at, infos[k].len, i));
        CHECK(addr_is(&infos[k].source, source, port));
        CHECK(addr_is(&infos[k].group, group, 0));
        CHECK(infos[k].ifindex == ifindex(iface) && infos[k].ttl == 1);
        at += infos[k].len;
    }
    return true;
}

/* Over lo the segmented send reaches a GRO socket as the one buffer it was: one read holds every datagram, and
 * mcast_recv_gro() describes them one by one. mcast_recv() and mcast_recv_batch() return such a read whole. */
static bool test_gro_reads_are_split_into_their_datagrams(void) {
    static unsigned char out[1600], in[65535];
    struct mcast_rxinfo infos[64];
    infos[0].size = sizeof infos[0];
    int rx = mcast_receiver("239.1.3.5:5105", &(struct mcast_opts){sizeof(struct mcast_opts), -1, -1, "lo", NULL, 1, 0, 1u << 20});
    CHECK_OK(rx);
    int on = 7;
    CHECK_OK(mcast_get_gro(rx, &on));
    CHECK(on == 0);
    CHECK_OK(mcast_set_gro(rx, 1));
    CHECK_OK(mcast_get_gro(rx, &on));
    CHECK(on == 1);
    int tx = mcast_sender("239.1.3.5:5105", &(struct mcast_opts){sizeof(struct mcast_opts), -1, -1, "lo", NULL, 1, 0, 0});
    CHECK_OK(tx);
    CHECK(mcast_gso_supported(tx) == 1);
    int port = local_port(tx);

    fill(out, 1600, 100);
    CHECK(mcast_send_segments(tx, out, 1600, 100) == 16);
    CHECK(readable(rx, 5000));
    CHECK(mcast_recv_gro(rx, in, sizeof in, infos, 64) == 16);
    CHECK(gro_entries(in, infos, 16, 0, 1600, 100, "127.0.0.1", port, "239.1.3.5", "lo"));
    CHECK(quiet(rx));

    /* A short last datagram. */
    fill(out, 1550, 100);
    CHECK(mcast_send_segments(tx, out, 1550, 100) == 16);
    CHECK(readable(rx, 5000));
    CHECK(mcast_recv_gro(rx, in, sizeof in, infos, 64) == 16);
    CHECK(gro_entries(in, infos, 16, 0, 1550, 100, "127.0.0.1", port, "239.1.3.5", "lo"));

    /* Fewer entries than datagrams: the last entry covers the rest, nothing is lost. */
    fill(out, 1600, 100);
    CHECK(mcast_send_segments(tx, out, 1600, 100) == 16);
    CHECK(readable(rx, 5000));
    CHECK(mcast_recv_gro(rx, in, sizeof in, infos, 4) == 4);
    CHECK(gro_entries(in, infos, 3, 0, 1600, 100, "127.0.0.1", port, "239.1.3.5", "lo"));
    CHECK(infos[3].len == 1300 && infos[3].full_len == 1300 && infos[3].truncated == 0);
    for (size_t i = 3; i < 16; i++)
        CHECK(holds(in + i * 100, 100, i));

    /* mcast_recv() gets the coalesced read as one buffer. */
    CHECK(mcast_send_segments(tx, out, 1600, 100) == 16);
    struct mcast_rxinfo info = MCAST_RXINFO_INIT;
    CHECK(recv_wait(rx, in, sizeof in, &info) == 1600);
    CHECK(info.len == 1600 && info.full_len == 1600 && info.truncated == 0);
    for (size_t i = 0; i < 16; i++)
        CHECK(holds(in + i * 100, 100, i));

    /* So does mcast_recv_batch(). */
    CHECK(mcast_send_segments(tx, out, 1600, 100) == 16);
    struct iovec iov = {in, sizeof in};
    CHECK(readable(rx, 5000));
    CHECK(mcast_recv_batch(rx, &iov, &info, 1) == 1);
    CHECK(info.len == 1600 && addr_is(&info.group, "239.1.3.5", 0));

    /* A read cut by a short buffer: whole datagrams, then the cut one marked, its full_len to the read's end. */
    CHECK(mcast_send_segments(tx, out, 1600, 100) == 16);
    CHECK(readable(rx, 5000));
    CHECK(mcast_recv_gro(rx, in, 250, infos, 64) == 3);
    CHECK(gro_entries(in, infos, 2, 0, 1600, 100, "127.0.0.1", port, "239.1.3.5", "lo"));
    CHECK(infos[2].len == 50 && infos[2].full_len == 1400 && infos[2].truncated == 1);
    CHECK(holds(in + 200, 50, 2));
    CHECK(quiet(rx));

    /* With GRO off again, each read is one datagram. */
    CHECK_OK(mcast_set_gro(rx, 0));
    CHECK(mcast_send_segments(tx, out, 300, 100) == 3);
    for (size_t i = 0; i < 3; i++) {
        CHECK(readable(rx, 5000));
        CHECK(mcast_recv_gro(rx, in, sizeof in, infos, 64) == 1);
        CHECK(gro_entries(in, infos, 1, i, 300, 100, "127.0.0.1", port, "239.1.3.5", "lo"));
    }
    CHECK(quiet(rx));
    CHECK_OK(mcast_close(tx));
    CHECK_OK(mcast_close(rx));
    return true;
}

/* Across the veth, with GRO on at vb: whether the kernel coalesces or not, mcast_recv_gro() yields the 16
 * datagrams, each whole and in order. */
static bool test_gro_across_the_veth_yields_every_datagram(void) {
    static unsigned char out[1600], in[65535];
    struct mcast_rxinfo infos[64];
    infos[0].size = sizeof infos[0];
    char va_addr[INET6_ADDRSTRLEN];
    CHECK(link_local("va", va_addr, sizeof va_addr));
    int rx = mcast_receiver("[ff12::3:6]:6106", &(struct mcast_opts){sizeof(struct mcast_opts), -1, -1, "vb", NULL, 1, 0, 1u << 20});
    CHECK_OK(rx);
    CHECK_OK(mcast_set_gro(rx, 1));
    int tx = mcast_sender("[ff12::3:6%va]:6106", NULL);
    CHECK_OK(tx);
    fill(out, 1600, 100);
    CHECK(mcast_send_segments(tx, out, 1600, 100) == 16);
    size_t got = 0;
    while (got < 16) {
        CHECK(readable(rx, 5000));
        int n = mcast_recv_gro(rx, in, sizeof in, infos, 64);
        CHECK(n >= 1 && got + (size_t)n <= 16);
        CHECK(gro_entries(in, infos, n, got, 1600, 100, va_addr, local_port(tx), "ff12::3:6", "vb"));
        got += (size_t)n;
    }
    CHECK(got == 16);
    CHECK(quiet(rx));
    CHECK_OK(mcast_close(tx));
    CHECK_OK(mcast_close(rx));
    return true;
}

static bool test_bad_arguments_are_refused(void) {
    unsigned char buf[64] = {0};
    struct mcast_rxinfo infos[2];
    infos[0].size = sizeof infos[0];
    int fd = mcast_open(AF_INET, SOCK_DGRAM, 0);
    CHECK_OK(fd);
    CHECK_ERR(mcast_send_segments(fd, NULL, 10, 5), EINVAL);
    CHECK_MSG("mcast_send_segments: buf is NULL");
    CHECK_ERR(mcast_send_segments(fd, buf, sizeof buf, 0), EINVAL);
    CHECK_MSG("segment size 0");
    CHECK_ERR(mcast_send_segments(fd, buf, sizeof buf, 65508), EINVAL);
    CHECK_ERR(mcast_send_segments(fd, buf, sizeof buf, 8), ENOTCONN); /* not connected */
    CHECK_ERR(mcast_send_segments_to(fd, buf, sizeof buf, 8, NULL), EINVAL);
    CHECK_MSG("group_port is NULL");
    CHECK_ERR(mcast_send_segments_to(fd, NULL, sizeof buf, 8, "239.1.3.7:5107"), EINVAL);
    CHECK_ERR(mcast_send_segments_to(fd, buf, sizeof buf, 8, "10.1.2.3:5107"), EINVAL);
    CHECK_ERR(mcast_send_segments_to(fd, buf, sizeof buf, 8, "239.1.3.7"), EINVAL); /* no port */
    CHECK_ERR(mcast_send_segments_to(fd, buf, sizeof buf, 0, "239.1.3.7:5107"), EINVAL);
    CHECK_ERR(mcast_recv_gro(fd, NULL, sizeof buf, infos, 2), EINVAL);
    CHECK_ERR(mcast_recv_gro(fd, buf, sizeof buf, NULL, 2), EINVAL);
    CHECK_MSG("infos is NULL");
    CHECK_ERR(mcast_recv_gro(fd, buf, sizeof buf, infos, 0), EINVAL);
    CHECK_ERR(mcast_get_gro(fd, NULL), EINVAL);
    CHECK(mcast_gso_supported(fd) == 1);

    /* A raw socket has no UDP options. */
    int raw = mcast_open(AF_INET, SOCK_RAW, IPPROTO_UDP);
    CHECK_OK(raw);
    CHECK(mcast_gso_supported(raw) == 0);
    CHECK_ERR(mcast_set_gro(raw, 1), ENOPROTOOPT);
    CHECK_OK(mcast_close(raw));

    /* Closed, negative and foreign descriptors; outputs stay as they were. */
    CHECK_OK(mcast_close(fd));
    int on = 5;
    CHECK_ERR(mcast_send_segments(fd, buf, sizeof buf, 8), EBADF);
    CHECK_ERR(mcast_send_segments_to(-1, buf, sizeof buf, 8, "239.1.3.7:5107"), EBADF);
    CHECK_ERR(mcast_gso_supported(-1), EBADF);
    CHECK_ERR(mcast_set_gro(fd, 1), EBADF);
    CHECK_ERR(mcast_get_gro(fd, &on), EBADF);
    CHECK(on == 5);
    CHECK_ERR(mcast_recv_gro(-1, buf, sizeof buf, infos, 2), EBADF);
    int pipefd[2];
    CHECK(pipe(pipefd) == 0);
    CHECK_ERR(mcast_gso_supported(pipefd[0]), ENOTSOCK);
    close(pipefd[0]);
    close(pipefd[1]);
    return true;
}

const struct test_case gso_tests[] = {
    TEST(test_sixteen_segments_arrive_as_sixteen_datagrams),
    TEST(test_the_last_segment_may_be_shorter),
    TEST(test_a_call_sends_at_most_the_maximum_and_the_rest_follows),
    TEST(test_a_segment_larger_than_the_mtu_falls_back_to_fragments),
    TEST(test_gro_reads_are_split_into_their_datagrams),
    TEST(test_gro_across_the_veth_yields_every_datagram),
    TEST(test_bad_arguments_are_refused),
    {NULL, NULL},
};
