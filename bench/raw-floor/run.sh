#!/usr/bin/env bash
# What SwiftNIO's datagram machinery costs per query: the harness runs the raw floor (raw-floor.c: recvmmsg and
# sendmmsg on one thread, nothing else) and nio-floor's answer mode (the same replies from one NIO event loop) as its
# SUT, alternating, each in the same run as Unbound.
#
#   bench/raw-floor/run.sh [REPS]                                   # hit mix, M=10k, 2 alternating pairs
#   M=1000000 MIXES="block=0,100,0" bench/raw-floor/run.sh 2        # the blocked mix at M=1M
#
# Both reply with the question and one A record (192.0.2.1), which passes the harness's probes; neither looks at the
# policy (SUT_NO_POLICY=1). Any ../shared/bench variable works (M, MIXES, DURATION, RESOLVERS). RESULTS (default
# /tmp/raw-floor.tsv) collects the rows. Only loopback is used.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
REPS=${1:-2}
cc -O2 -Wall -Wextra -o "$HERE/raw-floor" "$HERE/raw-floor.c"
(cd "$ROOT/bench/nio-floor" && swift build -c release --product nio-floor >&2)
export SUT_NO_POLICY=1 RESOLVERS=${RESOLVERS:-unbound} MIXES=${MIXES:-hit=100,0,0} DURATION=${DURATION:-10}
export LAT_DURATION=${LAT_DURATION:-3} BASELINE=${BASELINE:-0} RESULTS=${RESULTS:-/tmp/raw-floor.tsv}
for _ in $(seq "$REPS"); do
  SUT_NAME=rawanswer SUT_CMD="$HERE/raw-floor {listen} answer" "$ROOT/../shared/bench/run.sh"
  SUT_NAME=nioanswer SUT_CMD="$ROOT/bench/nio-floor/.build/release/nio-floor {listen} answer" "$ROOT/../shared/bench/run.sh"
done
