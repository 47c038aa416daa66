#!/usr/bin/env python3
"""Shares of perf samples by symbol, from `perf script -F comm,tid,ip,sym,dso` output (call graphs, leaf first).

    share.py SCRIPT.txt PATTERN ...   # for each regular expression: samples whose stack holds a matching frame
    share.py SCRIPT.txt '' self       # the 40 symbols with the most self samples
"""
import collections
import re
import sys


def stacks(path):
    stack = []
    for line in open(path, errors="replace"):
        if not line.strip():
            if stack:
                yield stack
            stack = []
        elif not line[0].isspace():
            stack = []
        else:
            m = re.match(r"\s*[0-9a-f]+\s+(.*?)\s+\(", line)
            if m:
                stack.append(re.sub(r"\+0x[0-9a-f]+$", "", m.group(1)))
    if stack:
        yield stack


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    path, args = sys.argv[1], sys.argv[2:]
    if args[:2] == ["", "self"]:
        c = collections.Counter(s[0] for s in stacks(path))
        total = sum(c.values())
        print(f"{total} samples")
        for sym, n in c.most_common(40):
            print(f"{100 * n / total:6.2f}%  {n:6d}  {sym[:150]}")
        return
    pats = [re.compile(p) for p in args]
    hits = [0] * len(pats)
    total = 0
    for s in stacks(path):
        total += 1
        for i, p in enumerate(pats):
            if any(p.search(f) for f in s):
                hits[i] += 1
    print(f"{total} samples")
    for p, n in zip(args, hits):
        print(f"{100 * n / max(total, 1):6.2f}%  {n:6d}  {p}")


main()
