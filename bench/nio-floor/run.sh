#!/usr/bin/env bash
# How close Palisade is to the floor of any SwiftNIO UDP server on this machine, and to the load generator's ceiling.
#
#   bench/nio-floor/run.sh PALISADE_BIN [REPS]     (default 3 alternating repetitions)
#   MIX=block DATA=/tmp/dnsbench/data-N10000-M1000000-s1-w0.1 bench/nio-floor/run.sh PALISADE_BIN
#   MIX=miss bench/nio-floor/run.sh PALISADE_BIN
#
# In a fresh network namespace (as ../shared/bench isolates its runs: no netfilter on loopback), alternates:
#   floor     nio-floor (this package) on one NIO event loop, nothing else: on the hit and block mixes it echoes each
#             query with QR set (the floor of an answer from memory); on the miss mix it relays each query to NSD
#             from one socket under a new ID and the reply back (the floor of a forwarded query, as dnsdist does it)
#   palisade  PALISADE_BIN serve, one event-loop thread, query log on, the harness's RPZ, warmed with warm.txt
#   nsd       dnsperf straight at NSD serving the zone (the load generator's ceiling, as in the harness; on the block
#             mix NSD refuses the names it does not serve, as cheaply as it answers)
# each under the harness's dnsperf arguments (-c 8 -q 100, 10 s, the mix's query file: MIX=hit by default), and
# prints QPS and the server's CPU per query (for the miss mix, NSD's CPU is not counted in the floor's or Palisade's).
# Needs the harness data (DATA, default /tmp/dnsbench/data-N10000-M10000-s1-w0.1).
# The floor's echoed answers carry no records; dnsperf counts them as answered all the same.
set -eu
[ $# -ge 1 ] || { sed -n 2,12p "$0" >&2; exit 2; }
if [ -z "${NIOFLOOR_INNER:-}" ]; then
  exec unshare --net --fork env NIOFLOOR_INNER=1 bash "$0" "$@"
fi
ip link set lo up
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../common/nsd.sh"
BIN=$1; REPS=${2:-3}
D=${DATA:-/tmp/dnsbench/data-N10000-M10000-s1-w0.1}
MIX=${MIX:-hit}
[ -f "$D/q-$MIX.txt" ] || { echo "nio-floor: $D/q-$MIX.txt not found (generate the harness data first)" >&2; exit 1; }
(cd "$HERE" && swift build -c release --product nio-floor >&2)
FLOOR="$HERE/.build/release/nio-floor"
W=$(mktemp -d /tmp/nio-floor.XXXXXX)
trap 'kill $NSD 2>/dev/null; wait $NSD 2>/dev/null; rm -rf "$W"' EXIT
start_nsd "$D" "$W" 5300
sleep 0.5
ticks() { # CPU ticks of PID and its descendants (NSD serves from a grandchild: xfrd, then main, then server)
  local t=0 p
  for p in $(descendants "$1"); do
    # Fields after the command name, which may hold spaces ("nsd: server 1"): utime and stime are the 12th and 13th.
    t=$((t + $(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12+$13}' || echo 0)))
  done
  echo $t
}
descendants() { local c; echo "$1"; for c in $(pgrep -P "$1" 2>/dev/null); do descendants "$c"; done; }
measure() { # measure NAME PID PORT
  dnsperf -s 127.0.0.1 -p "$3" -d "$D/warm.txt" -c 8 -q 100 >/dev/null 2>&1
  local t0 t1 out q
  t0=$(ticks "$2")
  out=$(dnsperf -s 127.0.0.1 -p "$3" -d "$D/q-$MIX.txt" -l 10 -c 8 -q 100 2>&1)
  t1=$(ticks "$2")
  q=$(echo "$out" | awk '/Queries per second/ {print $4}')
  awk -v n="$1" -v q="$q" -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" \
    'BEGIN {printf "%-9s %9.0f QPS  %5.2f µs CPU per query\n", n, q, t / hz * 1e6 / (q * 10)}'
}
for i in $(seq "$REPS"); do
  echo "# repetition $i"
  if [ "$MIX" = miss ]; then "$FLOOR" 5401 127.0.0.1:5300 & P=$!; else "$FLOOR" 5401 & P=$!; fi
  sleep 0.3; measure floor $P 5401; kill $P; wait $P 2>/dev/null || true
  "$BIN" serve --listen 127.0.0.1:5402 --upstream 127.0.0.1:5300 --http 127.0.0.1:5403 --threads 1 \
    --data-dir "$W/data-$i" --no-default-feeds --rpz "$D/blocklist.rpz" --ready-file "$W/ready-$i" >"$W/pal-$i.log" 2>&1 &
  P=$!
  for _ in $(seq 300); do [ -f "$W/ready-$i" ] && break; sleep 0.1; done
  measure palisade $P 5402; kill $P; wait $P 2>/dev/null || true
  measure nsd $NSD 5300
done
