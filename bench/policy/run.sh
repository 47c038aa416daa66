#!/bin/sh
# Builds the policy benchmark in release mode, generates synthetic feeds of 1M and 10M rules, and reports
# load time (wall and CPU), index size, RSS (current and peak), lookup cost and allocations per lookup.
# Usage: bench/policy/run.sh [workdir]   (default /tmp/palisade-policy-bench; needs ~700 MB of disk)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=${1:-/tmp/palisade-policy-bench}
mkdir -p "$work"
cd "$here"
swift build -c release --product policy-bench
bench="$here/.build/release/policy-bench"
cc -O2 -shared -fPIC -o "$work/malloc-count.so" malloc-count.c
for n in 1000000 10000000; do
    for kind in rpz domains hosts; do
        file="$work/$kind-$n.txt"
        [ -f "$file" ] || "$bench" gen "$kind" "$n" "$file"
    done
done
"$bench" parse "$work/rpz-1000000.txt"
for kind in rpz domains hosts; do
    echo "== $kind, 1M rules, streamed from the file (start-up from the data directory)"
    LD_PRELOAD="$work/malloc-count.so" "$bench" load "$kind" "$work/$kind-1000000.txt"
done
echo "== rpz, 1M rules, from memory (a refresh: fetched bytes + index)"
"$bench" load-memory rpz "$work/rpz-1000000.txt"
for kind in rpz domains; do
    echo "== $kind, 10M rules"
    "$bench" load "$kind" "$work/$kind-10000000.txt"
done
