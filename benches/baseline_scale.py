"""Baseline for `aibomdb-bench scale`: what a user might build instead, on the
same CycloneDX files and the same questions, in one process.

- ingest: Python's json module reads every file; rows go to CSV as they are
  read (deployments, distinct packages, deployment→package, and the
  per-deployment package→package edges); then Kùzu (`COPY`) and DuckDB
  (`read_csv`) each load the CSVs into a fresh on-disk database. Each engine's
  ingest figure = the shared parse/CSV time + its own load.
- OSV: the PyPA records read with PyYAML; every distinct PyPI package
  evaluated against the records naming it with `packaging` (ECOSYSTEM ranges:
  introduced / fixed / last_affected, plus explicit versions), as osv.dev's
  semantics say; matches loaded into both databases.
- questions (median/p99 over RUNS, after one warm-up):
  name-range  deployments with transformers < 4.38 (versions pre-filtered with
              `packaging`, as a user would);
  advisory    deployments affected by an advisory id or alias;
  path        the shortest dependency path from one deployment's application
              to a package (Kùzu: SHORTEST with a relationship filter;
              DuckDB: recursive CTE);
  purl        deployments holding one exact purl.
- cold open → first answer: close, reopen, first name-range answer.

Prints one JSON object: {"python": {...}, "kuzu": {...}, "duckdb": {...}}.
Needs: pip install kuzu==0.11.3 duckdb packaging pyyaml
"""

import argparse
import csv
import json
import os
import re
import shutil
import statistics
import sys
import time
from pathlib import Path

import duckdb
import kuzu
import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

ap = argparse.ArgumentParser()
ap.add_argument("--estate", required=True)
ap.add_argument("--work", required=True)
ap.add_argument("--pypa", required=True)
ap.add_argument("--runs", type=int, default=200)
ap.add_argument("--advisory", required=True)
ap.add_argument("--deployment", required=True)
ap.add_argument("--package", required=True)
ap.add_argument("--purl", required=True)
args = ap.parse_args()

work = Path(args.work)
shutil.rmtree(work, ignore_errors=True)
work.mkdir(parents=True)
out = {"python": {}, "kuzu": {}, "duckdb": {}}


def log(msg):
    print(f"baseline: {msg}", file=sys.stderr, flush=True)


def pep503(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def timed(fn, runs):
    fn()
    lat = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        lat.append((time.perf_counter() - t) * 1000)
    lat.sort()
    return statistics.median(lat), lat[min(len(lat) - 1, round((len(lat) - 1) * 0.99))]


def dir_mib(path):
    p = Path(path)
    if p.is_file():
        return p.stat().st_size / 1048576
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) / 1048576


# --- parse every file, rows straight to CSV --------------------------------
t0 = time.perf_counter()
packages = {}  # key -> (name, version)
files = sorted(f for f in os.listdir(args.estate) if f.endswith(".json"))
with open(work / "deployments.csv", "w", newline="") as fd, open(
    work / "contains.csv", "w", newline=""
) as fc, open(work / "edges.csv", "w", newline="") as fe:
    wd, wc, we = csv.writer(fd), csv.writer(fc), csv.writer(fe)
    wd.writerow(["name", "app"])
    wc.writerow(["deployment", "package"])
    we.writerow(["src", "dst", "deployment"])
    for name in files:
        with open(os.path.join(args.estate, name), "rb") as f:
            doc = json.load(f)
        app = doc["metadata"]["component"]
        deployment = app["name"]
        app_key = app.get("purl") or app["bom-ref"]
        wd.writerow([deployment, app_key])
        ref_to_key = {app["bom-ref"]: app_key}
        packages.setdefault(app_key, (app["name"], app.get("version", "")))
        wc.writerow([deployment, app_key])
        for c in doc.get("components", []):
            key = c.get("purl") or c["bom-ref"]
            ref_to_key[c["bom-ref"]] = key
            packages.setdefault(key, (c["name"], c.get("version", "")))
            wc.writerow([deployment, key])
        for d in doc.get("dependencies", []):
            src = ref_to_key.get(d["ref"])
            for dst in d.get("dependsOn", []):
                if src and dst in ref_to_key:
                    we.writerow([src, ref_to_key[dst], deployment])
with open(work / "packages.csv", "w", newline="") as fp:
    w = csv.writer(fp)
    w.writerow(["key", "name", "version"])
    for key, (n, v) in packages.items():
        w.writerow([key, n, v])
parse = time.perf_counter() - t0
out["python"]["parse_s"] = parse
log(f"parsed {len(files)} files into CSV in {parse:.1f} s ({len(packages)} packages)")

# --- Kùzu load ------------------------------------------------------------
t = time.perf_counter()
kdb_path = work / "kuzu.db"
kdb = kuzu.Database(str(kdb_path))
k = kuzu.Connection(kdb)
k.execute("CREATE NODE TABLE Deployment(name STRING, app STRING, PRIMARY KEY(name))")
k.execute("CREATE NODE TABLE Package(key STRING, name STRING, version STRING, PRIMARY KEY(key))")
k.execute("CREATE NODE TABLE Advisory(id STRING, PRIMARY KEY(id))")
k.execute("CREATE REL TABLE CONTAINS(FROM Deployment TO Package)")
k.execute("CREATE REL TABLE DEPENDS_ON(FROM Package TO Package, deployment STRING)")
k.execute("CREATE REL TABLE AFFECTS(FROM Advisory TO Package)")
k.execute(f"COPY Deployment FROM '{work / 'deployments.csv'}' (HEADER=true)")
k.execute(f"COPY Package FROM '{work / 'packages.csv'}' (HEADER=true)")
k.execute(f"COPY CONTAINS FROM '{work / 'contains.csv'}' (HEADER=true)")
k.execute(f"COPY DEPENDS_ON FROM '{work / 'edges.csv'}' (HEADER=true)")
kload = time.perf_counter() - t
out["kuzu"]["load_s"] = kload
out["kuzu"]["ingest_s"] = parse + kload
log(f"Kùzu {kuzu.__version__} COPY in {kload:.1f} s")

# --- DuckDB load ------------------------------------------------------------
t = time.perf_counter()
ddb_path = work / "duck.db"
d = duckdb.connect(str(ddb_path))
d.execute(f"CREATE TABLE deployment AS SELECT * FROM read_csv('{work / 'deployments.csv'}', header=true, all_varchar=true)")
d.execute(f"CREATE TABLE package AS SELECT * FROM read_csv('{work / 'packages.csv'}', header=true, all_varchar=true)")
d.execute(f"CREATE TABLE contains AS SELECT * FROM read_csv('{work / 'contains.csv'}', header=true, all_varchar=true)")
d.execute(f"CREATE TABLE edge AS SELECT * FROM read_csv('{work / 'edges.csv'}', header=true, all_varchar=true)")
d.execute("CHECKPOINT")
dload = time.perf_counter() - t
out["duckdb"]["load_s"] = dload
out["duckdb"]["ingest_s"] = parse + dload
log(f"DuckDB {duckdb.__version__} read_csv in {dload:.1f} s")

# --- OSV: read records, evaluate, load matches -----------------------------
t = time.perf_counter()
records = []
for root, _, names in os.walk(args.pypa):
    for n in names:
        if n.endswith((".yaml", ".yml", ".json")):
            with open(os.path.join(root, n), "rb") as f:
                records.append(yaml.safe_load(f) if not n.endswith(".json") else json.load(f))
out["python"]["advisory_read_s"] = time.perf_counter() - t

t = time.perf_counter()
by_name = {}
ids_of = {}
for r in records:
    if not isinstance(r, dict) or r.get("withdrawn"):
        continue
    ids_of[r["id"]] = {r["id"], *r.get("aliases", [])}
    for a in r.get("affected", []):
        p = a.get("package", {})
        if p.get("ecosystem") == "PyPI":
            by_name.setdefault(pep503(p["name"]), []).append((r["id"], a))


def affected(version, entry):
    if version in (entry.get("versions") or []):
        return True
    try:
        v = Version(version)
    except InvalidVersion:
        return False
    for rng in entry.get("ranges", []):
        if rng.get("type") != "ECOSYSTEM":
            continue
        inside = False
        # Events sorted by version; "0" is the start of time.
        events = []
        for e in rng.get("events", []):
            for kind, ver in e.items():
                try:
                    events.append((Version("0") if ver == "0" else Version(ver), kind))
                except InvalidVersion:
                    pass
        events.sort(key=lambda x: x[0])
        for ver, kind in events:
            if kind == "introduced" and v >= ver:
                inside = True
            elif kind == "fixed" and v >= ver:
                inside = False
            elif kind == "last_affected" and v > ver:
                inside = False
        if inside:
            return True
    return False


matches = []
for key, (name, version) in packages.items():
    if not key.startswith("pkg:pypi/"):
        continue
    for rid, entry in by_name.get(pep503(name), []):
        if version and affected(version, entry):
            matches.append((rid, key))
match_s = time.perf_counter() - t
out["python"]["match_s"] = match_s
out["python"]["matches"] = len(matches)
log(f"{len(records)} records, {len(matches)} matches evaluated in {match_s:.1f} s")
with open(work / "advisories.csv", "w", newline="") as fa, open(work / "affects.csv", "w", newline="") as fm:
    wa, wm = csv.writer(fa), csv.writer(fm)
    wa.writerow(["id"])
    for rid in ids_of:
        wa.writerow([rid])
    wm.writerow(["advisory", "package"])
    for rid, key in matches:
        wm.writerow([rid, key])
k.execute(f"COPY Advisory FROM '{work / 'advisories.csv'}' (HEADER=true)")
k.execute(f"COPY AFFECTS FROM '{work / 'affects.csv'}' (HEADER=true)")
d.execute(f"CREATE TABLE affects AS SELECT * FROM read_csv('{work / 'affects.csv'}', header=true, all_varchar=true)")
d.execute("CHECKPOINT")

advisory_ids = sorted(
    rid for rid, names in ids_of.items() if args.advisory in names
)
spec = SpecifierSet("<4.38")


def transformers_keys(rows):
    keys = []
    for key, version in rows:
        try:
            if Version(version) in spec:
                keys.append(key)
        except InvalidVersion:
            pass
    return keys


def rows(result):
    out = []
    while result.has_next():
        out.append(result.get_next())
    return out


# --- the questions, Kùzu ----------------------------------------------------
app_of = {name: app for name, app in csv.reader(open(work / "deployments.csv")) if name != "name"}
app = app_of[args.deployment]


def kuzu_questions(conn):
    def name_range():
        keys = transformers_keys(rows(conn.execute("MATCH (p:Package) WHERE p.name = 'transformers' RETURN p.key, p.version")))
        return rows(conn.execute(
            "MATCH (d:Deployment)-[:CONTAINS]->(p:Package) WHERE p.key IN $keys RETURN DISTINCT d.name",
            {"keys": keys},
        ))

    def advisory():
        return rows(conn.execute(
            "MATCH (a:Advisory)-[:AFFECTS]->(p:Package)<-[:CONTAINS]-(d:Deployment) WHERE a.id IN $ids RETURN DISTINCT d.name",
            {"ids": advisory_ids},
        ))

    def path():
        return rows(conn.execute(
            "MATCH p = (a:Package)-[:DEPENDS_ON* SHORTEST 1..30 (r, n | WHERE r.deployment = $d)]->(b:Package) "
            "WHERE a.key = $app AND b.key = $target RETURN properties(nodes(p), 'key')",
            {"d": args.deployment, "app": app, "target": args.package},
        ))

    def purl():
        return rows(conn.execute(
            "MATCH (d:Deployment)-[:CONTAINS]->(p:Package) WHERE p.key = $key RETURN DISTINCT d.name",
            {"key": args.purl},
        ))

    return {"name-range": name_range, "advisory": advisory, "path": path, "purl": purl}


def duck_questions(conn):
    def name_range():
        keys = transformers_keys(conn.execute("SELECT key, version FROM package WHERE name = 'transformers'").fetchall())
        return conn.execute(
            "SELECT DISTINCT deployment FROM contains WHERE list_contains(?, package)", [keys]
        ).fetchall()

    def advisory():
        return conn.execute(
            "SELECT DISTINCT c.deployment FROM affects a JOIN contains c ON c.package = a.package "
            "WHERE list_contains(?, a.advisory)",
            [advisory_ids],
        ).fetchall()

    def path():
        return conn.execute(
            """WITH RECURSIVE walk(node, path) AS (
                 SELECT dst, [src, dst] FROM edge WHERE deployment = $d AND src = $app
                 UNION ALL
                 SELECT e.dst, list_append(w.path, e.dst) FROM walk w
                 JOIN edge e ON e.src = w.node AND e.deployment = $d
                 WHERE len(w.path) < 40)
               SELECT path FROM walk WHERE node = $target ORDER BY len(path) LIMIT 1""",
            {"d": args.deployment, "app": app, "target": args.package},
        ).fetchall()

    def purl():
        return conn.execute(
            "SELECT DISTINCT deployment FROM contains WHERE package = ?", [args.purl]
        ).fetchall()

    return {"name-range": name_range, "advisory": advisory, "path": path, "purl": purl}


for engine, conn, questions in [("kuzu", k, kuzu_questions(k)), ("duckdb", d, duck_questions(d))]:
    for shape, fn in questions.items():
        answer = fn()
        p50, p99 = timed(fn, args.runs)
        n = len(answer) if shape != "path" else len(answer[0][0]) if answer else 0
        out[engine][f"q_{shape}_p50_ms"] = p50
        out[engine][f"q_{shape}_p99_ms"] = p99
        out[engine][f"q_{shape}_answer"] = n if shape != "path" else (1 if answer else 0)
        log(f"{engine} {shape}: {n} rows{' (path nodes)' if shape == 'path' else ''}, p50 {p50:.3f} ms p99 {p99:.3f} ms")

# --- cold open → first answer ------------------------------------------------
def evict(path):
    """Drops the database's files from the page cache, as the Rust side does."""
    p = Path(path)
    for f in [p] if p.is_file() else [x for x in p.rglob("*") if x.is_file()]:
        fd = os.open(f, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


del k, kdb
evict(kdb_path)
t = time.perf_counter()
kdb = kuzu.Database(str(kdb_path))
k = kuzu.Connection(kdb)
kuzu_questions(k)["name-range"]()
out["kuzu"]["cold_open_first_answer_ms"] = (time.perf_counter() - t) * 1000
d.close()
evict(ddb_path)
t = time.perf_counter()
d = duckdb.connect(str(ddb_path))
duck_questions(d)["name-range"]()
out["duckdb"]["cold_open_first_answer_ms"] = (time.perf_counter() - t) * 1000

out["kuzu"]["db_mib"] = dir_mib(kdb_path)
out["duckdb"]["db_mib"] = dir_mib(ddb_path)
# VmHWM, not getrusage: ru_maxrss carries the parent's peak across fork.
with open("/proc/self/status") as status:
    hwm = next(line for line in status if line.startswith("VmHWM:"))
out["python"]["peak_rss_mib"] = int(hwm.split()[1]) / 1024
out["python"]["versions"] = {"kuzu": kuzu.__version__, "duckdb": duckdb.__version__, "python": sys.version.split()[0]}
print(json.dumps(out))
