/* Threads on shared descriptors, as mcast.h's "Threads" section allows: sender threads and a receiver thread
 * on one pair of descriptors, option calls racing the sends, two receiver threads sharing one descriptor; and
 * the kernel's drop count in struct mcast_rxinfo after a burst into a tiny buffer. IPv4 on lo, TTL 0, inside
 * the suite's own namespace. Run by `make test-c` plain, under valgrind, ASan and ThreadSanitizer. */
#include "harness.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define SENDERS 2
#define EACH 400

/* One sender thread: EACH datagrams of 3 bytes (its number, then the sequence number, big-endian). */
struct sender_arg {
    int fd;
    uint8_t id;
    int sent;
};

static void *send_numbered(void *p) {
    struct sender_arg *a = p;
    for (int i = 0; i < EACH; i++) {
        uint8_t msg[3] = {a->id, (uint8_t)(i >> 8), (uint8_t)i};
        if (mcast_send(a->fd, msg, sizeof msg) == (ssize_t)sizeof msg)
            a->sent++;
    }
    return NULL;
}

/* The receiver thread: marks each (sender, sequence) it gets; counts anything unexpected. */
struct receiver_arg {
    int fd;
    int want;
    int got;
    int strange;
    unsigned int ifindex;
    bool seen[SENDERS][EACH];
};

static void *recv_numbered(void *p) {
    struct receiver_arg *a = p;
    while (a->got < a->want) {
        uint8_t buf[16];
        struct mcast_rxinfo info = MCAST_RXINFO_INIT;
        ssize_t n = recv_wait(a->fd, buf, sizeof buf, &info);
        if (n < 0)
            break;
        unsigned int id = buf[0], seq = ((unsigned int)buf[1] << 8) | buf[2];
        if (n != 3 || id >= SENDERS || seq >= EACH || a->seen[id][seq] || info.ifindex != a->ifindex ||
            !addr_is(&info.group, "239.3.3.1", 0)) {
            a->strange++;
            continue;
        }
        a->seen[id][seq] = true;
        a->got++;
    }
    return NULL;
}

/* Option calls on the sending descriptor while it sends: each must succeed and read back what was set. */
struct options_arg {
    int fd;
    int rounds;
    int failures;
};

static void *toggle_options(void *p) {
    struct options_arg *a = p;
    for (int i = 0; i < a->rounds; i++) {
        int ttl = -1, loop = -1;
        if (mcast_set_ttl(a->fd, 0) != 0 || mcast_get_ttl(a->fd, &ttl) != 0 || ttl != 0 ||
            mcast_set_loop(a->fd, 1) != 0 || mcast_get_loop(a->fd, &loop) != 0 || loop != 1)
            a->failures++;
    }
    return NULL;
}

/* Two sender threads and an option thread on one sending descriptor, a receiver thread on the receiving one:
 * every datagram arrives once, intact, on lo, to the group; the kernel dropped none. */
static bool test_senders_and_a_receiver_on_shared_descriptors(void) {
    struct mcast_opts opts = MCAST_OPTS_INIT;
    opts.iface = "lo";
    opts.rcvbuf = 4u << 20;
    int rx = mcast_receiver("239.3.3.1:5301", &opts);
    CHECK_OK(rx);
    opts.ttl = 0;
    int tx = mcast_sender("239.3.3.1:5301", &opts);
    CHECK_OK(tx);

    static struct receiver_arg r; /* static: the seen table is large for a stack */
    memset(&r, 0, sizeof r);
    r.fd = rx;
    r.want = SENDERS * EACH;
    r.ifindex = ifindex("lo");
    struct sender_arg s[SENDERS];
    struct options_arg o = {.fd = tx, .rounds = 200, .failures = 0};
    pthread_t rt, st[SENDERS], ot;
    CHECK(pthread_create(&rt, NULL, recv_numbered, &r) == 0);
    for (int i = 0; i < SENDERS; i++) {
        s[i] = (struct sender_arg){.fd = tx, .id = (uint8_t)i, .sent = 0};
        CHECK(pthread_create(&st[i], NULL, send_numbered, &s[i]) == 0);
    }
    CHECK(pthread_create(&ot, NULL, toggle_options, &o) == 0);
    for (int i = 0; i < SENDERS; i++)
        CHECK(pthread_join(st[i], NULL) == 0);
    CHECK(pthread_join(ot, NULL) == 0);
    CHECK(pthread_join(rt, NULL) == 0);

    for (int i = 0; i < SENDERS; i++)
        CHECK(s[i].sent == EACH);
    CHECK(o.failures == 0);
    CHECK(r.strange == 0);
    CHECK(r.got == SENDERS * EACH);
    CHECK(quiet(rx));
    CHECK_OK(mcast_close(tx));
    CHECK_OK(mcast_close(rx));
    return true;
}

/* Two threads receive on one non-blocking descriptor: the kernel hands each datagram to exactly one. */
struct sharer_arg {
    int fd;
    atomic_int *total;
    int want;
    int got;
    bool seen[EACH];
    int strange;
};

static void *share_recv(void *p) {
    struct sharer_arg *a = p;
    while (atomic_load(a->total) < a->want) {
        struct pollfd pfd = {.fd = a->fd, .events = POLLIN, .revents = 0};
        if (poll(&pfd, 1, 50) < 0)
            break;
        uint8_t buf[8];
        ssize_t n = mcast_recv(a->fd, buf, sizeof buf, NULL);
        if (n < 0) {
            if (errno != EAGAIN)
                a->strange++;
            continue;
        }
        unsigned int seq = ((unsigned int)buf[0] << 8) | buf[1];
        if (n != 2 || seq >= EACH || a->seen[seq]) {
            a->strange++;
            continue;
        }
        a->seen[seq] = true;
        a->got++;
        atomic_fetch_add(a->total, 1);
    }
    return NULL;
}

static bool test_two_receiver_threads_share_one_descriptor(void) {
    struct mcast_opts opts = MCAST_OPTS_INIT;
    opts.iface = "lo";
    opts.rcvbuf = 4u << 20;
    opts.nonblock = 1;
    int rx = mcast_receiver("239.3.3.2:5302", &opts);
    CHECK_OK(rx);
    struct mcast_opts sopts = MCAST_OPTS_INIT;
    sopts.iface = "lo";
    sopts.ttl = 0;
    int tx = mcast_sender("239.3.3.2:5302", &sopts);
    CHECK_OK(tx);

    atomic_int total = 0;
    static struct sharer_arg a[2];
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        memset(&a[i], 0, sizeof a[i]);
        a[i].fd = rx;
        a[i].total = &total;
        a[i].want = EACH;
        CHECK(pthread_create(&t[i], NULL, share_recv, &a[i]) == 0);
    }
    for (int i = 0; i < EACH; i++) {
        uint8_t msg[2] = {(uint8_t)(i >> 8), (uint8_t)i};
        CHECK(mcast_send(tx, msg, sizeof msg) == 2);
    }
    for (int i = 0; i < 2; i++)
        CHECK(pthread_join(t[i], NULL) == 0);
    CHECK(a[0].strange == 0 && a[1].strange == 0);
    CHECK(a[0].got + a[1].got == EACH);
    for (int i = 0; i < EACH; i++)
        CHECK(a[0].seen[i] != a[1].seen[i]); /* exactly one of the two got it */
    CHECK_OK(mcast_close(tx));
    CHECK_OK(mcast_close(rx));
    return true;
}

/* 300 datagrams of 1000 bytes into a receiver with a 4096-byte buffer (SO_RCVBUFFORCE: 8192 as the kernel
 * books it) that is not reading: it reads what was queued, and the next datagram's info.drops (SO_RXQ_OVFL)
 * is exactly the shortfall. */
static bool test_drops_after_a_burst_are_the_shortfall(void) {
    enum { N = 300 };
    struct mcast_opts opts = MCAST_OPTS_INIT;
    opts.iface = "lo";
    opts.rcvbuf = 4096;
    opts.nonblock = 1;
    int rx = mcast_receiver("239.3.3.3:5303", &opts);
    CHECK_OK(rx);
    struct mcast_opts sopts = MCAST_OPTS_INIT;
    sopts.iface = "lo";
    sopts.ttl = 0;
    int tx = mcast_sender("239.3.3.3:5303", &sopts);
    CHECK_OK(tx);
    static char payload[1000];
    memset(payload, 'p', sizeof payload);
    for (int i = 0; i < N; i++)
        CHECK(mcast_send(tx, payload, sizeof payload) == (ssize_t)sizeof payload);
    char buf[2048];
    struct mcast_rxinfo info = MCAST_RXINFO_INIT;
    uint32_t received = 0;
    while (mcast_recv(rx, buf, sizeof buf, &info) == (ssize_t)sizeof payload)
        received++;
    CHECK(errno == EAGAIN);
    CHECK(mcast_send(tx, "marker", 6) == 6);
    CHECK(recv_wait(rx, buf, sizeof buf, &info) == 6);
    CHECK(memcmp(buf, "marker", 6) == 0);
    CHECK(received > 0 && info.drops > 0);
    CHECK(received + info.drops == N);
    CHECK_OK(mcast_close(tx));
    CHECK_OK(mcast_close(rx));
    return true;
}

const struct test_case thread_tests[] = {
    TEST(test_senders_and_a_receiver_on_shared_descriptors),
    TEST(test_two_receiver_threads_share_one_descriptor),
    TEST(test_drops_after_a_burst_are_the_shortfall),
    {NULL, NULL},
};
