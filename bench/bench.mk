# `make bench`: mcast perf against iperf2 and C baselines using the same kernel features (also with trains cut
# before the wire, and through a bridge to four receivers), mcast ping against a C ping-pong, a receiver's cost
# as groups and senders grow, then a soak of mcast recv through flaps and thousands of senders with its memory
# sampled (bench/soak.sh), in network namespaces the scripts create (needs root, iperf, taskset, ethtool).
# BENCH_PARTS picks parts of bench/run.sh (throughput wire fanout ping scale). A benchmark, never a test.
BENCH_BIN := $(if $(CARGO_TARGET_DIR),$(CARGO_TARGET_DIR)/release,$(RELEASE))/mcast
BENCH_OUT := $(if $(CARGO_TARGET_DIR),$(CARGO_TARGET_DIR),target)/bench

bench: build
	MCAST=$(BENCH_BIN) BENCH_OUT=$(BENCH_OUT) bench/run.sh
	MCAST=$(BENCH_BIN) BENCH_OUT=$(BENCH_OUT) bench/soak.sh
