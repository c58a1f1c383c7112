# `make bench`: mcast perf against iperf2 and C baselines, mcast ping against a C ping-pong, then a soak of
# mcast recv through flaps and thousands of senders with its memory sampled (bench/soak.sh), in network
# namespaces the scripts create (needs root, iperf, taskset). A benchmark, never a test: it prints figures.
BENCH_BIN := $(if $(CARGO_TARGET_DIR),$(CARGO_TARGET_DIR)/release,$(RELEASE))/mcast
BENCH_OUT := $(if $(CARGO_TARGET_DIR),$(CARGO_TARGET_DIR),target)/bench

bench: build
	MCAST=$(BENCH_BIN) BENCH_OUT=$(BENCH_OUT) bench/run.sh
	MCAST=$(BENCH_BIN) BENCH_OUT=$(BENCH_OUT) bench/soak.sh
