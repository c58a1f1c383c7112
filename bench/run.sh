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
# group), mcast ping, and the mixed pairs (C prober with mcast ping --serve, mcast ping with the C responder),
# against responders that stay up (stopped while another pair runs), so that one run follows another within a
# few milliseconds. Reported: the median of the runs' medians, and as ratio the median (and quartiles) of the
# ratios within each round, so that the drifts of this kind of machine's wake-up latency, which last from a
# fraction of a second to seconds, fall on all alike.
#
# The C ABI ("capi"): bench/capi.c times a loop of mcast_send() against send(2) and of mcast_recv() against
# recvmsg(2) doing the same job, 64-byte datagrams over lo in a namespace, on the sender core; it prints the
# median ratio over BENCH_CAPI_ROUNDS rounds (default 15) of BENCH_CAPI_COUNT datagrams (default 20000).
#
# Environment: MCAST (the mcast binary, release build; libmcast.so is beside it), BENCH_OUT (where the C
# baselines are built), BENCH_SECONDS (per run, default 2), BENCH_CORES ("0 1": sender core, receiver core),
# BENCH_PARTS ("throughput ping capi": which parts to run), BENCH_PING_ROUNDS (default 30) and BENCH_PING_COUNT
# (probes per run, default 200).
set -euo pipefail

MCAST=${MCAST:?set MCAST to the mcast binary}
OUT=${BENCH_OUT:-target/bench}
SECS=${BENCH_SECONDS:-2}
read -r TX_CORE RX_CORE <<<"${BENCH_CORES:-0 1}"
PARTS=${BENCH_PARTS:-throughput ping capi}
ROUNDS=${BENCH_PING_ROUNDS:-30}
COUNT=${BENCH_PING_COUNT:-200}
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

# Waits (up to 10 s) until a UDP socket in namespace $1 is bound to port $2.
wait_bound() {
    local i
    for i in $(seq 100); do
        [ -n "$(ip netns exec "$1" ss -Hlun "sport = :$2" 2>/dev/null)" ] && return 0
        sleep 0.1
    done
    echo "bench: nothing bound to port $2 in $1 after 10 s" >&2
    return 1
}
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

# Round trips. Three responders run throughout, each stopped (SIGSTOP) except while its prober runs: the C
# server answering by unicast only, the C server doing mcast ping's job ("both"), and mcast ping --serve. Each
# round runs five probers of COUNT probes, 1 ms apart, one after the other: the C client alone, the C client
# doing the whole job, mcast ping, and the two mixed pairs (the C client against mcast ping --serve, mcast ping
# against the C server; they speak one protocol). The first three take each of their six orders in turn, so no
# prober always follows the same one. Each run prints "round name unicast multicast"
# (median round trips in microseconds; multicast 0 where there is none).
ping_rounds() {
    local stx=$1 srx=$2 txif=$3 txaddr=$4 rxif=$5 rxaddr=$6 mode=$7 group=239.99.1.1 busy=() mbusy=()
    [ "$mode" = busy ] && busy=(busy) && mbusy=(--busy-poll)
    local p_alone=$((PORT++)) p_both=$((PORT++)) p_mcast=$((PORT++))
    # Started directly, not through rx(): $! must be the responder itself for the signals to reach it.
    local in_rx=(ip netns exec "$srx" taskset -c "$RX_CORE")
    "${in_rx[@]}" "$OUT/pingpong" server "$group" "$p_alone" "$rxaddr" 1000000000 "${busy[@]}" 2>/dev/null &
    local r_alone=$!
    "${in_rx[@]}" "$OUT/pingpong" server "$group" "$p_both" "$rxaddr" 1000000000 "${busy[@]}" both 2>/dev/null &
    local r_both=$!
    "${in_rx[@]}" "$MCAST" ping --serve "$group:$p_mcast" --iface "$rxif" -q "${mbusy[@]}" >/dev/null 2>&1 &
    local r_mcast=$!
    # Each must have bound its port (and so joined) before it is stopped: on a loaded machine 0.5 s is not
    # always enough, and a responder stopped before it joined answers nothing in its first run.
    local p
    for p in "$p_alone" "$p_both" "$p_mcast"; do wait_bound "$srx" "$p"; done
    sleep 0.2
    kill -STOP "$r_alone" "$r_both" "$r_mcast"
    # name, responder pid, port, prober (c or mcast), C job words
    local runs=("c-alone $r_alone $p_alone c" "c-both $r_both $p_both c both" "mcast $r_mcast $p_mcast mcast"
        "x-mcast-responder $r_mcast $p_mcast c both" "x-mcast-prober $r_both $p_both mcast")
    # The three compared most (C alone, C both, mcast) first, in each of their six orders in turn, so that any two
    # of them run at most one run apart; then the mixed pairs, in alternate orders.
    local orders=("0 1 2 3 4" "1 2 0 4 3" "2 0 1 3 4" "2 1 0 4 3" "1 0 2 3 4" "0 2 1 4 3") r i name pid port prober job
    for r in $(seq "$ROUNDS"); do
        for i in ${orders[$((r % 6))]}; do
            read -r name pid port prober job <<<"${runs[$i]}"
            kill -CONT "$pid"
            if [ "$prober" = c ]; then
                tx "$stx" "$OUT/pingpong" client "$group" "$port" "$txaddr" "$COUNT" 1000 "${busy[@]}" $job wait=50 |
                    awk -v r="$r" -v name="$name" '{ print r, name, $2, $8 }'
            else
                tx "$stx" "$MCAST" ping "$group:$port" --iface "$txif" --count "$COUNT" --interval 0.001 --wait 0.05 \
                    --json -q "${mbusy[@]}" | awk -v r="$r" -v name="$name" '/"type":"responder"/ {
                        k = $0; sub(/.*"kind":"/, "", k); sub(/".*/, "", k)
                        p = $0; sub(/.*"rtt_p50_ms":/, "", p); sub(/[,}].*/, "", p)
                        v[k] = p * 1000 }
                    END { printf "%s %s %.3f %.3f\n", r, name, v["unicast"], v["multicast"] }'
            fi
            kill -STOP "$pid"
        done
    done
    kill -CONT "$r_alone" "$r_both" "$r_mcast"
    kill "$r_alone" "$r_both" "$r_mcast" 2>/dev/null || true
    wait "$r_alone" "$r_both" "$r_mcast" 2>/dev/null || true
}

# Over the rounds in `log`: the median of the ratio of `a`'s figure in column `col` to `b`'s in the same round,
# with the quartiles of those ratios ("1.02 0.97 1.08").
round_ratio() {
    awk -v a="$2" -v b="$3" -v col="$4" '$2 == a { x[$1] = $col } $2 == b { y[$1] = $col }
        END { for (r in x) if (y[r] > 0 && x[r] > 0) print x[r] / y[r] }' "$1" |
        sort -n | awk '{ v[NR] = $1 } END { if (!NR) { print "0 0 0"; exit }
            printf "%.3f %.3f %.3f\n", v[int((NR + 1) / 2)], v[int((NR + 3) / 4)], v[int((3 * NR + 3) / 4)] }'
}

round_trips() {
    printf '%-5s %-8s %9s %9s %9s  %-20s %-20s  %-26s  %s\n' topo mode "C alone" "C both" mcast \
        "mcast/C alone" "mcast/C both" "multicast: C, mcast, ratio" "/C both: mcast responder, prober"
    for t in lo veth; do
        read -r stx srx txif txaddr rxif rxaddr <<<"$(topo "$t")"
        for mode in blocking busy; do
            local log; log=$(mktemp)
            ping_rounds "$stx" "$srx" "$txif" "$txaddr" "$rxif" "$rxaddr" "$mode" >"$log"
            local ca cb m cbm mm
            ca=$(awk '$2 == "c-alone" { print $3 }' "$log" | median)
            cb=$(awk '$2 == "c-both" { print $3 }' "$log" | median)
            cbm=$(awk '$2 == "c-both" { print $4 }' "$log" | median)
            m=$(awk '$2 == "mcast" { print $3 }' "$log" | median)
            mm=$(awk '$2 == "mcast" { print $4 }' "$log" | median)
            awk -v t="$t" -v mode="$mode" -v ca="$ca" -v cb="$cb" -v m="$m" -v cbm="$cbm" -v mm="$mm" \
                -v ra="$(round_ratio "$log" mcast c-alone 3)" -v rb="$(round_ratio "$log" mcast c-both 3)" \
                -v rm="$(round_ratio "$log" mcast c-both 4)" -v xr="$(round_ratio "$log" x-mcast-responder c-both 3)" \
                -v xp="$(round_ratio "$log" x-mcast-prober c-both 3)" 'BEGIN {
                split(ra, a, " "); split(rb, b, " "); split(rm, c, " "); split(xr, x, " "); split(xp, y, " ")
                printf "%-5s %-8s %9.3f %9.3f %9.3f  %5.2fx (%4.2f-%4.2f)   %5.2fx (%4.2f-%4.2f)   %7.3f %7.3f %5.2fx   %5.2fx %5.2fx\n",
                    t, mode, ca, cb, m, a[1], a[2], a[3], b[1], b[2], b[3], cbm, mm, c[1], x[1], y[1] }'
            rm -f "$log"
        done
    done
}

# The C ABI against the system calls, linked with the libmcast.so of the same build as $MCAST.
capi() {
    local lib; lib=$(cd "$OUT" && pwd)/capi-lib
    # cargo leaves libmcast.so without the libmcast.so.0 its SONAME names: give the program that name.
    mkdir -p "$lib"
    ln -sf "$(cd "$(dirname "$MCAST")" && pwd)/libmcast.so" "$lib/libmcast.so.0"
    ln -sf libmcast.so.0 "$lib/libmcast.so"
    cc -O2 -Wall -Wextra -I "$HERE/../ffi" -o "$OUT/capi" "$HERE/capi.c" -L"$lib" -lmcast -Wl,-rpath,"$lib"
    ip netns exec "$NS_LO" taskset -c "$TX_CORE" "$OUT/capi" "${BENCH_CAPI_ROUNDS:-15}" "${BENCH_CAPI_COUNT:-20000}"
}

for part in $PARTS; do
    case $part in
        throughput) throughput ;;
        ping) echo; round_trips ;;
        capi) echo; capi ;;
        *) echo "bench: unknown part $part (throughput, ping, capi)" >&2; exit 2 ;;
    esac
done
