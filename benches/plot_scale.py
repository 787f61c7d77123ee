"""Plots the scaling curve from `aibomdb-bench scale --json FILE` runs.

Usage: plot_scale.py OUT.png RUN.json [RUN.json ...]   (pip install matplotlib)

Four panels against the number of deployments (log-log): ingest time, full
OSV match, query p50 in process (each shape), store size; aibomdb solid,
Kùzu and DuckDB (from the same runs) dashed.
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

out = sys.argv[1]
runs = sorted((json.load(open(p)) for p in sys.argv[2:]), key=lambda r: r["deployments"])
n = [r["deployments"] for r in runs]


def series(key, engine=None):
    vals = []
    for r in runs:
        src = r if engine is None else r.get("baseline", {}).get(engine, {})
        vals.append(src.get(key))
    return vals


def line(ax, ys, label, style="-", marker="o"):
    pts = [(x, y) for x, y in zip(n, ys) if y is not None]
    if pts:
        ax.plot([p[0] for p in pts], [p[1] for p in pts], style, marker=marker, label=label)


fig, axes = plt.subplots(2, 2, figsize=(12, 9))
ax = axes[0][0]
line(ax, series("ingest_s"), "aibomdb (durable, group commit)")
line(ax, series("ingest_s", "kuzu"), "Python json + Kùzu COPY", "--", "s")
line(ax, series("ingest_s", "duckdb"), "Python json + DuckDB read_csv", "--", "^")
ax.set_title("ingest (CycloneDX files → store), seconds")

ax = axes[0][1]
line(ax, series("advisory_load_and_match_s"), "aibomdb: load 2,661 records + match estate")
line(ax, series("full_match_s"), "aibomdb: full re-match")
line(ax, series("match_s", "python"), "Python packaging: evaluate", "--", "s")
ax.set_title("OSV matching, seconds")

ax = axes[1][0]
for shape, marker in [("name-range", "o"), ("advisory", "s"), ("path", "^"), ("purl", "D")]:
    line(ax, series(f"q_{shape}_layer_p50_ms"), f"aibomdb {shape}", "-", marker)
    line(ax, series(f"q_{shape}_p50_ms", "kuzu"), f"Kùzu {shape}", ":", marker)
ax.set_title("query p50 in process, ms (HTTP adds ≈0.1–0.5 ms)")

ax = axes[1][1]
line(ax, series("db_mib"), "aibomdb (compacted)")
line(ax, series("db_uncompacted_mib"), "aibomdb before compaction", ":")
line(ax, series("db_mib", "kuzu"), "Kùzu", "--", "s")
line(ax, series("db_mib", "duckdb"), "DuckDB", "--", "^")
line(ax, series("query_peak_rss_mib"), "aibomdb peak RSS (open + queries)", "-.", "x")
ax.set_title("store size and memory, MiB")

for row in axes:
    for ax in row:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("deployments (300 packages each)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
fig.suptitle("aibomdb-bench scale: 1k / 10k / 50k deployments (2-core VM; baselines in the same runs)")
fig.tight_layout()
fig.savefig(out, dpi=110)
print(f"wrote {out}")
