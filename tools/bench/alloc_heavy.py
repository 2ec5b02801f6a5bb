# SPDX-License-Identifier: MIT
"""Allocation-heavy Python workload of the hakmem comparison benchmark.

usage: python3 alloc_heavy.py [ROUNDS [RECORDS]]     (defaults: 2 40000)

Run with PYTHONMALLOC=malloc so that every object allocation reaches the
allocator under test.  Builds records (dicts, lists, strings, floats),
sorts them, round-trips them through JSON, indexes and regroups them, then
drops everything; ROUNDS times.  The output is deterministic, and the
checksum lets the runner see that every allocator computed the same thing.

When BENCH_EXPECT names a library (or "glibc"), /proc/self/maps is checked
first: the expected library must be mapped (for glibc: none of the known
replacement allocators may be).

Prints: python rounds=N records=N secs=S checksum=N
"""
import json
import os
import random
import sys
import time

KNOWN = ("libhakmem", "libmimalloc", "libjemalloc", "libtcmalloc")


def check_allocator():
    expect = os.environ.get("BENCH_EXPECT", "")
    if not expect:
        return
    with open("/proc/self/maps") as f:
        maps = f.read()
    if expect == "glibc":
        for name in KNOWN:
            if name in maps:
                sys.exit("python: FAIL: expected glibc but %s is mapped" % name)
        return
    real = os.path.realpath(expect)
    if real not in maps:
        sys.exit("python: FAIL: expected allocator %s is not mapped" % real)


def one_round(rnd, records):
    recs = []
    for i in range(records):
        recs.append({
            "id": i,
            "name": "user%09d" % rnd.randrange(1 << 30),
            "tags": ["t%x" % rnd.randrange(1 << 20)
                     for _ in range(rnd.randrange(1, 6))],
            "score": round(rnd.random() * 1000.0, 3),
            "pair": (i, i * 3),
        })
    recs.sort(key=lambda d: (d["name"], d["id"]))
    text = json.dumps(recs)
    back = json.loads(text)
    index = {}
    for d in back:
        index.setdefault(d["name"][:7], []).append(d["id"])
        for t in d["tags"]:
            index.setdefault(t, []).append(d["score"])
    words = " ".join(d["name"] + "," + "|".join(d["tags"]) for d in back).split(",")
    joined = "".join(w[::-1] for w in words)
    tags = set()
    for d in back:
        tags.update(d["tags"])
    summary = sorted((len(v), k) for k, v in index.items())[-10:]
    return (len(text) * 7 + len(index) * 13 + len(joined) * 17 +
            len(tags) * 19 + sum(n for n, _ in summary))


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    records = int(sys.argv[2]) if len(sys.argv) > 2 else 40000
    check_allocator()
    rnd = random.Random(12345)
    t0 = time.perf_counter()
    checksum = 0
    for _ in range(rounds):
        checksum = (checksum * 1000003 + one_round(rnd, records)) % (1 << 61)
    t1 = time.perf_counter()
    print("python rounds=%d records=%d secs=%.6f checksum=%d"
          % (rounds, records, t1 - t0, checksum))


if __name__ == "__main__":
    main()
