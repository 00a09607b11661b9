#!/usr/bin/env bash
# Installs what the tests need and this machine lacks: the Debian zookeeper
# package (server + Java), Python kazoo (pip) and, with --fuzz, cargo-fuzz.
# Safe to run again.
set -euo pipefail

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root to run: $*" >&2; return 1; fi
}

if [ ! -f /usr/share/java/zookeeper.jar ] || ! command -v java >/dev/null; then
  echo "deps: installing the Debian zookeeper package (server and Java)…"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zookeeper >/dev/null
fi

if ! python3 -c 'import kazoo' >/dev/null 2>&1; then
  echo "deps: installing Python kazoo (for the differential test)…"
  python3 -m pip install --quiet --disable-pip-version-check kazoo==2.11.0
fi

if [ "${1:-}" = "--fuzz" ] && ! cargo fuzz --version >/dev/null 2>&1; then
  echo "deps: installing cargo-fuzz…"
  cargo install cargo-fuzz --locked --quiet
fi
