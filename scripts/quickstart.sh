#!/usr/bin/env bash
# Installs ZooKeeper if missing, then runs the quickstart example against a
# server it starts on a free loopback port (and stops afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cargo run --quiet --example quickstart --features testing
