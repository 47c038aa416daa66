#!/usr/bin/env bash
# Splits each resolver's CPU per query into user and kernel time, on the mixes of ../shared/bench.
#
#   bench/cpu-split/run.sh                                   # Unbound, dnsdist and Palisade, hit and miss
#   RESOLVERS="unbound" MIXES="miss=0,0,100" bench/cpu-split/run.sh
#
# The harness reports CPU % and QPS per core, the sum of both times. This copies the harness to a
# temporary directory, adds a line that records utime and stime (/proc/PID/stat) and the box's busy and
# idle ticks (/proc/stat) around each dnsperf run (harness.patch), runs it through bench/run.sh, and
# prints microseconds of user and kernel CPU per answered query. Any bench/run.sh variable works
# (BENCH_BIN, SUT_NAME, PALISADE_QUERY_LOG__STORE=false, M, DURATION...).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SHARED=${SHARED_BENCH:-$ROOT/../shared/bench}
WORK=$(mktemp -d /tmp/cpu-split.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cp -r "$SHARED" "$WORK/bench"
patch -s -d "$WORK/bench" -p1 < "$HERE/harness.patch"
export CPULOG="$WORK/cpu.log"
RESULTS=${RESULTS:-$WORK/results.tsv}
: "${RESOLVERS:=unbound dnsdist}" "${MIXES:=hit=100,0,0 miss=0,0,100}"
: "${DURATION:=10}" "${LAT_DURATION:=3}" "${BASELINE:=0}"
export RESOLVERS MIXES DURATION LAT_DURATION BASELINE RESULTS
SHARED_BENCH="$WORK/bench" "$ROOT/bench/run.sh" >&2
python3 "$HERE/split.py" "$RESULTS" "$CPULOG" "$DURATION"
