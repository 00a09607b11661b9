#!/usr/bin/env bash
# Runs the quickstart example: against the embedded server (no Java needed)
# unless ZK_HOSTS names real servers.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet --example quickstart
