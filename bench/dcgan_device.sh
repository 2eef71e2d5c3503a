#!/bin/bash
# One epoch of experiments/dcgan.exp without batch norm, `expr run` against
# bench/dcgan_torch.py, on the first $EXAMPLES MNIST examples, at each thread count in
# $THREADS; two epochs each, the second is the figure. Expects a stripped expr binary and
# MNIST under $CARRY (target/bench-carry: expr, data/mnist/).
set -u
CARRY=${CARRY:-target/bench-carry}
EXAMPLES=${EXAMPLES:-7680}
export EXPR_DATA=$PWD/$CARRY/data
nproc
sed -e '/batchnorm()/d' -e 's/epochs = 50/epochs = 2/' \
    -e "s/| channel_axis()/| take(count = $EXAMPLES)\n  | channel_axis()/" \
    -e '/^on epoch_end/,/^}/d' -e '/^after/,/^}/d' experiments/dcgan.exp > /tmp/dcgan_bench.exp
for t in ${THREADS:-8 2}; do
  echo "== expr, $t threads"
  /usr/bin/time -f "peak RSS %M KB" $CARRY/expr run /tmp/dcgan_bench.exp --threads $t --timings --no-progress --runs-dir /tmp/runs 2>&1 | grep -iv "^$" | tail -6
  echo "== PyTorch, $t threads"
  python3 bench/dcgan_torch.py --threads $t --epochs 2 --examples $EXAMPLES 2>&1 | tail -3
done
