/* The rest of RFC 3678, with traffic: blocking sources of an any-source membership, the full-state source
 * filter, source-specific joins by binary address, and IP_MULTICAST_ALL. IPv4 over lo, with senders bound to
 * 127.0.0.1 and 127.0.0.2 (two sources); IPv6 across the veth pair va-vb, from va's link-local address. Every
 * test checks the bytes, the sender, the group, the interface, and that nothing else arrived. */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

/* A UDP socket sending from address `from` (IPv4) out of lo. */
static int sender_from(const char *from) {
    int fd = mcast_open(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = 0, .sin_addr = {inet_addr(from)}};
    if (bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0 || mcast_set_if(fd, "lo") != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static struct sockaddr_in v4(const char *ip) {
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = 0, .sin_addr = {inet_addr(ip)}};
    return sin;
}

static struct sockaddr_in6 v6(const char *ip) {
    struct sockaddr_in6 sin6;
    memset(&sin6, 0, sizeof sin6);
    sin6.sin6_family = AF_INET6;
    inet_pton(AF_INET6, ip, &sin6.sin6_addr);
    return sin6;
}

static bool test_block_and_unblock_a_source_ipv4(void) {
    int rx = open_bound(AF_INET, 5201);
    CHECK_OK(rx);
    CHECK_OK(mcast_join(rx, "239.2.0.1", "lo"));
    int one = sender_from("127.0.0.1"), two = sender_from("127.0.0.2");
    CHECK_OK(one);
    CHECK_OK(two);
    CHECK_OK(mcast_block_source(rx, "239.2.0.1", "127.0.0.2", "lo"));
    CHECK(mcast_send_to(two, "blocked", 7, "239.2.0.1:5201") == 7);
    CHECK(mcast_send_to(one, "from one", 8, "239.2.0.1:5201") == 8);
    CHECK(expect(rx, "from one", "127.0.0.1", local_port(one), "239.2.0.1", "lo", 1));
    CHECK(quiet(rx));
    /* The kernel holds the block as an exclude filter. */
    struct sockaddr_in g = v4("239.2.0.1");
    struct sockaddr_storage list[4];
    uint32_t mode = 7, n = 4;
    CHECK_OK(mcast_get_source_filter(rx, ifindex("lo"), (struct sockaddr *)&g, sizeof g, &mode, &n, list));
    CHECK(mode == MCAST_FILTER_EXCLUDE && n == 1 && addr_is(&list[0], "127.0.0.2", -1));

    CHECK_OK(mcast_unblock_source(rx, "239.2.0.1", "127.0.0.2", "lo"));
    CHECK_ERR(mcast_unblock_source(rx, "239.2.0.1", "127.0.0.2", "lo"), EADDRNOTAVAIL);
    CHECK(mcast_send_to(two, "unblocked", 9, "239.2.0.1:5201") == 9);
    CHECK(expect(rx, "unblocked", "127.0.0.2", local_port(two), "239.2.0.1", "lo", 1));
    CHECK(quiet(rx));

    CHECK_ERR(mcast_block_source(rx, "239.2.0.1", "239.9.9.9", "lo"), EINVAL); /* a multicast source */
    CHECK_ERR(mcast_block_source(rx, "239.2.0.1", "2001:db8::1", "lo"), EAFNOSUPPORT);
    CHECK_ERR(mcast_block_source(rx, "239.2.0.1", "127.0.0.2", "nosuch0"), ENODEV);
    CHECK_MSG("MCAST_BLOCK_SOURCE (127.0.0.2, 239.2.0.1)");
    CHECK_ERR(mcast_block_source(rx, "239.2.0.1", NULL, "lo"), EINVAL);
    CHECK_MSG("mcast_block_source: source is NULL");
    CHECK_OK(mcast_close(one));
    CHECK_OK(mcast_close(two));
    CHECK_OK(mcast_close(rx));
    return true;
}

static bool test_block_and_unblock_a_source_ipv6(void) {
    char va_addr[INET6_ADDRSTRLEN];
    CHECK(link_local("va", va_addr, sizeof va_addr));
    int rx = open_bound(AF_INET6, 6201);
    CHECK_OK(rx);
    CHECK_OK(mcast_join(rx, "ff12::2:1", "vb"));
    int tx = mcast_sender("[ff12::2:1%va]:6201", NULL);
    CHECK_OK(tx);
    CHECK_OK(mcast_block_source(rx, "ff12::2:1", va_addr, "vb"));
    CHECK(mcast_send(tx, "blocked", 7) == 7);
    CHECK(quiet(rx));
    CHECK_OK(mcast_unblock_source(rx, "ff12::2:1", va_addr, "vb"));
    CHECK(mcast_send(tx, "unblocked", 9) == 9);
    CHECK(expect(rx, "unblocked", va_addr, local_port(tx), "ff12::2:1", "vb", 1));
    CHECK(quiet(rx));
    CHECK_ERR(mcast_block_source(rx, "ff12::2:1", "127.0.0.1", "vb"), EAFNOSUPPORT);
    CHECK_OK(mcast_close(tx));
    CHECK_OK(mcast_close(rx));
    return true;
}

static bool test_full_state_filter_ipv4(void) {
    int rx = open_bound(AF_INET, 5202);
    CHECK_OK(rx);
    unsigned int lo = ifindex("lo");
    struct sockaddr_in g = v4("239.2.0.2");
    struct sockaddr_storage list[2];
    memset(list, 0, sizeof list);
    memcpy(&list[0], &(struct sockaddr_in){.sin_family = AF_INET, .sin_addr = {inet_addr("127.0.0.2")}},
           sizeof(struct sockaddr_in));
    /* No membership yet: nothing to filter. */
    uint32_t mode = 7, n = 2;
    CHECK_ERR(mcast_get_source_filter(rx, lo, (struct sockaddr *)&g, sizeof g, &mode, &n, list), EADDRNOTAVAIL);
    CHECK(mode == 7 && n == 2); /* outputs untouched on failure */
    CHECK_MSG("MCAST_MSFILTER 239.2.0.2");

    CHECK_OK(mcast_join(rx, "239.2.0.2", "lo"));
    /* An any-source join reads as an empty exclude list. */
    n = 2;
    CHECK_OK(mcast_get_source_filter(rx, lo, (struct sockaddr *)&g, sizeof g, &mode, &n, list));
    CHECK(mode == MCAST_FILTER_EXCLUDE && n == 0);

    int one = sender_from("127.0.0.1"), two = sender_from("127.0.0.2");
    CHECK_OK(one);
    CHECK_OK(two);
    /* Include only 127.0.0.2. */
    memset(list, 0, sizeof list);
    memcpy(&list[0], &(struct sockaddr_in){.sin_family = AF_INET, .sin_addr = {inet_addr("127.0.0.2")}},
           sizeof(struct sockaddr_in));
    CHECK_OK(mcast_set_source_filter(rx, lo, (struct sockaddr *)&g, sizeof g, MCAST_FILTER_INCLUDE, 1, list));
    CHECK(mcast_send_to(one, "not listed", 10, "239.2.0.2:5202") == 10);
    CHECK(mcast_send_to(two, "listed", 6, "239.2.0.2:5202") == 6);
    CHECK(expect(rx, "listed", "127.0.0.2", local_port(two), "239.2.0.2", "lo", 1));
    CHECK(quiet(rx));
    struct sockaddr_storage got[2];
    memset(got, 0, sizeof got);
    n = 2;
    CHECK_OK(mcast_get_source_filter(rx, lo, (struct sockaddr *)&g, sizeof g, &mode, &n, got));
    CHECK(mode == MCAST_FILTER_INCLUDE && n == 1 && addr_is(&got[0], "127.0.0.2", -1));

    /* Exclude 127.0.0.2 and 127.0.0.3 instead: 127.0.0.1 gets through. Room for one: the count says two. */
    memcpy(&list[1], &(struct sockaddr_in){.sin_family = AF_INET, .sin_addr = {inet_addr("127.0.0.3")}},
           sizeof(struct sockaddr_in));
    CHECK_OK(mcast_set_source_filter(rx, lo, (struct sockaddr *)&g, sizeof g, MCAST_FILTER_EXCLUDE, 2, list));
    CHECK(mcast_send_to(two, "excluded", 8, "239.2.0.2:5202") == 8);
    CHECK(mcast_send_to(one, "let through", 11, "239.2.0.2:5202") == 11);
    CHECK(expect(rx, "let through", "127.0.0.1", local_port(one), "239.2.0.2", "lo", 1));
    CHECK(quiet(rx));
    n = 1;
    memset(got, 0, sizeof got);
    CHECK_OK(mcast_get_source_filter(rx, lo, (struct sockaddr *)&g, sizeof g, &mode, &n, got));
    CHECK(mode == MCAST_FILTER_EXCLUDE && n == 2 && got[0].ss_family == AF_INET && got[1].ss_family == 0);
    n = 0; /* the count only */
    CHECK_OK(mcast_get_source_filter(rx, lo, (struct sockaddr *)&g, sizeof g, &mode, &n, NULL));
    CHECK(n == 2);

    /* An empty include list leaves the group. */
    CHECK_OK(mcast_set_source_filter(rx, lo, (struct sockaddr *)&g, sizeof g, MCAST_FILTER_INCLUDE, 0, NULL));
    CHECK(mcast_send_to(one, "gone", 4, "239.2.0.2:5202") == 4);
    CHECK(quiet(rx));

    /* Arguments. */
    CHECK_ERR(mcast_set_source_filter(rx, lo, (struct sockaddr *)&g, sizeof g, 2, 0, NULL), EINVAL);
    CHECK_MSG("fmode 2");
    CHECK_ERR(mcast_set_source_filter(rx, lo, (struct sockaddr *)&g, sizeof g, MCAST_FILTER_INCLUDE, 1, NULL), EINVAL);
    CHECK_ERR(mcast_set_source_filter(rx, lo, NULL, sizeof g, MCAST_FILTER_INCLUDE, 0, NULL), EINVAL);
    CHECK_ERR(mcast_set_source_filter(rx, lo, (struct sockaddr *)&g, 4, MCAST_FILTER_INCLUDE, 0, NULL), EINVAL);
    struct sockaddr_in unicast = v4("10.1.1.1");
    CHECK_ERR(mcast_set_source_filter(rx, lo, (struct sockaddr *)&unicast, sizeof unicast, 0, 0, NULL), EINVAL);
    struct sockaddr_in6 g6 = v6("ff12::1");
    CHECK_ERR(mcast_set_source_filter(rx, lo, (struct sockaddr *)&g6, sizeof g6, 0, 0, NULL), EAFNOSUPPORT);
    CHECK_ERR(mcast_get_source_filter(rx, lo, (struct sockaddr *)&g, sizeof g, NULL, &n, NULL), EINVAL);
    CHECK_ERR(mcast_get_source_filter(rx, lo, (struct sockaddr *)&g, sizeof g, &mode, NULL, NULL), EINVAL);
    CHECK_OK(mcast_close(one));
    CHECK_OK(mcast_close(two));
    CHECK_OK(mcast_close(rx));
    return true;
}

static bool test_full_state_filter_ipv6(void) {
    char va_addr[INET6_ADDRSTRLEN];
    CHECK(link_local("va", va_addr, sizeof va_addr));
    unsigned int vb = ifindex("vb");
    int rx = open_bound(AF_INET6, 6202);
    CHECK_OK(rx);
    CHECK_OK(mcast_join(rx, "ff12::2:2", "vb"));
    int tx = mcast_sender("[ff12::2:2%va]:6202", NULL);
    CHECK_OK(tx);
    struct sockaddr_in6 g = v6("ff12::2:2"), src = v6(va_addr);
    struct sockaddr_storage list[1];
    memset(list, 0, sizeof list);
    memcpy(&list[0], &src, sizeof src);

    CHECK_OK(mcast_set_source_filter(rx, vb, (struct sockaddr *)&g, sizeof g, MCAST_FILTER_EXCLUDE, 1, list));
    CHECK(mcast_send(tx, "excluded", 8) == 8);
    CHECK(quiet(rx));
    uint32_t mode = 7, n = 1;
    struct sockaddr_storage got[1];
    memset(got, 0, sizeof got);
    CHECK_OK(mcast_get_source_filter(rx, vb, (struct sockaddr *)&g, sizeof g, &mode, &n, got));
    CHECK(mode == MCAST_FILTER_EXCLUDE && n == 1 && addr_is(&got[0], va_addr, -1));

    CHECK_OK(mcast_set_source_filter(rx, vb, (struct sockaddr *)&g, sizeof g, MCAST_FILTER_INCLUDE, 1, list));
    CHECK(mcast_send(tx, "included", 8) == 8);
    CHECK(expect(rx, "included", va_addr, local_port(tx), "ff12::2:2", "vb", 1));
    CHECK(quiet(rx));
    CHECK_OK(mcast_get_source_filter(rx, vb, (struct sockaddr *)&g, sizeof g, &mode, &n, got));
    CHECK(mode == MCAST_FILTER_INCLUDE && n == 1 && addr_is(&got[0], va_addr, -1));

    struct sockaddr_in g4 = v4("239.1.1.1");
    CHECK_ERR(mcast_set_source_filter(rx, vb, (struct sockaddr *)&g4, sizeof g4, 0, 0, NULL), EAFNOSUPPORT);
    struct sockaddr_in6 other = v6("ff12::2:99");
    n = 1;
    CHECK_ERR(mcast_get_source_filter(rx, vb, (struct sockaddr *)&other, sizeof other, &mode, &n, got),
              EADDRNOTAVAIL);
    CHECK_OK(mcast_close(tx));
    CHECK_OK(mcast_close(rx));
    return true;
}

static bool test_source_joins_by_address(void) {
    /* IPv4 over lo: only 127.0.0.2 is heard. */
    int rx = open_bound(AF_INET, 5203);
    CHECK_OK(rx);
    struct in_addr group = {inet_addr("232.2.0.3")}, source = {inet_addr("127.0.0.2")};
    CHECK_OK(mcast_join_source_addr(rx, &group, &source, ifindex("lo")));
    int one = sender_from("127.0.0.1"), two = sender_from("127.0.0.2");
    CHECK_OK(one);
    CHECK_OK(two);
    CHECK(mcast_send_to(one, "other source", 12, "232.2.0.3:5203") == 12);
    CHECK(mcast_send_to(two, "the source", 10, "232.2.0.3:5203") == 10);
    CHECK(expect(rx, "the source", "127.0.0.2", local_port(two), "232.2.0.3", "lo", 1));
    CHECK(quiet(rx));
    CHECK_OK(mcast_leave_source_addr(rx, &group, &source, ifindex("lo")));
    CHECK(mcast_send_to(two, "after leave", 11, "232.2.0.3:5203") == 11);
    CHECK(quiet(rx));
    /* Dropping the last source left the group; Linux answers a second drop with EINVAL. */
    CHECK_ERR(mcast_leave_source_addr(rx, &group, &source, ifindex("lo")), EINVAL);
    CHECK_ERR(mcast_join_source_addr(rx, &source, &source, 0), EINVAL); /* a unicast group */
    CHECK_ERR(mcast_join_source_addr(rx, &group, NULL, 0), EINVAL);
    CHECK_MSG("mcast_join_source_addr: source is NULL");
    CHECK_OK(mcast_close(one));
    CHECK_OK(mcast_close(two));
    CHECK_OK(mcast_close(rx));

    /* IPv6 across the veth. */
    char va_addr[INET6_ADDRSTRLEN];
    CHECK(link_local("va", va_addr, sizeof va_addr));
    int rx6 = open_bound(AF_INET6, 6203);
    CHECK_OK(rx6);
    struct in6_addr g6, s6, wrong;
    CHECK(inet_pton(AF_INET6, "ff32::8000:23", &g6) == 1 && inet_pton(AF_INET6, va_addr, &s6) == 1);
    CHECK(inet_pton(AF_INET6, "fe80::99", &wrong) == 1);
    CHECK_OK(mcast_join_source_addr6(rx6, &g6, &s6, ifindex("vb")));
    int tx = mcast_sender("[ff32::8000:23%va]:6203", NULL);
    CHECK_OK(tx);
    CHECK(mcast_send(tx, "ssm by address", 14) == 14);
    CHECK(expect(rx6, "ssm by address", va_addr, local_port(tx), "ff32::8000:23", "vb", 1));
    CHECK(quiet(rx6));
    CHECK_ERR(mcast_leave_source_addr6(rx6, &g6, &wrong, ifindex("vb")), EADDRNOTAVAIL);
    CHECK_OK(mcast_leave_source_addr6(rx6, &g6, &s6, ifindex("vb")));
    CHECK(mcast_send(tx, "gone", 4) == 4);
    CHECK(quiet(rx6));
    CHECK_ERR(mcast_join_source_addr6(rx6, &g6, &g6, ifindex("vb")), EINVAL); /* a multicast source */
    CHECK_OK(mcast_close(tx));
    CHECK_OK(mcast_close(rx6));
    return true;
}

/* IP_MULTICAST_ALL: a socket on the group's port that joined nothing hears the group only while it is on. */
static bool test_multicast_all_ipv4(void) {
    int member = open_bound(AF_INET, 5204), bystander = open_bound(AF_INET, 5204);
    CHECK_OK(member);
    CHECK_OK(bystander);
    int on = -1;
    CHECK_OK(mcast_get_all(bystander, &on));
    CHECK(on == 1); /* Linux's default, which mcast_open() keeps */
    CHECK_OK(mcast_join(member, "239.2.0.4", "lo"));
    int tx = sender_from("127.0.0.1");
    CHECK_OK(tx);
    CHECK(mcast_send_to(tx, "to all", 6, "239.2.0.4:5204") == 6);
    CHECK(expect(member, "to all", "127.0.0.1", local_port(tx), "239.2.0.4", "lo", 1));
    CHECK(expect(bystander, "to all", "127.0.0.1", local_port(tx), "239.2.0.4", "lo", 1));
    CHECK_OK(mcast_set_all(bystander, 0));
    CHECK_OK(mcast_get_all(bystander, &on));
    CHECK(on == 0);
    CHECK(mcast_send_to(tx, "members", 7, "239.2.0.4:5204") == 7);
    CHECK(expect(member, "members", "127.0.0.1", local_port(tx), "239.2.0.4", "lo", 1));
    CHECK(quiet(bystander));
    CHECK(quiet(member));
    CHECK_OK(mcast_set_all(bystander, 5));
    CHECK_OK(mcast_get_all(bystander, &on));
    CHECK(on == 1);
    /* A receiver has it off. */
    int rx = mcast_receiver("239.2.0.5:5205", NULL);
    CHECK_OK(rx);
    CHECK_OK(mcast_get_all(rx, &on));
    CHECK(on == 0);
    CHECK_ERR(mcast_get_all(rx, NULL), EINVAL);
    on = 9;
    CHECK_ERR(mcast_get_all(-1, &on), EBADF);
    CHECK(on == 9);
    CHECK_OK(mcast_close(rx));
    CHECK_OK(mcast_close(tx));
    CHECK_OK(mcast_close(member));
    CHECK_OK(mcast_close(bystander));
    return true;
}

static bool test_multicast_all_ipv6(void) {
    int fd = mcast_open(AF_INET6, SOCK_DGRAM, 0);
    CHECK_OK(fd);
    int on = -1;
    CHECK_OK(mcast_get_all(fd, &on));
    CHECK(on == 1);
    CHECK_OK(mcast_set_all(fd, 0));
    CHECK_OK(mcast_get_all(fd, &on));
    CHECK(on == 0);
    int v = -1;
    socklen_t len = sizeof v;
    CHECK(getsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_ALL, &v, &len) == 0 && v == 0); /* the real option */
    CHECK_OK(mcast_close(fd));
    struct mcast_opts opts = MCAST_OPTS_INIT;
    opts.iface = "vb";
    int rx = mcast_receiver("[ff12::2:5]:6205", &opts);
    CHECK_OK(rx);
    on = -1;
    CHECK_OK(mcast_get_all(rx, &on));
    CHECK(on == 0);
    CHECK_OK(mcast_close(rx));
    return true;
}

const struct test_case filter_tests[] = {
    TEST(test_block_and_unblock_a_source_ipv4),
    TEST(test_block_and_unblock_a_source_ipv6),
    TEST(test_full_state_filter_ipv4),
    TEST(test_full_state_filter_ipv6),
    TEST(test_source_joins_by_address),
    TEST(test_multicast_all_ipv4),
    TEST(test_multicast_all_ipv6),
    {NULL, NULL},
};
