#!/usr/bin/env bash
# make bench: mcast perf against iperf2 and C baselines that use the same kernel features, mcast ping against a C
# ping-pong, and a receiver's cost as groups and senders grow, inside network namespaces this script creates and
# removes. Sender pinned to one core, receiver(s) to another (taskset).
#
# Part "throughput": topologies "lo" (one namespace, loopback) and "veth" (two namespaces joined by a veth
# pair), where a UDP_SEGMENT train reaches the receiving socket whole; payloads of 64 and 1400 bytes. Every run
# sends flat out for BENCH_SECONDS and reports what the receiver got (datagrams/s over first to last arrival, and
# loss) and the CPU time (user + system, from getrusage by bench/cpu.c around each program) that sender and
# receiver spent per datagram. Rows: iperf2; "c-sendto" (a sendto loop into a recvmmsg receiver that reads one
# datagram a read); "c-gso" (UDP_SEGMENT trains into that receiver); "c-gro" (UDP_SEGMENT trains into a
# UDP_GRO receiver, which counts a read as ceil(length / segment size) datagrams: the kernel's ceiling, and
# the like-for-like baseline of mcast perf); "mcast-nogro"; "mcast" (UDP_SEGMENT sender, UDP_GRO receiver);
# "mcast>c-gro" (mcast perf into the C GRO receiver: the sender alone; its loss is not known); "mcast@c-gro"
# (mcast perf paced at the rate c-gro received); "mcast@0loss" (the highest paced rate at which mcast perf
# lost nothing: RFC 2544's throughput, a binary search over paced trials, the rate then held twice as long);
# "c-gro@0loss" (the same search for the C pair, its sender paced as mcast perf paces: the like-for-like
# lossless figure, since flat out neither pair always loses nothing). The C senders put as many datagrams in
# a train as mcast perf does (64, or as many as fit 65,507 bytes).
#
# Part "wire": the same on a veth pair whose sending end cuts trains in software before the device
# (ethtool -K tx-udp-segmentation off), as a NIC without UDP segmentation offload or a router does, with GRO
# off ("veth-sw") and on ("veth-sw-gro", ethtool -K gro on: the receiving veth coalesces again) at the
# receiving end. Part "fanout": a bridge (snooping off) fanning one sender out to four receiver namespaces,
# the sender paying once; each receiver's rate, loss and CPU time. Both need ethtool (apt-get install ethtool).
#
# Part "ping": rounds in turn of the C ping-pong doing the least (the client is not a member; unicast answers
# only), the C ping-pong doing mcast ping's whole job ("both": two answers per probe, the prober a member of the
# group), mcast ping, and the mixed pairs (C prober with mcast ping --serve, mcast ping with the C responder),
# against responders that stay up (stopped while another pair runs), so that one run follows another within a
# few milliseconds. Reported: the median of the runs' medians, and as ratio the median (and quartiles) of the
# ratios within each round, so that the drifts of this kind of machine's wake-up latency, which last from a
# fraction of a second to seconds, fall on all alike. Two topologies (BENCH_PING_TOPOS, default "lo veth"):
# "lo (same ns)", the responders on the prober's host, so its probes loop back to it too; "veth (link)", the
# responders across a veth pair, the prober its host's only member, with no loop (see round_trips).
#
# The C ABI ("capi"): bench/capi.c times a loop of mcast_send() against send(2) and of mcast_recv() against
# recvmsg(2) doing the same job, 64-byte datagrams over lo in a namespace, on the sender core; it prints the
# median ratio over BENCH_CAPI_ROUNDS rounds (default 15) of BENCH_CAPI_COUNT datagrams (default 20000).
#
# Part "scale": `mcast recv G1-G2:PORT` (the many-group receiver) holding 1, 10, 100, 1,000 and 10,000 IPv4
# groups (20 a socket, the kernel's default) and IPv6 groups, then the same with --bind-group (a socket per
# group, bound to it) and with --one-reader (one socket reads the port, unbound ones hold the memberships),
# fed by bench/spread.c in turn over every group
# (written to a packet socket, so that the sending namespace's neighbour table, an entry per group, is not
# what the row measures):
# the time to join them all (start to "listening") and to leave them (SIGINT to exit), the receiver's CPU time
# per datagram at a fixed rate (BENCH_SCALE_RATE, default 50,000/s) and the highest rate it takes without loss
# (a flat-out trial, then a search of paced trials below it); then `mcast recv G:PORT` hearing 1, 100 and
# 10,000 distinct senders, likewise. Each row has a time cap (BENCH_SCALE_CAP, default 45 s) and every run of
# the sender ends on time: what could not be measured within it prints "n/a", and the bench goes on.
#
# Environment: MCAST (the mcast binary, release build; libmcast.so is beside it), BENCH_OUT (where the C
# baselines are built), BENCH_SECONDS (per run, default 2), BENCH_CORES ("0 1": sender core, receiver core),
# BENCH_PARTS ("throughput wire fanout ping scale capi": which parts to run, each alone if wanted), BENCH_PING_ROUNDS (default 30),
# BENCH_TOPOS ("lo veth": the topologies of part throughput), BENCH_ROUNDS (its rounds, default 5), BENCH_PING_TOPOS ("lo veth"),
# BENCH_PING_COUNT (probes per run, default 200), BENCH_SCALE_RATE, BENCH_SCALE_GROUPS ("1 10 100 1000 10000"),
# BENCH_SCALE_SENDERS ("1 100 10000"), BENCH_SCALE_LAYOUTS ("port bound one-reader"), BENCH_SCALE_SETTLE (seconds between joining and measuring, default 3)
# and BENCH_SCALE_CAP (seconds a scale row may take, default 45).
set -euo pipefail

MCAST=${MCAST:?set MCAST to the mcast binary}
OUT=${BENCH_OUT:-target/bench}
SECS=${BENCH_SECONDS:-2}
read -r TX_CORE RX_CORE <<<"${BENCH_CORES:-0 1}"
PARTS=${BENCH_PARTS:-throughput wire fanout ping scale capi}
SCALE_RATE=${BENCH_SCALE_RATE:-50000}
SCALE_GROUPS=${BENCH_SCALE_GROUPS:-1 10 100 1000 10000}
SCALE_SENDERS=${BENCH_SCALE_SENDERS:-1 100 10000}
SCALE_LAYOUTS=${BENCH_SCALE_LAYOUTS:-port bound one-reader}
SCALE_SETTLE=${BENCH_SCALE_SETTLE:-3}
SCALE_CAP=${BENCH_SCALE_CAP:-45}
ROUNDS=${BENCH_PING_ROUNDS:-30}
COUNT=${BENCH_PING_COUNT:-200}
HERE=$(cd "$(dirname "$0")" && pwd)

for tool in ip taskset iperf cc; do
    command -v "$tool" >/dev/null || { echo "bench: needs $tool (apt-get install iproute2 util-linux iperf gcc)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "bench: needs root to create network namespaces" >&2; exit 1; }

mkdir -p "$OUT"
for prog in bsend brecv pingpong cpu spread; do
    cc -O2 -Wall -Wextra -o "$OUT/$prog" "$HERE/$prog.c"
done

NSES=()
cleanup() {
    local ns
    for ns in "${NSES[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM
mkns() { ip netns add "$1" && NSES+=("$1") && ip -n "$1" link set lo up; }

# A veth pair between namespaces $1 (end "va", 10.$3.0.1) and $2 (end "vb", 10.$3.0.2), multicast routed on it.
veth_pair() {
    mkns "$1"
    mkns "$2"
    ip link add "mcb-a$3-$$" type veth peer name "mcb-b$3-$$"
    ip link set "mcb-a$3-$$" netns "$1" name va
    ip link set "mcb-b$3-$$" netns "$2" name vb
    ip -n "$1" addr add "10.$3.0.1/24" dev va
    ip -n "$2" addr add "10.$3.0.2/24" dev vb
    ip -n "$1" link set va up multicast on
    ip -n "$2" link set vb up multicast on
    ip -n "$1" route add 224.0.0.0/4 dev va
    ip -n "$2" route add 224.0.0.0/4 dev vb
}

NS_LO=mcb-lo-$$
mkns "$NS_LO"
ip -n "$NS_LO" link set lo multicast on
ip -n "$NS_LO" route add 224.0.0.0/4 dev lo src 127.0.0.1
veth_pair "mcb-tx-$$" "mcb-rx-$$" 99
HAVE_ETHTOOL=$(command -v ethtool >/dev/null && echo 1 || echo 0)
if [[ " $PARTS " == *" wire "* ]] && [ "$HAVE_ETHTOOL" = 1 ]; then
    # Trains cut in software at the sending veth; the receiving veth without GRO, then with it.
    veth_pair "mcb-swtx-$$" "mcb-swrx-$$" 97
    veth_pair "mcb-grtx-$$" "mcb-grrx-$$" 96
    for ns in "mcb-swtx-$$" "mcb-grtx-$$"; do ip netns exec "$ns" ethtool -K va tx-udp-segmentation off; done
    ip netns exec "mcb-swrx-$$" ethtool -K vb gro off
    ip netns exec "mcb-grrx-$$" ethtool -K vb gro on
fi

# topology -> sender namespace, receiver namespace, sender iface/address, receiver iface/address
topo() {
    case $1 in
        lo) echo "$NS_LO $NS_LO lo 127.0.0.1 lo 127.0.0.1" ;;
        veth) echo "mcb-tx-$$ mcb-rx-$$ va 10.99.0.1 vb 10.99.0.2" ;;
        veth-sw) echo "mcb-swtx-$$ mcb-swrx-$$ va 10.97.0.1 vb 10.97.0.2" ;;
        veth-sw-gro) echo "mcb-grtx-$$ mcb-grrx-$$ va 10.96.0.1 vb 10.96.0.2" ;;
        fan*) echo "mcb-ftx-$$ mcb-f${1#fan}-$$ va 10.95.0.1 vb 10.95.0.$((10 + ${1#fan}))" ;;
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

# CPU nanoseconds per datagram: the user + system seconds bench/cpu.c wrote to $1, over $2 datagrams.
cpu_ns() { awk -v n="$2" '{ printf "%.0f", (n > 0 ? ($2 + $4) * 1e9 / n : 0) }' "$1" 2>/dev/null || echo "?"; }

# One run: prints "rate loss tx-ns rx-ns" (received datagrams/s, lost datagrams, CPU ns per datagram of the
# sender per datagram sent and of the receiver per datagram received; "-" for a loss not known).
measure() {
    local t=$1 size=$2 tool=$3 group=239.99.0.1 port=$((PORT++))
    read -r stx srx txif txaddr rxif rxaddr <<<"$(topo "$t")"
    local log txlog txcpu rxcpu r l sent
    log=$(mktemp) txlog=$(mktemp) txcpu=$(mktemp) rxcpu=$(mktemp)
    # As many datagrams a train as mcast perf sends: 64, or as many as fit the largest UDP payload.
    local segs=$((65507 / size))
    [ "$segs" -gt 64 ] && segs=64
    case $tool in
        iperf2)
            rx "$srx" "$OUT/cpu" "$rxcpu" timeout $((SECS + 4)) iperf -s -u -B "$group" -p "$port" -y C >"$log" 2>/dev/null &
            local pid=$!
            sleep 0.5
            tx "$stx" "$OUT/cpu" "$txcpu" iperf -c "$group" -p "$port" -u -b 100G -l "$size" -t "$SECS" -T 1 -B "$txaddr" >/dev/null 2>&1 || true
            wait "$pid" || true
            # Server CSV: ...,interval,bytes,bits/s,jitter,lost,total,...: rate from received over the interval.
            read -r r l sent < <(awk -F, 'NF >= 12 && $12 > 0 { split($7, iv, "-"); secs = iv[2] - iv[1]; if (secs <= 0) secs = 1;
                       print int(($12 - $11) / secs), $11, $12; exit }' "$log")
            ;;
        c-sendto | c-gso | c-gro | mcast\>c-gro)
            local gro=() how=gso
            [ "$tool" = c-gro ] || [ "$tool" = "mcast>c-gro" ] && gro=(gro)
            [ "$tool" = c-sendto ] && how=sendto
            rx "$srx" "$OUT/cpu" "$rxcpu" "$OUT/brecv" "$group" "$port" "$rxaddr" 1 "${gro[@]}" >"$log" 2>/dev/null &
            local pid=$!
            sleep 0.5
            if [ "$tool" = "mcast>c-gro" ]; then
                tx "$stx" "$OUT/cpu" "$txcpu" "$MCAST" perf "$group:$port" --iface "$txif" --rate max --time "$SECS" \
                    --size "$size" --interval 0 --json -q >"$txlog"
                sent=$(sed -n 's/.*"type":"sender".*"sent":\([0-9]*\).*/\1/p' "$txlog")
            else
                # Paced (RATE=Npps) as mcast perf paces, or flat out.
                tx "$stx" "$OUT/cpu" "$txcpu" "$OUT/bsend" "$how" "$group" "$port" "$size" "$SECS" "$txaddr" "$segs" \
                    ${RATE:+"${RATE%pps}"} >"$txlog"
                sent=$(awk '{ print $2 }' "$txlog")
            fi
            wait "$pid"
            read -r r l < <(awk '{ print int($8), $4 }' "$log")
            # mcast perf's datagrams do not carry brecv's sequence numbers: loss from what was sent.
            [ "$tool" = "mcast>c-gro" ] && l=$(awk '{ print $2 }' "$log" | awk -v s="${sent:-0}" '{ print (s > $1 ? s - $1 : 0) }')
            ;;
        mcast | mcast-nogro)
            local gro=--gro
            [ "$tool" = mcast-nogro ] && gro=--no-gro
            rx "$srx" "$OUT/cpu" "$rxcpu" "$MCAST" perf --serve "$group:$port" --iface "$rxif" --timeout 1 --interval 0 \
                "$gro" --json -q >"$log" 2>/dev/null &
            local pid=$!
            sleep 0.5
            tx "$stx" "$OUT/cpu" "$txcpu" "$MCAST" perf "$group:$port" --iface "$txif" --rate "${RATE:-max}" --time "$SECS" \
                --size "$size" --interval 0 --json -q >"$txlog"
            wait "$pid" || true
            sent=$(sed -n 's/.*"type":"sender".*"sent":\([0-9]*\).*/\1/p' "$txlog")
            read -r r l < <(sed -n 's/.*"type":"session".*"lost":\([0-9]*\).*"pps":\([0-9.]*\).*/\2 \1/p' "$log" | awk '{ print int($1), $2 }')
            ;;
    esac
    local received
    received=$(awk -v s="${sent:-0}" -v l="${l:-0}" 'BEGIN { print (s > l ? s - l : 0) }')
    echo "${r:-?} ${l:-?} $(cpu_ns "$txcpu" "${sent:-0}") $(cpu_ns "$rxcpu" "$received")"
    rm -f "$log" "$txlog" "$txcpu" "$rxcpu"
}

# The highest paced rate (datagrams/s) at which `tool` (mcast, or c-gro: the C pair, paced alike) lost nothing,
# searched between 0 and `hi` in halvings of the interval, then held again for twice as long and lowered by 5 %
# steps until that holds too. Prints the rate and what the last run at it lost.
zero_loss() {
    local t=$1 size=$2 hi=$3 tool=$4 lo=0 r l=1 i
    for i in 1 2 3 4 5 6; do
        r=$(( (lo + hi + 1) / 2 ))
        [ "$i" = 1 ] && r=$hi
        read -r _ l _ <<<"$(RATE="${r}pps" measure "$t" "$size" "$tool")"
        if [ "${l:-1}" = 0 ]; then
            lo=$r
            [ "$i" = 1 ] && break
        else
            hi=$r
        fi
    done
    for i in 1 2 3; do
        [ "$lo" -gt 0 ] || break
        read -r _ l _ <<<"$(SECS=$((SECS * 2)) RATE="${lo}pps" measure "$t" "$size" "$tool")"
        [ "${l:-1}" = 0 ] && break
        [ "$i" = 3 ] || lo=$((lo * 95 / 100))
    done
    echo "$lo ${l:-?}"
}

# Flat-out rows for each topology in $1 and size, then the ratios: mcast over the C GRO pair (the kernel's
# ceiling by the same path) and over iperf2, flat out and at zero loss, and the CPU time per datagram of each
# side against the C pair's. The rows compared with the ceiling (c-gro, mcast, mcast>c-gro) run in
# BENCH_ROUNDS rounds (default 5), one after the other in a rotating order, each round's row printed with its
# number: the figures are the medians over the rounds and the ratios the medians of the ratios within each
# round, so that the drifts of a shared machine (several per cent from one run to the next) fall on both
# sides of a ratio alike. With $2 = search, the paced rows (mcast@c-gro, mcast@0loss, c-gro@0loss) too.
throughput() {
    local topos=$1 search=${2:-} t size tool r l txn rxn round rounds=${BENCH_ROUNDS:-5}
    local results=() log
    log=$(mktemp)
    printf '%-11s %5s  %-15s %12s %10s %8s %8s\n' topo size tool "received/s" lost "tx ns/dg" "rx ns/dg"
    for t in $topos; do
        for size in 64 1400; do
            declare -A rate=() txns=() rxns=()
            : >"$log"
            for tool in iperf2 c-sendto c-gso mcast-nogro; do
                read -r r l txn rxn <<<"$(measure "$t" "$size" "$tool")"
                printf '%-11s %5s  %-15s %12s %10s %8s %8s\n' "$t" "$size" "$tool" "${r:-?}" "${l:-?}" "${txn:-?}" "${rxn:-?}"
                rate[$tool]=${r:-0}
            done
            local order=(c-gro mcast "mcast>c-gro")
            for round in $(seq "$rounds"); do
                for tool in "${order[@]}"; do
                    read -r r l txn rxn <<<"$(measure "$t" "$size" "$tool")"
                    echo "$round $tool ${r:-0} ${txn:-0} ${rxn:-0} ${l:-?}" >>"$log"
                    printf '%-11s %5s  %-15s %12s %10s %8s %8s\n' "$t" "$size" "$tool #$round" "${r:-?}" "${l:-?}" "${txn:-?}" "${rxn:-?}"
                done
                order=("${order[@]:1}" "${order[0]}")
            done
            for tool in c-gro mcast "mcast>c-gro"; do
                rate[$tool]=$(awk -v t="$tool" '$2 == t { print $3 }' "$log" | median)
                txns[$tool]=$(awk -v t="$tool" '$2 == t { print $4 }' "$log" | median)
                rxns[$tool]=$(awk -v t="$tool" '$2 == t { print $5 }' "$log" | median)
            done
            rate[paced]=0 rate[zero]=0 rate[czero]=0
            if [ "$search" = search ]; then
                # mcast paced at the C GRO pair's received rate: does it deliver that rate without loss?
                read -r r l txn rxn <<<"$(RATE="${rate[c-gro]}pps" measure "$t" "$size" mcast)"
                rate[paced]=${r:-0}
                printf '%-11s %5s  %-15s %12s %10s %8s %8s\n' "$t" "$size" "mcast@c-gro" "${r:-?}" "${l:-?}" "${txn:-?}" "${rxn:-?}"
                # The highest lossless paced rate of each: flat out, neither side always loses nothing.
                read -r r l <<<"$(zero_loss "$t" "$size" "${rate[mcast]}" mcast)"
                rate[zero]=${r:-0}
                printf '%-11s %5s  %-15s %12s %10s\n' "$t" "$size" "mcast@0loss" "${r:-?}" "${l:-?}"
                read -r r l <<<"$(zero_loss "$t" "$size" "${rate[c-gro]}" c-gro)"
                rate[czero]=${r:-0}
                printf '%-11s %5s  %-15s %12s %10s\n' "$t" "$size" "c-gro@0loss" "${r:-?}" "${l:-?}"
            fi
            local lost_mcast
            lost_mcast=$(awk '$2 == "mcast" { s += ($6 == "?" ? 0 : $6) } END { print s + 0 }' "$log")
            results+=("$(awk -v t="$t" -v s="$size" -v m="${rate[mcast]}" -v i="${rate[iperf2]}" -v g="${rate[c-gro]}" \
                -v rm="$(round_ratio "$log" mcast c-gro 3)" -v rx="$(round_ratio "$log" "mcast>c-gro" c-gro 3)" \
                -v p="${rate[paced]}" -v z="${rate[zero]}" -v cz="${rate[czero]}" -v lost="$lost_mcast" -v n="$rounds" \
                -v mt="${txns[mcast]}" -v ct="${txns[c-gro]}" -v mr="${rxns[mcast]}" -v cr="${rxns[c-gro]}" 'BEGIN {
                split(rm, a, " "); split(rx, b, " ")
                printf "%-11s %5s  mcast/C-GRO %5.2fx (%4.2f-%4.2f, lost %d in %d rounds)  mcast>C-GRO/C-GRO %5.2fx  mcast/iperf2 %6.2fx  CPU/dg mcast/C: tx %5.2fx rx %5.2fx",
                    t, s, a[1], a[2], a[3], lost, n, b[1], (i ? m / i : 0), (ct ? mt / ct : 0), (cr ? mr / cr : 0)
                if (p || z) printf "   mcast@c-gro/C-GRO %4.2fx  0-loss mcast/C-GRO@0loss %4.2fx", (g ? p / g : 0), (cz ? z / cz : 0) }')")
            unset rate txns rxns
        done
    done
    rm -f "$log"
    echo
    echo "(mcast/C-GRO and mcast>C-GRO/C-GRO: the median of the rounds' ratios, with their range for mcast)"
    printf '%s\n' "${results[@]}"
}

# Part "fanout": one sender in namespace "ftx" behind a bridge (in "fbr", multicast snooping off, so every port
# gets every datagram) to four receiver namespaces "f1".."f4", all receivers on the receiver core. For each tool
# and size: the sender's rate and CPU time per datagram sent (paid once), each receiver's rate, loss and CPU.
fanout() {
    local ftx=mcb-ftx-$$ fbr=mcb-fbr-$$ i
    mkns "$ftx"
    mkns "$fbr"
    ip -n "$fbr" link add br0 type bridge mcast_snooping 0
    ip -n "$fbr" link set br0 up
    for i in 0 1 2 3 4; do
        local ns=$ftx end=va addr=10.95.0.1
        if [ "$i" -gt 0 ]; then
            ns=mcb-f$i-$$ end=vb addr=10.95.0.$((10 + i))
            mkns "$ns"
        fi
        ip link add "mcb-p$i-$$" type veth peer name "mcb-q$i-$$"
        ip link set "mcb-p$i-$$" netns "$ns" name "$end"
        ip link set "mcb-q$i-$$" netns "$fbr" name "p$i"
        ip -n "$fbr" link set "p$i" master br0 up
        ip -n "$ns" addr add "$addr/24" dev "$end"
        ip -n "$ns" link set "$end" up multicast on
        ip -n "$ns" route add 224.0.0.0/4 dev "$end"
    done
    printf '%-6s %5s  %-7s %12s %9s   %s\n' fanout size tool "sent/s" "tx ns/dg" "receivers 1-4: received/s lost rx-ns/dg"
    local size tool group=239.99.2.1
    for size in 64 1400; do
        for tool in iperf2 c-gro mcast; do
            local port=$((PORT++)) logs=() cpus=() pids=() txlog txcpu sent=0 secs=$SECS
            txlog=$(mktemp) txcpu=$(mktemp)
            for i in 1 2 3 4; do
                logs[i]=$(mktemp) cpus[i]=$(mktemp)
                local rxns=mcb-f$i-$$ rxaddr=10.95.0.$((10 + i))
                case $tool in
                    iperf2) rx "$rxns" "$OUT/cpu" "${cpus[i]}" timeout $((SECS + 4)) iperf -s -u -B "$group" -p "$port" -y C >"${logs[i]}" 2>/dev/null & ;;
                    c-gro) rx "$rxns" "$OUT/cpu" "${cpus[i]}" "$OUT/brecv" "$group" "$port" "$rxaddr" 1 gro >"${logs[i]}" 2>/dev/null & ;;
                    mcast) rx "$rxns" "$OUT/cpu" "${cpus[i]}" "$MCAST" perf --serve "$group:$port" --iface vb --timeout 1 \
                        --interval 0 --json -q >"${logs[i]}" 2>/dev/null & ;;
                esac
                pids[i]=$!
            done
            sleep 0.7
            local segs=$((65507 / size))
            [ "$segs" -gt 64 ] && segs=64
            case $tool in
                iperf2) tx "$ftx" "$OUT/cpu" "$txcpu" iperf -c "$group" -p "$port" -u -b 100G -l "$size" -t "$SECS" -T 1 \
                    -B 10.95.0.1 >/dev/null 2>&1 || true ;;
                c-gro) tx "$ftx" "$OUT/cpu" "$txcpu" "$OUT/bsend" gso "$group" "$port" "$size" "$SECS" 10.95.0.1 "$segs" >"$txlog"
                    sent=$(awk '{ print $2 }' "$txlog") ;;
                mcast) tx "$ftx" "$OUT/cpu" "$txcpu" "$MCAST" perf "$group:$port" --iface va --rate max --time "$SECS" \
                    --size "$size" --interval 0 --json -q >"$txlog"
                    sent=$(sed -n 's/.*"type":"sender".*"sent":\([0-9]*\).*/\1/p' "$txlog") ;;
            esac
            local line=""
            for i in 1 2 3 4; do
                wait "${pids[i]}" || true
                local r l
                case $tool in
                    iperf2) read -r r l s < <(awk -F, 'NF >= 12 && $12 > 0 { split($7, iv, "-"); d = iv[2] - iv[1]; if (d <= 0) d = 1;
                        print int(($12 - $11) / d), $11, $12; exit }' "${logs[i]}")
                        [ "${s:-0}" -gt "$sent" ] && sent=$s ;;
                    c-gro) read -r r l < <(awk '{ print int($8), $4 }' "${logs[i]}") ;;
                    mcast) read -r r l < <(sed -n 's/.*"type":"session".*"lost":\([0-9]*\).*"pps":\([0-9.]*\).*/\2 \1/p' "${logs[i]}" |
                        awk '{ print int($1), $2 }') ;;
                esac
                line+=$(printf ' %10s %8s %5s |' "${r:-?}" "${l:-?}" "$(cpu_ns "${cpus[i]}" $(( ${sent:-0} - ${l:-0} )))")
                rm -f "${logs[i]}" "${cpus[i]}"
            done
            printf '%-6s %5s  %-7s %12s %9s  %s\n' bridge "$size" "$tool" "$(awk -v n="$sent" -v s="$secs" 'BEGIN { printf "%d", n / s }')" \
                "$(cpu_ns "$txcpu" "$sent")" "$line"
            rm -f "$txlog" "$txcpu"
        done
    done
}

# Part "scale" (see the header). The receiver's CPU time comes from /proc/PID/schedstat before and after
# the fixed-rate run, so the joining is not in it; loss is the kernel's count of drops on the receiver's sockets
# (/proc/net/udp and udp6 in its namespace), read before and after each trial.
SC_TX=mcb-stx-$$ SC_RX=mcb-srx-$$
alive() { local st; st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) && [ -n "$st" ] && [ "$st" != Z ]; }
# CPU time in nanoseconds: the scheduler's exact count (/proc/PID/schedstat), not the clock ticks of
# /proc/PID/stat, whose 10 ms steps are several per cent of a row's time.
cpu_ns_of() { awk '{ print $1 }' "/proc/$1/schedstat" 2>/dev/null || echo 0; }
udp_drops() { ip netns exec "$SC_RX" cat /proc/net/udp /proc/net/udp6 | awk 'NR > 1 && $NF ~ /^[0-9]+$/ { d += $NF } END { print d + 0 }'; }

# One receiver up in the scale namespaces: "$@" is its command line (mcast recv ...). Prints "pid join-ms", the
# join "n/a" when the receiver was not listening by the row's time cap.
scale_start() {
    local err=$1 t0 up=0
    shift
    t0=$(date +%s%N)
    ip netns exec "$SC_RX" taskset -c "$RX_CORE" "$MCAST" recv "$@" >/dev/null 2>"$err" &
    local pid=$!
    while [ "$(date +%s)" -lt "$SC_DEADLINE" ]; do
        if [[ " $* " == *" -q "* ]]; then
            [ -n "$(ip netns exec "$SC_RX" ss -Hlun "sport = :$SC_PORT" 2>/dev/null)" ] && up=1
        else
            grep -q listening "$err" && up=1
        fi
        [ "$up" = 1 ] && break
        sleep 0.005
    done
    [ "$up" = 1 ] && echo "$pid $(( ($(date +%s%N) - t0) / 1000000 ))" || echo "$pid n/a"
}

# One paced trial of spread ("$@": its arguments but rate and seconds) at rate $1 (0: flat out) for 1 s. Prints
# what it sent (empty when it did not end on time) and the drops on the receiver's sockets meanwhile.
scale_trial() {
    local rate=$1 d0 n
    shift
    d0=$(udp_drops)
    n=$(tx "$SC_TX" timeout 5 "$OUT/spread" "$@" "$rate" 1 | awk '{ print $2 }') || true
    sleep 0.2
    echo "${n:-} $(( $(udp_drops) - d0 ))"
}

# The highest rate (datagrams/s sent in a 1 s trial of spread) that the receiver took without a drop. A first
# trial flat out measures what the sender can send: if the receiver lost nothing of it, that is the figure,
# marked "+" (the sender was the limit, not the receiver); else the offered rate is searched in six halvings
# between 0 and it, reporting what spread actually sent. The search stops at the row's time cap
# (SC_DEADLINE); "n/a (time cap)" when no trial without loss was made by then.
scale_zero_loss() {
    local lo=0 hi n d i r best=
    read -r n d <<<"$(scale_trial 0 "$@")"
    if [ -n "$n" ] && [ "$d" = 0 ]; then
        echo "$n+"
        return
    fi
    hi=${n:-1000000}
    for i in 1 2 3 4 5 6; do
        [ "$(date +%s)" -lt "$SC_DEADLINE" ] || break
        r=$(( (lo + hi) / 2 ))
        read -r n d <<<"$(scale_trial "$r" "$@")"
        if [ -n "$n" ] && [ "$d" = 0 ]; then lo=$r best=$n; else hi=$r; fi
    done
    echo "${best:-n/a (time cap)}"
}

# One row: the receiver ("$1": what it holds; then its recv arguments after --) fed by spread ($2 group, $3
# groups, $4 sources). Every step is bounded (BENCH_SCALE_CAP seconds for the row, each run of spread ending
# on time), so a slow step says "n/a" in its column rather than stopping the bench.
scale_row() {
    local what=$1 first=$2 n=$3 sources=$4 err pid join c0 c1 sent t0 leave zero cpu
    shift 4
    err=$(mktemp)
    SC_DEADLINE=$(( $(date +%s) + SCALE_CAP ))
    # No interval lines (--interval 0): a line per group each second is reporting, not per-datagram work.
    read -r pid join <<<"$(scale_start "$err" "$@" --iface vb --rcvbuf 8388608 --interval 0)"
    sent="n/a" cpu="n/a" zero="n/a (time cap)"
    if [ "$join" != n/a ]; then
        # Joining sends each group's unsolicited reports for a second or two (IGMPv3, MLDv2): let them pass, so
        # that their cost is not counted to the datagrams.
        sleep "$SCALE_SETTLE"
        c0=$(cpu_ns_of "$pid")
        sent=$(tx "$SC_TX" timeout $((SECS + 5)) "$OUT/spread" "$first" "$n" "$SC_PORT" va "$sources" "$SCALE_RATE" "$SECS" |
            awk '{ print $2 }') || true
        sleep 0.2
        c1=$(cpu_ns_of "$pid")
        if [ -n "$sent" ]; then
            cpu=$(awk -v c=$((c1 - c0)) -v n="$sent" 'BEGIN { printf "%.0f", n ? c / n : 0 }')
        else
            sent="n/a"
        fi
        zero=$(scale_zero_loss "$first" "$n" "$SC_PORT" va "$sources")
    fi
    t0=$(date +%s%N)
    kill -INT "$pid" 2>/dev/null || true
    # Not this shell's child (scale_start ran in a subshell), so `wait` cannot time its exit: watched instead,
    # for at most 10 s, until it is gone or a zombie (whoever inherited it may reap it late).
    local i
    for i in $(seq 2000); do
        alive "$pid" || break
        sleep 0.005
    done
    leave=$(( ($(date +%s%N) - t0) / 1000000 ))
    if alive "$pid"; then
        leave="n/a"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    printf '%-22s %8s %9s %10s %12s %12s\n' "$what" "$join" "$leave" "$sent" "$cpu" "$zero"
    SC_CPU=$cpu
    rm -f "$err"
}

# After a layout's rows: the receiver's CPU per datagram at the most groups (or senders) over that at the
# fewest, the flatness the part is about ($1: what grew; SC_FIRST and SC_CPU: the two rows' figures).
scale_growth() {
    case "$SC_FIRST$SC_CPU" in
        *n/a*) echo "  $1: rx ns/dg growth n/a" ;;
        *) awk -v a="$SC_FIRST" -v b="$SC_CPU" -v w="$1" 'BEGIN { if (a > 0) printf "  %s: rx ns/dg %.2fx the fewest\n", w, b / a }' ;;
    esac
}

# One layout's rows over BENCH_SCALE_GROUPS: $1 its label, $2 the family (4 or 6), $3 the groups' block
# (the third octet of 239.N.0.0, or the ff15::N:0 prefix), then the recv options that make the layout.
scale_layout() {
    local label=$1 fam=$2 block=$3 n last first spec
    shift 3
    for n in $SCALE_GROUPS; do
        SC_PORT=$((PORT++))
        if [ "$fam" = 4 ]; then
            first="239.$block.0.0"
            last=$(awk -v n="$n" -v b="$block" 'BEGIN { v = n - 1; printf "239.%d.%d.%d", b, int(v / 256), v % 256 }')
            spec="$first-$last:$SC_PORT"
            # One group written twice: a list, so that the many-group receiver takes it too.
            [ "$n" = 1 ] && spec="$first:$SC_PORT,$first:$SC_PORT"
        else
            first="ff15::$block:0"
            last=$(awk -v n="$n" -v b="$block" 'BEGIN { printf "ff15::%s:%x", b, n - 1 }')
            spec="[$first-$last]:$SC_PORT"
            [ "$n" = 1 ] && spec="[$first]:$SC_PORT,[$first]:$SC_PORT"
        fi
        scale_row "$n IPv$fam $label" "$first" "$n" 1 "$spec" "$@"
        [ "$n" = "${SCALE_GROUPS%% *}" ] && SC_FIRST=$SC_CPU
    done
    scale_growth "IPv$fam $label, ${SCALE_GROUPS##* } groups"
}

scale() {
    veth_pair "$SC_TX" "$SC_RX" 94
    sleep 2 # IPv6 link-local addresses past duplicate address detection
    printf '%-22s %8s %9s %10s %12s %12s\n' "receiver holds" "join ms" "leave ms" "sent@rate" "rx ns/dg" "0-loss/s"
    local n layout
    for layout in $SCALE_LAYOUTS; do
        case $layout in
            # The sockets of 20 memberships (IPv4; IPv6 as option memory allows) bound to the port.
            port) scale_layout groups 4 100 && scale_layout groups 6 100 ;;
            # Each group bound to its own socket (--bind-group): the kernel finds a datagram's socket by its
            # address instead of asking every socket on the port.
            bound) scale_layout bound 4 102 --bind-group && scale_layout bound 6 102 --bind-group ;;
            # One socket reads the port with IP_MULTICAST_ALL on and no membership (--one-reader), unbound
            # sockets hold the memberships: no list walked per datagram, no socket cold.
            one-reader) scale_layout "one reader" 4 103 --one-reader && scale_layout "one reader" 6 103 --one-reader ;;
            *) echo "BENCH_SCALE_LAYOUTS: unknown layout $layout (port, bound, one-reader)" >&2 ;;
        esac
    done
    for n in $SCALE_SENDERS; do
        SC_PORT=$((PORT++))
        # The one-group receiver, whose table of senders is bounded (4096): no line per datagram.
        scale_row "1 group, $n senders" 239.101.0.1 1 "$n" "239.101.0.1:$SC_PORT" -q
        [ "$n" = "${SCALE_SENDERS%% *}" ] && SC_FIRST=$SC_CPU
    done
    scale_growth "1 group, ${SCALE_SENDERS##* } senders"
    echo "(0-loss/s N+: nothing lost at the sender's flat-out rate, the sender the limit; n/a: not measured within"
    echo " BENCH_SCALE_CAP=$SCALE_CAP s for the row, or a run of spread that did not end on time)"
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
    local stx=$1 srx=$2 txif=$3 txaddr=$4 rxif=$5 rxaddr=$6 mode=$7 loop=${8:-} group=239.99.1.1 busy=() mbusy=()
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
    local runs=("c-alone $r_alone $p_alone c" "c-both $r_both $p_both c both $loop" "mcast $r_mcast $p_mcast mcast"
        "x-mcast-responder $r_mcast $p_mcast c both $loop" "x-mcast-prober $r_both $p_both mcast")
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

# Topologies: "lo", the responders in the prober's own namespace (members of the group on its host, so every
# probe is looped back to the prober's joined socket too, and dropped there by its filter: a copy the kernel
# makes before the probe leaves); "veth", the responders in another namespace across a veth pair, as a real
# ping crosses a link: the prober is its host's only member, so it turns IP_MULTICAST_LOOP off and the kernel
# makes no copy, and the C prober doing the whole job does the same ("noloop"). BENCH_PING_TOPOS picks them.
round_trips() {
    printf '%-13s %-8s %9s %9s %9s  %-20s %-20s  %-26s  %s\n' topo mode "C alone" "C both" mcast \
        "mcast/C alone" "mcast/C both" "multicast: C, mcast, ratio" "/C both: mcast responder, prober"
    local t label loop
    for t in ${BENCH_PING_TOPOS:-lo veth}; do
        read -r stx srx txif txaddr rxif rxaddr <<<"$(topo "$t")"
        label="$t (same ns)" loop=""
        [ "$t" = veth ] && label="veth (link)" loop=noloop
        for mode in blocking busy; do
            local log; log=$(mktemp)
            ping_rounds "$stx" "$srx" "$txif" "$txaddr" "$rxif" "$rxaddr" "$mode" "$loop" >"$log"
            local ca cb m cbm mm
            ca=$(awk '$2 == "c-alone" { print $3 }' "$log" | median)
            cb=$(awk '$2 == "c-both" { print $3 }' "$log" | median)
            cbm=$(awk '$2 == "c-both" { print $4 }' "$log" | median)
            m=$(awk '$2 == "mcast" { print $3 }' "$log" | median)
            mm=$(awk '$2 == "mcast" { print $4 }' "$log" | median)
            awk -v t="$label" -v mode="$mode" -v ca="$ca" -v cb="$cb" -v m="$m" -v cbm="$cbm" -v mm="$mm" \
                -v ra="$(round_ratio "$log" mcast c-alone 3)" -v rb="$(round_ratio "$log" mcast c-both 3)" \
                -v rm="$(round_ratio "$log" mcast c-both 4)" -v xr="$(round_ratio "$log" x-mcast-responder c-both 3)" \
                -v xp="$(round_ratio "$log" x-mcast-prober c-both 3)" 'BEGIN {
                split(ra, a, " "); split(rb, b, " "); split(rm, c, " "); split(xr, x, " "); split(xp, y, " ")
                printf "%-13s %-8s %9.3f %9.3f %9.3f  %5.2fx (%4.2f-%4.2f)   %5.2fx (%4.2f-%4.2f)   %7.3f %7.3f %5.2fx   %5.2fx %5.2fx\n",
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
        throughput) throughput "${BENCH_TOPOS:-lo veth}" search ;;
        wire)
            if [ "$HAVE_ETHTOOL" = 1 ]; then echo; throughput "veth-sw veth-sw-gro"
            else echo "bench: part wire needs ethtool (apt-get install ethtool); skipped" >&2; fi ;;
        fanout) echo; fanout ;;
        ping) echo; round_trips ;;
        scale) echo; scale ;;
        capi) echo; capi ;;
        *) echo "bench: unknown part $part (throughput, wire, fanout, ping, scale, capi)" >&2; exit 2 ;;
    esac
done
