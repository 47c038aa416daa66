# Sourced by the bench scripts: start_nsd DATA WORKDIR PORT starts NSD on 127.0.0.1:PORT serving the shared
# harness's bench.test zone from DATA, with its files in WORKDIR, and sets NSD to its PID.
start_nsd() {
  local data=$1 work=$2 port=$3
  cat > "$work/nsd.conf" <<C
server:
  ip-address: 127.0.0.1@$port
  port: $port
  do-ip6: no
  username: ""
  chroot: ""
  zonesdir: "$data"
  pidfile: "$work/nsd.pid"
  database: ""
  zonelistfile: "$work/zone.list"
  xfrdfile: "$work/xfrd.state"
  xfrdir: "$work"
  server-count: 1
  logfile: "$work/nsd.log"
  rrl-ratelimit: 0
  minimal-responses: yes
remote-control:
  control-enable: no
zone:
  name: "bench.test"
  zonefile: "bench.test.zone"
C
  /usr/sbin/nsd -d -c "$work/nsd.conf" > "$work/nsd.out" 2>&1 &
  NSD=$!
}

# start_palisade BIN DATA WORKDIR PORT UPSTREAM_PORT HTTP_PORT [VAR=value ...]: Palisade as the harness runs it (one
# event-loop thread, the query log on, the harness's RPZ loaded) on 127.0.0.1:PORT in front of NSD, with the given
# environment; sets PAL to its PID and returns once it is ready (non-zero, with its log on stderr, if it is not).
start_palisade() {
  local bin=$1 data=$2 work=$3 port=$4 upstream=$5 http=$6
  shift 6
  env "$@" "$bin" serve --listen 127.0.0.1:$port --upstream 127.0.0.1:$upstream --http 127.0.0.1:$http --threads 1 \
    --data-dir "$work/data" --no-default-feeds --rpz "$data/blocklist.rpz" --ready-file "$work/ready" \
    >"$work/pal.log" 2>&1 &
  PAL=$!
  for _ in $(seq 300); do [ -f "$work/ready" ] && return 0; kill -0 $PAL 2>/dev/null || break; sleep 0.1; done
  echo "palisade did not become ready:" >&2
  cat "$work/pal.log" >&2
  return 1
}

# palisade_in_front_of_nsd TAG MIX BIN [VAR=value ...]: checks that DATA (default: the harness's M=10k data) has
# MIX's queries, makes the work directory W, picks ports (AP for NSD, PP for Palisade, HP for its HTTP), starts NSD
# and Palisade (start_palisade) and removes everything on exit. Exits with a message naming TAG on failure.
palisade_in_front_of_nsd() {
  local tag=$1 mix=$2 bin=$3
  shift 3
  D=${DATA:-/tmp/dnsbench/data-N10000-M10000-s1-w0.1}
  [ -f "$D/q-$mix.txt" ] || { echo "$tag: $D/q-$mix.txt not found (generate the harness data first)" >&2; exit 1; }
  W=$(mktemp -d "/tmp/$tag.XXXXXX")
  AP=$((20000 + RANDOM % 20000)); PP=$((AP + 1)); HP=$((AP + 2))
  PAL=""; NSD=""
  trap 'kill $PAL $NSD 2>/dev/null; wait $PAL $NSD 2>/dev/null; rm -rf "$W"' EXIT
  start_nsd "$D" "$W" $AP
  start_palisade "$bin" "$D" "$W" $PP $AP $HP "$@" || exit 1
}
