"""Base scores of CVSS v3.x and v4.0 vectors by Red Hat's `cvss` library
(PyPI `cvss`, installed by scripts/test-deps.sh): an independent check of
aibomdb's scoring. Reads a JSON list of vectors, writes a JSON list of
scores (null where the library refuses the vector)."""
import json
import sys

from cvss import CVSS3, CVSS4

out = []
for vector in json.load(open(sys.argv[1])):
    try:
        if vector.startswith("CVSS:4.0/"):
            out.append(float(CVSS4(vector).base_score))
        else:
            out.append(float(CVSS3(vector).base_score))
    except Exception:  # the library's own error types differ per version
        out.append(None)
json.dump(out, sys.stdout)
