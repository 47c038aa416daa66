#!/usr/bin/env bash
# Runs the whole test suite. Installs what the tests need first (Debian packages: real DNS servers
# and clients the integration tests start and talk to), when run as root and something is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS="nsd knot knot-dnsutils bind9-dnsutils unbound python3-dnspython openssl libsqlite3-dev sqlite3 postgresql dnsperf chromium podman runc busybox-static"
# Podman's network stack (netavark, aardvark-dns, CNI plugins) and helpers arrive as recommendations.
WITH_RECOMMENDS="podman"
missing=()
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "test.sh: installing ${missing[*]}"
    # Block service start-up by maintainer scripts: tests start their own private instances.
    created_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && created_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    plain=()
    recommended=()
    for p in "${missing[@]}"; do
      if [[ " $WITH_RECOMMENDS " == *" $p "* ]]; then recommended+=("$p"); else plain+=("$p"); fi
    done
    [ "${#plain[@]}" -gt 0 ] && apt-get install -y -q --no-install-recommends "${plain[@]}"
    [ "${#recommended[@]}" -gt 0 ] && apt-get install -y -q "${recommended[@]}"
    [ "$created_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  else
    echo "test.sh: missing packages (run as root to install): ${missing[*]}" >&2
  fi
fi

# Podman (container attribution tests): cgroupfs, as on these machines crun/systemd cgroups fail. The tests
# import the busybox image themselves (TestSupport/Daemons/PodmanService.swift).
if [ "$(id -u)" = 0 ] && command -v podman >/dev/null && [ ! -e /etc/containers/containers.conf ]; then
  mkdir -p /etc/containers && printf '[engine]\ncgroup_manager="cgroupfs"\n' > /etc/containers/containers.conf
fi

swift build --build-tests
# Suites start real daemons (NSD, Knot, Unbound, palisade) with tight deadlines; run them one at a time so
# they do not starve each other on a 2-core machine (the whole suite takes under a minute that way).
swift test --skip-build --no-parallel "$@"
