//! TensorBoard's events files (`RUN_DIR/tb/events.out.tfevents.*`), read back: every epoch's
//! metrics and every logged step's, the grids as the PNGs the run wrote, the experiment as
//! text. (tests/reliability.rs checks that a killed and resumed run writes each value
//! once; `bench/read_tensorboard.py` reads the files with TensorBoard's own reader.)
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use expr::output::tensorboard::{self, proto};

#[test]
fn a_run_writes_its_metrics_grids_and_text_for_tensorboard() {
    let dir = tempfile::tempdir().unwrap();
    let text = common::mlp_experiment(
        dir.path(),
        false,
        "on every 5 steps {\n  log \"step {step}\"\n}\n\non epoch_end {\n  grid(x, count = 4, on = test, to = \"inputs/epoch_{epoch}.png\")\n}\n",
    );
    std::fs::write(dir.path().join("small.exp"), text).unwrap();
    common::succeeded(&common::expr_in(
        dir.path(),
        &["run", "small.exp", "--no-progress"],
    ));
    let (run_dir, _) = expr::record::find_all(&dir.path().join("runs")).remove(0);
    let record = expr::record::load(&run_dir).unwrap();
    let events = tensorboard::read_dir(&run_dir.join(tensorboard::DIR)).unwrap();
    let scalars = tensorboard::scalars(&events);

    // Each metric after each epoch, at the epoch's number, as f32.
    assert_eq!(record.metrics.len(), 4);
    for name in &record.metrics {
        let values = &record.history[name];
        let series: Vec<(i64, f32)> = scalars
            .iter()
            .filter(|(tag, _, _)| tag == name)
            .map(|&(_, step, v)| (step, v))
            .collect();
        let expected: Vec<(i64, f32)> = (1..).zip(values.iter().map(|&v| v as f32)).collect();
        assert_eq!(series, expected, "{name}");
    }
    // The logged steps' metrics, as the record has them.
    assert!(!record.steps.is_empty());
    for row in &record.steps {
        for (name, value) in record.metrics.iter().zip(&row.values) {
            let tag = format!("steps/{name}");
            let found = scalars
                .iter()
                .find(|(t, s, _)| *t == tag && *s == row.step as i64);
            match found {
                Some(&(_, _, v)) => assert_eq!(v, *value as f32, "{tag} at {}", row.step),
                None => assert!(value.is_nan(), "{tag} at {} is missing", row.step),
            }
        }
    }
    // Each epoch's grid, its bytes those of the file, under the action's path.
    let images: Vec<(i64, &proto::Image)> = summaries(&events)
        .filter_map(|(step, v)| match &v.kind {
            Some(proto::Kind::Image(image)) if v.tag == "inputs/epoch_{epoch}.png" => {
                Some((step, image))
            }
            _ => None,
        })
        .collect();
    assert_eq!(images.len(), 3, "one per epoch");
    for (step, image) in images {
        let file = run_dir.join(format!("inputs/epoch_{step}.png"));
        assert_eq!(image.encoded_image_string, std::fs::read(file).unwrap());
        assert_eq!(image.colorspace, 1, "grey");
    }
    // The experiment, as run, in the text tab (indented: Markdown's code).
    let experiment = summaries(&events)
        .find(|(_, v)| v.tag == "experiment")
        .and_then(|(_, v)| match &v.kind {
            Some(proto::Kind::Tensor(t)) => Some(String::from_utf8(t.string_val[0].clone())),
            _ => None,
        })
        .unwrap()
        .unwrap();
    let resolved = record.source.resolved.clone().unwrap();
    assert_eq!(experiment.replace("\n    ", "\n").trim(), resolved.trim());
    assert!(record
        .artifacts
        .iter()
        .any(|a| a.kind == "tensorboard" && a.path == "tb" && a.written));
}

fn summaries(events: &[proto::Event]) -> impl Iterator<Item = (i64, &proto::Value)> {
    events.iter().flat_map(|e| match &e.what {
        Some(proto::What::Summary(s)) => s.value.iter().map(|v| (e.step, v)).collect(),
        _ => Vec::new(),
    })
}
