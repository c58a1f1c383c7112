#!/usr/bin/env bash
# Soak (part of make bench, never a test): one `mcast recv` left running under steady numbered traffic
# (mcast perf), thousands of distinct senders (bench/soaksend.c, one source port per datagram) and its
# interface flapping every few seconds; its resident memory is sampled at the start, as it runs, and at the
# end. A receiver whose per-sender table and outage list are bounded stays flat once the table is full.
#
# Topology: two namespaces this script creates and removes, joined by a veth pair: senders in "a" (va
# 10.98.0.1), the receiver in "b" (vb 10.98.0.2, joined there). Nothing touches the host's interfaces.
#
# Environment: MCAST (the mcast binary, release build), BENCH_OUT (where soaksend is built), SOAK_SECONDS
# (default 60), SOAK_SENDERS (distinct source ports, default 6000: past the receiver's cap of 4096),
# SOAK_RATE (perf datagrams/s, default 20000), SOAK_FLAP (seconds between flaps of vb, default 10; 0: none).
set -euo pipefail

MCAST=${MCAST:?set MCAST to the mcast binary}
OUT=${BENCH_OUT:-target/bench}
SECS=${SOAK_SECONDS:-60}
SENDERS=${SOAK_SENDERS:-6000}
RATE=${SOAK_RATE:-20000}
FLAP=${SOAK_FLAP:-10}
HERE=$(cd "$(dirname "$0")" && pwd)
GROUP=239.98.0.1 PORT=5990
MANY_RATE=1000
CAP=4096
WARMUP=$((CAP / MANY_RATE + 3))
[ "$SECS" -gt $((WARMUP + 10)) ] || { echo "soak: SOAK_SECONDS must be above $((WARMUP + 10))" >&2; exit 1; }

for tool in ip cc; do
    command -v "$tool" >/dev/null || { echo "soak: needs $tool" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "soak: needs root to create network namespaces" >&2; exit 1; }
mkdir -p "$OUT"
cc -O2 -Wall -Wextra -o "$OUT/soaksend" "$HERE/soaksend.c"

NS_A=mcs-a-$$ NS_B=mcs-b-$$
LOG=$(mktemp) ERR=$(mktemp)
RX=
cleanup() {
    [ -n "$RX" ] && kill "$RX" 2>/dev/null || true
    for ns in "$NS_A" "$NS_B"; do ip netns del "$ns" 2>/dev/null || true; done
    rm -f "$LOG" "$ERR"
}
trap cleanup EXIT INT TERM

ip netns add "$NS_A"
ip netns add "$NS_B"
ip link add mcs-a$$ type veth peer name mcs-b$$
ip link set mcs-a$$ netns "$NS_A" name va
ip link set mcs-b$$ netns "$NS_B" name vb
ip -n "$NS_A" addr add 10.98.0.1/24 dev va
ip -n "$NS_B" addr add 10.98.0.2/24 dev vb
for ns in "$NS_A" "$NS_B"; do ip -n "$ns" link set lo up; done
ip -n "$NS_A" link set va up multicast on
ip -n "$NS_B" link set vb up multicast on

# The receiver: ip netns exec execs mcast, so $! is its pid.
ip netns exec "$NS_B" "$MCAST" recv "$GROUP:$PORT" --iface vb --rcvbuf 8388608 --quiet >"$LOG" 2>"$ERR" &
RX=$!
sleep 1
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$RX/status"; }

ip netns exec "$NS_A" "$MCAST" perf "$GROUP:$PORT" --iface va --rate "$RATE" --time "$SECS" --size 200 \
    --interval 0 -q >/dev/null &
PERF=$!
ip netns exec "$NS_A" "$OUT/soaksend" "$GROUP" "$PORT" 10.98.0.1 "$SENDERS" "$MANY_RATE" "$SECS" \
    >"$OUT/soaksend.out" &
MANY=$!

# The start sample comes once the per-sender table has had time to fill to its cap: from then on, memory
# should stay flat.
sleep "$WARMUP"
START_RSS=$(rss)
SAMPLES=("$START_RSS")
FLAPS=0
for ((t = WARMUP; t < SECS; t++)); do
    sleep 1
    if [ "$FLAP" -gt 0 ] && [ $((t % FLAP)) = 0 ]; then
        ip -n "$NS_B" link set vb down
        sleep 0.3
        ip -n "$NS_B" link set vb up
        FLAPS=$((FLAPS + 1))
    fi
    if [ $((t % 10)) = 0 ]; then SAMPLES+=("$(rss)"); fi
done
wait "$PERF" "$MANY" || true
sleep 1
END_RSS=$(rss)
kill -INT "$RX"
STATUS=0
wait "$RX" || STATUS=$?
RX=

echo "soak: ${SECS} s, perf at ${RATE}/s and ${SENDERS} distinct senders ($(cat "$OUT/soaksend.out")), vb flapped ${FLAPS} times"
echo "soak: mcast recv exited with status ${STATUS} (130: stopped by SIGINT, as asked)"
echo "soak: receiver summary: $(head -n 1 "$LOG")"
grep -E 'more sources? dropped|outage:' "$LOG" | head -n 3 | sed 's/^ */soak:   /'
echo "soak: outages reported: $(grep -c 'outage:' "$LOG" || true)"
echo "soak: RSS (kB) at ${WARMUP} s, every 10 s, at the end: ${SAMPLES[*]} ${END_RSS}"
awk -v s="$START_RSS" -v e="$END_RSS" \
    'BEGIN { printf "soak: RSS start %d kB, end %d kB, growth %+d kB (%+.1f%%)\n", s, e, e - s, (s ? (e - s) * 100 / s : 0) }'
