/* The header and the library agree: every struct's size and alignment and every field's offset and size, as
 * this compiler lays out mcast.h, equal what the library reports from its Rust definitions; and the version
 * the library reports is the one pkg-config installed. */
#include "harness.h"

#include <stdalign.h>
#include <stddef.h>

#ifndef MCAST_PC_VERSION
#error "MCAST_PC_VERSION: build with -DMCAST_PC_VERSION=\"$(pkg-config --modversion mcast)\""
#endif

/* What the C compiler makes of the header. */
struct c_entry {
    const char *type;
    const char *field;
    size_t offset, size, align;
};

#define WHOLE(T) {#T, NULL, 0, sizeof(struct T), alignof(struct T)}
#define FIELD(T, f, FT) {#T, #f, offsetof(struct T, f), sizeof(((struct T *)0)->f), alignof(FT)}

static const struct c_entry c_layout[] = {
    WHOLE(mcast_opts),
    FIELD(mcast_opts, size, size_t),
    FIELD(mcast_opts, ttl, int),
    FIELD(mcast_opts, loop, int),
    FIELD(mcast_opts, iface, const char *),
    FIELD(mcast_opts, source, const char *),
    FIELD(mcast_opts, reuse, int),
    FIELD(mcast_opts, nonblock, int),
    FIELD(mcast_opts, rcvbuf, unsigned int),
    WHOLE(mcast_rxinfo),
    FIELD(mcast_rxinfo, size, size_t),
    FIELD(mcast_rxinfo, source, struct sockaddr_storage),
    FIELD(mcast_rxinfo, group, struct sockaddr_storage),
    FIELD(mcast_rxinfo, len, size_t),
    FIELD(mcast_rxinfo, full_len, size_t),
    FIELD(mcast_rxinfo, ifindex, unsigned int),
    FIELD(mcast_rxinfo, ttl, int),
    FIELD(mcast_rxinfo, truncated, int),
    FIELD(mcast_rxinfo, drops, uint32_t),
    WHOLE(mcast_iface),
    FIELD(mcast_iface, name, char),
    FIELD(mcast_iface, index, unsigned int),
    FIELD(mcast_iface, flags, unsigned int),
    FIELD(mcast_iface, mtu, unsigned int),
    FIELD(mcast_iface, n_ipv4, size_t),
    FIELD(mcast_iface, ipv4, const struct in_addr *),
    FIELD(mcast_iface, n_ipv6, size_t),
    FIELD(mcast_iface, ipv6, const struct in6_addr *),
    WHOLE(mcast_multi_stat),
    FIELD(mcast_multi_stat, group, struct sockaddr_storage),
    FIELD(mcast_multi_stat, source, struct sockaddr_storage),
    FIELD(mcast_multi_stat, ifindex, unsigned int),
    FIELD(mcast_multi_stat, fd, int),
    FIELD(mcast_multi_stat, datagrams, uint64_t),
    FIELD(mcast_multi_stat, bytes, uint64_t),
    FIELD(mcast_multi_stat, truncated, uint64_t),
    WHOLE(mcast_found),
    FIELD(mcast_found, name, char),
    FIELD(mcast_found, addr, struct sockaddr_storage),
    FIELD(mcast_found, from, struct sockaddr_storage),
    FIELD(mcast_found, ring, unsigned int),
    FIELD(mcast_found, distance, int),
    FIELD(mcast_found, rtt_ns, uint64_t),
    WHOLE(mcast_abi_entry),
    FIELD(mcast_abi_entry, type, const char *),
    FIELD(mcast_abi_entry, field, const char *),
    FIELD(mcast_abi_entry, offset, size_t),
    FIELD(mcast_abi_entry, size, size_t),
    FIELD(mcast_abi_entry, align, size_t),
};

static bool same_name(const char *a, const char *b) {
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* The lines of 0.1's layouts of structs that grew since ("mcast_opts_0_1"): tests/c/abi-0.1 checks those. */
static bool older_layout(const char *type) {
    size_t n = strlen(type);
    return n > 4 && strcmp(type + n - 4, "_0_1") == 0;
}

static bool test_struct_layout_matches_the_library(void) {
    size_t n = 0, current = 0;
    const struct mcast_abi_entry *lib = mcast_abi_layout(&n);
    CHECK(lib != NULL);
    for (size_t j = 0; j < n; j++)
        current += !older_layout(lib[j].type);
    CHECK(current < n); /* the 0.1 layouts are there too */
    size_t want = sizeof c_layout / sizeof c_layout[0];
    if (current != want)
        fprintf(stderr, "    the library describes %zu lines, the header %zu\n", current, want);
    CHECK(current == want);
    for (size_t i = 0; i < want; i++) {
        const struct c_entry *c = &c_layout[i];
        const struct mcast_abi_entry *r = NULL;
        for (size_t j = 0; j < n; j++)
            if (same_name(lib[j].type, c->type) && same_name(lib[j].field, c->field))
                r = &lib[j];
        if (r == NULL || r->offset != c->offset || r->size != c->size || r->align != c->align) {
            fprintf(stderr, "    struct %s%s%s: C offset %zu size %zu align %zu", c->type, c->field ? "." : "",
                    c->field ? c->field : "", c->offset, c->size, c->align);
            if (r != NULL)
                fprintf(stderr, "; library offset %zu size %zu align %zu\n", r->offset, r->size, r->align);
            else
                fprintf(stderr, "; missing from the library\n");
        }
        CHECK(r != NULL);
        CHECK(r->offset == c->offset && r->size == c->size && r->align == c->align);
    }
    size_t count_only = 0;
    CHECK(mcast_abi_layout(NULL) == lib);
    CHECK(mcast_abi_layout(&count_only) == lib && count_only == n);
    return true;
}

static bool test_version_is_the_installed_one(void) {
    const char *v = mcast_version();
    CHECK(v != NULL);
    CHECK(strcmp(v, MCAST_PC_VERSION) == 0);
    CHECK(v == mcast_version()); /* a static string */
    /* The header's macros say the same version, and the number orders versions for #if. */
    char text[32];
    snprintf(text, sizeof text, "%d.%d.%d", MCAST_VERSION_MAJOR, MCAST_VERSION_MINOR, MCAST_VERSION_PATCH);
    CHECK(strcmp(v, text) == 0);
#if MCAST_VERSION_NUMBER < 200 || MCAST_VERSION_NUMBER != MCAST_VERSION_MAJOR * 10000 + MCAST_VERSION_MINOR * 100 + MCAST_VERSION_PATCH
#error "MCAST_VERSION_NUMBER is not usable in #if"
#endif
    return true;
}

static bool test_opts_init_matches_the_macro(void) {
    struct mcast_opts macro = MCAST_OPTS_INIT;
    struct mcast_opts fn;
    memset(&fn, 0x5a, sizeof fn);
    mcast_opts_init(&fn);
    CHECK(fn.size == macro.size && fn.size == sizeof(struct mcast_opts));
    CHECK(fn.ttl == macro.ttl && fn.ttl == -1);
    CHECK(fn.loop == macro.loop && fn.loop == -1);
    CHECK(fn.iface == NULL && macro.iface == NULL);
    CHECK(fn.source == NULL && macro.source == NULL);
    CHECK(fn.reuse == macro.reuse && fn.reuse == 1);
    CHECK(fn.nonblock == macro.nonblock && fn.nonblock == 0);
    CHECK(fn.rcvbuf == macro.rcvbuf && fn.rcvbuf == 0);
    mcast_opts_init(NULL); /* ignored */
    return true;
}

const struct test_case layout_tests[] = {
    TEST(test_struct_layout_matches_the_library),
    TEST(test_version_is_the_installed_one),
    TEST(test_opts_init_matches_the_macro),
    {NULL, NULL},
};
