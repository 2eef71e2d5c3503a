//! The shipped multi-model experiments on small generated data: they run, draw
//! their grids, are deterministic, and each `update` moves only its optimizer's
//! models; mnist.exp's standard step written out equals the sugar bit for bit.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use std::path::Path;
use std::sync::Arc;

/// `experiments/NAME.exp` on 28 x 28 generated data (256 training and 128 test
/// images) for one epoch.
fn shipped(dir: &Path, name: &str) -> String {
    small(dir, &format!("experiments/{name}.exp"))
}

/// The file at `path` (from the crate's root) on generated data, for one epoch.
fn small(dir: &Path, path: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    let text = std::fs::read_to_string(path).expect("reads");
    let (tri, trl) = common::write_idx_set(dir, "train", 256, 28, 10);
    let (tei, tel) = common::write_idx_set(dir, "test", 128, 28, 10);
    let source = |i: &Path, l: &Path| {
        format!(
            "idx(images = \"{}\", labels = \"{}\", shape = (28, 28), classes = 10)",
            i.display(),
            l.display()
        )
    };
    let mut out = text
        .replace("mnist(split = \"train\")", &source(&tri, &trl))
        .replace("mnist(split = \"test\")", &source(&tei, &tel));
    for n in 2..=20 {
        out = out.replace(&format!("epochs = {n}\n"), "epochs = 1\n");
    }
    out
}

fn model_index(exp: &expr::check::plan::Experiment, name: &str) -> usize {
    exp.models.iter().position(|m| m.name == name).unwrap()
}

/// The parameters of model `m` as the engine initialised them.
fn initial_parameters(engine: &expr::lower::Engine, m: usize) -> Vec<Vec<f32>> {
    engine.parameters().swap_remove(m)
}

#[test]
fn gan_runs_draws_its_samples_and_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let text = shipped(dir.path(), "gan");
    let a = common::run_text(dir.path(), &text);
    for name in [
        "discriminator_loss",
        "generator_loss",
        "real_score",
        "fake_score",
    ] {
        assert!(
            common::metric(&a, name)[0].is_finite(),
            "{name}: {:?}",
            common::metric(&a, name)
        );
    }
    assert!(a.dir.join("samples/epoch_1.png").exists());
    assert!(a.dir.join("generator.safetensors").exists());
    let b = common::run_text(dir.path(), &text);
    assert_eq!(a.history, b.history);
    assert_eq!(a.parameters, b.parameters);
}

#[test]
fn wgan_runs_clips_its_critic_and_updates_its_generator_every_fifth_step() {
    let dir = tempfile::tempdir().unwrap();
    // Batches of 16: 16 steps, the generator updated on steps 5, 10 and 15.
    let one_epoch = shipped(dir.path(), "wgan").replace("epochs = 130", "epochs = 1");
    let text = one_epoch.replace("batch(64)", "batch(16)");
    let file = expr::syntax::parse_file(&text).expect("parses");
    let exp = Arc::new(expr::check::check(&file).expect("checks"));
    let initial = expr::lower::Engine::new(exp.clone());
    let a = common::run_text(dir.path(), &text);
    for name in ["wasserstein_estimate", "generator_mean_loss"] {
        assert!(common::metric(&a, name)[0].is_finite(), "{name}");
    }
    let critic = model_index(&exp, "critic");
    let generator = model_index(&exp, "generator");
    assert!(a.parameters[critic]
        .iter()
        .flatten()
        .all(|v| v.abs() <= 0.01));
    assert_ne!(
        a.parameters[generator],
        initial_parameters(&initial, generator)
    );
    assert!(a.dir.join("samples/epoch_1.png").exists());
    let b = common::run_text(dir.path(), &text);
    assert_eq!(a.history, b.history);
    assert_eq!(a.parameters, b.parameters);
    // With fewer than 5 steps, the block never runs: the generator keeps its weights and
    // its metric has no steps to average (NaN).
    let c = common::run_text(dir.path(), &one_epoch);
    assert_eq!(
        c.parameters[generator],
        initial_parameters(&initial, generator)
    );
    assert!(common::metric(&c, "generator_mean_loss")[0].is_nan());
}

#[test]
fn each_update_moves_only_its_optimizers_models() {
    let dir = tempfile::tempdir().unwrap();
    // Without the generator's update, the generator keeps its initial weights.
    let text = shipped(dir.path(), "gan").replace("  update g_opt minimizing g_loss\n", "");
    let file = expr::syntax::parse_file(&text).expect("parses");
    let exp = Arc::new(expr::check::check(&file).expect("checks"));
    let initial = expr::lower::Engine::new(exp.clone());
    let r = common::run_text(dir.path(), &text);
    let g = model_index(&exp, "generator");
    let d = model_index(&exp, "discriminator");
    let init = |m: usize| initial_parameters(&initial, m);
    assert_eq!(r.parameters[g], init(g), "the generator was not updated");
    assert_ne!(r.parameters[d], init(d), "the discriminator was");
}

#[test]
fn autoencoder_logs_both_losses_and_draws_reconstructions() {
    let dir = tempfile::tempdir().unwrap();
    let r = common::run_text(dir.path(), &shipped(dir.path(), "autoencoder"));
    for name in [
        "train_reconstruction",
        "train_crossentropy",
        "test_reconstruction",
        "test_pixel_error",
    ] {
        let v = common::metric(&r, name)[0];
        assert!(v.is_finite() && v >= 0.0, "{name}: {v}");
    }
    assert!(r.dir.join("reconstructions/epoch_1.png").exists());
}

#[test]
fn mnist_standard_step_written_out_is_bit_identical() {
    let dir = tempfile::tempdir().unwrap();
    let sugared = shipped(dir.path(), "mnist");
    let start = sugared.find("train {").expect("a train block");
    let end = start + sugared[start..].find("}\n").expect("its end") + 2;
    let explicit = format!(
        "{}{}{}",
        &sugared[..start],
        "step on train (x, y) {
  logits = classifier(x, training = true)
  loss = xent(y, logits)
  update opt minimizing loss
}

step on test (x, y) {
  logits = classifier(x)
  loss = xent(y, logits)
}

train {
  epochs = 1
}
",
        &sugared[end..]
    );
    assert_ne!(sugared, explicit);
    let a = common::run_text(dir.path(), &sugared);
    let b = common::run_text(dir.path(), &explicit);
    assert_eq!(a.names, b.names);
    assert_eq!(a.history, b.history);
    assert_eq!(a.parameters, b.parameters);
}

#[test]
fn gan_samples_are_scored_by_a_saved_classifier() {
    let dir = tempfile::tempdir().unwrap();
    let check = |text: &str| {
        let file = expr::syntax::parse_file(text).expect("parses");
        Arc::new(expr::check::check(&file).expect("checks"))
    };
    let gan_text = shipped(dir.path(), "gan");
    let mnist_text = shipped(dir.path(), "mnist");
    let gan = common::run_text(dir.path(), &gan_text);
    let mnist = common::run_text(dir.path(), &mnist_text);
    let score = expr::run::score::score(
        &check(&gan_text),
        &gan.dir,
        &check(&mnist_text),
        &mnist.dir.join("classifier.safetensors"),
        100,
        5,
    )
    .expect("scores");
    assert_eq!(score.samples, 100);
    assert_eq!(score.coverage.len(), 10);
    assert!((score.coverage.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    assert!(
        score.mean_top > 0.1 && score.mean_top <= 1.0,
        "{}",
        score.mean_top
    );
}

#[test]
fn hooks_act_on_one_optimizer() {
    let dir = tempfile::tempdir().unwrap();
    // A zero learning rate for the discriminator only, and clipping for the generator only.
    let text = format!(
        "{}\non epoch_start {{\n  d_opt.lr = 0\n}}\n\non step {{\n  clip(norm = 0.5, optimizer = g_opt)\n}}\n",
        shipped(dir.path(), "gan")
    );
    let file = expr::syntax::parse_file(&text).expect("parses");
    let exp = Arc::new(expr::check::check(&file).expect("checks"));
    let initial = expr::lower::Engine::new(exp.clone());
    let r = common::run_text(dir.path(), &text);
    let d = model_index(&exp, "discriminator");
    let g = model_index(&exp, "generator");
    let init = |m: usize| initial_parameters(&initial, m);
    assert_eq!(r.parameters[d], init(d));
    assert_ne!(r.parameters[g], init(g));
}

#[test]
fn every_step_expression_runs() {
    let dir = tempfile::tempdir().unwrap();
    let r = common::run_text(
        dir.path(),
        &small(dir.path(), "tests/cases/valid/step_expressions.exp"),
    );
    for (name, h) in r.names.iter().zip(&r.history) {
        assert!(h[0].is_finite(), "{name}: {h:?}");
    }
}

/// An accuracy written out with `argmax` and `equal` is the built-in metric, epoch by epoch.
#[test]
fn an_accuracy_written_with_argmax_and_equal_is_the_built_in_one() {
    let dir = tempfile::tempdir().unwrap();
    let text = small(dir.path(), "tests/cases/valid/explicit_step.exp")
        .replace("epochs = 1\n", "epochs = 2\n")
        .replace(
            "  train_accuracy = accuracy(labels, logits) on train\n",
            "  train_accuracy = accuracy(labels, logits) on train\n  \
             written = mean(equal(argmax(logits, axis = -1), labels)) on train\n  \
             columns = mean(equal(argmax(transpose(reshape(logits, (10, 1)), (0, 2, 1)))[:, 0], labels)) on train\n  \
             top3 = top_k_accuracy(labels, logits, k = 3) on train\n  \
             top10 = sparse_top_k_categorical_accuracy(labels, logits, 10) on train\n",
        );
    let r = common::run_text(dir.path(), &text);
    let at = |name: &str| r.names.iter().position(|n| n == name).unwrap();
    let built_in = &r.history[at("train_accuracy")];
    assert_eq!(built_in.len(), 2);
    assert!(built_in[1] > 0.0, "{built_in:?}");
    assert_eq!(&r.history[at("written")], built_in);
    assert_eq!(&r.history[at("columns")], built_in);
    // Top-3 holds at least the top-1 hits; top-10 of 10 classes holds every row.
    let top3 = &r.history[at("top3")];
    assert!(
        top3.iter().zip(built_in).all(|(t, a)| t >= a && *t <= 1.0),
        "{top3:?}"
    );
    assert!(top3[1] > built_in[1], "{top3:?} against {built_in:?}");
    assert_eq!(r.history[at("top10")], [1.0, 1.0]);
}

/// A value the step binds before its `update` is what the model gave before the update,
/// even when no update needs it and it is computed after them: the accuracy bound in the
/// step equals the built-in metric on the same logits (256 examples, batches of 32 alike).
#[test]
fn a_value_bound_before_an_update_sees_the_model_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let text = small(dir.path(), "tests/cases/valid/explicit_step.exp")
        .replace("epochs = 1\n", "epochs = 2\n")
        .replace(
            "  loss = xent(labels, logits)\n",
            "  loss = xent(labels, logits)\n  hits = mean(equal(argmax(logits), labels))\n",
        )
        .replace(
            "  train_accuracy = accuracy(labels, logits) on train\n",
            "  train_accuracy = accuracy(labels, logits) on train\n  bound = mean(hits) on train\n",
        );
    let r = common::run_text(dir.path(), &text);
    let at = |name: &str| r.names.iter().position(|n| n == name).unwrap();
    assert_eq!(r.history[at("bound")], r.history[at("train_accuracy")]);
}

#[test]
fn global_pooling_layers_pass_gradients_to_the_convs_before_them() {
    let dir = tempfile::tempdir().unwrap();
    let text = small(dir.path(), "tests/cases/valid/global_pooling.exp");
    let file = expr::syntax::parse_file(&text).expect("parses");
    let exp = Arc::new(expr::check::check(&file).expect("checks"));
    let initial = expr::lower::Engine::new(exp.clone());
    let r = common::run_text(dir.path(), &text);
    for name in ["net", "avg"] {
        let m = model_index(&exp, name);
        // Parameter 0 is the conv's weight, which only a gradient through the pooling moves.
        assert_ne!(
            r.parameters[m][0],
            initial_parameters(&initial, m)[0],
            "{name}"
        );
        assert!(r.parameters[m][0].iter().all(|v| v.is_finite()), "{name}");
    }
}

/// A classifier on one-hot labels, trained by `LOSS` (a step expression over `logits`,
/// `y` and the built-in `xent`), with both losses as metrics. The update reads both, so
/// that both are computed before it (a name the update does not read is computed after).
fn one_hot_classifier(dir: &Path, loss: &str) -> String {
    let (images, labels) = common::write_idx_set(dir, "train", 256, 28, 10);
    format!(
        "experiment t {{
  seed = 7
}}

data train = idx(images = \"{}\", labels = \"{}\", shape = (28, 28), classes = 10) | scale(1 / 255) | reshape(784) | one_hot() | batch(32)

model classifier {{
  dense(units = 32, activation = relu)
  dense(units = 10)
}}

loss xent = categorical_crossentropy(from_logits = true)

optimizer opt = sgd(lr = 0.1)

train {{
  epochs = 2
}}

step on train (x, y) {{
  logits = classifier(x, training = true)
  builtin = xent(y, logits)
  written = -mean(sum(y * log_softmax(logits, axis = 1), axis = 1))
  update opt minimizing {loss}
}}

metrics {{
  builtin = mean(builtin) on train
  written = mean(written) on train
}}
",
        images.display(),
        labels.display()
    )
}

#[test]
fn cross_entropy_written_with_log_softmax_equals_the_built_in_loss() {
    let dir = tempfile::tempdir().unwrap();
    let builtin = common::run_text(
        dir.path(),
        &one_hot_classifier(dir.path(), "builtin + 0 * written"),
    );
    let written = common::run_text(
        dir.path(),
        &one_hot_classifier(dir.path(), "written + 0 * builtin"),
    );
    let close = |a: f64, b: f64, tol: f64| (a - b).abs() <= tol * (1.0 + b.abs());
    // The same values on the same batches: both metrics of one run agree.
    for r in [&builtin, &written] {
        let (b, w) = (common::metric(r, "builtin"), common::metric(r, "written"));
        for (b, w) in b.iter().zip(w) {
            assert!(close(*w, *b, 1e-6), "written {w}, built-in {b}");
        }
    }
    // The same gradients: training by either loss ends at the same weights.
    for (p, q) in builtin
        .parameters
        .iter()
        .flatten()
        .zip(written.parameters.iter().flatten())
    {
        for (a, b) in p.iter().zip(q) {
            assert!(close(f64::from(*a), f64::from(*b), 1e-4), "{a} vs {b}");
        }
    }
}
