#!/bin/sh
# The examples end to end, in a network namespace of their own: client joins 239.255.0.1:5000 on lo and prints
# two datagrams; server sends two lines. Usage: examples.sh DIR (where the built server and client are).
set -eu
dir=$1
out=$(mktemp)
trap 'rm -f "$out"' EXIT
unshare --net sh -eu -c '
    ip link set lo up multicast on
    ip route add 224.0.0.0/4 dev lo src 127.0.0.1
    "$1/client" 239.255.0.1:5000 lo 2 > "$2" &
    client=$!
    # The client has bound and joined once the kernel lists the group on lo (239.255.0.1 is 0100FFEF there).
    tries=0
    until grep -q 0100FFEF /proc/net/igmp; do
        tries=$((tries + 1))
        [ "$tries" -lt 1000 ] || { echo "client never joined" >&2; kill "$client"; exit 1; }
        sleep 0.01
    done
    printf "hello\nmulticast world\n" | "$1/server" 239.255.0.1:5000 lo 1
    wait "$client"
' sh "$dir" "$out"
expected='127\.0\.0\.1:[0-9]* -> 239\.255\.0\.1 on lo: '
if [ "$(wc -l < "$out")" -eq 2 ] && sed -n 1p "$out" | grep -qx "${expected}hello" &&
    sed -n 2p "$out" | grep -qx "${expected}multicast world"; then
    echo "examples: client printed both lines from server"
else
    echo "examples: unexpected client output:" >&2
    cat "$out" >&2
    exit 1
fi
