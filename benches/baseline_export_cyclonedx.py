"""Baseline for `aibomdb-bench export`: the same deployment written as
CycloneDX 1.6 JSON with the official Python library (cyclonedx-python-lib),
from an in-memory list of its components and dependencies — what a user's
own exporter would do. Timed: building the Bom model and serialising it.

Usage: python3 baseline_export_cyclonedx.py EXPORT.json [RUNS]  → prints JSON.
"""
import json
import sys
import time

from cyclonedx.model import HashAlgorithm, HashType
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL


def build(data):
    bom = Bom()
    root = Component(name=data["metadata"]["component"]["name"], type=ComponentType.APPLICATION,
                     bom_ref=data["metadata"]["component"]["bom-ref"])
    bom.metadata.component = root
    by_ref = {}
    for c in data["components"]:
        comp = Component(
            name=c["name"], version=c.get("version"), bom_ref=c["bom-ref"],
            purl=PackageURL.from_string(c["purl"]),
            hashes=[HashType(alg=HashAlgorithm.SHA_256, content=h["content"])
                    for h in c.get("hashes", []) if h["alg"] == "SHA-256"],
        )
        bom.components.add(comp)
        by_ref[c["bom-ref"]] = comp
    for d in data["dependencies"]:
        src = root if d["ref"] == root.bom_ref.value else by_ref.get(d["ref"])
        if src is not None:
            bom.register_dependency(src, [by_ref[t] for t in d["dependsOn"] if t in by_ref])
    return JsonV1Dot6(bom).output_as_string()


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        data = json.load(f)
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    times = []
    size = 0
    for _ in range(runs):
        start = time.perf_counter()
        size = len(build(data))
        times.append(time.perf_counter() - start)
    times.sort()
    print(json.dumps({"median_s": times[len(times) // 2], "bytes": size, "components": len(data["components"])}))


if __name__ == "__main__":
    main()
