/* mcast_discover: the expanding-ring search finds `mcast responder`s (the staged binary, started in this
 * namespace) with their names, addresses, the ring that reached them and their distance in routers. */
#include "harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* A running responder: its pid and the read end of its standard error. */
struct responder {
    pid_t pid;
    int err;
};

/* The staged `mcast` binary: stage/bin/mcast beside this test program (ffi/c.mk's layout). */
static bool mcast_path(char *out, size_t len) {
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return false;
    self[n] = '\0';
    int w = snprintf(out, len, "%s/stage/bin/mcast", dirname(self));
    return w > 0 && (size_t)w < len && access(out, X_OK) == 0;
}

/* Starts `mcast responder GROUP --name NAME --iface IFACE --timeout 60` and waits (up to 10 s) for it to say
 * on standard error that it is answering. */
static bool start_responder(struct responder *r, const char *group, const char *name, const char *iface) {
    char path[PATH_MAX];
    int pipefd[2];
    if (!mcast_path(path, sizeof path)) {
        fprintf(stderr, "    no staged mcast binary beside the test program\n");
        return false;
    }
    if (pipe2(pipefd, O_CLOEXEC) != 0)
        return false;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    char *argv[] = {path,      "responder", (char *)group, "--name", (char *)name, "--iface", (char *)iface,
                    "--timeout", "60",     NULL};
    int rc = posix_spawn(&r->pid, path, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    r->err = pipefd[0];
    if (rc != 0) {
        close(r->err);
        return false;
    }
    char seen[1024] = {0};
    size_t have = 0;
    while (strstr(seen, "answering") == NULL) {
        if (!readable(r->err, 10000) || have + 1 >= sizeof seen) {
            fprintf(stderr, "    responder never said it was answering: \"%s\"\n", seen);
            return false;
        }
        ssize_t n = read(r->err, seen + have, sizeof seen - 1 - have);
        if (n <= 0) {
            fprintf(stderr, "    responder ended: \"%s\"\n", seen);
            return false;
        }
        have += (size_t)n;
    }
    return true;
}

static void stop_responder(struct responder *r) {
    if (r->pid > 0) {
        kill(r->pid, SIGTERM);
        waitpid(r->pid, NULL, 0);
        close(r->err);
        r->pid = 0;
    }
}

static bool found_is(const struct mcast_found *f, const char *name, const char *addr, unsigned int ring) {
    bool ok = strcmp(f->name, name) == 0 && addr_is(&f->addr, addr, 0) && f->ring == ring && f->distance == 0;
    if (!ok)
        fprintf(stderr, "    found \"%s\" at ring %u, distance %d; expected \"%s\" (%s) at ring %u, distance 0\n",
                f->name, f->ring, f->distance, name, addr, ring);
    return ok;
}

/* IPv4: a responder on va is found at ring 0 (this host), with va's address; its answer came from that address
 * and the group's port. With cap 0 the call only counts. */
static bool test_discover_finds_this_host_at_ring_0(void) {
    struct responder r = {0, -1};
    CHECK(start_responder(&r, "239.9.9.1:4100", "near4", "va"));
    struct mcast_found found[4];
    memset(found, 0x5a, sizeof found);
    int n = mcast_discover("239.9.9.1:4100", "va", 4, 300, 0, found, 4, sizeof found[0]);
    int counted = mcast_discover("239.9.9.1:4100", "va", 4, 300, 0, NULL, 0, sizeof found[0]);
    stop_responder(&r);
    CHECK(n == 1);
    CHECK(found_is(&found[0], "near4", "10.9.0.1", 0));
    CHECK(addr_is(&found[0].from, "10.9.0.1", 4100));
    CHECK(found[0].rtt_ns > 0);
    CHECK(found[1].ring == 0x5a5a5a5au); /* nothing written past the count */
    CHECK(counted == 1);
    return true;
}

/* IPv6 on ff02::9:1: a responder on va is found at ring 0, one on vb (across the veth) at ring 1, each with
 * its interface's link-local address. */
static bool test_discover_rings_by_hop_limit(void) {
    char va_ll[64], vb_ll[64];
    CHECK(link_local("va", va_ll, sizeof va_ll) && link_local("vb", vb_ll, sizeof vb_ll));
    struct responder near = {0, -1}, far = {0, -1};
    CHECK(start_responder(&near, "[ff02::9:1]:4101", "near6", "va"));
    if (!start_responder(&far, "[ff02::9:1]:4101", "far6", "vb")) {
        stop_responder(&near);
        CHECK(false);
    }
    struct mcast_found found[4];
    int n = mcast_discover("[ff02::9:1]:4101", "va", 2, 300, MCAST_DISCOVER_ALL, found, 4, sizeof found[0]);
    stop_responder(&near);
    stop_responder(&far);
    CHECK(n == 2);
    const struct mcast_found *f0 = found[0].ring <= found[1].ring ? &found[0] : &found[1];
    const struct mcast_found *f1 = f0 == &found[0] ? &found[1] : &found[0];
    CHECK(found_is(f0, "near6", va_ll, 0));
    CHECK(found_is(f1, "far6", vb_ll, 1));
    CHECK(addr_is(&f1->from, vb_ll, 4101));
    return true;
}

/* Arguments are checked before anything is sent. */
static bool test_discover_refuses_bad_arguments(void) {
    struct mcast_found f[1];
    CHECK_ERR(mcast_discover(NULL, NULL, 1, 10, 0, f, 1, sizeof f[0]), EINVAL);
    CHECK_ERR(mcast_discover("239.9.9.1", NULL, 1, 10, 0, f, 1, sizeof f[0]), EINVAL);
    CHECK_MSG("mcast_discover");
    CHECK_ERR(mcast_discover("239.9.9.1:4100", NULL, 256, 10, 0, f, 1, sizeof f[0]), EINVAL);
    CHECK_ERR(mcast_discover("239.9.9.1:4100", NULL, 1, -5, 0, f, 1, sizeof f[0]), EINVAL);
    CHECK_ERR(mcast_discover("239.9.9.1:4100", NULL, 1, 10, 4, f, 1, sizeof f[0]), EINVAL);
    CHECK_ERR(mcast_discover("239.9.9.1:4100", NULL, 1, 10, 0, f, 1, sizeof f[0] - 1), EINVAL);
    CHECK_MSG("sizeof(struct mcast_found)");
    CHECK_ERR(mcast_discover("239.9.9.1:4100", NULL, 1, 10, 0, NULL, 1, sizeof f[0]), EINVAL);
    CHECK_ERR(mcast_discover("239.9.9.1:4100", "nosuch0", 1, 10, 0, f, 1, sizeof f[0]), ENODEV);
    return true;
}

const struct test_case discover_tests[] = {
    TEST(test_discover_refuses_bad_arguments),
    TEST(test_discover_finds_this_host_at_ring_0),
    TEST(test_discover_rings_by_hop_limit),
    {NULL, NULL},
};
