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
seed cyclonedx $(find $shared/formats/cyclonedx $shared/formats/aibom $shared/formats/bsi -type f -name '*.json' -size -256k 2>/dev/null | head -200)
# The spdx and lockfile targets read a selector byte first; seeds get the
# right one prepended (spdx: 0 for 2.x, 1 for 3.0; lockfile: 0 uv, 1 poetry,
# 2 pdm, 3 pylock, 4 Pipfile.lock, 5 requirements.txt).
seed_pick() { # target, selector, file
  mkdir -p "corpus/$1"
  [ -f "$3" ] && { printf "\\x$(printf %02x "$2")"; cat "$3"; } > "corpus/$1/$2-$(echo "$3" | md5sum | cut -c1-16)"
}
for f in $(find $shared/formats/spdx -type f -name '*.json*' -size -256k | head -200); do
  if grep -q '"spdxVersion"' "$f"; then seed_pick spdx 0 "$f"; else seed_pick spdx 1 "$f"; fi
done
# Whole lockfiles are 40-370 KB, so each run parses for milliseconds; a head
# of each (cut where a new package entry starts, ~8 KB in) gives the fuzzer
# small real inputs to mutate as well.
mkdir -p corpus/heads
while read -r sel pattern cut; do
  for f in $(find ../tests/fixtures/lockfiles $shared/dev/lockfiles -type f -name "$pattern"); do
    seed_pick lockfile "$sel" "$f"
    head=corpus/heads/$(echo "$f" | md5sum | cut -c1-16)
    awk -v cut="$cut" '{ n += length($0) + 1 } n > 8000 && $0 ~ cut { exit } { print }' "$f" > "$head"
    seed_pick lockfile "$sel" "$head"
  done
done <<'LOCKS'
0 uv.lock ^\\[\\[package
1 poetry.lock ^\\[\\[package
2 pdm.lock ^\\[\\[package
3 pylock*.toml ^\\[\\[packages
4 Pipfile.lock ^$
5 requirements*.txt ^[A-Za-z0-9]
LOCKS
seed cyclonedx_xml $(find ../tests/fixtures/formats -name '*.cdx.xml')
seed spdx_tag_value $(find ../tests/fixtures -name '*.spdx')
seed json_depth $(find $shared/formats/cyclonedx -name '*.json' -size -64k | head -50)
seed gguf $(find ../tests/fixtures/models -name "*.gguf")
seed onnx $(find ../tests/fixtures/models -name "*.onnx")
seed keras $(find ../tests/fixtures/models -name "*.keras" -o -name "*.npz")
seed numpy $(find ../tests/fixtures/models -name "*.npy" -o -name "*.npz")
targets=${TARGETS:-document cyclonedx cyclonedx_xml spdx_tag_value spdx lockfile osv model_card pickle safetensors model_signing json_depth gguf onnx keras numpy}
for t in $targets; do
  echo "== $t ($secs s)"
  mkdir -p logs
  # Build first, so a build error shows as one, not as a silent empty run.
  cargo fuzz build --sanitizer none "$t" 2>&1 | grep -E '^error' -A5 && exit 1
  # Memory: every reader must stay far below 2 GiB on a 1 MiB input (a copy per
  # pickle MEMOIZE once took 1.65 GB from 1 MiB); an input past it is saved as
  # an oom-* artifact. -malloc_limit_mb stops a single huge allocation at once
  # where libFuzzer can hook malloc; the RSS limit is checked every second.
  cargo fuzz run --sanitizer none "$t" "corpus/$t" -- -max_total_time="$secs" \
    -rss_limit_mb=2048 -malloc_limit_mb=2048 -max_len=1048576 \
    > "logs/$t.log" 2>&1 || true
  grep -E '^#[0-9]+ +(DONE|pulse)|^Done|ERROR|panicked|SUMMARY' "logs/$t.log" | tail -3
  echo "corpus: $(ls "corpus/$t" | wc -l) files"
done
# A crash stops that target's run (libFuzzer exits) but not the others.
crashes=$(find artifacts -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' \) -newer run.sh 2>/dev/null | wc -l)
echo "new crash, oom or timeout inputs under fuzz/artifacts: $crashes"
