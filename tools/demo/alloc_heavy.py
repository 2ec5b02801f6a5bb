"""An allocation-heavy Python workload: the quick-start's main job.

Builds and drops many small objects (dicts, lists, strings, tuples),
round-trips them through json, and prints a checksum that must not depend
on the allocator.
"""
import json
import sys


def build(n, seed):
    x = seed
    records = []
    for i in range(n):
        x = (x * 6364136223846793005 + 1442695040888963407) & (2**64 - 1)
        records.append({
            "id": i,
            "name": "item-%d-%x" % (i, x & 0xFFFF),
            "tags": [str((x >> s) & 0xFF) for s in range(0, 40, 8)],
            "pos": (x & 0xFFF, (x >> 12) & 0xFFF),
        })
    return records


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    total = 0
    keep = []
    for r in range(rounds):
        recs = build(20000, r + 1)
        text = json.dumps(recs)
        back = json.loads(text)
        index = {rec["name"]: rec for rec in back}
        total = (total * 31 + len(text) + sum(len(k) for k in index)) % (2**61 - 1)
        keep.append(back[:: 97])
        if len(keep) > 5:
            keep.pop(0)
    print("checksum", total, "kept", sum(len(k) for k in keep))


if __name__ == "__main__":
    main()
