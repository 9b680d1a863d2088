#!/usr/bin/env python3
"""raw_ratio.py PEERS_RESULT_DIR LIMITS_CSV [LABEL]

Ratios of an SFTP server's bulk throughput to the raw SSH channel on the same machine: the
median MB/s of LABEL's (default "ours") bulk_up / bulk_down runs in peers.sh's raw.csv, per
cipher and buffer variant, divided by the median raw SSH channel MB/s of limits.sh's
ssh-raw-up / ssh-raw-down runs for the same cipher. Prints a markdown table."""
import csv
import os
import statistics
import sys
from collections import defaultdict


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    result_dir, limits_csv = sys.argv[1], sys.argv[2]
    label = sys.argv[3] if len(sys.argv) > 3 else "ours"
    raw = defaultdict(list)
    for r in csv.DictReader(open(limits_csv)):
        if r["test"] in ("ssh-raw-up", "ssh-raw-down"):
            cipher = r["variant"].split()[0]
            raw[(r["test"][8:], cipher)].append(float(r["value"]))
    sftp = defaultdict(lambda: defaultdict(list))
    for r in csv.DictReader(open(os.path.join(result_dir, "raw.csv"))):
        if r["test"] in ("bulk_up", "bulk_down") and r["rc"] == "0":
            d = r["test"][5:]
            sftp[(d, r["cipher"], r["variant"])][r["label"]].append(
                int(r["bytes"]) / 1e6 / float(r["seconds"]))
    print("| dir | cipher | buffers | raw SSH MB/s | " + label + " MB/s | " + label +
          " / raw |")
    print("|---|---|---|---|---|---|")
    for (d, cipher, variant), by_label in sorted(sftp.items()):
        mine = by_label.get(label)
        base = raw.get((d, cipher))
        if not mine or not base:
            continue
        m, b = statistics.median(mine), statistics.median(base)
        print(f"| {d} | {cipher} | {variant} | {b:.0f} | {m:.0f} | {m / b:.2f} |")


if __name__ == "__main__":
    main()
