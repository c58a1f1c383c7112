/* Bad input, one function at a time: NULL pointers, closed and foreign descriptors, groups that are not
 * multicast or not groups at all, unknown interfaces, values out of range. Each fails with -1, the documented
 * errno and a message, leaves output parameters alone, and never closes the caller's descriptor. */
#include "harness.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

static bool is_open(int fd) {
    return fcntl(fd, F_GETFD) != -1;
}

static bool test_null_pointers_are_einval(void) {
    int fd = mcast_open(AF_INET, SOCK_DGRAM, 0);
    CHECK_OK(fd);
    char buf[16];
    struct iovec iov = {buf, sizeof buf};
    struct mcast_rxinfo info = MCAST_RXINFO_INIT;

    CHECK_ERR(mcast_get_ttl(fd, NULL), EINVAL);
    CHECK_MSG("mcast_get_ttl: ttl is NULL");
    CHECK_ERR(mcast_get_loop(fd, NULL), EINVAL);
    CHECK_ERR(mcast_set_if(fd, NULL), EINVAL);
    CHECK_MSG("mcast_set_if: iface is NULL");
    CHECK_ERR(mcast_get_if(fd, NULL), EINVAL);
    CHECK_ERR(mcast_get_if_addr(fd, NULL), EINVAL);
    CHECK_ERR(mcast_join(fd, NULL, "lo"), EINVAL);
    CHECK_MSG("mcast_join: group is NULL");
    CHECK_ERR(mcast_leave(fd, NULL, NULL), EINVAL);
    CHECK_ERR(mcast_join_source(fd, "232.1.1.1", NULL, NULL), EINVAL);
    CHECK_MSG("source is NULL");
    CHECK_ERR(mcast_leave_source(fd, NULL, "127.0.0.1", NULL), EINVAL);
    CHECK_ERR(mcast_join_addr(fd, NULL, 0), EINVAL);
    CHECK_ERR(mcast_leave_addr(fd, NULL, 0), EINVAL);
    CHECK_ERR(mcast_join_addr6(fd, NULL, 0), EINVAL);
    CHECK_ERR(mcast_leave_addr6(fd, NULL, 0), EINVAL);
    CHECK_ERR(mcast_sender(NULL, NULL), EINVAL);
    CHECK_ERR(mcast_receiver(NULL, NULL), EINVAL);
    CHECK_ERR(mcast_send(fd, NULL, 0), EINVAL);
    CHECK_MSG("mcast_send: buf is NULL");
    CHECK_ERR(mcast_send_to(fd, NULL, 1, "239.1.2.3:5000"), EINVAL);
    CHECK_ERR(mcast_send_to(fd, "x", 1, NULL), EINVAL);
    CHECK_ERR(mcast_recv(fd, NULL, 16, &info), EINVAL);
    CHECK_ERR(mcast_send_batch(fd, NULL, 1), EINVAL);
    CHECK_ERR(mcast_recv_batch(fd, NULL, &info, 1), EINVAL);
    CHECK_ERR(mcast_recv_batch(fd, &iov, NULL, 1), EINVAL);
    CHECK_ERR(mcast_if_list(NULL, NULL), EINVAL);
    mcast_if_list_free(NULL); /* ignored */
    CHECK(is_open(fd));
    CHECK_OK(mcast_close(fd));
    return true;
}

static bool test_closed_and_foreign_descriptors(void) {
    int fd = mcast_open(AF_INET, SOCK_DGRAM, 0);
    CHECK_OK(fd);
    CHECK_OK(mcast_close(fd));
    int ttl = 77;
    CHECK_ERR(mcast_set_ttl(fd, 1), EBADF);
    CHECK_ERR(mcast_get_ttl(fd, &ttl), EBADF);
    CHECK(ttl == 77);
    CHECK_ERR(mcast_join(fd, "239.1.2.3", NULL), EBADF);
    CHECK_ERR(mcast_send(fd, "x", 1), EBADF);
    CHECK_ERR(mcast_close(fd), EBADF);
    CHECK_ERR(mcast_set_loop(-1, 1), EBADF);
    CHECK_MSG("-1 is not a file descriptor");

    int pipefd[2];
    CHECK(pipe(pipefd) == 0);
    CHECK_ERR(mcast_set_ttl(pipefd[0], 1), ENOTSOCK);
    CHECK(is_open(pipefd[0]));
    close(pipefd[0]);
    close(pipefd[1]);

    int tcp = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(tcp >= 0);
    CHECK_ERR(mcast_join(tcp, "239.1.2.3", NULL), EAFNOSUPPORT);
    CHECK_MSG("not a SOCK_DGRAM or SOCK_RAW socket");
    CHECK(is_open(tcp));
    close(tcp);

    int unix_fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    CHECK(unix_fd >= 0);
    CHECK_ERR(mcast_set_ttl(unix_fd, 1), EAFNOSUPPORT);
    CHECK(is_open(unix_fd));
    close(unix_fd);
    return true;
}

static bool test_open_refuses_other_families_and_types(void) {
    CHECK_ERR(mcast_open(AF_UNIX, SOCK_DGRAM, 0), EAFNOSUPPORT);
    CHECK_MSG("mcast_open: family");
    CHECK_ERR(mcast_open(AF_INET, SOCK_STREAM, 0), EAFNOSUPPORT);
    CHECK_MSG("SOCK_DGRAM and SOCK_RAW");
    CHECK_ERR(mcast_open(AF_INET6, SOCK_SEQPACKET, 0), EAFNOSUPPORT);
    return true;
}

static bool test_ttl_out_of_range(void) {
    int v4 = mcast_open(AF_INET, SOCK_DGRAM, 0), v6 = mcast_open(AF_INET6, SOCK_DGRAM, 0);
    CHECK_OK(v4);
    CHECK_OK(v6);
    int ttl = 0;
    CHECK_OK(mcast_set_ttl(v4, 9));
    CHECK_ERR(mcast_set_ttl(v4, 256), EINVAL);
    CHECK_MSG("IP_MULTICAST_TTL 256 is out of range 0..=255");
    CHECK_ERR(mcast_set_ttl(v4, 300), EINVAL);
    CHECK_MSG("IP_MULTICAST_TTL 300 is out of range 0..=255");
    CHECK_ERR(mcast_set_ttl(v4, -1), EINVAL);
    CHECK_ERR(mcast_set_ttl(v4, -1000), EINVAL);
    CHECK_OK(mcast_get_ttl(v4, &ttl));
    CHECK(ttl == 9);
    CHECK_ERR(mcast_set_ttl(v6, 256), EINVAL);
    CHECK_MSG("IPV6_MULTICAST_HOPS 256");
    CHECK_ERR(mcast_set_ttl(v6, 300), EINVAL);
    CHECK_MSG("IPV6_MULTICAST_HOPS 300 is out of range -1..=255");
    CHECK_ERR(mcast_set_ttl(v6, -2), EINVAL);
    CHECK_OK(mcast_close(v4));
    CHECK_OK(mcast_close(v6));
    return true;
}

static bool test_bad_groups(void) {
    int v4 = mcast_open(AF_INET, SOCK_DGRAM, 0), v6 = mcast_open(AF_INET6, SOCK_DGRAM, 0);
    CHECK_OK(v4);
    CHECK_OK(v6);
    struct in_addr unicast = {htonl(0x0a000001)};
    struct in6_addr unicast6;
    memset(&unicast6, 0, sizeof unicast6);
    unicast6.s6_addr[0] = 0x20;

    CHECK_ERR(mcast_join(v4, "10.0.0.1", NULL), EINVAL);
    CHECK_MSG("10.0.0.1 is not a multicast address");
    CHECK_MSG("224.0.0.0/4");
    CHECK_ERR(mcast_join(v4, "239.1.2", NULL), EINVAL);
    CHECK_ERR(mcast_join(v4, "", NULL), EINVAL);
    CHECK_ERR(mcast_join(v4, "239.1.2.3:99999", NULL), EINVAL);
    CHECK_ERR(mcast_join(v4, "\xff\xfe", NULL), EINVAL);
    CHECK_MSG("not UTF-8");
    CHECK_ERR(mcast_join(v4, "ff12::1", NULL), EAFNOSUPPORT);
    CHECK_MSG("IPv6 group ff12::1 on an IPv4 socket");
    CHECK_ERR(mcast_join(v6, "239.1.2.3", "lo"), EAFNOSUPPORT);
    CHECK_ERR(mcast_join_addr(v4, &unicast, 0), EINVAL);
    CHECK_ERR(mcast_join_addr6(v6, &unicast6, 0), EINVAL);
    CHECK_MSG("2000:: is not a multicast address");
    CHECK_ERR(mcast_join_source(v4, "232.1.1.1", "not-an-address", "lo"), EINVAL);
    CHECK_MSG("source 'not-an-address'");
    CHECK_ERR(mcast_join_source(v4, "232.1.1.1", "::1", "lo"), EAFNOSUPPORT);
    /* A source is a sender: multicast, unspecified and broadcast addresses are refused before the kernel. */
    CHECK_ERR(mcast_join_source(v4, "232.1.1.1", "239.1.1.1", "lo"), EINVAL);
    CHECK_MSG("source 239.1.1.1 is a multicast address; a source must be a unicast address");
    CHECK_ERR(mcast_join_source(v4, "232.1.1.1", "0.0.0.0", NULL), EINVAL);
    CHECK_MSG("source 0.0.0.0 is the unspecified address");
    CHECK_ERR(mcast_join_source(v4, "232.1.1.1", "255.255.255.255", "lo"), EINVAL);
    CHECK_MSG("source 255.255.255.255 is the broadcast address");
    CHECK_ERR(mcast_join_source(v6, "ff3e::8000:1", "ff02::1", "lo"), EINVAL);
    CHECK_MSG("source ff02::1 is a multicast address");
    CHECK_ERR(mcast_leave_source(v6, "ff3e::8000:1", "::", "lo"), EINVAL);
    CHECK_MSG("source :: is the unspecified address");
    CHECK_ERR(mcast_sender("239.1.2.3", NULL), EINVAL);
    CHECK_MSG("has no port");
    CHECK_ERR(mcast_sender("192.168.1.1:5000", NULL), EINVAL);
    CHECK_ERR(mcast_receiver("239.1.2.3:port", NULL), EINVAL);
    CHECK_ERR(mcast_send_to(v4, "x", 1, "10.0.0.1:5000"), EINVAL);
    CHECK_ERR(mcast_send_to(v4, "x", 1, "239.1.2.3"), EINVAL);
    /* A link-local IPv6 group names no interface by itself. */
    CHECK_ERR(mcast_receiver("[ff02::1234]:5000", NULL), ENODEV);
    CHECK_MSG("link-local");
    CHECK_OK(mcast_close(v4));
    CHECK_OK(mcast_close(v6));
    return true;
}

static bool test_bad_interfaces(void) {
    int v4 = mcast_open(AF_INET, SOCK_DGRAM, 0), v6 = mcast_open(AF_INET6, SOCK_DGRAM, 0);
    CHECK_OK(v4);
    CHECK_OK(v6);
    struct mcast_opts opts = MCAST_OPTS_INIT;
    opts.iface = "nosuchif0";
    CHECK_ERR(mcast_join(v4, "239.1.2.3", "nosuchif0"), ENODEV);
    CHECK_MSG("unknown interface 'nosuchif0'");
    CHECK_ERR(mcast_join(v4, "239.1.2.3", "10.99.99.99"), ENODEV);
    CHECK_ERR(mcast_join(v6, "ff12::1", "4242"), ENODEV);
    CHECK_ERR(mcast_join(v6, "ff02::1%nosuchif0", NULL), ENODEV);
    CHECK_ERR(mcast_set_if(v4, "nosuchif0"), ENODEV);
    CHECK_ERR(mcast_set_if(v4, "a/b"), ENODEV);
    CHECK_ERR(mcast_set_if(v4, ""), EINVAL);
    CHECK_ERR(mcast_set_if_index(v6, 4242), ENODEV);
    CHECK_ERR(mcast_sender("239.1.2.3:5000", &opts), ENODEV);
    CHECK_ERR(mcast_receiver("239.1.2.3:5000", &opts), ENODEV);
    CHECK_ERR(mcast_get_if_addr(v6, &(struct in_addr){0}), EAFNOSUPPORT);
    CHECK_OK(mcast_close(v4));
    CHECK_OK(mcast_close(v6));
    return true;
}

static bool test_bad_options(void) {
    struct mcast_opts opts = MCAST_OPTS_INIT;
    opts.ttl = 256;
    CHECK_ERR(mcast_sender("239.1.2.3:5000", &opts), EINVAL);
    CHECK_MSG("IP_MULTICAST_TTL 256");
    opts.ttl = -5;
    CHECK_ERR(mcast_sender("239.1.2.3:5000", &opts), EINVAL);
    opts.ttl = 300;
    CHECK_ERR(mcast_sender("[ff15::1]:5000", &opts), EINVAL);
    CHECK_MSG("IPV6_MULTICAST_HOPS 300");
    opts = (struct mcast_opts)MCAST_OPTS_INIT;
    opts.source = "nope";
    CHECK_ERR(mcast_receiver("232.1.1.1:5000", &opts), EINVAL);
    CHECK_MSG("opts->source 'nope'");
    opts.source = "::1";
    CHECK_ERR(mcast_receiver("232.1.1.1:5000", &opts), EAFNOSUPPORT);
    return true;
}

static bool test_membership_state_errors(void) {
    int fd = mcast_open(AF_INET, SOCK_DGRAM, 0);
    CHECK_OK(fd);
    CHECK_OK(mcast_join(fd, "239.7.7.7", "lo"));
    CHECK_ERR(mcast_join(fd, "239.7.7.7", "lo"), EADDRINUSE);
    CHECK_MSG("IP_ADD_MEMBERSHIP 239.7.7.7 on 127.0.0.1");
    CHECK_OK(mcast_leave(fd, "239.7.7.7", "lo"));
    CHECK_ERR(mcast_leave(fd, "239.7.7.7", "lo"), EADDRNOTAVAIL);
    CHECK_MSG("IP_DROP_MEMBERSHIP");
    CHECK_OK(mcast_close(fd));

    int v6 = mcast_open(AF_INET6, SOCK_DGRAM, 0);
    CHECK_OK(v6);
    CHECK_OK(mcast_join(v6, "ff12::77", "va"));
    CHECK_ERR(mcast_join(v6, "ff12::77", "va"), EADDRINUSE);
    CHECK_OK(mcast_leave(v6, "ff12::77", "va"));
    CHECK_ERR(mcast_leave(v6, "ff12::77", "va"), EADDRNOTAVAIL);
    CHECK_OK(mcast_close(v6));
    return true;
}

static bool test_unconnected_and_empty_sockets(void) {
    int fd = mcast_open(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    CHECK_OK(fd);
    char buf[8];
    struct mcast_rxinfo info = MCAST_RXINFO_INIT;
    memset(&info, 0x5a, sizeof info);
    info.size = sizeof info;
    struct mcast_rxinfo before = info;
    struct iovec iov = {buf, sizeof buf};
    CHECK_ERR(mcast_send(fd, "x", 1), EDESTADDRREQ);
    CHECK_ERR(mcast_send_batch(fd, &iov, 1), ENOTCONN);
    CHECK_MSG("getpeername");
    CHECK_ERR(mcast_recv(fd, buf, sizeof buf, &info), EAGAIN);
    CHECK_ERR(mcast_recv_batch(fd, &iov, &info, 1), EAGAIN);
    CHECK(memcmp(&info, &before, sizeof info) == 0);
    CHECK(mcast_recv_batch(fd, &iov, &info, 0) == 0);
    CHECK_OK(mcast_close(fd));
    return true;
}

static bool test_errors_are_described(void) {
    CHECK(strstr(mcast_strerror(ENODEV), "No such device") != NULL);
    CHECK(strstr(mcast_strerror(ENODEV), "interface") != NULL);
    CHECK(strstr(mcast_strerror(EADDRINUSE), "SO_REUSEADDR") != NULL);
    CHECK(strcmp(mcast_strerror(EINTR), "Interrupted system call") == 0);
    CHECK(mcast_strerror(-12345) != NULL && strlen(mcast_strerror(-12345)) > 0);
    CHECK_ERR(mcast_set_ttl(-3, 1), EBADF);
    const char *msg = mcast_last_error();
    CHECK(strncmp(msg, "mcast_set_ttl: ", 15) == 0);
    /* A successful call leaves the message, like errno. */
    int fd = mcast_open(AF_INET, SOCK_DGRAM, 0);
    CHECK_OK(fd);
    CHECK(strncmp(mcast_last_error(), "mcast_set_ttl: ", 15) == 0);
    CHECK_OK(mcast_close(fd));
    return true;
}

/* A second thread fails differently; each thread keeps its own message. */
static void *fail_on_another_thread(void *arg) {
    (void)arg;
    static char seen[256];
    if (mcast_join(-9, "239.1.2.3", NULL) != -1 || errno != EBADF)
        return NULL;
    snprintf(seen, sizeof seen, "%s", mcast_last_error());
    return seen;
}

static bool test_last_error_is_per_thread(void) {
    CHECK_ERR(mcast_set_ttl(-4, 1), EBADF);
    pthread_t t;
    void *seen = NULL;
    CHECK(pthread_create(&t, NULL, fail_on_another_thread, NULL) == 0);
    CHECK(pthread_join(t, &seen) == 0);
    CHECK(seen != NULL);
    CHECK(strncmp((const char *)seen, "mcast_join: -9 is not a file descriptor", 39) == 0);
    CHECK_MSG("mcast_set_ttl: -4 is not a file descriptor");
    return true;
}

const struct test_case args_tests[] = {
    TEST(test_null_pointers_are_einval),
    TEST(test_closed_and_foreign_descriptors),
    TEST(test_open_refuses_other_families_and_types),
    TEST(test_ttl_out_of_range),
    TEST(test_bad_groups),
    TEST(test_bad_interfaces),
    TEST(test_bad_options),
    TEST(test_membership_state_errors),
    TEST(test_unconnected_and_empty_sockets),
    TEST(test_errors_are_described),
    TEST(test_last_error_is_per_thread),
    {NULL, NULL},
};
