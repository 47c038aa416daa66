#!/usr/bin/env python3
"""Compare events-table layouts with the system SQLite (the library GRDB links on Linux).

    python3 bench/store/schema_experiment.py ROWS VARIANT [WAL_AUTOCHECKPOINT] [CACHE_KIB]

VARIANT is one of
  text      workload as the 75-byte text key `container:<64 hex>` in every event, index on (qname, ts_us)
  int       workload as an integer reference into `workloads`, index on (qname, ts_us)
  intrev    int + `qname_rev` (labels reversed) indexed instead of qname   <- the shipped schema
  intrevwr  intrev, but events WITHOUT ROWID clustered on (ts_us, id)
Set SKIP to any of W, B, Q to leave out the workload, blocked or name index (to price each one).

Inserts ROWS synthetic events in 1 000-row transactions (WAL, synchronous=NORMAL) and prints the insert rate
and bytes per event. The database goes to a temporary directory and is deleted afterwards.
Results on the 2-core CI VM are in bench/store/README.md.
"""
import os, random, shutil, sqlite3, sys, tempfile, time

rows_total = int(sys.argv[1])
variant = sys.argv[2]
checkpoint = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
cache_kib = int(sys.argv[4]) if len(sys.argv) > 4 else 2000
skip = os.environ.get("SKIP", "")
text_key = variant.startswith("text")
reverse = "rev" in variant
without_rowid = variant.endswith("wr")

tmp = tempfile.mkdtemp(prefix="palisade-schema-")
path = os.path.join(tmp, "events.db")
try:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(f"PRAGMA wal_autocheckpoint={checkpoint}")
    db.execute(f"PRAGMA cache_size=-{cache_kib}")
    db.execute("CREATE TABLE workloads (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, name TEXT)")
    wcol = "workload_key" if text_key else "workload_ref"
    columns = (f"ts_us INTEGER NOT NULL, client_ip TEXT, transport TEXT, {wcol} {'TEXT' if text_key else 'INTEGER'}, "
               f"qname TEXT NOT NULL, {'qname_rev TEXT NOT NULL, ' if reverse else ''}qtype TEXT, rcode TEXT, "
               "answers TEXT, source TEXT, upstream TEXT, policy_source TEXT, policy_rule TEXT, policy_action TEXT, "
               "policy_trigger TEXT, blocked INTEGER NOT NULL, findings TEXT, latency_us INTEGER")
    if without_rowid:
        db.execute(f"CREATE TABLE events (id INTEGER NOT NULL, {columns}, PRIMARY KEY (ts_us, id)) WITHOUT ROWID")
    else:
        db.execute(f"CREATE TABLE events (id INTEGER PRIMARY KEY, {columns})")
        db.execute("CREATE INDEX events_ts ON events (ts_us)")
    if "W" not in skip:
        db.execute(f"CREATE INDEX events_workload_ts ON events ({wcol}, ts_us)")
    if "B" not in skip:
        db.execute("CREATE INDEX events_blocked_ts ON events (ts_us) WHERE blocked = 1")
    if "Q" not in skip:
        db.execute(f"CREATE INDEX events_qname_ts ON events ({'qname_rev' if reverse else 'qname'}, ts_us)")

    rng = random.Random(42)
    keys = ["container:%064x" % (i * 7919 + 1) for i in range(300)]
    for i, key in enumerate(keys):
        db.execute("INSERT INTO workloads (key, name) VALUES (?, ?)", (key, f"service-{i}"))
    domains = [f"site{i}.example{i % 50}.org" for i in range(5000)]
    prefixes = ["www", "api", "cdn", "static", "login", "img"]
    names = [(prefixes[i % 7] if i % 7 < 6 else f"x{i}") + "." + domains[i % 5000] for i in range(100000)]

    def skewed(n):
        u = rng.random()
        return min(n - 1, int(u * u * n))

    span = 7 * 86400 * 10**6
    start = 1700000000000000 - span
    step = span // rows_total
    names_sql = "qname, qname_rev" if reverse else "qname"
    sql = (f"INSERT INTO events (id, ts_us, client_ip, transport, {wcol}, {names_sql}, qtype, rcode, answers, source, "
           "upstream, policy_source, policy_rule, policy_action, policy_trigger, blocked, findings, latency_us) "
           f"VALUES ({','.join('?' * (19 if reverse else 18))})")
    elapsed = 0.0
    for first in range(0, rows_total, 1000):
        batch = []
        for i in range(first, min(rows_total, first + 1000)):
            blocked = rng.randrange(100) == 0
            qname = "c2-%d.evil7.example" % skewed(2000) if blocked else names[skewed(100000)]
            w = skewed(300)
            ref = (keys[w] if text_key else w + 1) if rng.randrange(100) >= 5 else None
            row = [i + 1, start + i * step + rng.randrange(max(step, 1)), "10.0.3.%d" % rng.randrange(250), "udp", ref,
                   qname]
            if reverse:
                row.append(".".join(reversed(qname.split("."))))
            row += ["A", "NXDOMAIN" if blocked else "NOERROR", None if blocked else '["192.0.2.1","198.51.100.2"]',
                    "policy" if blocked else "cache", None if blocked else "resolver-1",
                    "threat-feed" if blocked else None, "*.evil.example" if blocked else None,
                    "nxdomain" if blocked else None, "qname" if blocked else None, 1 if blocked else 0, None,
                    rng.randrange(20000)]
            batch.append(row)
        t0 = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        db.executemany(sql, batch)
        db.execute("COMMIT")
        elapsed += time.perf_counter() - t0
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = os.path.getsize(path)
    print(f"{variant} skip={skip or '-'} wal_autocheckpoint={checkpoint} cache={cache_kib}KiB: {rows_total} rows in "
          f"{elapsed:.1f} s = {rows_total / elapsed:.0f}/s, {size / 1e6:.0f} MB ({size / rows_total:.0f} B/event)")
    db.close()
finally:
    shutil.rmtree(tmp, ignore_errors=True)
