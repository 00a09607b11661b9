#!/usr/bin/env bash
# Runs the fuzz targets on the stable toolchain (no sanitizer).
#   scripts/fuzz.sh                 every target, 20 s each (the CI smoke run)
#   scripts/fuzz.sh TARGET SECONDS  one target for as long as you like
#   scripts/fuzz.sh --runs N [T..]  every target (or the ones named) for N
#                                   executions each (the long run: --runs
#                                   10000000)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --fuzz
targets=(frame_decoder response_decoder request_roundtrip session session_tls server_input recipe_parsers client_api)
limit=()
suffix=
if [ "${1:-}" = "--runs" ]; then
  limit=(-runs="${2:?--runs needs a count}")
  suffix=-long
  if [ $# -gt 2 ]; then targets=("${@:3}"); fi
else
  if [ $# -ge 1 ]; then targets=("$1"); fi
  limit=(-max_total_time="${2:-${FUZZ_SECONDS:-20}}")
fi
mkdir -p target
for t in "${targets[@]}"; do
  echo "fuzz: $t (${limit[*]})"
  # A long run keeps its own log, so a CI smoke beside it cannot garble it.
  log=target/fuzz-$t$suffix.log
  rc=0
  cargo fuzz run --sanitizer none "$t" -- "${limit[@]}" >"$log" 2>&1 || rc=$?
  grep -E '^#[0-9]+\s+DONE' "$log" || true
  if [ "$rc" -ne 0 ]; then
    tail -n 40 "$log" >&2
    echo "fuzz: $t failed (exit $rc); the input is under fuzz/artifacts/$t" >&2
    exit 1
  fi
done
