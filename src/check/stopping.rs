//! `train { stop = early_stopping(monitor = test_loss, ...) }`: when the loop stops before
//! its last epoch, as Keras' `EarlyStopping` decides. The rule is a setting of `train`
//! rather than a call in a hook because it is one per run, it changes how long the loop
//! runs (which the record and `--resume` must know before the first epoch), and it holds
//! state (best value, wait, best weights) that the checkpoint carries; a hook statement
//! would be re-evaluated, could appear twice and would have no home for that state.

use super::args::{self, Args};
use super::error::CheckError;
use super::plan::{EarlyStopping, Metric, MetricKind, RegressionMetric};
use super::steps::StepCx;
use crate::syntax::ast::{Expr, ExprKind};

/// The rules `stop` accepts.
const RULES: &[&str] = &["early_stopping"];

const PARAMS: &[&str] = &[
    "monitor",
    "mode",
    "patience",
    "min_delta",
    "restore_best",
    "start_from_epoch",
];

/// Reads `stop = early_stopping(...)` against the checked metrics.
pub(super) fn check_stop(
    value: &Expr,
    metrics: &[Metric],
    cx: &StepCx<'_>,
    errors: &mut Vec<CheckError>,
) -> Option<EarlyStopping> {
    let call = match &value.kind {
        ExprKind::Call(call) if RULES.contains(&call.name.name.as_str()) => call,
        ExprKind::Call(call) => {
            errors.push(CheckError::unknown(
                "stopping rule",
                &call.name.name,
                call.name.span,
                RULES,
            ));
            return None;
        }
        _ => {
            errors.push(
                CheckError::wrong_type(
                    "stop",
                    "a stopping rule",
                    args::describe(value),
                    value.span,
                )
                .with_help("e.g. `stop = early_stopping(monitor = test_loss, patience = 5)`"),
            );
            return None;
        }
    };
    let a = Args::read(call, PARAMS, errors);
    let monitor = a
        .required("monitor", errors)
        .and_then(|e| monitored(e, metrics, cx, errors));
    let mode = a.choice("mode", &["min", "max", "auto"], errors);
    let patience = a.count("patience", 5, 1, errors);
    let min_delta = a.positive("min_delta", 0.0, false, errors);
    let restore_best = a.boolean("restore_best", true, errors);
    let start_from_epoch = a.count("start_from_epoch", 0, 0, errors);
    let metric = monitor?;
    let maximize = match mode.map(|(m, _)| m) {
        Some("max") => true,
        Some("min") => false,
        _ => higher_is_better(&metrics[metric]),
    };
    Some(EarlyStopping {
        metric,
        maximize,
        patience,
        min_delta,
        restore_best,
        start_from_epoch,
    })
}

/// The metric `monitor` names, with "did you mean" when there is none.
pub(super) fn monitored(
    e: &Expr,
    metrics: &[Metric],
    cx: &StepCx<'_>,
    errors: &mut Vec<CheckError>,
) -> Option<usize> {
    let ExprKind::Name(id) = &e.kind else {
        errors.push(
            CheckError::wrong_type("monitor", "a metric name", args::describe(e), e.span)
                .with_help("name a metric of `metrics { }`, without quotes"),
        );
        return None;
    };
    let found = metrics.iter().position(|m| m.name == id.name);
    if let (None, Some(err)) = (found, super::classify::not_a_number(cx, &id.name, id.span)) {
        errors.push(err);
    } else if found.is_none() && !cx.poisoned.contains(&id.name) {
        let known: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
        let err = CheckError::unknown("metric", &id.name, id.span, &known);
        errors.push(if known.is_empty() {
            err.with_help("declare the metric to monitor in `metrics { }`, e.g. `test_loss = mean(loss) on test`")
        } else {
            err
        });
    }
    found
}

/// `mode = auto`: whether larger values of the metric are better. Keras asks the metric
/// (its `_direction`): accuracies and R² go up; a `mean(...)` is a loss unless its name
/// says otherwise, as Keras 2 read `acc` in the name (and `auc`, `precision`, `recall`,
/// `f1` for the metrics of that kind).
pub fn higher_is_better(metric: &Metric) -> bool {
    const UPWARD: &[&str] = &["acc", "auc", "precision", "recall", "f1"];
    match &metric.kind {
        MetricKind::Accuracy { .. }
        | MetricKind::BinaryAccuracy { .. }
        | MetricKind::Classification { .. } => true,
        MetricKind::Regression { metric, .. } => *metric == RegressionMetric::R2,
        MetricKind::Mean(_) => UPWARD.iter().any(|w| metric.name.contains(w)),
    }
}
