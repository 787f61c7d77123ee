"""Validates aibomdb's exports with independent tools from PyPI:
CycloneDX JSON against the official schemas bundled in cyclonedx-python-lib
(strict: unknown properties fail), SPDX 2.3 with spdx-tools (what
`pyspdxtools` runs). Prints one JSON object: {"ok": bool, "errors": [...]}.

Usage: python3 validate_export.py cyclonedx-1.6|cyclonedx-1.5|spdx-2.3 FILE
"""
import json
import sys


def cyclonedx(version, path):
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    schema = {"1.6": SchemaVersion.V1_6, "1.5": SchemaVersion.V1_5}[version]
    with open(path, encoding="utf-8") as f:
        text = f.read()
    errors = JsonStrictValidator(schema).validate_str(text, all_errors=True)
    if errors is None:
        return []
    try:
        found = list(errors)
    except TypeError:
        found = [errors]
    # Each error carries the whole failing instance: its first lines say enough.
    return [str(getattr(e, "data", e))[:600] for e in found]


def spdx23(path):
    from spdx_tools.spdx.parser.parse_anything import parse_file
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    document = parse_file(path)
    messages = validate_full_spdx_document(document, "SPDX-2.3")
    return [f"{m.validation_message} ({m.context})" for m in messages]


def main():
    fmt, path = sys.argv[1], sys.argv[2]
    try:
        if fmt.startswith("cyclonedx-"):
            errors = cyclonedx(fmt.split("-", 1)[1], path)
        elif fmt == "spdx-2.3":
            errors = spdx23(path)
        else:
            raise SystemExit(f"no validator for {fmt}")
    except Exception as e:  # a parse failure is a validation failure
        errors = [f"{type(e).__name__}: {e}"]
    print(json.dumps({"ok": not errors, "errors": errors[:50], "count": len(errors)}))


if __name__ == "__main__":
    main()
