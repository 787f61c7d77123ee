#!/usr/bin/env bash
# Every test, beside the throwaway PostgreSQL cluster scripts/with-postgres.sh
# starts (the README's test command runs this under it):
#   1. the whole workspace, stores as redb files (tests/postgres*.rs run on
#      PostgreSQL and compares it with redb);
#   2. the end-to-end suites that run on either back end, again, each test's
#      store a PostgreSQL database of its own (AIBOMDB_TEST_BACKEND=postgres:
#      tests/common/mod.rs::db). Tests that are redb's by nature (compaction)
#      say so where they name a .redb file. Not in this list: the suites
#      about the redb file itself (migration, crash, exit_codes) or that
#      need no store.
set -euo pipefail
: "${AIBOMDB_TEST_DB_URL:?run under scripts/with-postgres.sh}"
# A one-off build gains nothing from incremental state, which took 2.3 GB of
# disk in a fresh clone; set CARGO_INCREMENTAL=1 to keep it while iterating.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
cargo test --workspace
suites=(cli lockfiles advisories matching vex models model_integrity model_formats model_scanner model_secrets
    attestations export api api_models api_access api_limits query_validation gate gate_vulnerabilities gate_api gate_policy
    gate_shared gate_counts releases releases_http feeds findings dtrack encodings terminal load overview notify notify_vex)
args=()
for s in "${suites[@]}"; do args+=(--test "$s"); done
AIBOMDB_TEST_BACKEND=postgres cargo test -p aibomdb "${args[@]}"
