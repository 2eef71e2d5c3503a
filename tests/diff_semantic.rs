//! `expr diff`: changes by meaning, insensitive to layout and declaration order; git
//! revisions as inputs; and expr as git's diff driver (textconv and external command).
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use std::path::Path;
use std::process::{Command, Output};

use expr::diff::{diff_texts, Format};

const BASE: &str = r#"experiment mlp { seed = 1 }
data train = mnist(split = "train") | scale(1 / 255) | batch(64)
model net {
  flatten()
  dense(units = 128, activation = relu)
  dense(units = 10)
}
loss xent = sparse_categorical_crossentropy(from_logits = true)
optimizer opt = adam(lr = 1e-3)
train { model = net data = train loss = xent optimizer = opt epochs = 2 }
metrics { train_loss = mean(loss) on train }
on epoch_end { log "loss {train_loss:.4f}" }
"#;

fn diff(a: &str, b: &str) -> String {
    diff_texts(("a", a), ("b", b), Format::Text)
        .unwrap_or_else(|_| panic!("both sides parse"))
        .lines()
        .skip(2)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn layout_comments_spelling_and_order_do_not_matter() {
    let shuffled = r#"// the same experiment, rearranged
optimizer opt = adam(lr = 0.001)
on epoch_end {
  log "loss {train_loss:.4f}"
}
metrics {
  train_loss = mean(loss) on train
}
loss xent = sparse_categorical_crossentropy(from_logits=true)
model net { flatten() dense(128, activation = relu) dense(10) }
train {
  epochs = 2
  optimizer = opt
  loss = xent
  data = train
  model = net
}
data train = mnist(split = "train") | scale(1/255) | batch(64)
experiment mlp {
  seed = 1
}
"#;
    assert_eq!(diff(BASE, shuffled), "no semantic changes");
}

#[test]
fn hyperparameters_show_old_and_new() {
    let b = BASE
        .replace("lr = 1e-3", "lr = 3e-4")
        .replace("epochs = 2", "epochs = 5")
        .replace("batch(64)", "batch(128)")
        .replace("seed = 1", "seed = 2");
    assert_eq!(
        diff(BASE, &b),
        "~ data train.batch.size: 64 → 128\n\
         ~ experiment.seed: 1 → 2\n\
         ~ optimizer opt.lr: 0.001 → 0.0003\n\
         ~ train.epochs: 2 → 5"
    );
}

#[test]
fn optimizer_kind_change_shows_both_calls() {
    let b = BASE.replace("adam(lr = 1e-3)", "sgd(lr = 0.1, momentum = 0.9)");
    assert_eq!(
        diff(BASE, &b),
        "~ optimizer opt: adam(lr = 0.001) → sgd(lr = 0.1, momentum = 0.9)"
    );
}

#[test]
fn layers_added_removed_and_changed_with_parameter_deltas() {
    let b = BASE.replace(
        "  dense(units = 128, activation = relu)\n  dense(units = 10)",
        "  dense(units = 64, activation = relu)\n  dropout(rate = 0.5)\n  dense(units = 32, activation = relu)\n  dense(units = 10)",
    );
    // 784*128+128 = 100,480 → 784*64+64 = 50,240; new dense 64*32+32 = 2,080;
    // the unchanged last layer shrinks from 128*10+10 = 1,290 to 32*10+10 = 330 (in the total).
    assert_eq!(
        diff(BASE, &b),
        "~ model net: layer dense units = 128 → units = 64  (-50,240 parameters)\n\
         + model net: layer dropout dropout(rate = 0.5)\n\
         + model net: layer dense_1 dense(units = 32, activation = relu)  (+2,080 parameters)\n\
         ~ model net: 101,770 → 52,650 parameters (-49,120)"
    );
    let removed = BASE.replace("  dense(units = 128, activation = relu)\n", "");
    let text = diff(BASE, &removed);
    assert!(
        text.starts_with(
            "- model net: layer dense dense(units = 128, activation = relu)  (-100,480 parameters)"
        ),
        "{text}"
    );
}

#[test]
fn hooks_added_and_removed() {
    let b = BASE.replace(
        "on epoch_end { log \"loss {train_loss:.4f}\" }",
        "on step { clip(norm = 1.0) }",
    );
    assert_eq!(
        diff(BASE, &b),
        "- on epoch_end: log \"loss {train_loss:.4f}\"\n+ on step: clip(norm = 1)"
    );
}

#[test]
fn yaml_format_is_machine_readable() {
    let b = BASE.replace("lr = 1e-3", "lr = 3e-4");
    let yaml = diff_texts(("a.exp", BASE), ("b.exp", &b), Format::Yaml).unwrap_or_default();
    let value: serde_yaml::Value = serde_yaml::from_str(&yaml).unwrap();
    assert_eq!(value["a"].as_str(), Some("a.exp"));
    let change = &value["changes"][0];
    assert_eq!(change["change"].as_str(), Some("changed"));
    assert_eq!(change["path"].as_str(), Some("optimizer opt.lr"));
    assert_eq!(change["old"].as_str(), Some("0.001"));
    assert_eq!(change["new"].as_str(), Some("0.0003"));
}

fn git(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A repository with two commits of `exp/mlp.exp`: the second changes the learning rate
/// and reformats the file.
fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    git(d, &["init", "-q"]);
    std::fs::create_dir(d.join("exp")).unwrap();
    std::fs::write(d.join("exp/mlp.exp"), BASE).unwrap();
    git(d, &["add", "."]);
    git(d, &["commit", "-qm", "first"]);
    let second = BASE.replace("lr = 1e-3", "lr = 3e-4").replace(
        "experiment mlp { seed = 1 }",
        "experiment mlp {\n    seed = 1\n}",
    );
    std::fs::write(d.join("exp/mlp.exp"), second).unwrap();
    git(d, &["commit", "-qam", "second"]);
    dir
}

fn expr_in(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(common::expr_bin())
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    // 1: the experiments differ, as `diff` says it.
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn git_revisions_are_inputs() {
    let dir = repo();
    let expected = "~ optimizer opt.lr: 0.001 → 0.0003\n";
    let out = expr_in(dir.path(), &["diff", "HEAD~1:exp/mlp.exp", "exp/mlp.exp"]);
    assert_eq!(
        out,
        format!("--- HEAD~1:exp/mlp.exp\n+++ exp/mlp.exp\n{expected}")
    );
    let out = expr_in(
        &dir.path().join("exp"),
        &["diff", "--rev", "HEAD~1", "mlp.exp"],
    );
    assert!(out.ends_with(expected), "{out}");
}

#[test]
fn git_diff_and_log_use_expr_through_textconv() {
    let dir = repo();
    let d = dir.path();
    std::fs::write(d.join(".gitattributes"), "*.exp diff=expr\n").unwrap();
    let textconv = format!("{} diff --textconv", common::expr_bin());
    git(d, &["config", "diff.expr.textconv", &textconv]);
    let log = git(d, &["log", "-p", "-1", "--format=", "--", "exp/mlp.exp"]);
    let log = String::from_utf8_lossy(&log.stdout);
    let changed: Vec<&str> = log
        .lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .collect();
    // The reformatting is invisible; only the learning rate changed.
    assert_eq!(
        changed,
        [
            "-optimizer opt = adam(lr = 0.001)",
            "+optimizer opt = adam(lr = 0.0003)"
        ],
        "{log}"
    );
}

#[test]
fn git_diff_uses_expr_as_external_diff_command() {
    let dir = repo();
    let d = dir.path();
    std::fs::write(d.join(".gitattributes"), "*.exp diff=expr\n").unwrap();
    let command = format!("{} diff", common::expr_bin());
    git(d, &["config", "diff.expr.command", &command]);
    let out = git(d, &["diff", "HEAD~1", "HEAD", "--", "exp/mlp.exp"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "--- a/exp/mlp.exp\n+++ b/exp/mlp.exp\n~ optimizer opt.lr: 0.001 → 0.0003\n"
    );
}

#[test]
fn graph_models_and_blocks_diff_by_layer_and_by_wiring() {
    let graph = |units: &str, ret: &str| {
        format!(
            r#"experiment g {{ seed = 1 }}
data train = mnist(split = "train") | scale(1 / 255) | batch(64)
block res(u) (x) {{
  h = x | dense(u)
  return h + x
}}
model net (x) {{
  f = x | flatten() | dense({units})
  g = f | res({units})
  return {ret}
}}
loss xent = sparse_categorical_crossentropy(from_logits = true)
optimizer opt = adam(lr = 1e-3)
train {{ epochs = 1 }}
step on train (x, y) {{
  logits = net(x, training = true)
  loss = xent(y, logits)
  update opt minimizing loss
}}
"#
        )
    };
    let base = graph("10", "g");
    assert_eq!(
        diff(&base, &base.replace("  ", "    ")),
        "no semantic changes"
    );
    let wider = diff(&base, &graph("12", "g"));
    assert!(wider.contains("dense") && wider.contains("12"), "{wider}");
    let rewired = diff(&base, &graph("10", "g + f"));
    assert!(rewired.contains("return g + f"), "{rewired}");
}

#[test]
fn a_sweep_block_is_diffed_line_by_line() {
    let a = format!("{BASE}sweep {{\n  grid opt.lr = (1e-3, 3e-4)\n  random = 3\n  uniform train.batch = 16 : 64 int\n}}\n");
    let b = format!("{BASE}sweep {{ grid opt.lr = (0.001, 3e-4, 1e-4) random = 5 grid experiment.seed = 1..3 }}\n");
    assert_eq!(
        diff(&a, &b),
        "+ sweep grid experiment.seed: 1..3\n\
         ~ sweep grid opt.lr: (0.001, 0.0003) → (0.001, 0.0003, 0.0001)\n\
         ~ sweep random: 3 → 5\n\
         - sweep uniform train.batch: 16 : 64 int"
    );
    assert_eq!(diff(&a, &a), "no semantic changes");
}
