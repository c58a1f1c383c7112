/* The C suite's harness: test tables, CHECK macros, and the network namespace every test runs in. */
#ifndef MCAST_TEST_HARNESS_H
#define MCAST_TEST_HARNESS_H

#define _GNU_SOURCE /* unshare(2), if_nametoindex */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include <mcast.h>

/* One test: a name and a function that returns true when every check held. */
struct test_case {
    const char *name;
    bool (*run)(void);
};

#define TEST(fn) { #fn, fn }

/* Each file's table, ended by an entry whose run is NULL. */
extern const struct test_case args_tests[];
extern const struct test_case option_tests[];
extern const struct test_case traffic_tests[];
extern const struct test_case layout_tests[];
extern const struct test_case thread_tests[];
extern const struct test_case raw_tests[];
extern const struct test_case gso_tests[];
extern const struct test_case multi_tests[];
extern const struct test_case discover_tests[];
extern const struct test_case filter_tests[];
extern const struct test_case abi_tests[];

/* Prints where a check failed, with errno and mcast_last_error(). */
void check_failed(const char *file, int line, const char *func, const char *what);

#define CHECK(cond)                                                                                               \
    do {                                                                                                          \
        if (!(cond)) {                                                                                            \
            check_failed(__FILE__, __LINE__, __func__, #cond);                                                    \
            return false;                                                                                         \
        }                                                                                                         \
    } while (0)

/* The call must succeed (return 0, or a descriptor or count: anything but -1). */
#define CHECK_OK(call) CHECK((long)(call) != -1)

/* The call must fail with -1 and this errno. */
#define CHECK_ERR(call, err)                                                                                      \
    do {                                                                                                          \
        errno = 0;                                                                                                \
        long check_ret_ = (long)(call);                                                                           \
        int check_errno_ = errno;                                                                                 \
        if (check_ret_ != -1 || check_errno_ != (err)) {                                                          \
            fprintf(stderr, "    returned %ld, errno %d (%s); expected -1, errno %d (%s)\n", check_ret_,             \
                    check_errno_, strerror(check_errno_), (int)(err), strerror(err));                             \
            check_failed(__FILE__, __LINE__, __func__, #call);                                                    \
            return false;                                                                                         \
        }                                                                                                         \
    } while (0)

/* The last error names the call and says this. */
#define CHECK_MSG(text) CHECK(strstr(mcast_last_error(), (text)) != NULL)

/* Network: a namespace of this process's own (lo up with MULTICAST and a 224.0.0.0/4 route; a veth pair va-vb,
 * since Linux does not deliver IPv6 multicast over lo). Nothing reaches the host's interfaces. */
bool net_setup(void);

/* Index of an interface of the namespace (0 if none). */
unsigned int ifindex(const char *name);

/* Waits up to ms milliseconds for fd to be readable. */
bool readable(int fd, int ms);

/* Receives one datagram, waiting up to 5 s for it. Returns the length, or -1. */
ssize_t recv_wait(int fd, void *buf, size_t len, struct mcast_rxinfo *info);

/* Nothing more arrives on fd within a short while: the count of datagrams was exact. */
bool quiet(int fd);

/* ss holds address ip (text) and, unless port is -1, that port. */
bool addr_is(const struct sockaddr_storage *ss, const char *ip, int port);

/* The local port fd is bound to. */
int local_port(int fd);

/* Receives one datagram on fd (waiting up to 5 s) and checks its bytes, its source address and port, its group,
 * its arrival interface and TTL, and that it was whole. */
bool expect(int fd, const char *bytes, const char *source, int port, const char *group, const char *iface, int ttl);

/* A socket of family bound to the wildcard address and port, with SO_REUSEADDR; -1 on failure. */
int open_bound(int family, int port);

/* The link-local IPv6 address of iface (its only IPv6 address, as the suite sets it up), as text. */
bool link_local(const char *iface, char *out, size_t len);

#endif
