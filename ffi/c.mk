# The C side: libmcast (shared and static), mcast.h, mcast.pc, the examples, the C suite, install.
#
# The examples and the suite compile the way a user's program does, with `pkg-config --cflags --libs mcast`,
# against a staging install of this tree in $(C_OUT)/stage (made by the same `install` rule as a real one).

VERSION    := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
SOMAJOR    := $(firstword $(subst ., ,$(VERSION)))
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR     ?= $(PREFIX)/share/man
# What a static link of the Rust library needs besides it (`cargo rustc -- --print native-static-libs`).
PRIVATE_LIBS := -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc

C_OUT    ?= $(patsubst %/release,%,$(RELEASE))/c
C_STAGE  := $(abspath $(C_OUT))/stage
C_PKG    := PKG_CONFIG_PATH=$(C_STAGE)/lib/pkgconfig pkg-config
C_RUN    := LD_LIBRARY_PATH=$(C_STAGE)/lib
C_WARN   := -Wall -Wextra -Wpedantic -Werror
C_FLAGS  := -std=c11 $(C_WARN) -g -O1 -pthread
C_ASAN   := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
C_TSAN   := -fsanitize=thread -fno-omit-frame-pointer
C_TESTS  := $(wildcard tests/c/*.c)
C_EXAMPLES := $(C_OUT)/server $(C_OUT)/client
VALGRIND := valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
	--show-leak-kinds=definite

.PHONY: lib c-stage examples test-c c-abi-check c-abi-0.1 c-examples c-test c-test-static c-test-valgrind \
	c-test-asan c-test-tsan install install-files

all: examples

lib: build

# A private install tree for the examples and tests, made by the real install rule.
c-stage: build
	@$(MAKE) --no-print-directory install-files PREFIX=$(C_STAGE) DESTDIR= >/dev/null

examples: $(C_EXAMPLES)

$(C_OUT)/%: ffi/examples/%.c c-stage
	$(CC) $(C_FLAGS) -o $@ $< $$($(C_PKG) --cflags --libs mcast)

$(C_OUT)/test_mcast: $(C_TESTS) tests/c/harness.h c-stage
	$(CC) $(C_FLAGS) -DMCAST_PC_VERSION=\"$$($(C_PKG) --modversion mcast)\" -o $@ $(C_TESTS) \
		$$($(C_PKG) --cflags --libs mcast)

$(C_OUT)/test_mcast_asan: $(C_TESTS) tests/c/harness.h c-stage
	$(CC) $(C_FLAGS) $(C_ASAN) -DMCAST_PC_VERSION=\"$$($(C_PKG) --modversion mcast)\" -o $@ $(C_TESTS) \
		$$($(C_PKG) --cflags --libs mcast)

$(C_OUT)/test_mcast_tsan: $(C_TESTS) tests/c/harness.h c-stage
	$(CC) $(C_FLAGS) $(C_TSAN) -DMCAST_PC_VERSION=\"$$($(C_PKG) --modversion mcast)\" -o $@ $(C_TESTS) \
		$$($(C_PKG) --cflags --libs mcast)

# The same suite linked with libmcast.a, through pkg-config's --static (Libs.private).
$(C_OUT)/test_mcast_static: $(C_TESTS) tests/c/harness.h c-stage
	$(CC) $(C_FLAGS) -DMCAST_PC_VERSION=\"$$($(C_PKG) --modversion mcast)\" -o $@ $(C_TESTS) \
		$$($(C_PKG) --cflags mcast) \
		$$($(C_PKG) --static --libs mcast | sed 's/-lmcast/-Wl,-Bstatic -lmcast -Wl,-Bdynamic/')

# The header and exports, a program built for 0.1, the examples end to end, then the suite: plain, statically
# linked, under valgrind memcheck, under ASan+UBSan (LeakSanitizer on), and under ThreadSanitizer
# (tests/c/test_threads.c shares descriptors between threads). Each run builds its own network namespace.
test-c: c-abi-check c-abi-0.1 c-examples c-test c-test-static c-test-valgrind c-test-asan c-test-tsan

# The header compiles alone in strict C99 (and C++ where a C++ compiler is installed), and declares exactly
# the functions the library exports; the exports, each with its version, are exactly ffi/libmcast.symbols (a
# change there is a change of the ABI, made on purpose); and every function of 0.1's header
# (tests/c/abi-0.1/mcast.h) is still exported at MCAST_0.1.
c-abi-check: c-stage
	printf '#include <mcast.h>\nint main(void) { return mcast_version() == 0; }\n' > $(C_OUT)/header.c
	$(CC) -std=c99 $(C_WARN) -o $(C_OUT)/header $(C_OUT)/header.c $$($(C_PKG) --cflags --libs mcast)
	if command -v $(CXX) >/dev/null 2>&1; then \
		$(CXX) -std=c++11 $(C_WARN) -x c++ -o $(C_OUT)/header_cxx $(C_OUT)/header.c \
			$$($(C_PKG) --cflags --libs mcast); fi
	grep -o '\bmcast_[a-z0-9_]*(' ffi/mcast.h | tr -d '(' | sort -u > $(C_OUT)/declared.txt
	nm -D --defined-only $(C_STAGE)/lib/libmcast.so | awk '$$2 == "T" { print $$3 }' | LC_ALL=C sort -u \
		> $(C_OUT)/exported.txt
	sed 's/@.*//' $(C_OUT)/exported.txt | sort -u | diff -u $(C_OUT)/declared.txt -
	diff -u ffi/libmcast.symbols $(C_OUT)/exported.txt
	grep -o '\bmcast_[a-z0-9_]*(' tests/c/abi-0.1/mcast.h | tr -d '(' | sed 's/$$/@MCAST_0.1/' | LC_ALL=C sort -u \
		> $(C_OUT)/abi-0.1.txt
	sed 's/@@/@/' $(C_OUT)/exported.txt | LC_ALL=C sort | LC_ALL=C comm -23 $(C_OUT)/abi-0.1.txt - \
		> $(C_OUT)/abi-0.1-missing.txt
	if [ -s $(C_OUT)/abi-0.1-missing.txt ]; then echo "0.1 symbols gone:"; cat $(C_OUT)/abi-0.1-missing.txt; \
		exit 1; fi

# A program as 0.1's users built it: compiled against 0.1's header and linked against a library whose symbols
# carry no version (a stub with 0.1's names and soname), then run, plain and under valgrind, against this one.
$(C_OUT)/abi-0.1/old: tests/c/abi-0.1/old.c tests/c/abi-0.1/mcast.h
	mkdir -p $(C_OUT)/abi-0.1
	grep -o '\bmcast_[a-z0-9_]*(' tests/c/abi-0.1/mcast.h | tr -d '(' | sort -u | sed 's/.*/void &(void) {}/' \
		> $(C_OUT)/abi-0.1/stub.c
	$(CC) -shared -fPIC -Wl,-soname,libmcast.so.$(SOMAJOR) -o $(C_OUT)/abi-0.1/libmcast.so $(C_OUT)/abi-0.1/stub.c
	$(CC) $(C_FLAGS) -I tests/c/abi-0.1 -o $@ $< -L$(C_OUT)/abi-0.1 -lmcast

c-abi-0.1: $(C_OUT)/abi-0.1/old c-stage
	$(C_RUN) $(C_OUT)/abi-0.1/old
	$(C_RUN) $(VALGRIND) $(C_OUT)/abi-0.1/old

c-examples: examples
	$(C_RUN) sh tests/c/examples.sh $(C_OUT)

c-test: $(C_OUT)/test_mcast
	$(C_RUN) $(C_OUT)/test_mcast

c-test-static: $(C_OUT)/test_mcast_static
	$(C_OUT)/test_mcast_static

c-test-valgrind: $(C_OUT)/test_mcast
	$(C_RUN) $(VALGRIND) $(C_OUT)/test_mcast

# Rust's standard library allocates through the sanitizer's malloc like any C code, so LeakSanitizer sees and
# checks its allocations too; no suppressions are needed.
c-test-asan: $(C_OUT)/test_mcast_asan
	$(C_RUN) ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		$(C_OUT)/test_mcast_asan

# ThreadSanitizer instruments the suite's C code and intercepts every libc call the library makes, so a race
# on the caller's side of a shared descriptor is reported; halt_on_error makes any report fail the run.
c-test-tsan: $(C_OUT)/test_mcast_tsan
	$(C_RUN) TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 $(C_OUT)/test_mcast_tsan

install: build
	@$(MAKE) --no-print-directory install-files

install-files:
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(MANDIR)/man3
	install -m 0755 -s $(RELEASE)/mcast $(DESTDIR)$(BINDIR)/mcast
	install -m 0755 -s $(RELEASE)/libmcast.so $(DESTDIR)$(LIBDIR)/libmcast.so.$(VERSION)
	ln -sf libmcast.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libmcast.so.$(SOMAJOR)
	ln -sf libmcast.so.$(SOMAJOR) $(DESTDIR)$(LIBDIR)/libmcast.so
	install -m 0644 $(RELEASE)/libmcast.a $(DESTDIR)$(LIBDIR)/libmcast.a
	strip --strip-debug $(DESTDIR)$(LIBDIR)/libmcast.a
	install -m 0644 ffi/mcast.h $(DESTDIR)$(INCLUDEDIR)/mcast.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		-e 's|@VERSION@|$(VERSION)|' -e 's|@PRIVATE_LIBS@|$(PRIVATE_LIBS)|' \
		ffi/mcast.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/mcast.pc
	install -m 0644 docs/libmcast.3 $(DESTDIR)$(MANDIR)/man3/libmcast.3
	$(foreach page,$(wildcard docs/*.1),install -d $(DESTDIR)$(MANDIR)/man1 && \
		install -m 0644 $(page) $(DESTDIR)$(MANDIR)/man1/$(notdir $(page));)
