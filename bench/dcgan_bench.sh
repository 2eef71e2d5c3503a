#!/bin/bash
# Seconds per epoch of experiments/dcgan.exp without batch norm: `expr run` against its
# PyTorch twin (bench/dcgan_torch.py), on the first $EXAMPLES MNIST examples (20 steps of
# 256 by default), at each thread count in $THREADS; two epochs each, read the second.
#
#     EXPR_DATA=../shared/data THREADS="2" bash bench/dcgan_bench.sh
set -u
EXPR=${EXPR:-target/release/expr}
EXAMPLES=${EXAMPLES:-5120}
sed -e '/batchnorm()/d' -e 's/epochs = 50/epochs = 2/' \
    -e "s/| channel_axis()/| take(count = $EXAMPLES)\n  | channel_axis()/" \
    -e '/^on epoch_end/,/^}/d' -e '/^after/,/^}/d' experiments/dcgan.exp > /tmp/dcgan_bench.exp
for t in ${THREADS:-2}; do
  echo "== expr, $t threads"
  $EXPR run /tmp/dcgan_bench.exp --threads "$t" --timings --no-progress --runs-dir /tmp/dcgan_bench_runs 2>&1 | grep "^epoch"
  echo "== PyTorch, $t threads"
  python3 bench/dcgan_torch.py --threads "$t" --epochs 2 --examples "$EXAMPLES"
done
