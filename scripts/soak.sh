#!/usr/bin/env bash
# The soak (docs/testing.md, "Soak"): 1,000 sessions on one kazoo-mio
# thread and 10 kazoo-std clients doing watched reads, writes, ephemeral
# creates and lock cycles against a real server, every connection cut
# once a minute; resident memory, threads, file descriptors and pending
# requests sampled before each cut. Usage: scripts/soak.sh [minutes]
# (default 30). SOAK_SESSIONS=n changes the number of mio sessions.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-30}"
scripts/deps.sh
SOAK_SECS=$(( minutes * 60 )) cargo test --release --test soak
