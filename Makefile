# mcast: the README's two commands are `make demo` and `make check`.
CARGO   ?= cargo
PREFIX  ?= /usr/local
DESTDIR ?=
RELEASE := $(or $(CARGO_TARGET_DIR),target)/release

.PHONY: all build demo check lint test test-rust bench install clean

all: build

build:
	$(CARGO) build --release

demo: build
	$(RELEASE)/mcast demo

# Every test: formatting, lints (the fuzz targets must compile too), Rust unit/integration/doc tests, then the
# C suite (ffi/c.mk).
check: lint test-rust test-c

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	cd fuzz && RUSTFLAGS="--cfg fuzzing" $(CARGO) check --bins --locked --quiet

test: test-rust

test-rust:
	$(CARGO) test

clean:
	$(CARGO) clean

# C library, examples, C tests, install: ffi/c.mk. Benchmarks: bench/bench.mk.
include ffi/c.mk
-include bench/bench.mk
