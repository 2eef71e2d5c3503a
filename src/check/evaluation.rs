//! `train { epochs = 0 }`: an evaluation-only run. The steps that do not train run once
//! (validation), with their metrics, hooks and `after { }`; nothing is updated. What such a
//! run cannot do is reported here, where the file says it.

use super::error::CheckError;
use super::plan::{Metric, Step};
use crate::source::Span;
use crate::syntax::ast::{DeclKind, File};

/// With `epochs = 0` (its value at `epochs`): there must be a step that does not train,
/// and no metric may read a training step, which never runs.
pub(super) fn check_evaluation_only(
    file: &File,
    epochs: Span,
    steps: &[Step],
    metrics: &[Metric],
    errors: &mut Vec<CheckError>,
) {
    if !steps.iter().any(|s| !s.trains()) {
        errors.push(CheckError::missing(
            "`epochs = 0` evaluates only",
            "an evaluation-only run has nothing to evaluate".into(),
            epochs,
            "add `validate = DATA` to `train { }`, or a step without `update`; or train for at least 1 epoch",
        ));
        return;
    }
    for decl in &file.decls {
        let DeclKind::Metrics { metrics: declared } = &decl.kind else {
            continue;
        };
        for m in declared {
            let reads_training = metrics
                .iter()
                .find(|checked| checked.name == m.name.name)
                .is_some_and(|checked| steps[checked.step].trains());
            if reads_training {
                errors.push(
                    CheckError::invalid(
                        format!(
                            "metric `{}` reads a training step, which an evaluation-only run never runs",
                            m.name.name
                        ),
                        "the data of a training step".into(),
                        m.on.span,
                    )
                    .with_related(epochs, "no training: `epochs = 0`")
                    .with_help("remove the metric, or train for at least 1 epoch"),
                );
            }
        }
    }
}
