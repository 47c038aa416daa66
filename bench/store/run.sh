#!/bin/sh
# Query-log store benchmark: inserts N synthetic events (default 10 000 000) into a temporary on-disk
# database, times the console's queries and retention, then deletes the database.
#
#   bench/store/run.sh [rows]
#
# Set PALISADE_BENCH_KEEP=1 to keep the database (its path is printed). Results: bench/store/README.md.
set -eu
cd "$(dirname "$0")/../.."
rows="${1:-10000000}"
PALISADE_BENCH_ROWS="$rows" PALISADE_TARGETS=DNSWire,DNSPipeline,DNSCache,TestSupport,QueryStore \
    swift test -c release --filter QueryStoreBenchmark 2>&1 | grep -E '^bench:|✘|error'
