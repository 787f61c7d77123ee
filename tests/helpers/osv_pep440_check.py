#!/usr/bin/env python3
"""Independent PEP 440 range check for aibomdb's OSV matcher.

Reads a JSON list of cases {"events": [...], "version": "..."} and prints a
JSON list of verdicts: true / false, or "invalid" when `packaging` refuses the
version or a bound. Range semantics are the OSV schema's (events sorted by
version, introduced "0" lowest; introduced <= v turns on, fixed <= v turns
off, last_affected < v turns off; limit <= v means the range does not
apply); the ordering is `packaging.version.Version`, not aibomdb's.
"""
import json
import sys

from packaging.version import InvalidVersion, Version


def key(event):
    (kind, value), = event.items()
    if kind == "introduced" and value == "0":
        return (0, None)
    return (1, Version(value))


def affected(events, version):
    v = Version(version)
    events = sorted(events, key=key)
    for e in events:
        if "limit" in e and v >= Version(e["limit"]):
            return False
    state = False
    for e in events:
        (kind, value), = e.items()
        if kind == "introduced":
            if value == "0" or v >= Version(value):
                state = True
        elif kind == "fixed":
            if v >= Version(value):
                state = False
        elif kind == "last_affected":
            if v > Version(value):
                state = False
    return state


def main():
    cases = json.load(open(sys.argv[1]))
    out = []
    for c in cases:
        try:
            out.append(affected(c["events"], c["version"]))
        except InvalidVersion:
            out.append("invalid")
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
