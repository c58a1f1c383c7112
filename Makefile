# mcast: the README's two commands are `make demo` and `make check`.
CARGO   ?= cargo
PREFIX  ?= /usr/local
DESTDIR ?=
RELEASE := $(or $(CARGO_TARGET_DIR),target)/release

.PHONY: all build demo check require-root lint msrv api api-update test test-rust bench install clean generated \
	install-completions

all: build generated

build:
	$(CARGO) build --release --workspace

demo: build
	$(RELEASE)/mcast demo

# Every test: formatting, lints (the fuzz targets must compile too), Rust unit/integration/doc tests, then the
# C suite (ffi/c.mk). Root only: it stops at once without root rather than let the traffic tests skip (without
# root, plain `cargo test` runs every test that needs no namespace: CONTRIBUTING.md).
check: require-root lint msrv api test-rust test-c

require-root:
	@[ "$$(id -u)" = 0 ] || { echo "make check: needs root (the traffic tests build network namespaces);" \
		"without root, cargo test runs the rest (CONTRIBUTING.md)" >&2; exit 1; }

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --workspace --all-targets --all-features -- -D warnings
	cd fuzz && RUSTFLAGS="--cfg fuzzing" $(CARGO) check --bins --locked --quiet

# The oldest Rust that builds the library and the command: Cargo.toml's rust-version, proved with that
# toolchain (.ci/run installs it; elsewhere it is skipped when missing, except under CI=true).
MSRV := $(shell sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
msrv:
	@if rustup run $(MSRV) rustc --version >/dev/null 2>&1; then \
		$(CARGO) +$(MSRV) check --workspace --lib --bins --locked --quiet && \
		$(CARGO) +$(MSRV) check --lib --locked --quiet --features tokio; \
	elif [ "$$CI" = true ]; then echo "msrv: Rust $(MSRV) is not installed" >&2; exit 1; \
	else echo "msrv: skipped, Rust $(MSRV) is not installed (rustup toolchain install $(MSRV) --profile minimal)"; fi

# The public API is what docs/design.md lists: rustdoc's JSON of the library, one line per item
# (tests/api/list.py), must equal the committed tests/api/public-api.txt. After a deliberate change,
# `make api-update` rewrites the listing, and the diff is reviewed with the change. A rustdoc warning (a broken
# link in the documentation) fails here too.
API_JSON := $(or $(CARGO_TARGET_DIR),target)/doc/mcast.json
api:
	RUSTC_BOOTSTRAP=1 $(CARGO) rustdoc --lib --all-features --quiet -- -Z unstable-options --output-format json -D warnings
	python3 tests/api/list.py $(API_JSON) > $(API_JSON).txt
	@diff -u tests/api/public-api.txt $(API_JSON).txt || { echo "api: the public API changed;" \
		"if on purpose, run 'make api-update' and update docs/design.md" >&2; exit 1; }

api-update:
	RUSTC_BOOTSTRAP=1 $(CARGO) rustdoc --lib --all-features --quiet -- -Z unstable-options --output-format json -D warnings
	python3 tests/api/list.py $(API_JSON) > tests/api/public-api.txt

test: test-rust

# The optional tokio feature: its tests, doc tests and example (the rest of the crate is the same with it).
test-rust:
	$(CARGO) test --workspace
	$(CARGO) test --features tokio --test async_tokio --example async_receiver
	$(CARGO) test --features tokio --doc tokio

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
