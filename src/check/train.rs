//! The `train { }` block: how long to train, `on_nan`, checkpoints and, when
//! it names a model, the standard step desugared into explicit steps.

use std::collections::HashMap;

use super::args::{count, describe};
use super::error::{did_you_mean, CheckError};
use super::file::keyword;
use super::plan::{Average, CheckpointSettings, NonFinitePolicy, Step, StepStmt, TensorExpr};
use super::steps::{self, StepCx};
use crate::source::Span;
use crate::syntax::ast::{Expr, ExprKind, Ident, Setting};

const TRAIN_SETTINGS: &[&str] = &[
    "epochs",
    "model",
    "data",
    "validate",
    "loss",
    "optimizer",
    "on_nan",
    "max_time",
    "stop",
    "checkpoint_steps",
    "checkpoint_epochs",
    "checkpoint_keep",
    "ema",
];

/// What the training loop runs with, from `train { }`.
pub(super) struct TrainSettings {
    pub epochs: usize,
    /// Where `epochs` is set, for the diagnostics of an evaluation-only run (`epochs = 0`).
    pub epochs_span: Option<Span>,
    pub on_non_finite: NonFinitePolicy,
    /// `max_time = "2h"`.
    pub max_time: Option<std::time::Duration>,
    pub checkpoints: CheckpointSettings,
    /// `stop = ...`, read once the metrics it names are checked (`check_stop`).
    pub stop: Option<Expr>,
    pub averages: Vec<Average>,
}

/// Without a `train` block, or where a setting is wrong: one epoch, stop on
/// a non-finite loss, the default checkpoints.
impl Default for TrainSettings {
    fn default() -> Self {
        TrainSettings {
            epochs: 1,
            epochs_span: None,
            on_non_finite: NonFinitePolicy::Stop,
            max_time: None,
            checkpoints: CheckpointSettings::default(),
            stop: None,
            averages: Vec::new(),
        }
    }
}

/// The settings that name a declaration (`model = net`), by key, with the
/// key's span; `None` where the value is not a name (already reported).
type Named<'a> = HashMap<&'a str, (Span, Option<Ident>)>;

/// Reads `train { }` (spanning `span`) and adds its standard steps to `steps`.
pub(super) fn check_train(
    settings: &[Setting],
    span: Span,
    cx: &mut StepCx<'_>,
    steps: &mut Vec<(Step, Span)>,
    errors: &mut Vec<CheckError>,
) -> TrainSettings {
    let (mut train, named) = read_settings(settings, errors);
    if let Some(s) = settings.iter().find(|s| s.name.name == "ema") {
        train.averages = super::average::read_averages(&s.value, cx.models, cx.optimizers, errors);
    }
    let head = keyword(span, "train");
    if !settings.iter().any(|s| s.name.name == "epochs") && !misspelt(settings, "epochs") {
        errors.push(CheckError::missing(
            "`train` block",
            "`train` does not say how many `epochs`".into(),
            head,
            "add `epochs = 5`",
        ));
    }
    standard_step(settings, span, &named, cx, steps, errors);
    train
}

/// Each setting once: the loop's settings into `TrainSettings`, the names of
/// declarations into `Named`.
fn read_settings<'a>(
    settings: &'a [Setting],
    errors: &mut Vec<CheckError>,
) -> (TrainSettings, Named<'a>) {
    let mut train = TrainSettings::default();
    let mut named = HashMap::new();
    for s in settings {
        let key = s.name.name.as_str();
        if !TRAIN_SETTINGS.contains(&key) {
            errors.push(CheckError::unknown_parameter(
                "train",
                key,
                s.name.span,
                TRAIN_SETTINGS,
            ));
            continue;
        }
        if let Some((first, _)) = named.get(key) {
            errors.push(CheckError::duplicate_argument(key, s.name.span, *first));
            continue;
        }
        let value = if key == "epochs" {
            // 0 evaluates only: `check_evaluation_only` says when that can work.
            train.epochs = count(&s.value, "epochs", 0, errors).unwrap_or(1);
            train.epochs_span = Some(s.name.span.to(s.value.span));
            None
        } else if let Some(kind) = key.strip_prefix("checkpoint_") {
            read_checkpoint(&mut train.checkpoints, key, kind, &s.value, errors);
            None
        } else if key == "stop" {
            train.stop = Some(s.value.clone());
            None
        } else if key == "ema" {
            // Read by `check_train`, which knows the models and optimizers.
            None
        } else if key == "on_nan" {
            train.on_non_finite = read_on_nan(&s.value, errors);
            None
        } else if key == "max_time" {
            train.max_time = read_max_time(&s.value, errors);
            None
        } else {
            name_value(&s.value, key, errors)
        };
        named.insert(key, (s.name.span, value));
    }
    (train, named)
}

/// `checkpoint_steps`, `checkpoint_epochs` (0 for never) or `checkpoint_keep` (at least 1).
fn read_checkpoint(
    checkpoints: &mut CheckpointSettings,
    key: &str,
    kind: &str,
    value: &Expr,
    errors: &mut Vec<CheckError>,
) {
    let min = usize::from(kind == "keep");
    if let Some(v) = count(value, key, min, errors) {
        match kind {
            "steps" => checkpoints.every_steps = v as u64,
            "epochs" => checkpoints.every_epochs = v,
            "keep" => checkpoints.keep = v,
            other => unreachable!("`checkpoint_{other}` is not in TRAIN_SETTINGS"),
        }
    }
}

/// The `on_nan` policies; `skip` is the older name of `skip_batch`.
const ON_NAN: &[&str] = &["stop", "skip_batch", "restore_last", "skip"];

fn read_on_nan(value: &Expr, errors: &mut Vec<CheckError>) -> NonFinitePolicy {
    match &value.kind {
        ExprKind::Name(id) => match id.name.as_str() {
            "stop" => NonFinitePolicy::Stop,
            "skip_batch" | "skip" => NonFinitePolicy::Skip,
            "restore_last" => NonFinitePolicy::RestoreLast,
            other => {
                errors.push(CheckError::unknown(
                    "`on_nan` policy",
                    other,
                    id.span,
                    &ON_NAN[..3],
                ));
                NonFinitePolicy::Stop
            }
        },
        _ => {
            errors.push(
                CheckError::wrong_type(
                    "on_nan",
                    "`stop`, `skip_batch` or `restore_last`",
                    describe(value),
                    value.span,
                )
                .with_help(
                    "write `on_nan = skip_batch` to skip steps whose loss or gradients are not finite",
                ),
            );
            NonFinitePolicy::Stop
        }
    }
}

/// `max_time = "2h 30m"`: a duration as humantime writes them (`90s`, `45min`, `2h`,
/// `1day`), above zero.
fn read_max_time(value: &Expr, errors: &mut Vec<CheckError>) -> Option<std::time::Duration> {
    let ExprKind::Str(s) = &value.kind else {
        errors.push(
            CheckError::wrong_type("max_time", "a duration", describe(value), value.span)
                .with_help("write the time as a string with its unit: `max_time = \"2h\"`"),
        );
        return None;
    };
    match humantime::parse_duration(s.value.trim()) {
        Ok(d) if !d.is_zero() => Some(d),
        Ok(_) => {
            errors.push(CheckError::out_of_range(
                "max_time",
                0.0,
                "a duration above zero",
                value.span,
            ));
            None
        }
        Err(e) => {
            errors.push(
                CheckError::invalid(
                    format!("`max_time` is not a duration: {e}"),
                    "not a duration".into(),
                    value.span,
                )
                .with_help(
                    "write a number with a unit: `\"90s\"`, `\"45min\"`, `\"2h 30m\"`, `\"1day\"`",
                ),
            );
            None
        }
    }
}

fn name_value(expr: &Expr, key: &str, errors: &mut Vec<CheckError>) -> Option<Ident> {
    match &expr.kind {
        ExprKind::Name(id) => Some(id.clone()),
        _ => {
            errors.push(
                CheckError::wrong_type(key, "a name", describe(expr), expr.span).with_help(
                    format!("write the name of a declared {key}, without quotes"),
                ),
            );
            None
        }
    }
}

/// A misspelt setting (`epoch = 1`) is already reported as unknown: it is not
/// also reported missing.
fn misspelt(settings: &[Setting], key: &str) -> bool {
    settings.iter().any(|s| {
        !TRAIN_SETTINGS.contains(&s.name.name.as_str())
            && did_you_mean(&s.name.name, &[key]).is_some()
    })
}

/// When `train { }` names a model, resolves the standard step's declarations
/// and adds its steps: one on `data` and, with `validate`, one that does not train.
fn standard_step(
    settings: &[Setting],
    span: Span,
    named: &Named<'_>,
    cx: &mut StepCx<'_>,
    steps: &mut Vec<(Step, Span)>,
    errors: &mut Vec<CheckError>,
) {
    let head = keyword(span, "train");
    let get = |k: &str| named.get(k).and_then(|(_, ident)| ident.clone());
    if named.contains_key("model") && get("model").is_none() {
        // `model = "net"`: reported as a wrong type; the step cannot be built.
        cx.incomplete = true;
        return;
    }
    let Some(model) = get("model") else {
        report_without_model(named, errors);
        return;
    };
    let resolved = (
        cx.models.resolve("model", &model, errors),
        get("data").and_then(|d| cx.datasets.resolve("data", &d, errors)),
        get("loss").and_then(|l| cx.losses.resolve("loss", &l, errors)),
        get("optimizer").and_then(|o| cx.optimizers.resolve("optimizer", &o, errors)),
    );
    for key in ["data", "loss", "optimizer"] {
        if !named.contains_key(key) && !misspelt(settings, key) {
            errors.push(CheckError::missing(
                "`train` block",
                format!("the standard step needs `{key}`"),
                head,
                format!("add `{key} = NAME` to `train {{ }}`"),
            ));
        }
    }
    if resolved.0.is_none() || resolved.1.is_none() || resolved.2.is_none() || resolved.3.is_none()
    {
        cx.incomplete = true;
    }
    let datasets = cx.datasets;
    let validate =
        get("validate").and_then(|v| datasets.resolve("data", &v, errors).map(|d| (d, v.span)));
    let (Some(model), Some(data), Some(loss), Some(optimizer)) = resolved else {
        return;
    };
    // Where the standard step's model and loss are named, for its diagnostics.
    let setting_span = |k: &str| {
        settings
            .iter()
            .find(|s| s.name.name == k)
            .map_or(head, |s| s.name.span.to(s.value.span))
    };
    let standard = Standard {
        model,
        loss,
        optimizer,
        spans: [setting_span("model"), setting_span("loss")],
    };
    let trained = standard.add(cx, data, true, span, steps, errors);
    if let Some((vdata, vspan)) = validate {
        if trained {
            standard.add(cx, vdata, false, vspan, steps, errors);
        } else {
            // Validation repeats the training step's model and loss: its errors would be the same.
            cx.failed_data.push(vdata);
        }
    }
}

/// `data`, `validate`, `loss` or `optimizer` without `model`: there is no
/// standard step for them to belong to.
fn report_without_model(named: &Named<'_>, errors: &mut Vec<CheckError>) {
    for key in ["data", "validate", "loss", "optimizer"] {
        if let Some((key_span, _)) = named.get(key) {
            errors.push(CheckError::missing(
                "without `model`",
                format!("`{key}` is set but the standard step has no `model`"),
                *key_span,
                "add `model = NAME`, or write the step out with `step on DATA (x, y) { ... }`",
            ));
        }
    }
}

/// The standard step's declarations, resolved, and the spans of the `model`
/// and `loss` settings, where its diagnostics point.
struct Standard {
    model: usize,
    loss: usize,
    optimizer: usize,
    spans: [Span; 2],
}

impl Standard {
    /// The standard step desugared: `logits = MODEL(x, training)`,
    /// `loss = LOSS(y, logits)` and, when training, `update OPT minimizing loss`.
    fn stmts(&self, training: bool) -> Vec<StepStmt> {
        let mut stmts = vec![
            StepStmt::Let {
                name: "logits".into(),
                value: TensorExpr::CallModel {
                    model: self.model,
                    inputs: vec![TensorExpr::Var("x".into())],
                    training,
                },
            },
            StepStmt::Let {
                name: "loss".into(),
                value: TensorExpr::CallLoss {
                    loss: self.loss,
                    target: Box::new(TensorExpr::Var("y".into())),
                    prediction: Box::new(TensorExpr::Var("logits".into())),
                },
            },
        ];
        if training {
            stmts.push(StepStmt::Update {
                optimizer: self.optimizer,
                loss: TensorExpr::Var("loss".into()),
            });
        }
        stmts
    }

    /// Checks the step on `data` and adds it to `steps`; false if it had errors.
    fn add(
        &self,
        cx: &mut StepCx<'_>,
        data: usize,
        training: bool,
        span: Span,
        steps: &mut Vec<(Step, Span)>,
        errors: &mut Vec<CheckError>,
    ) -> bool {
        match steps::check_desugared(cx, data, self.stmts(training), self.spans, errors) {
            Some(step) => {
                steps.push((step, span));
                true
            }
            None => false,
        }
    }
}
