#!/usr/bin/env bash
# Re-creates web/vendor/ from the npm registry: GraphiQL and React at these
# exact versions, so that /graphql serves the editor from the binary (no CDN,
# works offline). Each tarball is checked against the registry's published
# integrity, each extracted file against SHA256SUMS (checked in); the files are
# stored gzipped (gzip -9 -n: byte-identical on every run) and served as such.
# Usage: bash web/vendor/fetch.sh            (needs npm, sha256sum, gzip)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# package@version  file-in-package  name-here
files=(
  "graphiql@3.8.3 graphiql.min.js graphiql.min.js"
  "graphiql@3.8.3 graphiql.min.css graphiql.min.css"
  "react@18.3.1 umd/react.production.min.js react.production.min.js"
  "react-dom@18.3.1 umd/react-dom.production.min.js react-dom.production.min.js"
)

cd "$work"
for spec in graphiql@3.8.3 react@18.3.1 react-dom@18.3.1; do
  name="${spec%@*}"
  expected="$(npm view "$spec" dist.integrity)"
  tgz="$(npm pack --silent "$spec")"
  actual="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
  if [ "$expected" != "$actual" ]; then
    echo "$spec: tarball integrity $actual, registry says $expected" >&2
    exit 1
  fi
  mkdir -p "$name"
  tar xzf "$tgz" -C "$name"
  cp "$name/package/LICENSE" "$here/LICENSE.$name"
done

for entry in "${files[@]}"; do
  read -r spec path out <<<"$entry"
  cp "${spec%@*}/package/$path" "$out"
done
# The checked-in sums are of the files as the packages ship them.
(cd "$work" && sha256sum -c "$here/SHA256SUMS")
for entry in "${files[@]}"; do
  read -r _ _ out <<<"$entry"
  gzip -9 -n -c "$out" >"$here/$out.gz"
done
echo "web/vendor: $(ls "$here" | tr '\n' ' ')"
