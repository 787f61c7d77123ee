"""Independent readers for `aibomdb gate` output, used by tests/gate.rs.

sarif FILE: validates against the official SARIF 2.1.0 JSON schema (as shipped
  in Microsoft's @microsoft/jest-sarif npm package, installed by
  scripts/test-deps.sh) with `jsonschema`; prints result counts.
junit FILE: reads the file with `junitparser`; prints test and failure counts.
"""
import json
import pathlib
import sys

kind, path = sys.argv[1], sys.argv[2]
if kind == "sarif":
    import jsonschema

    schema_path = (
        pathlib.Path(__file__).resolve().parents[1]
        / "browser/node_modules/@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json"
    )
    schema = json.loads(schema_path.read_text())
    doc = json.loads(pathlib.Path(path).read_text())
    jsonschema.Draft4Validator(schema).validate(doc)
    results = doc["runs"][0]["results"]
    print(json.dumps({
        "results": len(results),
        "errors": sum(1 for r in results if r.get("level") == "error"),
    }))
elif kind == "junit":
    from junitparser import JUnitXml, Failure

    xml = JUnitXml.fromfile(path)
    tests = failures = 0
    for suite in xml:
        for case in suite:
            tests += 1
            failures += any(isinstance(r, Failure) for r in case.result)
    print(json.dumps({"tests": tests, "failures": failures}))
else:
    sys.exit(f"unknown kind {kind}")
