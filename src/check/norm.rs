//! Batch normalisation needs more than one value per feature (channel) to compute a
//! batch's statistics: a training step on batches of one example feeding a batch norm over
//! a flat input (or 1 x 1 images) would normalise every value to 0. PyTorch refuses it at
//! run time ("Expected more than 1 value per channel when training"); `check` sees it from
//! the data set's batch size. (An epoch's last, shorter batch is not known here; a batch norm
//! given one example there outputs `beta`, as Keras' does.)

use super::error::CheckError;
use super::plan::{Experiment, LayerKind, StepStmt, TensorExpr};

/// Reports each batch norm that a training-mode call normalises over single values.
pub fn check_batch_statistics(exp: &Experiment, errors: &mut Vec<CheckError>) {
    let mut reported = Vec::new();
    for step in &exp.steps {
        let data = &exp.datasets[step.data];
        if data.batch != 1 {
            continue;
        }
        for e in step.all_stmts().into_iter().filter_map(StepStmt::expr) {
            for m in 0..exp.models.len() {
                let trains = |e: &TensorExpr| matches!(e, TensorExpr::CallModel { model, training: true, .. } if *model == m);
                if !e.any(&trains) {
                    continue;
                }
                for layer in &exp.models[m].layers {
                    let LayerKind::BatchNorm(_) = layer.kind else {
                        continue;
                    };
                    let positions: usize = layer.input_shape.iter().skip(1).product();
                    if !layer.trainable || positions > 1 || reported.contains(&layer.span) {
                        continue;
                    }
                    reported.push(layer.span);
                    errors.push(
                        CheckError::invalid(
                            "`batchnorm` in training gets one value per feature: the batches hold one example".into(),
                            "normalises each feature over the batch".into(),
                            layer.span,
                        )
                        .with_related(data.span, "batches of 1 example")
                        .with_help("batch at least 2 examples, or use `layernorm()`, which normalises each example by itself"),
                    );
                }
            }
        }
    }
}
