#!/usr/bin/env python3
"""Counts in CycloneDX XML files by an independent reader (Python's
xml.etree): component elements under <components> at any depth (metadata's
subject and tools not counted), and <dependency> children of top-level
<dependency> entries. Prints {"path": {"components": n, "edges": m} | {"error": s}}."""
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
    edges = 0
    for child in root:
        if local(child.tag) == "dependencies":
            for d in child:
                edges += sum(1 for x in d if local(x.tag) == "dependency")
    return {"components": components, "edges": edges}


out = {}
for p in sys.argv[1:]:
    try:
        out[p] = counts(p)
    except ET.ParseError as e:
        out[p] = {"error": str(e)}
print(json.dumps(out))
