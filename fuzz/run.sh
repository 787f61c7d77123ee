#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 600), seeded from the
# shared corpus and the repository's fixtures; prints executions and corpus
# size per target. Crashes land in fuzz/artifacts/<target>/ — copy each into
# a regression test before fixing it.
# Needs: cargo install cargo-fuzz (runs on the stable toolchain with
# --sanitizer none).
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-600}
shared=../../shared/corpus
seed() { # target, files...
  local dir=corpus/$1; shift
  mkdir -p "$dir"
  for f in "$@"; do [ -f "$f" ] && cp -f "$f" "$dir/$(echo "$f" | md5sum | cut -c1-16)" ; done
}
seed document $(find $shared/formats/cyclonedx $shared/formats/spdx $shared/dev -type f \( -name '*.json' -o -name '*.lock' -o -name '*.toml' -o -name '*.txt' \) -size -512k | head -300) \
  $(find ../tests/fixtures/vex -name '*.json')
seed osv $(find $shared/osv/examples -name '*.json') $(find $shared/osv/pypa-advisory-database -name '*.yaml' | head -200)
seed model_card $(find $shared/formats/huggingface -name '*.md')
seed pickle $(find ../tests/fixtures/models -name '*.pt' -o -name '*.bin' -o -name '*.pkl' -o -name '*.ckpt')
seed safetensors ../tests/fixtures/models/finetune-safetensors/model.safetensors
seed model_signing $(find $shared/formats/model-signing -name model.sig)
seed json_depth $(find $shared/formats/cyclonedx -name '*.json' -size -64k | head -50)
for t in document osv model_card pickle safetensors model_signing json_depth; do
  echo "== $t ($secs s)"
  cargo fuzz run --sanitizer none "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=4096 -max_len=1048576 2>&1 \
    | grep -E '^#[0-9]+ +(DONE|pulse)|^Done|ERROR|panicked|SUMMARY' | tail -3
  echo "corpus: $(ls "corpus/$t" | wc -l) files"
done
