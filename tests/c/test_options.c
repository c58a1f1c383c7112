/* Every option set and read back, on IPv4 and IPv6 sockets; the interface list; what mcast_sender and
 * mcast_receiver configure. No datagrams here. */
#include "harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

static bool test_ttl_round_trips(void) {
    int v4 = mcast_open(AF_INET, SOCK_DGRAM, 0), v6 = mcast_open(AF_INET6, SOCK_DGRAM, 0);
    CHECK_OK(v4);
    CHECK_OK(v6);
    int ttl = -7;
    CHECK_OK(mcast_get_ttl(v4, &ttl));
    CHECK(ttl == 1); /* the kernel's default */
    const int values[] = {0, 1, 32, 64, 128, 255};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        CHECK_OK(mcast_set_ttl(v4, values[i]));
        CHECK_OK(mcast_get_ttl(v4, &ttl));
        CHECK(ttl == values[i]);
        CHECK_OK(mcast_set_ttl(v6, values[i]));
        CHECK_OK(mcast_get_ttl(v6, &ttl));
        CHECK(ttl == values[i]);
    }
    CHECK_OK(mcast_set_ttl(v6, -1)); /* the route's default */
    CHECK_OK(mcast_get_ttl(v6, &ttl));
    CHECK(ttl == 1);
    /* The same through plain getsockopt: the library sets the real option. */
    unsigned char raw = 0;
    socklen_t len = sizeof raw;
    CHECK_OK(mcast_set_ttl(v4, 42));
    CHECK(getsockopt(v4, IPPROTO_IP, IP_MULTICAST_TTL, &raw, &len) == 0 && raw == 42);
    CHECK_OK(mcast_close(v4));
    CHECK_OK(mcast_close(v6));
    return true;
}

static bool test_loop_round_trips(void) {
    int fds[2] = {mcast_open(AF_INET, SOCK_DGRAM, 0), mcast_open(AF_INET6, SOCK_DGRAM, 0)};
    for (int i = 0; i < 2; i++) {
        int on = -1;
        CHECK_OK(fds[i]);
        CHECK_OK(mcast_get_loop(fds[i], &on));
        CHECK(on == 1);
        CHECK_OK(mcast_set_loop(fds[i], 0));
        CHECK_OK(mcast_get_loop(fds[i], &on));
        CHECK(on == 0);
        CHECK_OK(mcast_set_loop(fds[i], 7));
        CHECK_OK(mcast_get_loop(fds[i], &on));
        CHECK(on == 1);
        CHECK_OK(mcast_close(fds[i]));
    }
    return true;
}

static bool test_dscp_round_trips(void) {
    int v4 = mcast_open(AF_INET, SOCK_DGRAM, 0), v6 = mcast_open(AF_INET6, SOCK_DGRAM, 0);
    CHECK_OK(v4);
    CHECK_OK(v6);
    int dscp = -7;
    CHECK_OK(mcast_get_dscp(v4, &dscp));
    CHECK(dscp == 0); /* the kernel's default: best effort */
    const int values[] = {0, 8, 34, 46, 63};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        CHECK_OK(mcast_set_dscp(v4, values[i]));
        CHECK_OK(mcast_get_dscp(v4, &dscp));
        CHECK(dscp == values[i]);
        CHECK_OK(mcast_set_dscp(v6, values[i]));
        CHECK_OK(mcast_get_dscp(v6, &dscp));
        CHECK(dscp == values[i]);
    }
    /* The real options, with the ECN bits clear: EF (46) is TOS 0xb8, AF41 (34) traffic class 0x88. */
    int raw = 0;
    socklen_t len = sizeof raw;
    CHECK_OK(mcast_set_dscp(v4, 46));
    CHECK(getsockopt(v4, IPPROTO_IP, IP_TOS, &raw, &len) == 0 && raw == 0xb8);
    len = sizeof raw;
    CHECK_OK(mcast_set_dscp(v6, 34));
    CHECK(getsockopt(v6, IPPROTO_IPV6, IPV6_TCLASS, &raw, &len) == 0 && raw == 0x88);
    /* Out of range, a NULL output and a descriptor that is no socket. */
    CHECK_ERR(mcast_set_dscp(v4, 64), EINVAL);
    CHECK_ERR(mcast_set_dscp(v4, -1), EINVAL);
    CHECK_ERR(mcast_get_dscp(v4, NULL), EINVAL);
    CHECK_OK(mcast_get_dscp(v4, &dscp));
    CHECK(dscp == 46); /* refused calls changed nothing */
    int fds[2];
    CHECK(pipe(fds) == 0);
    CHECK(mcast_set_dscp(fds[0], 8) == -1);
    close(fds[0]);
    close(fds[1]);
    CHECK_OK(mcast_close(v4));
    CHECK_OK(mcast_close(v6));
    return true;
}

static bool test_interface_round_trips(void) {
    unsigned int lo = ifindex("lo"), va = ifindex("va"), vb = ifindex("vb"), index = 77;
    CHECK(lo != 0 && va != 0 && vb != 0);
    int v4 = mcast_open(AF_INET, SOCK_DGRAM, 0), v6 = mcast_open(AF_INET6, SOCK_DGRAM, 0);
    CHECK_OK(v4);
    CHECK_OK(v6);
    struct in_addr addr;

    CHECK_OK(mcast_get_if(v4, &index));
    CHECK(index == 0);
    CHECK_OK(mcast_set_if(v4, "va"));
    CHECK_OK(mcast_get_if(v4, &index));
    CHECK(index == va);
    CHECK_OK(mcast_get_if_addr(v4, &addr));
    CHECK(addr.s_addr == inet_addr("10.9.0.1"));
    CHECK_OK(mcast_set_if(v4, "127.0.0.1"));
    CHECK_OK(mcast_get_if(v4, &index));
    CHECK(index == lo);
    CHECK_OK(mcast_set_if_index(v4, vb));
    CHECK_OK(mcast_get_if(v4, &index));
    CHECK(index == vb);
    char text[16];
    snprintf(text, sizeof text, "%u", va);
    CHECK_OK(mcast_set_if(v4, text));
    CHECK_OK(mcast_get_if(v4, &index));
    CHECK(index == va);
    CHECK_OK(mcast_set_if(v4, "0.0.0.0"));
    CHECK_OK(mcast_get_if(v4, &index));
    CHECK(index == 0);
    CHECK_OK(mcast_get_if_addr(v4, &addr));
    CHECK(addr.s_addr == htonl(INADDR_ANY));

    CHECK_OK(mcast_get_if(v6, &index));
    CHECK(index == 0);
    CHECK_OK(mcast_set_if(v6, "vb"));
    CHECK_OK(mcast_get_if(v6, &index));
    CHECK(index == vb);
    CHECK_OK(mcast_set_if_index(v6, va));
    CHECK_OK(mcast_get_if(v6, &index));
    CHECK(index == va);
    CHECK_OK(mcast_set_if(v6, "::"));
    CHECK_OK(mcast_get_if(v6, &index));
    CHECK(index == 0);
    CHECK_OK(mcast_set_if_index(v6, lo));
    CHECK_OK(mcast_set_if_index(v6, 0));
    CHECK_OK(mcast_get_if(v6, &index));
    CHECK(index == 0);
    CHECK_OK(mcast_close(v4));
    CHECK_OK(mcast_close(v6));
    return true;
}

static bool test_open_turns_on_arrival_information(void) {
    int v4 = mcast_open(AF_INET, SOCK_DGRAM, 0), v6 = mcast_open(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    CHECK_OK(v4);
    CHECK_OK(v6);
    int on = 0;
    socklen_t len = sizeof on;
    CHECK(getsockopt(v4, IPPROTO_IP, IP_PKTINFO, &on, &len) == 0 && on == 1);
    CHECK(getsockopt(v4, IPPROTO_IP, IP_RECVTTL, &on, &len) == 0 && on == 1);
    CHECK(getsockopt(v6, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, &len) == 0 && on == 1);
    CHECK(getsockopt(v6, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, &len) == 0 && on == 1);
    CHECK((fcntl(v4, F_GETFL) & O_NONBLOCK) == 0);
    CHECK((fcntl(v6, F_GETFL) & O_NONBLOCK) != 0);
    CHECK((fcntl(v4, F_GETFD) & FD_CLOEXEC) != 0);
    CHECK_OK(mcast_close(v4));
    CHECK_OK(mcast_close(v6));
    /* Raw sockets too (this suite runs as root, with CAP_NET_RAW). */
    int raw = mcast_open(AF_INET, SOCK_RAW, IPPROTO_UDP);
    CHECK_OK(raw);
    int type = 0;
    len = sizeof type;
    CHECK(getsockopt(raw, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_RAW);
    CHECK_OK(mcast_set_ttl(raw, 3));
    CHECK_OK(mcast_get_ttl(raw, &type));
    CHECK(type == 3);
    CHECK_OK(mcast_close(raw));
    int raw6 = mcast_open(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
    CHECK_OK(raw6);
    CHECK_OK(mcast_join(raw6, "ff02::16", "va"));
    CHECK_OK(mcast_close(raw6));
    return true;
}

static bool test_interface_list(void) {
    struct mcast_iface *list = NULL;
    size_t count = 0;
    CHECK_OK(mcast_if_list(&list, &count));
    CHECK(list != NULL);
    /* lo, va, vb, and whatever tunnel devices (sit0, ...) the kernel puts in every new namespace. */
    CHECK(count >= 3);
    CHECK(list[count].index == 0 && list[count].name[0] == '\0');
    bool seen_lo = false, seen_va = false, seen_vb = false;
    for (size_t i = 0; i < count; i++) {
        const struct mcast_iface *e = &list[i];
        CHECK(e->index != 0 && e->index == ifindex(e->name));
        CHECK(i == 0 || list[i - 1].index < e->index);
        CHECK((e->n_ipv4 == 0) == (e->ipv4 == NULL) && (e->n_ipv6 == 0) == (e->ipv6 == NULL));
        bool ours = strcmp(e->name, "lo") == 0 || strcmp(e->name, "va") == 0 || strcmp(e->name, "vb") == 0;
        if (!ours)
            continue;
        CHECK((e->flags & IFF_UP) && (e->flags & IFF_MULTICAST));
        if (strcmp(e->name, "lo") == 0) {
            seen_lo = true;
            CHECK(e->flags & IFF_LOOPBACK);
            CHECK(e->n_ipv4 == 1 && e->ipv4[0].s_addr == htonl(INADDR_LOOPBACK));
            CHECK(e->mtu == 65536);
        } else {
            seen_va |= strcmp(e->name, "va") == 0;
            seen_vb |= strcmp(e->name, "vb") == 0;
            CHECK(!(e->flags & IFF_LOOPBACK));
            CHECK(e->mtu == 1500);
            CHECK(e->n_ipv4 == 1);
            CHECK(e->ipv4[0].s_addr == inet_addr(strcmp(e->name, "va") == 0 ? "10.9.0.1" : "10.9.0.2"));
            CHECK(e->n_ipv6 == 1 && IN6_IS_ADDR_LINKLOCAL(&e->ipv6[0]));
        }
    }
    CHECK(seen_lo && seen_va && seen_vb);
    mcast_if_list_free(list);
    /* count is optional. */
    list = NULL;
    CHECK_OK(mcast_if_list(&list, NULL));
    CHECK(list != NULL && list[count].index == 0 && list[count - 1].index != 0);
    mcast_if_list_free(list);
    return true;
}

static bool test_sender_applies_its_options(void) {
    struct mcast_opts opts = MCAST_OPTS_INIT;
    opts.ttl = 7;
    opts.loop = 0;
    opts.iface = "va";
    opts.nonblock = 1;
    int fd = mcast_sender("239.1.2.3:5000", &opts);
    CHECK_OK(fd);
    int ttl = 0, on = 1;
    unsigned int index = 0;
    CHECK_OK(mcast_get_ttl(fd, &ttl));
    CHECK_OK(mcast_get_loop(fd, &on));
    CHECK_OK(mcast_get_if(fd, &index));
    CHECK(ttl == 7 && on == 0 && index == ifindex("va"));
    CHECK((fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
    struct sockaddr_storage peer;
    socklen_t len = sizeof peer;
    CHECK(getpeername(fd, (struct sockaddr *)&peer, &len) == 0);
    CHECK(addr_is(&peer, "239.1.2.3", 5000));
    CHECK_OK(mcast_close(fd));

    /* Defaults, IPv6, the zone naming the interface. */
    CHECK_ERR(mcast_sender("[ff02::1:2]:6000", NULL), ENODEV); /* link-local without an interface */
    fd = mcast_sender("[ff02::1:2%vb]:6000", NULL);
    CHECK_OK(fd);
    CHECK_OK(mcast_get_ttl(fd, &ttl));
    CHECK_OK(mcast_get_loop(fd, &on));
    CHECK_OK(mcast_get_if(fd, &index));
    CHECK(ttl == 1 && on == 1 && index == ifindex("vb"));
    CHECK((fcntl(fd, F_GETFL) & O_NONBLOCK) == 0);
    CHECK_OK(mcast_close(fd));
    return true;
}

static bool test_receiver_binds_the_port_and_shares_it(void) {
    struct mcast_opts opts = MCAST_OPTS_INIT;
    opts.iface = "lo";
    opts.nonblock = 1;
    opts.rcvbuf = 1 << 20;
    int a = mcast_receiver("239.1.2.4:5400", &opts);
    CHECK_OK(a);
    CHECK(local_port(a) == 5400);
    int all = 1, rcvbuf = 0;
    socklen_t len = sizeof all;
    CHECK(getsockopt(a, IPPROTO_IP, IP_MULTICAST_ALL, &all, &len) == 0 && all == 0);
    len = sizeof rcvbuf;
    CHECK(getsockopt(a, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &len) == 0 && rcvbuf >= 1 << 20);
    CHECK((fcntl(a, F_GETFL) & O_NONBLOCK) != 0);
    /* SO_REUSEADDR by default: a second receiver shares the port; without it, EADDRINUSE. */
    int b = mcast_receiver("239.1.2.4:5400", NULL);
    CHECK_OK(b);
    opts.reuse = 0;
    CHECK_ERR(mcast_receiver("239.1.2.4:5400", &opts), EADDRINUSE);
    CHECK_OK(mcast_close(a));
    CHECK_OK(mcast_close(b));
    return true;
}

const struct test_case option_tests[] = {
    TEST(test_ttl_round_trips),
    TEST(test_loop_round_trips),
    TEST(test_dscp_round_trips),
    TEST(test_interface_round_trips),
    TEST(test_open_turns_on_arrival_information),
    TEST(test_interface_list),
    TEST(test_sender_applies_its_options),
    TEST(test_receiver_binds_the_port_and_shares_it),
    {NULL, NULL},
};
