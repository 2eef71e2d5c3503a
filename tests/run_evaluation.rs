//! `train { epochs = 0 }`: an evaluation-only run evaluates a loaded model once and
//! changes nothing.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

#[test]
fn an_evaluation_only_run_evaluates_the_loaded_model_and_updates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let trained = common::run_text(
        dir.path(),
        &common::mlp_experiment(
            dir.path(),
            false,
            "after {\n  save(net, to = \"net.safetensors\")\n}",
        ),
    );
    let saved = trained.dir.join("net.safetensors");
    let text = common::mlp_experiment(
        dir.path(),
        false,
        &format!(
            "before {{\n  load(net, from = \"{}\")\n}}\n\non epoch_end {{\n  log \"{{epochs}} epochs, test loss {{test_loss:.6f}}\"\n}}",
            saved.display()
        ),
    )
    .replace("epochs = 3", "epochs = 0")
    .replace("  train_loss = mean(loss) on train\n", "")
    .replace(
        "  train_accuracy = sparse_categorical_accuracy(y, logits) on train\n",
        "",
    );
    let evaluated = common::run_text(dir.path(), &text);
    // The last epoch's test metrics were computed with the weights the file holds.
    for name in ["test_loss", "test_accuracy"] {
        let then = common::metric(&trained, name);
        let now = common::metric(&evaluated, name);
        assert_eq!(now.len(), 1, "{name}: one evaluation");
        assert_eq!(
            now[0].to_bits(),
            then[2].to_bits(),
            "{name}: {now:?} vs {then:?}"
        );
    }
    assert_eq!(
        evaluated.parameters, trained.parameters,
        "nothing was updated"
    );
    assert!(evaluated.train_seconds.iter().all(|&s| s == 0.0));
    let record = &evaluated.record;
    assert!(record.evaluation_only);
    assert_eq!(record.epochs, 0);
    assert_eq!(
        record.log,
        [format!(
            "0 epochs, test loss {:.6}",
            common::metric(&trained, "test_loss")[2]
        )]
    );
    let yaml = std::fs::read_to_string(evaluated.dir.join("run.yaml")).unwrap();
    assert!(yaml.contains("evaluation_only: true"), "{yaml}");
}
