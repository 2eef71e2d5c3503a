//! The classification metrics: `precision`, `recall`, `f1`, `auc` and `confusion_matrix`.
//! What the labels and predictions are decides how predictions become classes: one score per
//! example is a binary output (positive above `threshold`, as `binary_accuracy`), a row of
//! scores per example a multi-class one (its arg-max), or with `multi_label = true` a row of
//! independent binary decisions (several labels per example, each above `threshold`).

use super::args::{self, Args};
use super::error::CheckError;
use super::plan::{ClassAverage, ClassMetric, Curve, Decision, Labels, MetricKind, TensorExpr};
use super::steps::{StepCx, TType};
use crate::source::Span;
use crate::syntax::ast::Call;

pub const NAMES: &[&str] = &[
    "precision",
    "recall",
    "f1",
    "f1_score",
    "auc",
    "confusion_matrix",
];

/// The parameters of each metric, in positional order.
pub fn params(name: &str) -> &'static [&'static str] {
    match name {
        "auc" => &[
            "labels",
            "predictions",
            "curve",
            "num_thresholds",
            "from_logits",
            "multi_label",
        ],
        "confusion_matrix" => &["labels", "predictions", "threshold"],
        _ => &[
            "labels",
            "predictions",
            "threshold",
            "average",
            "class_id",
            "multi_label",
        ],
    }
}

/// A typed metric argument: the plan's expression and its type.
pub type Typed = (TensorExpr, TType);

/// The metric `name` of `call`, read from `args`; `data_labels` is what the data set labels
/// its examples with when the labels are the step's `y` (regression targets are refused).
pub fn read(
    name: &str,
    args: &Args<'_>,
    (labels, lt): Typed,
    (predictions, pt): Typed,
    data_labels: Option<Labels>,
    errors: &mut Vec<CheckError>,
) -> Option<MetricKind> {
    let call = args.call();
    // 0/1 label columns may come from a data set of values (`csv(task = regression)`).
    let several_labels = matches!(
        args.get("multi_label"),
        Some(crate::syntax::ast::Expr {
            kind: crate::syntax::ast::ExprKind::Bool(true),
            ..
        })
    );
    let data_labels = data_labels.filter(|_| !several_labels);
    let mut decision = decision(name, call, &lt, &pt, data_labels, errors)?;
    let metric = match name {
        "auc" => auc(args, errors)?,
        "confusion_matrix" => {
            decision = threshold(args, decision, errors)?;
            ClassMetric::ConfusionMatrix
        }
        _ => {
            decision = multi_label(args, decision, &lt, errors)?;
            let average = average(args, decision, errors);
            decision = threshold(args, decision, errors)?;
            match name {
                "precision" => ClassMetric::Precision(average?),
                "recall" => ClassMetric::Recall(average?),
                _ => ClassMetric::F1(average?),
            }
        }
    };
    Some(MetricKind::Classification {
        metric,
        labels,
        predictions,
        decision,
    })
}

/// Binary (one score per example) or multi-class (a row of scores), from the types.
fn decision(
    name: &str,
    call: &Call,
    lt: &TType,
    pt: &TType,
    data_labels: Option<Labels>,
    errors: &mut Vec<CheckError>,
) -> Option<Decision> {
    let pred = super::metrics::predicted_shape(name, pt, call.span, errors)?;
    let width: usize = pred.iter().product();
    let mismatch = |wanted: String, errors: &mut Vec<CheckError>| {
        errors.push(CheckError::incompatible(
            format!("the labels are {lt}, so the predictions must have {wanted}, but they have shape {pred:?}"),
            "compared here".into(),
            call.span,
            "pass the model's output for these labels",
        ));
        None
    };
    if let Some(Labels::Values { width }) = data_labels {
        errors.push(CheckError::incompatible(
            format!("`{name}` counts classes, but the data's labels are {width} regression value(s) per example"),
            "regression targets".into(),
            call.span,
            "use `mae`, `rmse` or `r2` for regression; a classification data set has `classes = N`",
        ));
        return None;
    }
    match lt {
        TType::Labels {
            positions: Some(_), ..
        } => {
            errors.push(CheckError::incompatible(
                format!("`{name}` scores one class per example, but the labels are {lt}"),
                format!("labels are {lt}"),
                call.span,
                "use `sparse_categorical_accuracy`: the share of positions whose top score is the label",
            ));
            None
        }
        TType::Labels { classes, .. } if width == 1 && *classes > 2 => mismatch(
            format!("{classes} scores per example (one score is a binary output)"),
            errors,
        ),
        TType::Labels { .. } if width == 1 => Some(Decision::Binary { threshold: 0.5 }),
        TType::Labels { classes, .. } if width == *classes => {
            Some(Decision::Classes { classes: width })
        }
        TType::Labels { classes, .. } => mismatch(format!("{classes} scores per example"), errors),
        TType::Float(l) if l.iter().product::<usize>() != width => {
            mismatch(format!("shape {l:?}"), errors)
        }
        TType::Float(_) if width == 1 => Some(Decision::Binary { threshold: 0.5 }),
        TType::Float(_) => Some(Decision::Classes { classes: width }),
        TType::Scalar | TType::Number => {
            errors.push(CheckError::incompatible(
                format!("`{name}` compares labels with predictions, but the labels are {lt}"),
                format!("labels are {lt}"),
                call.span,
                "pass the labels first (`y`) and the model's output second",
            ));
            None
        }
    }
}

/// `threshold`: Keras' range, `[0, 1]` (0 suits logits, as in `binary_accuracy`); only for
/// binary outputs, where a multi-class output takes its arg-max.
fn threshold(
    args: &Args<'_>,
    decision: Decision,
    errors: &mut Vec<CheckError>,
) -> Option<Decision> {
    let Some(expr) = args.get("threshold") else {
        return Some(decision);
    };
    let value = args::number(expr, "threshold", errors)?;
    if let Decision::Classes { classes } = decision {
        errors.push(
            CheckError::invalid(
                format!("`threshold` applies to one score per example, but the predictions score {classes} classes"),
                "a threshold".into(),
                expr.span,
            )
            .with_help("a multi-class output's class is its largest score: remove `threshold`"),
        );
        return None;
    }
    if !(0.0..=1.0).contains(&value) {
        errors.push(
            CheckError::out_of_range("threshold", value, "in [0, 1]", expr.span).with_help(
                "a probability threshold, as Keras'; for logits use 0 or pass `sigmoid(logits)`",
            ),
        );
        return None;
    }
    let threshold = value as f32;
    Some(match decision {
        Decision::Labels { labels, .. } => Decision::Labels { labels, threshold },
        _ => Decision::Binary { threshold },
    })
}

/// `multi_label = true`: the predictions' columns are independent binary outputs, each
/// compared with a 0/1 label column (scikit-learn's multilabel indicators, Keras' metrics on
/// several sigmoid columns), not one class per example.
fn multi_label(
    args: &Args<'_>,
    decision: Decision,
    lt: &TType,
    errors: &mut Vec<CheckError>,
) -> Option<Decision> {
    if !args.boolean("multi_label", false, errors) {
        return Some(decision);
    }
    let Decision::Classes { classes } = decision else {
        // One column is one label: the binary decision already.
        return Some(decision);
    };
    if let TType::Labels { .. } = lt {
        let span = args.get("multi_label").map_or(args.call().span, |e| e.span);
        errors.push(
            CheckError::incompatible(
                format!("`multi_label` compares each of {classes} columns with a 0/1 label, but the labels are {lt}: one class per example"),
                "several labels per example".into(),
                span,
                "give the labels as 0/1 columns (a multi-label data set's targets), or remove `multi_label` to score the arg-max class",
            ),
        );
        return None;
    }
    Some(Decision::Labels {
        labels: classes,
        threshold: 0.5,
    })
}

/// `average` and `class_id`: multi-class outputs only, `macro` unless said.
fn average(
    args: &Args<'_>,
    decision: Decision,
    errors: &mut Vec<CheckError>,
) -> Option<ClassAverage> {
    let given = args.get("average");
    let class_id = args.get("class_id");
    let (Decision::Classes { classes }
    | Decision::Labels {
        labels: classes, ..
    }) = decision
    else {
        for (param, expr) in [("average", given), ("class_id", class_id)] {
            if let Some(expr) = expr {
                errors.push(
                    CheckError::invalid(
                        format!("`{param}` picks among several classes, but the output is binary (one score per example)"),
                        format!("`{param}` of a binary output"),
                        expr.span,
                    )
                    .with_help("a binary output scores its positive class (1): remove it"),
                );
            }
        }
        return (given.is_none() && class_id.is_none()).then_some(ClassAverage::Binary);
    };
    if let (Some(_), Some(id)) = (given, class_id) {
        errors.push(
            CheckError::invalid(
                "`class_id` and `average` both given".into(),
                "scores one class".into(),
                id.span,
            )
            .with_help("`class_id = K` scores class K against the rest; `average` combines every class: keep one"),
        );
        return None;
    }
    if let Some(expr) = class_id {
        let id = args::count(expr, "class_id", 0, errors)?;
        if id >= classes {
            errors.push(CheckError::out_of_range(
                "class_id",
                id as f64,
                &format!("in 0..{classes}, the classes the predictions score"),
                expr.span,
            ));
            return None;
        }
        return Some(ClassAverage::Class(id));
    }
    Some(
        match args
            .choice("average", &["macro", "micro", "weighted"], errors)
            .map(|(c, _)| c)
        {
            None if given.is_some() => return None,
            Some("micro") => ClassAverage::Micro,
            Some("weighted") => ClassAverage::Weighted,
            _ => ClassAverage::Macro,
        },
    )
}

/// `auc(labels, predictions, curve = roc, num_thresholds = 200, from_logits = false,
/// multi_label = false)`, Keras' `AUC`: over several columns (class indices become one-hot
/// rows), one curve of every column's scores, or with `multi_label` the mean of each column's.
fn auc(args: &Args<'_>, errors: &mut Vec<CheckError>) -> Option<ClassMetric> {
    let curve = match args.choice("curve", &["roc", "pr"], errors) {
        None if args.get("curve").is_some() => None,
        Some(("pr", _)) => Some(Curve::Pr),
        _ => Some(Curve::Roc),
    };
    let thresholds = match args.get("num_thresholds") {
        None => Some(200),
        Some(expr) => {
            let n = args::count(expr, "num_thresholds", 0, errors)?;
            if n < 2 {
                errors.push(
                    CheckError::out_of_range("num_thresholds", n as f64, "2 or more", expr.span)
                        .with_help("the curve needs a threshold below every score and one above"),
                );
                None
            } else {
                Some(n)
            }
        }
    };
    let from_logits = args.boolean("from_logits", false, errors);
    let multi_label = args.boolean("multi_label", false, errors);
    Some(ClassMetric::Auc {
        curve: curve?,
        thresholds: thresholds?,
        from_logits,
        multi_label,
    })
}

/// The diagnostic for a file metric (`confusion_matrix`) named where a number is wanted: a
/// monitor, a log line, a plot, a hook's expression.
pub fn not_a_number(cx: &StepCx<'_>, name: &str, span: Span) -> Option<CheckError> {
    cx.matrices.iter().any(|m| m == name).then(|| {
        CheckError::invalid(
            format!("`{name}` is a confusion matrix, not a number"),
            "a matrix written to files".into(),
            span,
        )
        .with_help(format!(
            "it is written to `confusion/{name}.csv` and `.png` each epoch; name a metric with one value, e.g. `precision(...)` or `accuracy(...)`"
        ))
    })
}
