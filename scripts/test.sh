#!/usr/bin/env bash
# The whole check, from a fresh machine: installs what is missing, then
# format, lints, docs, every test (real ZooKeeper servers included, started
# and stopped by the tests themselves), the dependency rule, and a fuzz smoke run.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
step() { echo; echo "== $* ($(( $(date +%s) - start ))s)"; }

step deps
scripts/deps.sh

step fmt
cargo fmt --all -- --check
cargo fmt --manifest-path fuzz/Cargo.toml -- --check

step clippy
cargo clippy --workspace --all-targets --all-features -- -D warnings

step doc
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features --quiet

step test
# The client and failure suites default to the embedded server; here they
# run on the real one, then once more on the embedded one.
KAZOO_TEST_BACKEND=real cargo test --workspace --all-features --all-targets
cargo test --test std_client --test mio_client --test tokio_client \
  --test std_failures --test mio_failures --test tokio_failures
cargo test --workspace --all-features --doc

step "dependency rule: the core pulls in no runtime or I/O crate"
if cargo tree -p kazoo -e normal --prefix none | grep -Ei '^(tokio|mio|async-std|smol|socket2|libc) '; then
  echo "the core crate depends on an I/O crate" >&2; exit 1
fi

step "benchmark smoke (tiny counts, one round: checks the programs run, not their numbers)"
scripts/bench.sh --smoke >target/bench-smoke.log 2>&1 || { tail -n 40 target/bench-smoke.log; exit 1; }
grep -c '^RESULT' target/bench-smoke.log

step "fuzz smoke"
scripts/fuzz.sh

step "done"
