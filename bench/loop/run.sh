#!/usr/bin/env bash
# The event loop under load, for A/B runs of two builds: how fast, how busy, where its time goes.
#
#   bench/loop/run.sh sat     BIN MIX [VAR=value ...]     # full rate 10 s: QPS, loop and other CPU ticks, box idle
#   bench/loop/run.sh sched   BIN MIX [VAR=value ...]     # full rate: each thread's run and run-queue wait (schedstat)
#   bench/loop/run.sh prof    BIN MIX [VAR=value ...]     # full rate: perf record -g of the loop thread for 8 s
#   bench/loop/run.sh mallocs BIN MIX QPS [VAR=value ...] # fixed rate: heap allocations per query on the loop thread
#   bench/loop/run.sh after   BIN MIX [VAR=value ...]     # the harness's order: full rate 10 s, then 3 s at 2,000 QPS:
#                                                         # the query log's catch-up, and p50/p99 during it
#
# after waits GAP seconds (default 0, as the harness) between the two phases; GAP=2 lets the log catch up first.
# MIX is hit, block or miss from the shared harness's data (DATA, default /tmp/dnsbench/data-N10000-M10000-s1-w0.1;
# run ../shared/bench once to generate it; DATA=…-M1000000-… for the blocked mix at M=1M). VAR=value pairs go into
# Palisade's environment, e.g. PALISADE_QUERY_LOG__STORE=false: with the log off the loop is the only bottleneck,
# which is where a small change shows (with it on, a 2-core box also measures the scheduler). Each run starts NSD and
# Palisade in a fresh network namespace, as the harness does (NO_NETNS=1: in the current one). Load comes from
# dnsperf (-c 8 -q 100) after a 2 s warm-up. prof writes OUT (default /tmp/loop-prof.data) and prints the top
# symbols. mallocs needs a uprobe on glibc's malloc, added once with
#   perf probe -x /lib/x86_64-linux-gnu/libc.so.6 --add malloc     (remove: perf probe -d 'probe_libc:*')
# Alternate the two builds, several pairs: on this machine one pair proves nothing (BENCHMARKS.md, session 15).
# Only loopback is used.
set -u
if [ -z "${IN_NETNS:-}" ] && [ -z "${NO_NETNS:-}" ]; then
  exec unshare --net --fork env IN_NETNS=1 bash -c 'ip link set lo up; exec "$@"' loop "$0" "$@"
fi
. "$(cd "$(dirname "$0")" && pwd)/../common/nsd.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -ge 3 ] || { sed -n 2,7p "$0" >&2; exit 2; }
MODE=$1; BIN=$2; MIX=$3; shift 3
RATE=0
if [ "$MODE" = mallocs ]; then RATE=${1:?mallocs needs a rate}; shift; fi
palisade_in_front_of_nsd loop "$MIX" "$BIN" "$@"
load() { dnsperf -s 127.0.0.1 -p $PP -d "$D/q-$MIX.txt" -c 8 -q 100 "$@"; }
load -l 2 >/dev/null 2>&1
# The thread that reads the client's datagrams: the direct UDP engine's socket thread (palisade-udp), else the first
# event loop (udpEngine nio). sat counts both kinds as "loop".
LOOP=$(for t in /proc/$PAL/task/*; do case $(cat $t/comm) in palisade-udp*) basename $t;; esac; done | head -1)
[ -n "$LOOP" ] || LOOP=$(for t in /proc/$PAL/task/*; do case $(cat $t/comm) in NIO-ELT*) basename $t;; esac; done | head -1)
qps() { awk '/Queries per second/ {printf "qps %.0f", $4}' "$W/dp.txt"; }
case $MODE in
sat)
  ticks() { for t in /proc/$PAL/task/*; do echo "$(cat $t/comm | tr ' ' _) $(awk '{print $14+$15}' $t/stat)"; done; }
  box() { awk '/^cpu / {print $5+$6, $2+$3+$4+$5+$6+$7+$8}' /proc/stat; }
  ticks > "$W/a"; B0=$(box)
  load -l 10 > "$W/dp.txt" 2>&1
  ticks > "$W/b"; B1=$(box)
  echo "$(qps) | $(awk 'NR==FNR {a[NR]=$2; next} {d=$2-a[FNR]; if ($1 ~ /^(NIO-ELT|palisade-udp)/) l+=d; else o+=d}
    END {printf "loop %d other %d ticks", l, o}' "$W/a" "$W/b") | box idle $(echo $B0 $B1 | awk '{printf "%.0f%%", ($3-$1)/($4-$2)*100}')"
  ;;
sched)
  load -l 10 > "$W/dp.txt" 2>&1 & DP=$!
  sleep 1
  snap() { for p in $PAL $(pgrep -f "$W/nsd.conf") $(pgrep -f "dnsperf -s 127.0.0.1 -p $PP "); do for t in /proc/$p/task/*; do
    echo "$p/$(basename $t) $(cat $t/comm | tr ' ' _) $(cat $t/schedstat)"; done; done 2>/dev/null; }
  snap > "$W/a"; sleep 8; snap > "$W/b"
  wait $DP
  qps; echo
  awk 'NR==FNR {r[$1]=$3; w[$1]=$4; next} ($1 in r) {dr=($3-r[$1])/8e7; dw=($4-w[$1])/8e7
    if (dr > 0.5) printf "%-24s run %5.1f%%  wait %5.1f%%\n", $2, dr, dw}' "$W/a" "$W/b"
  ;;
prof)
  OUT=${OUT:-/tmp/loop-prof.data}
  load -l 12 > "$W/dp.txt" 2>&1 & DP=$!
  sleep 2
  perf record -F 1999 -g -t "$LOOP" -o "$OUT" -- sleep 8 >/dev/null 2>&1
  wait $DP
  qps; echo "; profile in $OUT"
  perf report -i "$OUT" --no-children --sort sym --stdio 2>/dev/null | grep -E "^ +[0-9]" | head -30
  ;;
mallocs)
  perf list 2>/dev/null | grep -q probe_libc:malloc || { echo "loop: add the malloc uprobe first (see the header)" >&2; exit 1; }
  load -l 7 -Q "$RATE" > "$W/dp.txt" 2>&1 & DP=$!
  sleep 1
  N=$(perf stat -e probe_libc:malloc -t "$LOOP" -x, -- sleep 5 2>&1 >/dev/null | awk -F, '/malloc/ {print $1}')
  wait $DP
  awk -v n="$N" -v q="$RATE" -v m="$MIX" 'BEGIN {printf "%s at %d/s: %.1f mallocs per query on the loop thread\n", m, q, n/(q*5)}'
  ;;
after)
  # Queries the query log has stored so far (a stored row counts the queries folded into it).
  stored() { curl -s "http://127.0.0.1:$HP/metrics" | awk '/^palisade_querylog_written_queries_total / {print $2}'; }
  load -l 10 > "$W/dp.txt" 2>&1
  sleep "${GAP:-0}"
  S0=$(stored)
  dnsperf -s 127.0.0.1 -p $PP -d "$D/q-$MIX.lat.txt" -l 3 -Q 2000 -v > "$W/lat.txt" 2>&1
  S1=$(stored)
  read -r P50 P99 N < <(python3 "$ROOT/../shared/bench/report.py" latency "$W/lat.txt")
  # The log hands a query to its writer when the query's 10 s aggregation window closes, so what the writer stores
  # during the 3 s is the full-rate phase's backlog: the writer's catch-up, which competes with the answers for CPU.
  echo "$(qps) | gap ${GAP:-0} s | log stored during the next 3 s: $((S1 - S0)) queries | p50 $P50 p99 $P99 ms ($N replies)"
  ;;
*) echo "loop: unknown mode $MODE (sat, sched, prof, mallocs, after)" >&2; exit 2 ;;
esac
