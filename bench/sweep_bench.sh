#!/usr/bin/env bash
# A local sweep of 8 points of experiments/mnist.exp at 1 epoch with `--jobs 2` (each point
# cores / 2 threads), against the same 8 runs one after another with `expr run --set` (each
# with every core): wall seconds of each, and the 1-minute load average around them.
# Issue 17 asks that the sweep take no longer. Run on a quiet machine (`uptime` load below
# 1.5): it refuses otherwise, unless FORCE=1.
#
#   EXPR_DATA=/path/to/data bench/sweep_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
: "${EXPR_DATA:?set EXPR_DATA to the folder holding MNIST}"
export EXPR_DATA
load() { cut -d' ' -f1 /proc/loadavg; }
if [ "${FORCE:-0}" != 1 ] && awk -v l="$(load)" 'BEGIN { exit !(l >= 1.5) }'; then
  echo "load average $(load) is 1.5 or more: the figures would measure the other work (FORCE=1 runs anyway)" >&2
  exit 1
fi
cargo build --release --quiet
EXPR="$PWD/target/release/expr"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cp experiments/mnist.exp "$WORK/"
cd "$WORK"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "load before: $(load)"
start=$(date +%s.%N)
for lr in 1e-3 3e-4; do
  for seed in 1 2 3 4; do
    "$EXPR" run mnist.exp --set opt.lr=$lr --set experiment.seed=$seed --epochs 1 \
      --no-progress --runs-dir one-by-one >/dev/null
  done
done
sequential=$(echo "$(date +%s.%N) - $start" | bc)
echo "load between: $(load)"
start=$(date +%s.%N)
"$EXPR" sweep mnist.exp --grid opt.lr=1e-3,3e-4 --grid experiment.seed=1..4 --epochs 1 \
  --jobs 2 --runs-dir sweep >/dev/null
swept=$(echo "$(date +%s.%N) - $start" | bc)
echo "load after: $(load)"
printf '8 runs one after another (expr run, every core each): %.1f s\n' "$sequential"
printf 'expr sweep --jobs 2 (cores / 2 threads each):          %.1f s (%.2fx)\n' \
  "$swept" "$(echo "$swept / $sequential" | bc -l)"
"$EXPR" runs sweep --sort test_accuracy | head -3
