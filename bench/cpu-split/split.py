"""Joins the harness's results (TSV) with the CPU log of harness.patch: user and kernel µs per query."""
import re
import sys

results, cpulog, duration = sys.argv[1], sys.argv[2], float(sys.argv[3])
rows = {}
for line in open(results):
    f = line.rstrip("\n").split("\t")
    if line.startswith("#") or len(f) < 4 or f[1] == "resolver":
        continue
    rows[(f[1], f[2])] = float(f[3])
pat = re.compile(r"name=(\S+) mix=(\S+) before=\[(\d+) (\d+)\] after=\[(\d+) (\d+)\] "
                 r"box_before=\[(\d+) (\d+)\] box_after=\[(\d+) (\d+)\] clk=(\d+)")
print("| resolver | mix | QPS | user µs/query | kernel µs/query | total µs/query | box idle % |")
print("|---|---|---|---|---|---|---|")
for line in open(cpulog):
    m = pat.search(line)
    if not m:
        continue
    name, mix = m.group(1), m.group(2)
    u0, s0, u1, s1, b0, i0, b1, i1, clk = map(int, m.groups()[2:])
    qps = rows.get((name, mix))
    if not qps:
        continue
    per = 1e6 / clk / (qps * duration)
    user, kern = (u1 - u0) * per, (s1 - s0) * per
    idle = 100.0 * (i1 - i0) / max(1, (b1 - b0) + (i1 - i0))
    print(f"| {name} | {mix} | {qps:,.0f} | {user:.2f} | {kern:.2f} | {user + kern:.2f} | {idle:.0f} |")
