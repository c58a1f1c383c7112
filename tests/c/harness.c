/* The driver and shared helpers: runs every test table inside a network namespace of its own and prints
 * "N passed, M failed". */
#include "harness.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

void check_failed(const char *file, int line, const char *func, const char *what) {
    int e = errno;
    fprintf(stderr, "    %s:%d: %s: check failed: %s\n", file, line, func, what);
    fprintf(stderr, "    errno %d (%s); mcast_last_error: \"%s\"\n", e, strerror(e), mcast_last_error());
}

/* Runs a shell command built from fmt; false (with a message) unless it exits 0. */
static bool run(const char *fmt, ...) {
    char cmd[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int status = system(cmd);
    if (status != 0) {
        fprintf(stderr, "setup: `%s` failed (status %d)\n", cmd, status);
        return false;
    }
    return true;
}

static bool write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "setup: open %s: %s\n", path, strerror(errno));
        return false;
    }
    bool ok = fputs(text, f) >= 0;
    ok = fclose(f) == 0 && ok;
    return ok;
}

/* True once iface has a usable (not tentative) IPv6 link-local address (/proc/net/if_inet6, this namespace). */
static bool has_link_local(const char *iface) {
    FILE *f = fopen("/proc/net/if_inet6", "r");
    if (f == NULL)
        return false;
    char addr[33], name[32];
    unsigned int index, plen, scope, flags;
    bool found = false;
    while (fscanf(f, "%32s %x %x %x %x %31s", addr, &index, &plen, &scope, &flags, name) == 6) {
        if (strcmp(name, iface) == 0 && strncmp(addr, "fe80", 4) == 0 && (flags & 0x40 /* IFA_F_TENTATIVE */) == 0)
            found = true;
    }
    fclose(f);
    return found;
}

bool net_setup(void) {
    if (unshare(CLONE_NEWNET) != 0) {
        fprintf(stderr, "setup: unshare(CLONE_NEWNET): %s (the C suite needs root)\n", strerror(errno));
        return false;
    }
    if (!run("ip link set lo up multicast on") || !run("ip route add 224.0.0.0/4 dev lo src 127.0.0.1") ||
        !run("ip link add va type veth peer name vb"))
        return false;
    /* IPv6 addresses wait for duplicate address detection unless it is off. */
    const char *ends[] = {"va", "vb"};
    for (size_t i = 0; i < 2; i++) {
        char path[128];
        snprintf(path, sizeof path, "/proc/sys/net/ipv6/conf/%s/accept_dad", ends[i]);
        if (!write_file(path, "0\n") || !run("ip link set %s up multicast on", ends[i]))
            return false;
    }
    if (!run("ip addr add 10.9.0.1/24 dev va") || !run("ip addr add 10.9.0.2/24 dev vb"))
        return false;
    for (int tries = 0; tries < 400; tries++) {
        if (has_link_local("va") && has_link_local("vb"))
            return true;
        struct timespec ts = {0, 25 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "setup: no IPv6 link-local address on va/vb after 10 s\n");
    return false;
}

unsigned int ifindex(const char *name) {
    return if_nametoindex(name);
}

bool readable(int fd, int ms) {
    struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
    return poll(&p, 1, ms) == 1 && (p.revents & POLLIN) != 0;
}

ssize_t recv_wait(int fd, void *buf, size_t len, struct mcast_rxinfo *info) {
    if (!readable(fd, 5000)) {
        fprintf(stderr, "    nothing arrived within 5 s\n");
        return -1;
    }
    return mcast_recv(fd, buf, len, info);
}

bool quiet(int fd) {
    if (!readable(fd, 300))
        return true;
    char buf[64] = {0};
    struct mcast_rxinfo info = MCAST_RXINFO_INIT;
    ssize_t n = mcast_recv(fd, buf, sizeof buf - 1, &info);
    fprintf(stderr, "    unexpected datagram: %zd bytes \"%s\", ifindex %u, ttl %d\n", n, n > 0 ? buf : "",
            info.ifindex, info.ttl);
    return false;
}

bool addr_is(const struct sockaddr_storage *ss, const char *ip, int port) {
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
        struct in_addr want;
        return inet_pton(AF_INET, ip, &want) == 1 && sin->sin_addr.s_addr == want.s_addr &&
               (port < 0 || ntohs(sin->sin_port) == port);
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
        struct in6_addr want;
        return inet_pton(AF_INET6, ip, &want) == 1 && memcmp(&sin6->sin6_addr, &want, sizeof want) == 0 &&
               (port < 0 || ntohs(sin6->sin6_port) == port);
    }
    return false;
}

int local_port(int fd) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

bool expect(int fd, const char *bytes, const char *source, int port, const char *group, const char *iface,
                   int ttl) {
    char buf[2048];
    struct mcast_rxinfo info = MCAST_RXINFO_INIT;
    memset(&info, 0x5a, sizeof info);
    info.size = sizeof info;
    ssize_t n = recv_wait(fd, buf, sizeof buf, &info);
    CHECK(n == (ssize_t)strlen(bytes));
    CHECK(memcmp(buf, bytes, (size_t)n) == 0);
    CHECK(info.len == (size_t)n && info.full_len == (size_t)n && info.truncated == 0);
    CHECK(addr_is(&info.source, source, port));
    CHECK(addr_is(&info.group, group, 0));
    CHECK(info.ifindex == ifindex(iface));
    CHECK(info.ttl == ttl);
    return true;
}

int open_bound(int family, int port) {
    int fd = mcast_open(family, SOCK_DGRAM, 0), one = 1;
    if (fd < 0)
        return -1;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons((unsigned short)port);
        len = sizeof *sin;
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((unsigned short)port);
        len = sizeof *sin6;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&ss, len) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int main(void) {
    /* Unbuffered, so a crash still shows which test ran last. */
    setvbuf(stdout, NULL, _IONBF, 0);
    if (!net_setup()) {
        printf("0 passed, 1 failed (network namespace setup)\n");
        return 1;
    }
    const struct test_case *tables[] = {layout_tests, args_tests, option_tests, traffic_tests, thread_tests,
                                         raw_tests, multi_tests, gso_tests, discover_tests, filter_tests, abi_tests};
    int passed = 0, failed = 0;
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
        for (const struct test_case *c = tables[t]; c->run != NULL; c++) {
            bool ok = c->run();
            printf("%s %s\n", ok ? "ok  " : "FAIL", c->name);
            if (ok)
                passed++;
            else
                failed++;
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}

bool link_local(const char *iface, char *out, size_t len) {
    struct mcast_iface *list = NULL;
    bool found = false;
    if (mcast_if_list(&list, NULL) != 0)
        return false;
    for (struct mcast_iface *e = list; e->index != 0; e++)
        if (strcmp(e->name, iface) == 0 && e->n_ipv6 == 1)
            found = inet_ntop(AF_INET6, &e->ipv6[0], out, (socklen_t)len) != NULL;
    mcast_if_list_free(list);
    return found;
}
