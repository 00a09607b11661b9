#!/usr/bin/env bash
# The chaos run (docs/testing.md, "Chaos run"): a real 3-node ensemble,
# 8 clients over the three adapters taking one Lock with fenced writes,
# and a nemesis killing, freezing and cutting things off; a checker reads
# the histories at the end. Usage: scripts/chaos.sh [minutes] (default 30).
# CHAOS_SEED=n replays a nemesis schedule. Every server and proxy is
# stopped by process id when the run ends, fails or is interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-30}"
scripts/deps.sh
CHAOS_SECS=$(( minutes * 60 )) cargo test --release --test chaos
