# mcast: the README's two commands are `make demo` and `make check`.
CARGO   ?= cargo
PREFIX  ?= /usr/local
DESTDIR ?=
RELEASE := $(or $(CARGO_TARGET_DIR),target)/release

.PHONY: all build demo check require-root lint msrv test test-rust bench install clean generated install-completions

all: build generated

build:
	$(CARGO) build --release

demo: build
	$(RELEASE)/mcast demo

# Every test: formatting, lints (the fuzz targets must compile too), Rust unit/integration/doc tests, then the
# C suite (ffi/c.mk). Root only: it stops at once without root rather than let the traffic tests skip (without
# root, plain `cargo test` runs every test that needs no namespace: CONTRIBUTING.md).
check: require-root lint msrv test-rust test-c

require-root:
	@[ "$$(id -u)" = 0 ] || { echo "make check: needs root (the traffic tests build network namespaces);" \
		"without root, cargo test runs the rest (CONTRIBUTING.md)" >&2; exit 1; }

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	cd fuzz && RUSTFLAGS="--cfg fuzzing" $(CARGO) check --bins --locked --quiet

# The oldest Rust that builds the library and the command: Cargo.toml's rust-version, proved with that
# toolchain (.ci/run installs it; elsewhere it is skipped when missing, except under CI=true).
MSRV := $(shell sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
msrv:
	@if rustup run $(MSRV) rustc --version >/dev/null 2>&1; then \
		$(CARGO) +$(MSRV) check --lib --bins --locked --quiet; \
	elif [ "$$CI" = true ]; then echo "msrv: Rust $(MSRV) is not installed" >&2; exit 1; \
	else echo "msrv: skipped, Rust $(MSRV) is not installed (rustup toolchain install $(MSRV) --profile minimal)"; fi

test: test-rust

test-rust:
	$(CARGO) test

clean:
	$(CARGO) clean

# The manual page and the shell completions, generated from the command's option tables (and committed, so
# they can be read in the repository; tests/cli_docs.rs checks they are up to date).
generated: build
	$(RELEASE)/mcast __man > docs/mcast.1
	$(RELEASE)/mcast __complete bash > completions/mcast.bash
	$(RELEASE)/mcast __complete zsh > completions/_mcast
	$(RELEASE)/mcast __complete fish > completions/mcast.fish

install: install-completions

install-completions:
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(PREFIX)/share/zsh/site-functions \
		$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	install -m 0644 completions/mcast.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/mcast
	install -m 0644 completions/_mcast $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_mcast
	install -m 0644 completions/mcast.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/mcast.fish

# C library, examples, C tests, install: ffi/c.mk. Benchmarks: bench/bench.mk.
include ffi/c.mk
-include bench/bench.mk
