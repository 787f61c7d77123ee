#!/usr/bin/env python3
"""Independent PEP 440 range check for aibomdb's OSV matcher.

Reads a JSON list of cases {"events": [...], "version": "..."} and prints a
JSON list of verdicts: true / false, or {"invalid": S, "legacy": true/false}
when `packaging` refuses the version or bound S: the verdict then comes from
packaging 21.3, the last release with `LegacyVersion` (pre-PEP 440 strings
sorted below every PEP 440 version, as setuptools did), installed apart by
scripts/test-deps.sh under ~/.cache/aibomdb/packaging-21.3 (or
$AIBOMDB_PACKAGING21) and loaded as `packaging21`. Range semantics are the OSV schema's (events sorted by
version, introduced "0" lowest; introduced <= v turns on, fixed <= v turns
off, last_affected < v turns off; limit <= v means the range does not
apply); the ordering is `packaging.version.Version`, not aibomdb's.
"""
import importlib.util
import json
import os
import sys
import warnings

from packaging.version import InvalidVersion, Version


def legacy_parse():
    """packaging 21.3's `parse`: a Version, or a LegacyVersion for what PEP
    440 refuses."""
    root = os.environ.get("AIBOMDB_PACKAGING21") or os.path.expanduser(
        "~/.cache/aibomdb/packaging-21.3"
    )
    package = os.path.join(root, "packaging")
    if not os.path.isfile(os.path.join(package, "version.py")):
        sys.exit(f"packaging 21.3 not found at {root}: run scripts/test-deps.sh")
    spec = importlib.util.spec_from_file_location(
        "packaging21", os.path.join(package, "__init__.py"), submodule_search_locations=[package]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["packaging21"] = module
    spec.loader.exec_module(module)
    from packaging21.version import parse  # noqa: E402 (loaded just above)

    return parse


def key(event, parse):
    (kind, value), = event.items()
    if kind == "introduced" and value == "0":
        return (0, None)
    return (1, parse(value))


def affected(events, version, parse=Version):
    v = parse(version)
    events = sorted(events, key=lambda e: key(e, parse))
    for e in events:
        if "limit" in e and v >= parse(e["limit"]):
            return False
    state = False
    for e in events:
        (kind, value), = e.items()
        if kind == "introduced":
            if value == "0" or v >= parse(value):
                state = True
        elif kind == "fixed":
            if v >= parse(value):
                state = False
        elif kind == "last_affected":
            if v > parse(value):
                state = False
    return state


def refused(case):
    """The first string of the case (the version, then the bounds in order)
    that `packaging` cannot parse."""
    strings = [case["version"]] + [
        value for e in case["events"] for kind, value in e.items()
        if not (kind == "introduced" and value == "0")
    ]
    for s in strings:
        try:
            Version(s)
        except InvalidVersion:
            return s
    raise AssertionError(f"no refused string in {case}")


def main():
    cases = json.load(open(sys.argv[1]))
    parse21 = legacy_parse()
    out = []
    for c in cases:
        try:
            out.append(affected(c["events"], c["version"]))
        except InvalidVersion:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                legacy = affected(c["events"], c["version"], parse21)
            out.append({"invalid": refused(c), "legacy": legacy})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
