#!/usr/bin/env bash
# Benchmarks side by side (docs/performance.md): starts one real server,
# then runs workloads W1-W5 of ../shared/BASELINES.md with kazoo-rs on each
# adapter (std, tokio, mio) and the peer programs of bench/peers (raw
# socket, zookeeper-client, Python kazoo), interleaved over ROUNDS rounds
# (A B C D E F A B ...), against that one server. Every program measures
# over the workload's window only. Prints one table per workload with
# ratios, and writes target/bench/results.json and target/bench/chart.svg.
#   scripts/bench.sh [ROUNDS]     the full run (3 rounds by default)
#   scripts/bench.sh --smoke      tiny counts, one round (CI)
set -uo pipefail
cd "$(dirname "$0")/.."
rounds=3 smoke=0
if [ "${1:-}" = "--smoke" ]; then smoke=1 rounds=1; elif [ -n "${1:-}" ]; then rounds=$1; fi
out=target/bench; mkdir -p "$out"
results="$out/results.txt"; : > "$results"
scripts/deps.sh >/dev/null || echo "bench: scripts/deps.sh failed; going on with what is there"
# W7 opens 10,000 sessions: both this process's children and the server
# need the descriptors.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# Build every program; a peer that does not build is left out, not faked.
clients=()
# The smoke run checks that the programs run, not their speed: it takes the
# debug build the test pass has already made.
if [ $smoke = 1 ]; then build=(cargo test --all-features --bench e2e --no-run) profile=debug
else build=(cargo bench --bench e2e --no-run) profile=release; fi
if e2e=$("${build[@]}" 2>&1 | grep -o "target/$profile/deps/e2e-[0-9a-f]*" | tail -1) && [ -n "$e2e" ]; then
  clients+=("kazoo-rs-std:$e2e --adapter=std" "kazoo-rs-tokio:$e2e --adapter=tokio" "kazoo-rs-mio:$e2e --adapter=mio")
else
  echo "bench: kazoo-rs's e2e benchmark did not build" >&2
  e2e_failed=1
fi
for peer in raw-bench zkc-bench; do
  if (cd "bench/peers/$peer" && cargo build -q --release); then
    name=raw-socket; [ "$peer" = zkc-bench ] && name=zookeeper-client
    clients=("$name:bench/peers/$peer/target/release/$peer" "${clients[@]}")
  else
    echo "bench: $peer did not build; left out" >&2
  fi
done
if python3 -c 'import kazoo' 2>/dev/null; then
  clients+=("kazoo:python3 bench/peers/kazoo_bench.py")
else
  echo "bench: Python kazoo is not installed; left out" >&2
fi

dir=$(mktemp -d); port=$((20000 + RANDOM % 10000))
if ! bench/zk.sh start "$dir" "$port"; then
  echo "bench: the server did not start; nothing measured" >&2; exit 1
fi
trap 'bench/zk.sh stop "$dir"; rm -rf "$dir"' EXIT
zkpid=$(cat "$dir/pid")
hosts="127.0.0.1:$port"
count() { # workload -> its count (and W7's idle seconds) for this mode
  if [ $smoke = 1 ]; then case $1 in W2) echo 2000 ;; W3) echo 1000 ;; W6) echo 1 ;; W7) echo "200 2" ;; *) echo 200 ;; esac
  else case $1 in W2) echo 200000 ;; W3) echo 50000 ;; W6) echo 5 ;; W7) echo "10000 30" ;; *) echo 10000 ;; esac; fi
}
# Warm the server's JIT once, outside every measurement.
for c in "${clients[@]}"; do
  case $c in raw-socket:*) ${c#*:} "$hosts" W2 "$(count W2)" >/dev/null 2>&1 ;; esac
done

ours_failed=${e2e_failed:-0}
for w in W1 W2 W3 W4 W5 W6 W7 W8; do
  for r in $(seq 1 "$rounds"); do
    for c in "${clients[@]}"; do
      name=${c%%:*} cmd=${c#*:}
      [ "$w" = W5 ] && [ "$name" = raw-socket ] && continue # no watch registry
      case $w in W6|W8) case $name in kazoo-rs-*) ;; *) continue ;; esac ;; esac # kazoo-rs only
      case $w in W7) [ "$name" = kazoo-rs-mio ] || continue ;; esac             # one mio thread
      # shellcheck disable=SC2046 # count may be two words (W7)
      if line=$(ZK_PID=$zkpid timeout 900 $cmd "$hosts" "$w" $(count "$w") 2>"$out/last-error.txt" | grep '^RESULT'); then
        echo "$line" | sed "s/\$/ round=$r/" | tee -a "$results"
      else
        echo "bench: $name $w round $r failed: $(tail -n 2 "$out/last-error.txt")" >&2
        case $name in kazoo-rs-*) ours_failed=$((ours_failed + 1)) ;; esac
      fi
    done
  done
done
python3 bench/summarize.py "$results" "$out/results.json"
if (cd bench/chart && cargo build -q --release); then
  bench/chart/target/release/bench-chart "$out/results.json" "$out/chart.svg" && echo "bench: chart in $out/chart.svg"
else
  echo "bench: the chart program did not build; no chart" >&2
fi
if [ "$ours_failed" -gt 0 ]; then
  echo "bench: $ours_failed kazoo-rs runs failed" >&2
  exit 1
fi
