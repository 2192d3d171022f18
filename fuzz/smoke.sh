#!/usr/bin/env bash
# The ctest smoke run of one libFuzzer target (cmake/Fuzz.cmake registers it as
# fuzz.<name>): every seed in fuzz/corpus/<name> and every reproducer in
# fuzz/regressions/<name> once, then SECONDS of fuzzing from there. New inputs go
# to a temporary directory, never into the repository; a crash's input is kept in
# ARTIFACTS. Any crash, leak or sanitizer report fails the test.
# Usage: smoke.sh TARGET_EXE NAME SECONDS SOURCE_DIR ARTIFACTS
set -euo pipefail
exe=$1 name=$2 seconds=$3 src=$4 artifacts=$5

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$artifacts"

dirs=("$work" "$src/fuzz/corpus/$name")
[ -d "$src/fuzz/regressions/$name" ] && dirs+=("$src/fuzz/regressions/$name")
opts=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
      -artifact_prefix="$artifacts/")
[ -f "$src/fuzz/$name.dict" ] && opts+=(-dict="$src/fuzz/$name.dict")

export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1
exec "$exe" "${opts[@]}" "${dirs[@]}"
