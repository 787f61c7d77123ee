"""Baseline for `aibomdb-bench api`: the same estate loaded into Kùzu (PyPI
`kuzu`, Cypher), asked the same question: which deployments contain
transformers < 4.38. As a user would write it, the versions are pre-filtered
in Python with `packaging`, then one Cypher query finds the deployments.

Usage: baseline_kuzu_blast.py DIR RUNS   (DIR holds the CSVs the bench wrote)
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

import kuzu
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

src = Path(sys.argv[1])
runs = int(sys.argv[2])

with tempfile.TemporaryDirectory() as tmp:
    db = kuzu.Database(str(Path(tmp) / "kuzu.db"))
    conn = kuzu.Connection(db)
    t = time.perf_counter()
    conn.execute("CREATE NODE TABLE Deployment(name STRING, PRIMARY KEY(name))")
    conn.execute("CREATE NODE TABLE Package(key STRING, name STRING, version STRING, PRIMARY KEY(key))")
    conn.execute("CREATE REL TABLE CONTAINS(FROM Deployment TO Package)")
    conn.execute("CREATE REL TABLE DEPENDS_ON(FROM Package TO Package)")
    conn.execute(f"COPY Deployment FROM '{src / 'deployments.csv'}' (HEADER=true)")
    conn.execute(f"COPY Package FROM '{src / 'packages.csv'}' (HEADER=true)")
    conn.execute(f"COPY CONTAINS FROM '{src / 'contains.csv'}' (HEADER=true)")
    conn.execute(f"COPY DEPENDS_ON FROM '{src / 'edges.csv'}' (HEADER=true)")
    load = time.perf_counter() - t

    spec = SpecifierSet("<4.38")

    def ask():
        rows = conn.execute("MATCH (p:Package) WHERE p.name = 'transformers' RETURN p.key, p.version")
        keys = []
        while rows.has_next():
            key, version = rows.get_next()
            try:
                if Version(version) in spec:
                    keys.append(key)
            except InvalidVersion:
                pass
        res = conn.execute(
            "MATCH (d:Deployment)-[:CONTAINS]->(p:Package) WHERE p.key IN $keys RETURN d.name, p.key",
            {"keys": keys},
        )
        out = []
        while res.has_next():
            out.append(res.get_next())
        return out

    hits = ask()
    lat = []
    for _ in range(runs):
        t = time.perf_counter()
        ask()
        lat.append((time.perf_counter() - t) * 1000)
    lat.sort()
    p99 = lat[min(len(lat) - 1, round((len(lat) - 1) * 0.99))]
    print(f"load {load:.1f} s (COPY from CSV); {len(hits)} hits (deployments only, no paths)")
    print(f"p50 {statistics.median(lat):.3f} ms  p99 {p99:.3f} ms  ({runs} queries, Kùzu {kuzu.__version__}, in process)")
