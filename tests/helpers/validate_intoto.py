"""Validates an in-toto Statement v1 with the in-toto project's own Python
bindings (PyPI `in-toto-attestation`, installed by scripts/test-deps.sh):
the JSON is parsed into the Statement protobuf (unknown top-level fields
fail) and checked by `Statement.validate()` (type, subjects with digests,
predicate type and predicate). Prints {"ok": bool, "errors": [...],
"subjects": n, "predicateType": "..."}.

Usage: python3 validate_intoto.py FILE
"""
import json
import sys


def main():
    from google.protobuf import json_format
    from in_toto_attestation.v1 import statement, statement_pb2

    errors = []
    subjects = 0
    predicate_type = None
    try:
        with open(sys.argv[1], encoding="utf-8") as f:
            pb = json_format.Parse(f.read(), statement_pb2.Statement())
        stmt = statement.Statement.copy_from_pb(pb)
        stmt.validate()
        subjects = len(pb.subject)
        predicate_type = pb.predicate_type
    except Exception as e:  # a parse failure is a validation failure
        errors.append(f"{type(e).__name__}: {e}")
    print(json.dumps({"ok": not errors, "errors": errors, "subjects": subjects,
                      "predicateType": predicate_type}))


main()
