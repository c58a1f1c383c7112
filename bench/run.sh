#!/usr/bin/env bash
# make bench: mcast perf against iperf2 and C baselines, and mcast ping against a C ping-pong, inside network
# namespaces this script creates and removes. Sender pinned to one core, receiver to another (taskset).
#
# Topologies: "lo" (sender and receiver in one namespace, over loopback) and "veth" (two namespaces joined by a
# veth pair). Payloads of 64 and 1400 bytes. Every run sends flat out for BENCH_SECONDS and reports what the
# receiver got: datagrams/s over first to last arrival, and loss. The C baselines receive with recvmmsg;
# mcast perf receives with recvmmsg and UDP_GRO (its default), and without GRO ("mcast-nogro") for comparison;
# "mcast@gso" is mcast perf paced at the rate the C UDP_SEGMENT baseline's receiver got; "mcast@0loss" is the
# highest paced rate at which mcast perf lost nothing (RFC 2544's throughput: a binary search over paced trials,
# the rate found then held again for twice as long).
#
# Round trips: rounds in turn of the C ping-pong doing the least (the client is not a member; unicast answers
# only), the C ping-pong doing mcast ping's whole job ("both": two answers per probe, the prober a member of the
# group), mcast ping, and the mixed pairs (C prober with mcast ping --serve, mcast ping with the C responder);
# the median of the rounds' medians is reported, and as ratio the median of the ratios within each round, so
# that slow drifts of the machine's wake-up latency fall on all alike.
#
# Environment: MCAST (the mcast binary, release build), BENCH_OUT (where the C baselines are built),
# BENCH_SECONDS (per run, default 2), BENCH_CORES ("0 1": sender core, receiver core), BENCH_PARTS ("throughput
# ping": which parts to run), BENCH_PING_ROUNDS (default 7) and BENCH_PING_COUNT (probes per round, default 400).
set -euo pipefail

MCAST=${MCAST:?set MCAST to the mcast binary}
OUT=${BENCH_OUT:-target/bench}
SECS=${BENCH_SECONDS:-2}
read -r TX_CORE RX_CORE <<<"${BENCH_CORES:-0 1}"
PARTS=${BENCH_PARTS:-throughput ping}
ROUNDS=${BENCH_PING_ROUNDS:-7}
COUNT=${BENCH_PING_COUNT:-400}
HERE=$(cd "$(dirname "$0")" && pwd)

for tool in ip taskset iperf cc; do
    command -v "$tool" >/dev/null || { echo "bench: needs $tool (apt-get install iproute2 util-linux iperf gcc)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "bench: needs root to create network namespaces" >&2; exit 1; }

mkdir -p "$OUT"
for prog in bsend brecv pingpong; do
    cc -O2 -Wall -Wextra -o "$OUT/$prog" "$HERE/$prog.c"
done

NS_LO=mcb-lo-$$ NS_TX=mcb-tx-$$ NS_RX=mcb-rx-$$
cleanup() {
    for ns in "$NS_LO" "$NS_TX" "$NS_RX"; do ip netns del "$ns" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM

ip netns add "$NS_LO"
ip -n "$NS_LO" link set lo up multicast on
ip -n "$NS_LO" route add 224.0.0.0/4 dev lo src 127.0.0.1
ip netns add "$NS_TX"
ip netns add "$NS_RX"
ip link add mcb-a$$ type veth peer name mcb-b$$
ip link set mcb-a$$ netns "$NS_TX" name va
ip link set mcb-b$$ netns "$NS_RX" name vb
ip -n "$NS_TX" addr add 10.99.0.1/24 dev va
ip -n "$NS_RX" addr add 10.99.0.2/24 dev vb
for ns in "$NS_TX" "$NS_RX"; do ip -n "$ns" link set lo up; done
ip -n "$NS_TX" link set va up multicast on
ip -n "$NS_RX" link set vb up multicast on
ip -n "$NS_TX" route add 224.0.0.0/4 dev va
ip -n "$NS_RX" route add 224.0.0.0/4 dev vb

# topology -> sender namespace, receiver namespace, sender iface/address, receiver iface/address
topo() {
    case $1 in
        lo) echo "$NS_LO $NS_LO lo 127.0.0.1 lo 127.0.0.1" ;;
        veth) echo "$NS_TX $NS_RX va 10.99.0.1 vb 10.99.0.2" ;;
    esac
}

tx() { ip netns exec "$1" taskset -c "$TX_CORE" "${@:2}"; }
rx() { ip netns exec "$1" taskset -c "$RX_CORE" "${@:2}"; }

PORT=5100
RESULTS=()

# One run: prints "rate loss" (received datagrams/s, lost datagrams).
measure() {
    local t=$1 size=$2 tool=$3 group=239.99.0.1 port=$((PORT++))
    read -r stx srx txif txaddr rxif rxaddr <<<"$(topo "$t")"
    local log; log=$(mktemp)
    case $tool in
        iperf2)
            rx "$srx" timeout $((SECS + 4)) iperf -s -u -B "$group" -p "$port" -y C >"$log" 2>/dev/null &
            local pid=$!
            sleep 0.5
            tx "$stx" iperf -c "$group" -p "$port" -u -b 100G -l "$size" -t "$SECS" -T 1 -B "$txaddr" >/dev/null 2>&1 || true
            wait "$pid" || true
            # Server CSV: ...,interval,bytes,bits/s,jitter,lost,total,...: rate from received over the interval.
            awk -F, 'NF >= 12 && $12 > 0 { split($7, iv, "-"); secs = iv[2] - iv[1]; if (secs <= 0) secs = 1;
                       r = ($12 - $11) / secs; print int(r), $11; exit }' "$log"
            ;;
        c-sendto | c-gso)
            rx "$srx" "$OUT/brecv" "$group" "$port" "$rxaddr" 1 >"$log" 2>/dev/null &
            local pid=$!
            sleep 0.5
            tx "$stx" "$OUT/bsend" "${tool#c-}" "$group" "$port" "$size" "$SECS" "$txaddr" 16 >/dev/null
            wait "$pid"
            awk '{ print int($8), $4 }' "$log"
            ;;
        mcast | mcast-nogro)
            local gro=--gro
            [ "$tool" = mcast-nogro ] && gro=--no-gro
            rx "$srx" "$MCAST" perf --serve "$group:$port" --iface "$rxif" --timeout 1 --interval 0 "$gro" --json -q \
                >"$log" 2>/dev/null &
            local pid=$!
            sleep 0.5
            tx "$stx" "$MCAST" perf "$group:$port" --iface "$txif" --rate "${RATE:-max}" --time "$SECS" --size "$size" \
                --interval 0 -q >/dev/null
            wait "$pid" || true
            sed -n 's/.*"type":"session".*"lost":\([0-9]*\).*"pps":\([0-9.]*\).*/\2 \1/p' "$log" | awk '{ print int($1), $2 }'
            ;;
    esac
    rm -f "$log"
}

# The highest paced rate (datagrams/s) at which mcast perf lost nothing, searched between 0 and `hi` in
# halvings of the interval, then held again for twice as long and lowered by 5 % steps until that holds too.
# Prints the rate and what the last run at it lost.
zero_loss() {
    local t=$1 size=$2 hi=$3 lo=0 r l=1 i
    for i in 1 2 3 4 5 6; do
        r=$(( (lo + hi + 1) / 2 ))
        [ "$i" = 1 ] && r=$hi
        read -r _ l <<<"$(RATE="${r}pps" measure "$t" "$size" mcast)"
        if [ "${l:-1}" = 0 ]; then
            lo=$r
            [ "$i" = 1 ] && break
        else
            hi=$r
        fi
    done
    for i in 1 2 3; do
        [ "$lo" -gt 0 ] || break
        read -r _ l <<<"$(SECS=$((SECS * 2)) RATE="${lo}pps" measure "$t" "$size" mcast)"
        [ "${l:-1}" = 0 ] && break
        [ "$i" = 3 ] || lo=$((lo * 95 / 100))
    done
    echo "$lo ${l:-?}"
}

throughput() {
    printf '%-5s %5s  %-11s %12s %10s\n' topo size tool "received/s" lost
    for t in lo veth; do
        for size in 64 1400; do
            declare -A rate=()
            for tool in iperf2 c-sendto c-gso mcast-nogro mcast; do
                read -r r l <<<"$(measure "$t" "$size" "$tool")"
                rate[$tool]=${r:-0}
                printf '%-5s %5s  %-11s %12s %10s\n' "$t" "$size" "$tool" "${r:-?}" "${l:-?}"
            done
            # mcast paced at the C UDP_SEGMENT baseline's received rate: does it deliver that rate without loss?
            read -r r l <<<"$(RATE="${rate[c-gso]}pps" measure "$t" "$size" mcast)"
            rate[paced]=${r:-0}
            printf '%-5s %5s  %-11s %12s %10s\n' "$t" "$size" "mcast@gso" "${r:-?}" "${l:-?}"
            read -r r l <<<"$(zero_loss "$t" "$size" "${rate[mcast]}")"
            rate[zero]=${r:-0}
            printf '%-5s %5s  %-11s %12s %10s\n' "$t" "$size" "mcast@0loss" "${r:-?}" "${l:-?}"
            RESULTS+=("$(awk -v t="$t" -v s="$size" -v m="${rate[mcast]}" -v i="${rate[iperf2]}" -v g="${rate[c-gso]}" \
                -v p="${rate[paced]}" -v z="${rate[zero]}" 'BEGIN {
                printf "%-5s %5s  flat out: mcast/iperf2 %6.2fx  mcast/C-UDP_SEGMENT %6.2fx   0 loss: mcast/iperf2 %6.2fx  mcast/C-UDP_SEGMENT %5.2fx   mcast@gso/C-UDP_SEGMENT %4.2fx",
                t, s, (i ? m / i : 0), (g ? m / g : 0), (i ? z / i : 0), (g ? z / g : 0), (g ? p / g : 0) }')")
            unset rate
        done
    done
    echo
    printf '%s\n' "${RESULTS[@]}"
}

# Median of a list of numbers, one per line.
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print 0 }'; }

# Round trips: the C ping-pong alone, the C ping-pong doing mcast ping's job, mcast ping, and the two mixed pairs
# (the C prober against mcast ping --serve, mcast ping against the C responder: they speak one protocol), in turn,
# ROUNDS times; each run prints the median unicast round trip (and multicast, where there is one) in
# microseconds. The table gives the median of the rounds' medians, and the median of the rounds' ratios.
ping_round() {
    local stx=$1 srx=$2 txif=$3 txaddr=$4 rxif=$5 rxaddr=$6 mode=$7 group=239.99.1.1 port pid
    local busy=() mbusy=()
    [ "$mode" = busy ] && busy=(busy) && mbusy=(--busy-poll)
    # name, responder (c or mcast), prober (c or mcast), job (alone: unicast answers only, prober not a member)
    for run in "c-alone c c alone" "c-both c c both" "mcast mcast mcast both" "x-mcast-responder mcast c both" \
        "x-mcast-prober c mcast both"; do
        local name responder prober job extra=()
        read -r name responder prober job <<<"$run"
        [ "$job" = both ] && extra=(both)
        port=$((PORT++))
        if [ "$responder" = c ]; then
            rx "$srx" "$OUT/pingpong" server "$group" "$port" "$rxaddr" "$COUNT" "${busy[@]}" "${extra[@]}" 2>/dev/null &
        else
            rx "$srx" "$MCAST" ping --serve "$group:$port" --iface "$rxif" --count "$COUNT" --timeout 30 -q \
                "${mbusy[@]}" >/dev/null 2>&1 &
        fi
        pid=$!
        sleep 0.3
        if [ "$prober" = c ]; then
            tx "$stx" "$OUT/pingpong" client "$group" "$port" "$txaddr" "$COUNT" 1000 "${busy[@]}" "${extra[@]}" |
                awk -v name="$name" '{ print name, $2, $8 }'
        else
            tx "$stx" "$MCAST" ping "$group:$port" --iface "$txif" --count "$COUNT" --interval 0.001 --wait 0.2 \
                --json -q "${mbusy[@]}" | awk -v name="$name" '/"type":"responder"/ {
                    k = $0; sub(/.*"kind":"/, "", k); sub(/".*/, "", k)
                    p = $0; sub(/.*"rtt_p50_ms":/, "", p); sub(/[,}].*/, "", p)
                    r[k] = p * 1000 }
                END { printf "%s %.3f %.3f\n", name, r["unicast"], r["multicast"] }'
        fi
        wait "$pid" || true
    done
}

# Median over the rounds in `log` of the ratio of `a`'s figure in column `col` to `b`'s in the same round.
round_ratio() {
    awk -v a="$2" -v b="$3" -v col="$4" '$1 == b { c = $col } $1 == a && c > 0 { print $col / c }' "$1" | median
}

round_trips() {
    printf '%-5s %-8s %10s %10s %10s %8s %8s   %-21s   %s\n' topo mode "C alone" "C both" mcast "/C both" \
        "/C alone" "multicast: C, mcast" "/C both: mcast responder, mcast prober"
    for t in lo veth; do
        read -r stx srx txif txaddr rxif rxaddr <<<"$(topo "$t")"
        for mode in blocking busy; do
            local log; log=$(mktemp)
            for _ in $(seq "$ROUNDS"); do
                ping_round "$stx" "$srx" "$txif" "$txaddr" "$rxif" "$rxaddr" "$mode" >>"$log"
            done
            local ca cb m cbm mm
            ca=$(awk '$1 == "c-alone" { print $2 }' "$log" | median)
            cb=$(awk '$1 == "c-both" { print $2 }' "$log" | median)
            cbm=$(awk '$1 == "c-both" { print $3 }' "$log" | median)
            m=$(awk '$1 == "mcast" { print $2 }' "$log" | median)
            mm=$(awk '$1 == "mcast" { print $3 }' "$log" | median)
            awk -v t="$t" -v mode="$mode" -v ca="$ca" -v cb="$cb" -v m="$m" -v cbm="$cbm" -v mm="$mm" \
                -v r="$(round_ratio "$log" mcast c-both 2)" -v ra="$(round_ratio "$log" mcast c-alone 2)" \
                -v rm="$(round_ratio "$log" mcast c-both 3)" -v xr="$(round_ratio "$log" x-mcast-responder c-both 2)" \
                -v xp="$(round_ratio "$log" x-mcast-prober c-both 2)" 'BEGIN {
                printf "%-5s %-8s %10.3f %10.3f %10.3f %7.2fx %7.2fx   %7.3f %7.3f %5.2fx   %5.2fx %5.2fx\n",
                    t, mode, ca, cb, m, r, ra, cbm, mm, rm, xr, xp }'
            rm -f "$log"
        done
    done
}

for part in $PARTS; do
    case $part in
        throughput) throughput ;;
        ping) echo; round_trips ;;
        *) echo "bench: unknown part $part (throughput, ping)" >&2; exit 2 ;;
    esac
done
