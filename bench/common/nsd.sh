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
