#!/usr/bin/env bash
# Installs what the tests need on a fresh machine (README command 2 then runs
# `cargo test --workspace` under scripts/with-postgres.sh).
# - Python's `packaging`: the independent PEP 440 implementation the OSV tests cross-check against
#   (and packaging 21.3, kept apart, for the pre-PEP 440 versions newer releases refuse).
# - cyclonedx-python-lib (with the official CycloneDX JSON schemas) and spdx-tools: the independent
#   validators the export tests run on every CycloneDX and SPDX document written (spdx-tools' tag-value
#   parser also counts the packages and edges of every SPDX tag-value fixture, tests/helpers/spdx_tv_counts.py).
# - Debian's Chromium and playwright-core (npm): the dashboard's browser test.
# - junitparser (PyPI) and the SARIF 2.1.0 schema from @microsoft/jest-sarif (npm): independent readers
#   of `aibomdb gate` output.
# - cvss (Red Hat's, PyPI): an independent CVSS v3/v4 calculator the scores are cross-checked against.
# - in-toto-attestation (PyPI): the in-toto project's bindings, which validate release statements.
# - curl: the client the Dependency-Track upload forms are tested with.
# - PostgreSQL's server (Debian's postgresql): the PostgreSQL back end's tests run against a real one,
#   started by scripts/with-postgres.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check 'packaging==26.3' \
  'cyclonedx-python-lib[json-validation]==11.12.0' 'spdx-tools==0.8.5' 'junitparser==5.0.3' 'cvss==3.6' 'in-toto-attestation==0.9.3'
# packaging 21.3, the last with LegacyVersion, apart from the one above: the
# cross-check compares pre-PEP 440 versions with it (tests/helpers/osv_pep440_check.py).
python3 -m pip install --quiet --disable-pip-version-check --upgrade \
  --target "$HOME/.cache/aibomdb/packaging-21.3" 'packaging==21.3'

# Debian's Chromium (the dashboard tests) and curl (the Dependency-Track
# upload forms are tested with it, as its documentation gives them).
missing=""
test -x /usr/bin/chromium || missing="$missing chromium"
command -v curl >/dev/null || missing="$missing curl"
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || missing="$missing postgresql"
if [ -n "$missing" ]; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -q $missing >/dev/null || {
    $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q $missing >/dev/null
  }
fi

npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
