#!/usr/bin/env bash
# CPU per query at a fixed offered rate, split into the direct UDP engine's socket thread (palisade-udp; none with
# udpEngine nio), the event-loop thread and every other thread (the query log's drain and SQLite writer), plus the
# query log's written and dropped counters.
#
#   bench/fixed-rate/run.sh BIN MIX QPS SECONDS [VAR=value ...]
#   bench/fixed-rate/run.sh /tmp/palisade miss 25000 10
#   bench/fixed-rate/run.sh /tmp/palisade block 40000 10 PALISADE_QUERY_LOG__STORE=false
#   SQL="DROP INDEX events_workload_ts" bench/fixed-rate/run.sh /tmp/palisade miss 20000 10   # price an index
#
# At saturation (bench/cpu-split) a 2-core box shares its cores between dnsperf, NSD and every Palisade thread,
# and the split moves with the load; at a fixed rate below saturation the CPU each part spends per query is
# steadier. MIX is hit, block or miss, from the shared harness's data (DATA, default
# /tmp/dnsbench/data-N10000-M10000-s1-w0.1: run ../shared/bench once, or bench/run.sh, to generate it).
# Palisade runs as in production: one event-loop thread, the query log on, the harness's RPZ loaded. After the
# measured run it waits POST seconds (default 12, more than the 10 s aggregation window) so that the rows of the
# run are built and written inside the measurement; the counters then say whether any were dropped. SQL, when
# set, runs against the query-log database once Palisade is ready (sqlite3 CLI). A thread that exits during the
# run is not counted (the Swift concurrency pool and NIO keep theirs). Only loopback is used.
set -u
. "$(cd "$(dirname "$0")" && pwd)/../common/nsd.sh"
[ $# -ge 4 ] || { sed -n 2,8p "$0" >&2; exit 2; }
BIN=$1; MIX=$2; QPS=$3; SEC=$4; shift 4
palisade_in_front_of_nsd fixed-rate "$MIX" "$BIN" "$@"
if [ -n "${SQL:-}" ]; then sqlite3 "$W/data/querylog.sqlite" "$SQL" || exit 1; fi
# Per thread: name, utime, stime (clock ticks).
snap() { for t in /proc/$PAL/task/*; do c=$(cat "$t/comm" 2>/dev/null) || continue; awk -v c="$c" '{print c"\t"$14"\t"$15}' "$t/stat"; done; }
dnsperf -s 127.0.0.1 -p $PP -d "$D/q-$MIX.txt" -l 1 -c 8 -Q "$QPS" >/dev/null 2>&1   # warm-up, not counted
snap > "$W/t0"
OUT=$(dnsperf -s 127.0.0.1 -p $PP -d "$D/q-$MIX.txt" -l "$SEC" -c 8 -Q "$QPS" 2>&1)
sleep "${POST:-12}"
snap > "$W/t1"
curl -s "127.0.0.1:$HP/metrics" | grep -E "^palisade_querylog_(written_total|dropped_total|buffer_dropped_total) " | sort | tr '\n' ' '
echo
python3 - "$W/t0" "$W/t1" "$(echo "$OUT" | awk '/Queries completed/ {print $3}')" "$(getconf CLK_TCK)" \
  "$(echo "$OUT" | awk '/Queries lost/ {print $3}')" <<'PY'
import collections, sys
def load(path):
    d = collections.defaultdict(lambda: [0, 0])
    for line in open(path):
        name, u, s = line.rstrip("\n").split("\t")
        k = "loop" if name.startswith("NIO-ELT") else "socket" if name.startswith("palisade-udp") else "other"
        d[k][0] += int(u); d[k][1] += int(s)
    return d
a, b = load(sys.argv[1]), load(sys.argv[2]); n = int(sys.argv[3]); tck = int(sys.argv[4])
parts = []
for k in ("socket", "loop", "other"):
    u = (b[k][0] - a[k][0]) / tck * 1e6 / n; s = (b[k][1] - a[k][1]) / tck * 1e6 / n
    parts.append(f"{k}: user {u:.2f} kernel {s:.2f}")
print(f"{n} answered, {sys.argv[5]} lost; µs per query: " + " | ".join(parts))
PY
