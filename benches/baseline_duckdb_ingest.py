#!/usr/bin/env python3
"""Baseline for `aibomdb-bench ingest`: the same documents loaded the way a
user might do it without aibomdb: Python's json module (C accelerated) and
DuckDB (PyPI `duckdb`), one committed transaction per document holding the
document, its packages (purl-keyed), and its package->package relationships.

Prints one JSON object: documents, bytes, median_seconds, best_seconds, what.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import duckdb

SCHEMA = """
CREATE TABLE document (id INTEGER PRIMARY KEY, path TEXT, sha TEXT, spec TEXT);
CREATE TABLE package (purl TEXT PRIMARY KEY, name TEXT, version TEXT);
CREATE TABLE occurrence (document INTEGER, purl TEXT);
CREATE TABLE edge (document INTEGER, src TEXT, dst TEXT, kind TEXT);
"""


def files_under(dirs):
    for d in dirs:
        for root, subdirs, names in os.walk(d):
            subdirs.sort()
            for n in sorted(names):
                if not n.startswith("."):
                    yield os.path.join(root, n)


def packages_of(doc):
    """(ref, purl, name, version) per package, and (from_ref, to_ref, kind) per edge."""
    pkgs, edges = [], []
    if doc.get("bomFormat") == "CycloneDX":
        stack = list(doc.get("components") or [])
        while stack:
            c = stack.pop()
            stack.extend(c.get("components") or [])
            purl = c.get("purl") or f"pkg:generic/{c.get('name')}@{c.get('version')}"
            pkgs.append((c.get("bom-ref"), purl, c.get("name"), c.get("version")))
        for d in doc.get("dependencies") or []:
            for t in d.get("dependsOn") or []:
                edges.append((d.get("ref"), t, "depends_on"))
    elif "spdxVersion" in doc:
        for p in doc.get("packages") or []:
            purl = next((r.get("referenceLocator") for r in p.get("externalRefs") or []
                         if r.get("referenceType") == "purl"), None)
            purl = purl or f"pkg:generic/{p.get('name')}@{p.get('versionInfo')}"
            pkgs.append((p.get("SPDXID"), purl, p.get("name"), p.get("versionInfo")))
        for r in doc.get("relationships") or []:
            t = r.get("relationshipType")
            if t in ("DEPENDS_ON", "CONTAINS"):
                edges.append((r.get("spdxElementId"), r.get("relatedSpdxElement"), t))
    else:
        return None
    return pkgs, edges


def run_once(files):
    import hashlib
    tmp = tempfile.mkdtemp()
    con = duckdb.connect(os.path.join(tmp, "baseline.duckdb"))
    con.execute(SCHEMA)
    docs = 0
    size = 0
    start = time.perf_counter()
    for i, f in enumerate(files):
        with open(f, "rb") as fh:
            raw = fh.read()
        try:
            doc = json.loads(raw)
        except ValueError:
            continue
        parsed = packages_of(doc) if isinstance(doc, dict) else None
        if parsed is None:
            continue
        pkgs, edges = parsed
        by_ref = {ref: purl for ref, purl, _, _ in pkgs}
        con.execute("BEGIN TRANSACTION")
        con.execute("INSERT INTO document VALUES (?, ?, ?, ?)",
                    [i, f, hashlib.sha256(raw).hexdigest(), doc.get("specVersion") or doc.get("spdxVersion")])
        uniq = {purl: (purl, name, version) for _, purl, name, version in pkgs}
        if uniq:
            con.executemany("INSERT INTO package VALUES (?, ?, ?) ON CONFLICT DO NOTHING", list(uniq.values()))
            con.executemany("INSERT INTO occurrence VALUES (?, ?)", [(i, p) for p in uniq])
        pkg_edges = [(i, by_ref[a], by_ref[b], k) for a, b, k in edges if a in by_ref and b in by_ref]
        if pkg_edges:
            con.executemany("INSERT INTO edge VALUES (?, ?, ?, ?)", pkg_edges)
        con.execute("COMMIT")
        docs += 1
        size += len(raw)
    con.execute("CHECKPOINT")
    con.close()
    return time.perf_counter() - start, docs, size


def parse_only(files):
    """Lower bound for any Python pipeline: json.loads of every document, nothing stored."""
    start = time.perf_counter()
    for f in files:
        with open(f, "rb") as fh:
            raw = fh.read()
        try:
            json.loads(raw)
        except ValueError:
            pass
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("dirs", nargs="+")
    args = ap.parse_args()
    files = list(files_under(args.dirs))
    times = []
    docs = size = 0
    for _ in range(args.runs):
        t, docs, size = run_once(files)
        times.append(t)
    parse_times = [parse_only(files) for _ in range(args.runs)]
    json.dump({
        "parse_only_median_seconds": statistics.median(parse_times),
        "documents": docs,
        "bytes": size,
        "median_seconds": statistics.median(times),
        "best_seconds": min(times),
        "what": f"Python {sys.version.split()[0]} json + DuckDB {duckdb.__version__}, 1 thread, commit per document",
    }, sys.stdout)


if __name__ == "__main__":
    main()
