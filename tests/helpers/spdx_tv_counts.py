#!/usr/bin/env python3
"""Counts in SPDX tag-value files by an independent reader (spdx-tools'
tag-value parser, from PyPI): packages, and package-to-package edges of the
relationship types aibomdb reads as dependencies or containment (distinct,
direction as the relationship means it, no self-loops).
Prints {"path": {"packages": n, "edges": m} | {"error": s}}."""
import json
import sys

from spdx_tools.spdx.parser.tagvalue import tagvalue_parser

# type -> True when the first element is the one that depends/contains.
EDGES = {
    "DEPENDS_ON": ("depends", True),
    "DEPENDENCY_OF": ("depends", False),
    "DEV_DEPENDENCY_OF": ("depends", False),
    "BUILD_DEPENDENCY_OF": ("depends", False),
    "TEST_DEPENDENCY_OF": ("depends", False),
    "OPTIONAL_DEPENDENCY_OF": ("depends", False),
    "RUNTIME_DEPENDENCY_OF": ("depends", False),
    "PROVIDED_DEPENDENCY_OF": ("depends", False),
    "CONTAINS": ("contains", True),
    "CONTAINED_BY": ("contains", False),
}


def counts(path):
    with open(path, encoding="utf-8") as f:
        doc = tagvalue_parser.Parser().parse(f.read())
    ids = {p.spdx_id for p in doc.packages}
    edges = set()
    for r in doc.relationships:
        kind = EDGES.get(r.relationship_type.name)
        b = str(r.related_spdx_element_id)
        if kind is None or r.spdx_element_id not in ids or b not in ids:
            continue
        a, b = (r.spdx_element_id, b) if kind[1] else (b, r.spdx_element_id)
        if a != b:
            edges.add((a, b, kind[0]))
    return {"packages": len(doc.packages), "edges": len(edges)}


out = {}
for p in sys.argv[1:]:
    try:
        out[p] = counts(p)
    except Exception as e:  # the parser raises its own SPDXParsingError
        out[p] = {"error": str(e)}
print(json.dumps(out))
