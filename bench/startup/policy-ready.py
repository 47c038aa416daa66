# Time from spawning `palisade serve --rpz ZONE` until the zone blocks: a query every 4 ms, each for a new name below
# WILDCARD (a name the zone blocks with `*.WILDCARD`), until one is answered NXDOMAIN; then the process's RSS. Each
# name is new, so no answer cached before the zone loaded (the upstream is a closed port) can stand in for the block.
# Usage: python3 bench/startup/policy-ready.py PALISADE ZONE WILDCARD [RUNS]
#   e.g. python3 bench/startup/policy-ready.py .build-release/release/palisade \
#        /tmp/dnsbench/data-N10000-M1000000-s1-w0.1/blocklist.rpz 8ldca4cz.tpyytc9iz.com 8
# Prints one line per run and the median. Run it in a fresh network namespace (`unshare --net`): it serves on
# loopback only, but a serve without one must never reach the real network.
import os, shutil, socket, statistics, struct, subprocess, sys, tempfile, time

binary, zone, wildcard = sys.argv[1], sys.argv[2], sys.argv[3]
runs = int(sys.argv[4]) if len(sys.argv) > 4 else 5


def wire(name):
    return b"".join(bytes([len(label)]) + label.encode() for label in name.strip(".").split(".")) + b"\x00"


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def one_run():
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    work = tempfile.mkdtemp(prefix="palisade-ready.")
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.settimeout(0.004)
    start = time.monotonic()
    server = subprocess.Popen(
        [binary, "serve", "--listen", f"127.0.0.1:{port}", "--upstream", "127.0.0.1:9", "--http", "",
         "--threads", "1", "--data-dir", os.path.join(work, "data"), "--no-default-feeds", "--rpz", zone],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    attempt = 0
    try:
        while time.monotonic() - start < 30:
            attempt += 1
            query = struct.pack(">HHHHHH", attempt & 0xFFFF, 0x0100, 1, 0, 0, 0) + wire(f"p{attempt}.{wildcard}") \
                + b"\x00\x01\x00\x01"
            sent = time.monotonic()
            client.sendto(query, ("127.0.0.1", port))
            try:
                reply, _ = client.recvfrom(4096)
                if len(reply) >= 4 and reply[3] & 0x0F == 3:
                    return time.monotonic() - start, rss_mib(server.pid)
            except (socket.timeout, ConnectionRefusedError):
                pass
            # One query per 4 ms at most: answered at once (SERVFAIL before the zone is in), the loop would flood the
            # resolver and slow down the load it measures.
            time.sleep(max(0.0, 0.004 - (time.monotonic() - sent)))
        raise SystemExit("the blocked name was not answered NXDOMAIN within 30 s")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)


times = []
for i in range(runs):
    seconds, rss = one_run()
    times.append(seconds)
    print(f"run {i + 1}: blocking after {seconds:.3f} s, RSS {rss:.1f} MiB", flush=True)
print(f"median {statistics.median(times):.3f} s, range {min(times):.3f}-{max(times):.3f} s over {runs} runs")
