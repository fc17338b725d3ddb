#!/usr/bin/env bash
# Grows the committed seed corpora from what fuzzing found: for each target, the inputs in the
# build tree's scratch corpus (build/fuzz/tests/fuzz/corpus/NAME, filled by `bash cmake/dev.sh
# fuzz` and `sanitize`) that reach code edges the committed ones do not are copied into
# tests/fuzz/corpus/NAME/found/ (libFuzzer reads a corpus folder with its subfolders). Edges only
# (-use_counters=0), so the set stays small; the hand-written seeds beside found/ stay as they are.
#   bash tests/fuzz/grow_corpus.sh [NAME...]     (default: every target)
set -euo pipefail
cd "$(dirname "$0")/../.."
build=build/fuzz/tests/fuzz
names=${*:-"bending checkpoint edits model_card npy registry safetensors session"}
for n in $names; do
  fuzzer=$build/fuzz_$n
  [ -x "$fuzzer" ] || { echo "grow_corpus: $fuzzer is not built (bash cmake/dev.sh fuzz)" >&2; exit 1; }
  committed=tests/fuzz/corpus/$n
  mkdir -p "$committed/found"
  before=$(mktemp)
  ls "$committed" > "$before"
  "$fuzzer" -merge=1 -use_counters=0 -timeout=5 "$committed" "$build/corpus/$n" > "$build/grow-$n.log" 2>&1 ||
    { tail -20 "$build/grow-$n.log" >&2; rm -f "$before"; exit 1; }
  added=0
  for f in $(ls "$committed" | grep -vxFf "$before"); do
    mv "$committed/$f" "$committed/found/$f"
    added=$((added + 1))
  done
  rm -f "$before"
  echo "grow_corpus: $n: $added inputs added ($(ls "$committed/found" | wc -l) found in all)"
done
