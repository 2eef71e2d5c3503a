//! `metrics { name = EXPR on DATA }`: each metric reads the values the step on
//! DATA binds, through a tensor expression (no model calls, no noise).

use super::error::CheckError;
use super::plan::{Metric, MetricKind, RegressionMetric, Step, TensorExpr};
use super::steps::{StepCx, TType};
use super::tensor::{Env, Place, Reader};
use crate::syntax::ast::{DeclKind, Expr, ExprKind, File, Ident};

/// The metrics this module reads itself; the classification ones are `classify::NAMES`.
pub const METRICS: &[&str] = &[
    "mean",
    "sparse_categorical_accuracy",
    "categorical_accuracy",
    "binary_accuracy",
    "accuracy",
    "top_k_accuracy",
    "sparse_top_k_categorical_accuracy",
    "top_k_categorical_accuracy",
    "mae",
    "mean_absolute_error",
    "rmse",
    "root_mean_squared_error",
    "r2",
    "r2_score",
];

/// Every metric name: [`METRICS`], then the classification metrics (`classify::NAMES`).
fn known() -> Vec<&'static str> {
    METRICS
        .iter()
        .chain(super::classify::NAMES)
        .copied()
        .collect()
}

/// `metrics { name = expr on DATA }`: each metric reads values of the step on DATA.
pub fn check_metrics(
    file: &File,
    steps: &[Step],
    cx: &mut StepCx<'_>,
    errors: &mut Vec<CheckError>,
) -> Vec<Metric> {
    let mut metrics: Vec<(Ident, Metric)> = Vec::new();
    for decl in &file.decls {
        let DeclKind::Metrics { metrics: list } = &decl.kind else {
            continue;
        };
        for m in list {
            if let Some((first, _)) = metrics.iter().find(|(n, _)| n.name == m.name.name) {
                errors.push(CheckError::duplicate(
                    "metric",
                    &m.name.name,
                    m.name.span,
                    first.span,
                ));
                continue;
            }
            let Some(data) = cx.datasets.resolve("data", &m.on, errors) else {
                cx.poisoned.push(m.name.name.clone());
                continue;
            };
            if cx.failed_data.contains(&data) {
                cx.poisoned.push(m.name.name.clone());
                continue;
            }
            let Some(step_index) = steps.iter().position(|s| s.data == data) else {
                cx.poisoned.push(m.name.name.clone());
                errors.push(CheckError::missing(
                    "no step runs on this data",
                    format!("no step runs on `{}`", m.on.name),
                    m.on.span,
                    "use the data of a step: `train`'s `data` or `validate`, or a `step on DATA`",
                ));
                continue;
            };
            let step = &steps[step_index];
            let env = cx.envs.get(&step.data).cloned().unwrap_or_default();
            let kind = metric_kind(cx, &m.value, &env, step, errors);
            let every = kind
                .as_ref()
                .and_then(|k| period(step, k, &m.value, errors));
            match (kind, every) {
                (Some(kind), Some(every)) => metrics.push((
                    m.name.clone(),
                    Metric {
                        name: m.name.name.clone(),
                        step: step_index,
                        every,
                        kind,
                    },
                )),
                _ => cx.poisoned.push(m.name.name.clone()),
            }
        }
    }
    metrics.into_iter().map(|(_, m)| m).collect()
}

/// The steps a metric is computed on: every one, or those of the `every N steps` block
/// whose values it reads (a metric averages over the steps where its values exist). Values
/// of two blocks with different periods never exist together: reported.
fn period(
    step: &Step,
    kind: &MetricKind,
    expr: &Expr,
    errors: &mut Vec<CheckError>,
) -> Option<u64> {
    let reads: Vec<&TensorExpr> = match kind {
        MetricKind::Mean(e) => vec![e],
        MetricKind::Accuracy {
            labels,
            predictions,
            ..
        }
        | MetricKind::BinaryAccuracy {
            labels,
            predictions,
            ..
        }
        | MetricKind::Regression {
            labels,
            predictions,
            ..
        }
        | MetricKind::Classification {
            labels,
            predictions,
            ..
        } => vec![labels, predictions],
    };
    let mut periods: Vec<(u64, &str)> = reads
        .into_iter()
        .flat_map(TensorExpr::vars)
        .map(|n| (step.period_of(n), n))
        .filter(|(p, _)| *p > 1)
        .collect();
    periods.sort_unstable();
    periods.dedup_by_key(|(p, _)| *p);
    match periods[..] {
        [] => Some(1),
        [(p, _)] => Some(p),
        [(a, first), (b, second), ..] => {
            errors.push(
                CheckError::incompatible(
                    format!("`{first}` is computed every {a} steps and `{second}` every {b}"),
                    "reads values of two `every` blocks".into(),
                    expr.span,
                    "a metric averages over the steps where its values are computed: give each block's values their own metric",
                ),
            );
            None
        }
    }
}

fn metric_kind(
    cx: &mut StepCx<'_>,
    expr: &Expr,
    env: &Env,
    step: &Step,
    errors: &mut Vec<CheckError>,
) -> Option<MetricKind> {
    let ExprKind::Call(call) = &expr.kind else {
        errors.push(
            CheckError::invalid(
                "a metric is a call such as `mean(loss)`".into(),
                "not a metric".into(),
                expr.span,
            )
            .with_help(format!("metrics: {}", known().join(", "))),
        );
        return None;
    };
    let name = call.name.name.as_str();
    // What the data labels its examples with, for metrics of the step's `y`.
    let step_labels = cx.datasets.items.get(step.data).map(|(_, d)| d.labels);
    let mut noise = 0;
    let mut value = |e: &Expr, errors: &mut Vec<CheckError>| -> Option<(TensorExpr, TType)> {
        let mut reader = Reader {
            cx: &mut *cx,
            env,
            place: Place::Metric,
            noise: &mut noise,
        };
        reader.read(e, errors).map(|(e, t)| (e, t.ty))
    };
    match name {
        "mean" => {
            let args = super::args::Args::read(call, &["value"], errors);
            let (value, t) = value(args.required("value", errors)?, errors)?;
            if matches!(t, TType::Labels { .. } | TType::Number) {
                errors.push(CheckError::incompatible(
                    "`mean` averages values the step computes".into(),
                    format!("this is {t}"),
                    call.span,
                    "take the mean of a loss value, e.g. `mean(loss)`, or of a tensor",
                ));
                return None;
            }
            Some(MetricKind::Mean(value))
        }
        "sparse_categorical_accuracy"
        | "categorical_accuracy"
        | "accuracy"
        | "binary_accuracy"
        | "top_k_accuracy"
        | "sparse_top_k_categorical_accuracy"
        | "top_k_categorical_accuracy" => {
            let top = name.contains("top_k");
            let params: &[&str] = match name {
                "binary_accuracy" => &["labels", "predictions", "threshold"],
                _ if top => &["labels", "predictions", "k"],
                _ => &["labels", "predictions"],
            };
            let args = super::args::Args::read(call, params, errors);
            let labels = args.required("labels", errors);
            let predictions = args.required("predictions", errors);
            let threshold = args.number("threshold", 0.5, errors) as f32;
            // Keras' default k.
            let top_k = top.then(|| args.count("k", 5, 1, errors));
            let (labels, lt) = value(labels?, errors)?;
            let (predictions, pt) = value(predictions?, errors)?;
            let pred = predicted_shape(name, &pt, call.span, errors)?;
            match (name, &lt) {
                (
                    "binary_accuracy",
                    TType::Labels {
                        positions: Some(_), ..
                    },
                ) => {
                    errors.push(CheckError::incompatible(
                        format!("`{name}` scores one output per example, but the labels are {lt}"),
                        format!("labels are {lt}"),
                        call.span,
                        "use `sparse_categorical_accuracy`: the share of positions whose top score is the label",
                    ));
                    None
                }
                ("binary_accuracy", _) => Some(MetricKind::BinaryAccuracy {
                    labels,
                    predictions,
                    threshold,
                }),
                (
                    "sparse_categorical_accuracy" | "sparse_top_k_categorical_accuracy",
                    TType::Float(_),
                ) => {
                    errors.push(CheckError::incompatible(
                        format!("`{name}` takes class indices, but the labels are one-hot"),
                        format!("labels are {lt}"),
                        call.span,
                        "use `categorical_accuracy` (`top_k_categorical_accuracy`)",
                    ));
                    None
                }
                ("categorical_accuracy" | "top_k_categorical_accuracy", TType::Labels { .. }) => {
                    errors.push(CheckError::incompatible(
                        format!("`{name}` takes one-hot labels, but the labels are class indices"),
                        format!("labels are {lt}"),
                        call.span,
                        "use `sparse_categorical_accuracy` (`sparse_top_k_categorical_accuracy`)",
                    ));
                    None
                }
                (_, _) if top_k.is_some_and(|k| k > classes_of(&lt, pred)) => {
                    let k = top_k.unwrap_or_default();
                    let span = args.get("k").map_or(call.span, |e| e.span);
                    errors.push(CheckError::invalid(
                        format!("`{name}` with k = {k}, but the predictions have {} classes", classes_of(&lt, pred)),
                        format!("k = {k}"),
                        span,
                    ).with_help("k counts the largest predictions a label may be among: at most the classes"));
                    None
                }
                (_, TType::Labels { classes, positions })
                    if *pred
                        != std::iter::once(*classes)
                            .chain(*positions)
                            .collect::<Vec<_>>() =>
                {
                    let wanted: Vec<usize> = std::iter::once(*classes).chain(*positions).collect();
                    errors.push(CheckError::incompatible(
                        format!("the data has {lt}, so the predictions must have shape {wanted:?}, but they have shape {pred:?}"),
                        "compared here".into(),
                        call.span,
                        "pass the model's output for these labels",
                    ));
                    None
                }
                _ => Some(MetricKind::Accuracy {
                    labels,
                    predictions,
                    top_k,
                }),
            }
        }
        "mae" | "mean_absolute_error" | "rmse" | "root_mean_squared_error" | "r2" | "r2_score" => {
            let metric = match name {
                "mae" | "mean_absolute_error" => RegressionMetric::Mae,
                "rmse" | "root_mean_squared_error" => RegressionMetric::Rmse,
                _ => RegressionMetric::R2,
            };
            let args = super::args::Args::read(call, &["labels", "predictions"], errors);
            let labels = args.required("labels", errors);
            let predictions = args.required("predictions", errors);
            let (labels, lt) = value(labels?, errors)?;
            let (predictions, pt) = value(predictions?, errors)?;
            match (&lt, &pt) {
                (TType::Float(l), TType::Float(p)) if l == p => Some(MetricKind::Regression {
                    metric,
                    labels,
                    predictions,
                }),
                (TType::Float(l), TType::Float(p)) => {
                    errors.push(CheckError::incompatible(
                        format!("`{name}` compares targets of shape {l:?} with predictions of shape {p:?}"),
                        "compared here".into(),
                        call.span,
                        "the model's output shape must equal the targets'",
                    ));
                    None
                }
                _ => {
                    errors.push(CheckError::incompatible(
                        format!("`{name}` compares values, got {lt} and {pt}"),
                        "compared here".into(),
                        call.span,
                        "pass the target values first and the model's output second; for classes use `accuracy`",
                    ));
                    None
                }
            }
        }
        _ if super::classify::NAMES.contains(&name) => {
            let args = super::args::Args::read(call, super::classify::params(name), errors);
            let labels = args.required("labels", errors);
            let predictions = args.required("predictions", errors);
            let data_labels = match &labels?.kind {
                ExprKind::Name(id) if id.name == step.y => step_labels,
                _ => None,
            };
            let labels = value(labels?, errors)?;
            let predictions = value(predictions?, errors)?;
            super::classify::read(name, &args, labels, predictions, data_labels, errors)
        }
        other => {
            errors.push(CheckError::unknown(
                "metric",
                other,
                call.name.span,
                &known(),
            ));
            None
        }
    }
}

/// The shape of a metric's predictions: values the step computes, not labels or numbers.
pub(super) fn predicted_shape<'t>(
    name: &str,
    predictions: &'t TType,
    span: crate::source::Span,
    errors: &mut Vec<CheckError>,
) -> Option<&'t Vec<usize>> {
    let TType::Float(shape) = predictions else {
        errors.push(CheckError::incompatible(
            format!("`{name}` needs predictions"),
            format!("this is {predictions}"),
            span,
            "pass the model's output second",
        ));
        return None;
    };
    Some(shape)
}

/// How many classes an accuracy's predictions score: all their values, or, against a class
/// at each position, their first axis (`(classes, positions)`).
fn classes_of(labels: &TType, pred: &[usize]) -> usize {
    match labels {
        TType::Labels {
            positions: Some(_), ..
        } => pred.first().copied().unwrap_or(0),
        _ => pred.iter().product(),
    }
}
