#!/usr/bin/env bash
# Measures Palisade side by side with the peers of ../shared/bench (dnsperf on loopback).
#
#   bench/run.sh                         # all peers, default mixes, RES_THREADS=1
#   RESOLVERS="unbound" bench/run.sh     # a subset
#   SUT_NO_POLICY=1 MIXES='hit=100,0,0 miss=0,0,100' bench/run.sh
#   BENCH_BIN=/tmp/a SUT_NAME=a RESOLVERS=none bench/run.sh   # a prebuilt binary, no build
#
# Builds the release binary first. Palisade runs as in production: query log to SQLite on,
# metrics on, the harness's RPZ loaded. Extra palisade flags go in SUT_FLAGS (not PALISADE_FLAGS: palisade would read it as the config key `flags` and refuse to start).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SHARED=${SHARED_BENCH:-$ROOT/../shared/bench}
[ -x "$SHARED/run.sh" ] || { echo "bench: $SHARED/run.sh not found (set SHARED_BENCH)" >&2; exit 1; }

if [ -n "${BENCH_BIN:-}" ]; then
  # A given binary (A/B runs of two commits: alternate BENCH_BIN and SUT_NAME with RESOLVERS=none). Not
  # PALISADE_…: palisade reads every PALISADE_ variable as a configuration override.
  BIN=$BENCH_BIN
  [ -x "$BIN" ] || { echo "bench: BENCH_BIN=$BIN is not executable" >&2; exit 1; }
else
  swift build -c release --product palisade --scratch-path "$ROOT/.build-release" >&2
  BIN="$ROOT/.build-release/release/palisade"
fi

POLICY="--rpz {rpz}"
[ "${SUT_NO_POLICY:-0}" = 1 ] && POLICY=""
export SUT_NAME=${SUT_NAME:-palisade}
export SUT_CMD="$BIN serve --listen {listen} --upstream {upstream} --http 127.0.0.1:0 --threads {threads} \
--data-dir {workdir}/data --no-default-feeds $POLICY ${SUT_FLAGS:-}"
exec "$SHARED/run.sh"
