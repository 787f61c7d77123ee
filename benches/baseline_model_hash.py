"""Baseline for `aibomdb-bench models`: what a user's own Python script does
to check a model directory — hash every file with hashlib (1 MiB chunks) and
read each safetensors header with the json module — timed the same way.

Usage: python3 baseline_model_hash.py DIR [RUNS]  → prints JSON.
"""
import hashlib
import json
import os
import struct
import sys
import time


def check(directory):
    total = 0
    for root, _, files in os.walk(directory):
        for name in sorted(files):
            path = os.path.join(root, name)
            h = hashlib.sha256()
            with open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
                    total += len(chunk)
            if name.endswith(".safetensors"):
                with open(path, "rb") as f:
                    (n,) = struct.unpack("<Q", f.read(8))
                    json.loads(f.read(n))
    return total


def main():
    directory = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    times = []
    size = 0
    for _ in range(runs):
        start = time.perf_counter()
        size = check(directory)
        times.append(time.perf_counter() - start)
    times.sort()
    print(json.dumps({"bytes": size, "median_s": times[len(times) // 2], "runs": runs}))


if __name__ == "__main__":
    main()
