//! `--set` overrides: each path kind edits the right place of the text, later overrides win,
//! and bad paths or values are diagnostics that point into the file or the argument.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

use expr::overrides::{apply, Override};
use expr::source::Source;

const FILE: &str = r#"experiment mlp {
  seed = 1
}
data train = mnist(split = "train") | scale(1 / 255) | shuffle(buffer = 10000) | batch(64)
data test = mnist(split = "test") | scale(1 / 255) | batch(64)
model net {
  flatten()
  dense(128, activation = relu)
  dense(units = 10)
}
loss xent = sparse_categorical_crossentropy(from_logits = true)
optimizer opt = adam(lr = 1e-3)
train { model = net data = train validate = test loss = xent optimizer = opt epochs = 2 }
"#;

fn with(sets: &[&str]) -> Result<String, String> {
    let source = Source::new("mlp.exp", FILE);
    let file = expr::syntax::parse_file(FILE).unwrap();
    let overrides: Vec<Override> = sets.iter().map(|s| Override::parse(s).unwrap()).collect();
    apply(&source, &file, &overrides).map_err(|f| f.render(false))
}

fn edited(sets: &[&str]) -> String {
    let text = with(sets).unwrap_or_else(|e| panic!("{e}"));
    // Whatever the edit, the result is a valid, checkable experiment.
    let file = expr::syntax::parse_file(&text).unwrap();
    expr::check::check(&file).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
    text
}

#[test]
fn each_kind_of_path_edits_its_value() {
    let text = edited(&[
        "opt.lr=3e-4",
        "train.epochs=1",
        "experiment.seed=9",
        "train.batch=128",
        "test.mnist.split=train",
        "net.dense.units=256",
        "net.dense_1.units=10",
        "xent.from_logits=false",
    ]);
    assert!(text.contains("adam(lr = 3e-4)"));
    assert!(text.contains("epochs = 1 }"));
    assert!(text.contains("seed = 9"));
    assert!(text.contains("shuffle(buffer = 10000) | batch(128)"));
    assert!(
        text.contains("data test = mnist(split = \"train\")"),
        "bare words are quoted"
    );
    assert!(
        text.contains("dense(256, activation = relu)"),
        "positional argument replaced"
    );
    assert!(text.contains("from_logits = false"));
}

#[test]
fn missing_settings_and_arguments_are_added() {
    let text = edited(&[
        "opt.beta1=0.8",
        "experiment.threads=1",
        "net.dense_1.activation=relu",
    ]);
    assert!(text.contains("adam(lr = 1e-3, beta1 = 0.8)"), "{text}");
    assert!(text.contains("  seed = 1\n  threads = 1\n}"), "{text}");
    assert!(
        text.contains("dense(units = 10, activation = relu)"),
        "{text}"
    );
}

#[test]
fn aliases_name_the_only_optimizer_and_loss() {
    assert_eq!(edited(&["optimizer.lr=0.5"]), edited(&["opt.lr=0.5"]));
    assert_eq!(
        edited(&["loss.from_logits=false"]),
        edited(&["xent.from_logits=false"])
    );
    assert_eq!(edited(&["mlp.seed=3"]), edited(&["experiment.seed=3"]));
}

#[test]
fn the_last_override_of_a_path_wins() {
    let text = edited(&["opt.lr=1", "opt.lr=2"]);
    assert!(text.contains("adam(lr = 2)"), "{text}");
}

#[test]
fn unknown_parameter_lists_what_the_declaration_has() {
    let err = with(&["opt.lrr=1"]).unwrap_err();
    assert!(
        err.contains("no override path `opt.lrr` in this experiment"),
        "{err}"
    );
    assert!(err.contains("`opt` is declared here"), "{err}");
    assert!(err.contains("mlp.exp:12:1"), "points into the file: {err}");
    assert!(
        err.contains("`opt.lr`, `opt.beta1`, `opt.beta2`, `opt.epsilon`"),
        "{err}"
    );
    assert!(err.contains("expr::overrides::unknown_path"), "{err}");
}

#[test]
fn unknown_declaration_lists_every_path_and_suggests_the_closest() {
    let err = with(&["opt.lr=1", "optt.lr=1"]).unwrap_err();
    assert!(err.contains("did you mean `opt.lr`?"), "{err}");
    assert!(
        err.contains("`train.epochs`") && err.contains("`net.dense.units`"),
        "{err}"
    );
    assert!(
        !err.contains("`optimizer.lr`"),
        "aliases are not listed: {err}"
    );
}

#[test]
fn a_value_that_is_not_an_expression_points_into_the_argument() {
    let err = with(&["opt.lr=1e-"]).unwrap_err();
    assert!(
        err.contains("the value given to `--set opt.lr` is not an expression"),
        "{err}"
    );
    assert!(err.contains("--set opt.lr=:1:1"), "{err}");
}

#[test]
fn an_argument_without_equals_is_a_form_error() {
    let f = Override::parse("opt.lr").unwrap_err();
    let text = f.render(false);
    assert!(
        text.contains("`--set opt.lr` is not `PATH=VALUE`"),
        "{text}"
    );
    assert!(text.contains("expr::overrides::form"), "{text}");
}

#[test]
fn a_declaration_named_optimizer_keeps_its_paths_beside_others() {
    let text = FILE.replace("optimizer opt", "optimizer optimizer");
    let text = format!("{text}optimizer o2 = sgd(lr = 0.1)\n");
    let source = Source::new("two.exp", text.as_str());
    let file = expr::syntax::parse_file(&text).unwrap();
    // `optimizer.lr` is not an alias with two optimizers, but one of them is called `optimizer`.
    let ok = apply(
        &source,
        &file,
        &[Override::parse("optimizer.lr=2").unwrap()],
    )
    .unwrap();
    assert!(ok.contains("adam(lr = 2)"));
    let err = apply(
        &source,
        &file,
        &[Override::parse("o2.momentum=0.9").unwrap()],
    )
    .unwrap();
    assert!(err.contains("sgd(lr = 0.1, momentum = 0.9)"), "{err}");
}

#[test]
fn a_bad_value_is_reported_by_check_against_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mlp.exp"), FILE).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_expr"))
        .current_dir(dir.path())
        .args(["run", "mlp.exp", "--set", "opt.lr=-1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`lr` must be greater than 0"), "{err}");
    // Issue 20: shown as the command line's value, not inside the file as if written there.
    assert!(err.contains("[--set opt.lr=:1:1]"), "{err}");
    assert!(!err.contains("adam(lr = -1)"), "{err}");
    assert!(!dir.path().join("runs").exists(), "nothing ran");
}
