#!/usr/bin/env bash
# Allocations per query on one mix of ../shared/bench's data, with the query log off.
#
#   bench/alloc-count/run.sh BIN [MIX] [N]     # MIX: hit, block or miss (default miss), N queries (default 100000)
#
# Starts NSD with the harness's zone and Palisade (BIN) in front of it under an LD_PRELOAD counter of
# malloc/calloc/realloc, warms the cache (hit) or the rest of the path (block, miss: other names of the mix) with dnsperf, then counts the
# allocations made while N further queries are answered. The data directory comes from a harness run
# (bench/run.sh creates it under /tmp/dnsbench).
set -euo pipefail
. "$(cd "$(dirname "$0")" && pwd)/../common/nsd.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$1; MIX=${2:-miss}; N=${3:-100000}
D=$(ls -d /tmp/dnsbench/data-N10000-M10000-* 2>/dev/null | head -1)
[ -n "$D" ] || { echo "alloc-count: no /tmp/dnsbench/data-N10000-M10000-*: run bench/run.sh once" >&2; exit 1; }
W=$(mktemp -d /tmp/alloc-count.XXXXXX)
cc -O2 -shared -fPIC -o "$W/alloc-count.so" "$HERE/../policy/malloc-count.c"
AP=$((20000 + RANDOM % 20000)); PP=$((AP + 1))
start_nsd "$D" "$W" $AP
PALISADE_QUERY_LOG__STORE=false LD_PRELOAD="$W/alloc-count.so" "$BIN" serve --listen 127.0.0.1:$PP \
  --upstream 127.0.0.1:$AP --http 127.0.0.1:0 --threads 1 --data-dir "$W/data" --no-default-feeds \
  --rpz "$D/blocklist.rpz" --ready-file "$W/ready" > "$W/pal.log" 2>&1 & PAL=$!
trap 'kill $PAL $NSD 2>/dev/null; wait $PAL $NSD 2>/dev/null; rm -rf "$W"' EXIT
for _ in $(seq 200); do [ -f "$W/ready" ] && break; sleep 0.1; done
sed -n "20001,$((20000 + N))p" "$D/q-$MIX.txt" > "$W/q.txt"
if [ "$MIX" = hit ]; then cp "$W/q.txt" "$W/warm.txt"; else head -20000 "$D/q-$MIX.txt" > "$W/warm.txt"; fi
dnsperf -s 127.0.0.1 -p $PP -d "$W/warm.txt" -n 1 -c 8 -q 100 > /dev/null 2>&1
sleep 2.5; kill -USR2 $PAL; sleep 0.3
dnsperf -s 127.0.0.1 -p $PP -d "$W/q.txt" -n 1 -c 8 -q 100 2>&1 | grep -E "Queries completed"
sleep 0.5; kill -USR2 $PAL; sleep 0.3
grep MALLOCS "$W/pal.log" | awk -v n="$N" '{a[NR]=$2} END {printf "allocations per query: %.1f (%d over %d)\n", (a[2]-a[1])/n, a[2]-a[1], n}'
