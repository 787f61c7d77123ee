#!/usr/bin/env python3
"""Counts in CycloneDX XML files by an independent reader (Python's
xml.etree): component elements under <components> at any depth (metadata's
subject and tools not counted), and <dependency> children of top-level
<dependency> entries, counted once per pair of packages: a ref stands for its
component's purl where it has one (two components with one purl are one
package, as in the graph), and a pair seen twice or a package depending on
itself is not counted again. Prints {"path": {"components": n, "edges": m} | {"error": s}}."""
import json
import sys
import xml.etree.ElementTree as ET


def local(tag):
    return tag.rsplit("}", 1)[-1]


def counts(path):
    root = ET.parse(path).getroot()
    if local(root.tag) != "bom":
        return {"error": "root is not <bom>"}
    components = 0

    def walk(el):
        nonlocal components
        for child in el:
            if local(child.tag) == "components":
                for c in child:
                    if local(c.tag) == "component":
                        components += 1
                        walk(c)

    walk(root)
    # bom-ref -> purl, for every component (metadata's subject included).
    purl_of = {}
    for el in root.iter():
        if local(el.tag) == "component" and el.get("bom-ref"):
            for c in el:
                if local(c.tag) == "purl" and c.text:
                    purl_of[el.get("bom-ref")] = c.text.strip()
    key = lambda ref: purl_of.get(ref, ref)
    edges = set()
    for child in root:
        if local(child.tag) == "dependencies":
            for d in child:
                for x in d:
                    if local(x.tag) == "dependency":
                        a, b = key(d.get("ref")), key(x.get("ref"))
                        if a != b:
                            edges.add((a, b))
    return {"components": components, "edges": len(edges)}


out = {}
for p in sys.argv[1:]:
    try:
        out[p] = counts(p)
    except ET.ParseError as e:
        out[p] = {"error": str(e)}
print(json.dumps(out))
