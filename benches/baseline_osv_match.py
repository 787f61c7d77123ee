#!/usr/bin/env python3
"""Baseline for `aibomdb-bench osv`: evaluates (OSV range, version) candidates
with Python's `packaging`, OSV semantics as in tests/helpers/osv_pep440_check.py
(plus the record's `versions` list). Prints the evaluation time in seconds
(JSON loading excluded)."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "helpers"))
from osv_pep440_check import affected  # noqa: E402
from packaging.version import InvalidVersion  # noqa: E402

cases = json.load(open(sys.argv[1]))
start = time.perf_counter()
hits = 0
for c in cases:
    if c["version"] in c.get("versions", ()):
        hits += 1
        continue
    try:
        hits += affected(c["events"], c["version"])
    except InvalidVersion:
        pass
print(time.perf_counter() - start)
