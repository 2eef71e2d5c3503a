//! Shared helpers for integration tests: small generated IDX data sets and
//! experiment files, so tests run in seconds without MNIST.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `n` images of `side`x`side` pixels and their labels as raw IDX files.
/// Class `c` of `classes` lights up a horizontal band at row c, plus
/// deterministic noise, so that a small model can learn it.
pub fn write_idx_set(
    dir: &Path,
    stem: &str,
    n: usize,
    side: usize,
    classes: usize,
) -> (PathBuf, PathBuf) {
    let mut images = Vec::with_capacity(16 + n * side * side);
    images.extend_from_slice(&2051u32.to_be_bytes());
    images.extend_from_slice(&(n as u32).to_be_bytes());
    images.extend_from_slice(&(side as u32).to_be_bytes());
    images.extend_from_slice(&(side as u32).to_be_bytes());
    let mut labels = Vec::with_capacity(8 + n);
    labels.extend_from_slice(&2049u32.to_be_bytes());
    labels.extend_from_slice(&(n as u32).to_be_bytes());
    let mut state = 0x2545F4914F6CDD1Du64;
    for i in 0..n {
        let class = i % classes;
        labels.push(class as u8);
        for r in 0..side {
            for _ in 0..side {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let noise = (state % 64) as u8;
                let band = if r * classes / side == class { 180 } else { 0 };
                images.push(band + noise);
            }
        }
    }
    let img = dir.join(format!("{stem}-images-idx3-ubyte"));
    let lbl = dir.join(format!("{stem}-labels-idx1-ubyte"));
    std::fs::File::create(&img)
        .and_then(|mut f| f.write_all(&images))
        .expect("write images");
    std::fs::File::create(&lbl)
        .and_then(|mut f| f.write_all(&labels))
        .expect("write labels");
    (img, lbl)
}

/// A small MLP experiment over generated data in `dir`; `step` is either the
/// standard `train { }` settings or explicit step blocks.
pub fn mlp_experiment(dir: &Path, explicit_steps: bool, extra: &str) -> String {
    let (tri, trl) = write_idx_set(dir, "train", 512, 8, 4);
    let (tei, tel) = write_idx_set(dir, "test", 128, 8, 4);
    let steps = if explicit_steps {
        r#"
step on train (x, y) {
  logits = net(x, training = true)
  loss = xent(y, logits)
  update opt minimizing loss
}

step on test (x, y) {
  logits = net(x)
  loss = xent(y, logits)
}

train {
  epochs = 3
}
"#
    } else {
        r#"
train {
  model = net
  data = train
  validate = test
  loss = xent
  optimizer = opt
  epochs = 3
}
"#
    };
    format!(
        r#"experiment small {{
  seed = 7
}}

data train = idx(images = "{tri}", labels = "{trl}", shape = (8, 8), classes = 4) | scale(1 / 255) | shuffle(buffer = 100) | batch(32)
data test = idx(images = "{tei}", labels = "{tel}", shape = (8, 8), classes = 4) | scale(1 / 255) | batch(32)

model net {{
  flatten()
  dense(units = 16, activation = relu)
  dropout(rate = 0.1)
  dense(units = 4)
}}

loss xent = sparse_categorical_crossentropy(from_logits = true)
optimizer opt = adam(lr = 1e-2)
{steps}
metrics {{
  train_loss = mean(loss) on train
  train_accuracy = sparse_categorical_accuracy(y, logits) on train
  test_loss = mean(loss) on test
  test_accuracy = sparse_categorical_accuracy(y, logits) on test
}}
{extra}
"#,
        tri = tri.display(),
        trl = trl.display(),
        tei = tei.display(),
        tel = tel.display(),
    )
}

pub fn expr_bin() -> &'static str {
    env!("CARGO_BIN_EXE_expr")
}

/// Checks and runs experiment `text` in `dir/runs` with default options.
pub fn run_text(dir: &Path, text: &str) -> expr::run::RunResult {
    let file = expr::syntax::parse_file(text).expect("parses");
    let exp = expr::check::check(&file).unwrap_or_else(|e| panic!("checks: {e:?}"));
    let mut out = |_: &str| {};
    expr::run::run(
        std::sync::Arc::new(exp),
        &dir.join("runs"),
        expr::run::RunOptions::default(),
        &mut out,
    )
    .expect("runs")
}

/// The per-epoch history of metric `name`.
pub fn metric<'a>(r: &'a expr::run::RunResult, name: &str) -> &'a [f64] {
    let i = r
        .names
        .iter()
        .position(|n| n == name)
        .expect("metric exists");
    &r.history[i]
}
