#!/usr/bin/env bash
# Where Palisade's CPU goes at a fixed offered rate, for A/B runs of two builds whose difference is too small for QPS
# on this 2-core box (run-to-run spread ±20 %): perf samples the whole process at 1,999 Hz with call graphs, then
# share.py prints, for each PATTERN (a regular expression on symbol names), the share of all samples whose stack holds
# a matching frame. At a fixed rate both builds answer the same queries in the same time, so shares and sample counts
# compare directly (a sample is about 0.5 ms of CPU).
#
#   bench/profile/run.sh BIN MIX QPS [PATTERN ...]
#   bench/profile/run.sh /tmp/palisade block 60000 'QueryEventBufferC6record' 'GroupKeyV7stormOf'
#   bench/profile/run.sh /tmp/palisade miss 25000 'LoggedQueryV5event' 'continueHandOver'
#
# Each run starts NSD and Palisade (bench/common/nsd.sh) in a fresh network namespace, warms up for 1 s, runs dnsperf
# at QPS for 14 s and records 8 s of it from the 3rd second. OUT (default /tmp/palisade-profile.data) keeps the perf
# data; `python3 bench/profile/share.py OUT.txt '' self` lists the top symbols by self samples. Only loopback is used.
set -u
if [ -z "${IN_NETNS:-}" ]; then
  exec unshare --net --fork env IN_NETNS=1 bash -c 'ip link set lo up; exec "$@"' profile "$0" "$@"
fi
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../common/nsd.sh"
[ $# -ge 3 ] || { sed -n 2,11p "$0" >&2; exit 2; }
BIN=$1; MIX=$2; QPS=$3; shift 3
OUT=${OUT:-/tmp/palisade-profile.data}
palisade_in_front_of_nsd profile "$MIX" "$BIN"
dnsperf -s 127.0.0.1 -p $PP -d "$D/q-$MIX.txt" -l 1 -c 8 -Q "$QPS" >/dev/null 2>&1
dnsperf -s 127.0.0.1 -p $PP -d "$D/q-$MIX.txt" -l 14 -c 8 -Q "$QPS" > "$W/dp.txt" 2>&1 &
DP=$!
sleep 3
perf record -F 1999 -g -p $PAL -o "$OUT" -- sleep 8 >/dev/null 2>&1
wait $DP
awk '/Queries per second/ {q = $4} /Queries lost/ {l = $3} END {printf "%.0f QPS, %s lost\n", q, l}' "$W/dp.txt"
perf script -i "$OUT" -F comm,tid,ip,sym,dso 2>/dev/null > "$OUT.txt"
python3 "$HERE/share.py" "$OUT.txt" "$@"
