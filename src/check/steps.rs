//! Steps and metrics: tensor expressions resolved against the step's names,
//! with shapes inferred through model calls and losses checked against labels.

use std::collections::HashMap;

use super::error::CheckError;
use super::model::{infer_shapes, LayerDraft};
use super::plan::{DataSet, Labels, Loss, LossKind, Model, Optimizer, Step, StepStmt, TensorExpr};
use super::tensor::{Env, Place, Reader, Typed};
use super::Table;
use crate::source::Span;
use crate::syntax::ast::{Ident, Stmt, StmtKind};

#[derive(Clone)]
pub struct StepCx<'a> {
    pub datasets: &'a Table<DataSet>,
    pub models: &'a Table<(Vec<LayerDraft>, Span)>,
    pub losses: &'a Table<Loss>,
    pub optimizers: &'a Table<Optimizer>,
    /// Models whose input shape is known, filled in as steps call them.
    pub inferred: Vec<Option<Model>>,
    /// Data sets whose step had errors: what depends on them is not reported again.
    pub failed_data: Vec<usize>,
    /// Metrics that could not be checked: references to them are not reported again.
    pub poisoned: Vec<String>,
    /// A step could not be built for an error already reported: "nothing is trained"
    /// and "never used" would only repeat it.
    pub incomplete: bool,
    /// In the step being checked, the model whose output each name holds.
    pub producers: HashMap<String, usize>,
    /// The names each checked step binds, with their types, by data set.
    pub envs: HashMap<usize, Env>,
    /// In the step being checked, names whose binding failed: their readers stay quiet.
    pub failed_names: Vec<String>,
}

/// The type of a value in a step, per batch element.
#[derive(Debug, Clone, PartialEq)]
pub enum TType {
    Float(Vec<usize>),
    /// Class indices in `0..classes`.
    Labels {
        classes: usize,
    },
    Scalar,
    /// A number written in the expression.
    Number,
}

impl std::fmt::Display for TType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TType::Float(shape) => write!(f, "values of shape {shape:?}"),
            TType::Labels { classes } => write!(f, "class labels (0..{classes})"),
            TType::Scalar => write!(f, "a scalar"),
            TType::Number => write!(f, "a number"),
        }
    }
}

fn data_env(data: &DataSet, x: &str, y: &str) -> Env {
    let label = match data.labels {
        Labels::Classes {
            classes,
            one_hot: false,
        } => TType::Labels { classes },
        Labels::Classes { classes, .. } => TType::Float(vec![classes]),
        Labels::Values { width } => TType::Float(vec![width]),
    };
    HashMap::from([
        (
            x.to_string(),
            Typed::batch(TType::Float(data.element_shape.clone())),
        ),
        (y.to_string(), Typed::batch(label)),
    ])
}

/// The standard step of `train { }`; `spans` are those of its `model = ...` and
/// `loss = ...` settings, where diagnostics about the model and the loss point.
pub fn check_desugared(
    cx: &mut StepCx<'_>,
    data: usize,
    stmts: Vec<StepStmt>,
    spans: [Span; 2],
    errors: &mut Vec<CheckError>,
) -> Option<Step> {
    let mut env = data_env(&cx.datasets.items[data].1, "x", "y");
    cx.producers.clear();
    let mut ok = true;
    for stmt in &stmts {
        if !ok {
            // Each statement uses the one before: after a failure, the rest would only repeat it.
            break;
        }
        match stmt {
            StepStmt::Let { name, value } => match desugared_type(cx, value, &env, spans, errors) {
                Some(t) => {
                    note_producer(cx, name, value);
                    env.insert(name.clone(), Typed::batch(t));
                }
                None => ok = false,
            },
            StepStmt::Update { loss, .. } => {
                ok &= desugared_type(cx, loss, &env, spans, errors).is_some();
            }
        }
    }
    if !ok {
        cx.failed_data.push(data);
    }
    cx.envs.insert(data, env);
    ok.then_some(Step {
        data,
        x: "x".into(),
        y: "y".into(),
        stmts,
    })
}

/// Types in the standard step, which only calls models and losses on names.
fn desugared_type(
    cx: &mut StepCx<'_>,
    expr: &TensorExpr,
    env: &Env,
    spans: [Span; 2],
    errors: &mut Vec<CheckError>,
) -> Option<TType> {
    let var = |e: &TensorExpr| match e {
        TensorExpr::Var(n) => env.get(n).map(|t| t.ty.clone()),
        _ => unreachable!("the standard step passes names"),
    };
    match expr {
        TensorExpr::Var(_) => var(expr),
        TensorExpr::CallModel { model, input, .. } => {
            model_output(cx, *model, &var(input)?, spans[0], errors)
        }
        TensorExpr::CallLoss {
            loss,
            target,
            prediction,
        } => {
            let (t, p) = (var(target)?, var(prediction)?);
            loss_type(cx, *loss, &t, &p, prediction, spans[1], errors)
        }
        _ => unreachable!("the standard step only calls models and losses"),
    }
}

/// An explicit `step on DATA (x, y) { ... }`.
pub fn check_step(
    cx: &mut StepCx<'_>,
    data: &Ident,
    x: &Ident,
    y: &Ident,
    body: &[Stmt],
    errors: &mut Vec<CheckError>,
) -> Option<Step> {
    let data_index = cx.datasets.resolve("data", data, errors)?;
    if x.name == y.name {
        errors.push(
            CheckError::duplicate("name", &y.name, y.span, x.span)
                .with_help("name the inputs and the labels apart: `(x, y)`"),
        );
        cx.failed_data.push(data_index);
        return None;
    }
    let mut env = data_env(&cx.datasets.items[data_index].1, &x.name, &y.name);
    cx.producers.clear();
    cx.failed_names.clear();
    let mut stmts = Vec::new();
    let errors_before = errors.len();
    let mut noise = 0;
    // A statement that failed silently (through a model already reported) leaves its name unbound.
    let mut failed = false;
    for stmt in body {
        match &stmt.kind {
            StmtKind::Assign { target, value } => {
                if target.len() != 1 {
                    errors.push(CheckError::invalid(
                        "a step can only bind plain names".into(),
                        "not a plain name".into(),
                        target[0].span.to(target[target.len() - 1].span),
                    ));
                    continue;
                }
                if target[0].name == x.name || target[0].name == y.name {
                    errors.push(
                        CheckError::invalid(
                            format!("`{}` is the step's data", target[0].name),
                            "bound by the step".into(),
                            target[0].span,
                        )
                        .with_help("bind the new value to another name"),
                    );
                    continue;
                }
                let mut reader = Reader {
                    cx,
                    env: &env,
                    place: Place::Step,
                    noise: &mut noise,
                };
                if let Some((expr, t)) = reader.read(value, errors) {
                    if t.ty == TType::Number {
                        errors.push(
                            CheckError::invalid(
                                "a step binds tensors, not numbers".into(),
                                "a number".into(),
                                value.span,
                            )
                            .with_help("write the number where it is used"),
                        );
                        cx.failed_names.push(target[0].name.clone());
                        continue;
                    }
                    note_producer(cx, &target[0].name, &expr);
                    env.insert(target[0].name.clone(), t);
                    stmts.push(StepStmt::Let {
                        name: target[0].name.clone(),
                        value: expr,
                    });
                } else {
                    cx.failed_names.push(target[0].name.clone());
                    failed = true;
                }
            }
            StmtKind::Update { optimizer, loss } => {
                let opt = cx.optimizers.resolve("optimizer", optimizer, errors);
                let mut reader = Reader {
                    cx,
                    env: &env,
                    place: Place::Step,
                    noise: &mut noise,
                };
                let read = reader.read(loss, errors);
                failed |= read.is_none();
                if let (Some(opt), Some((expr, t))) = (opt, read) {
                    if t.ty != TType::Scalar {
                        errors.push(CheckError::incompatible(
                            "`update` minimizes a scalar loss".into(),
                            format!("this is {}", t.ty),
                            loss.span,
                            "pass the value of a loss, e.g. `loss = xent(y, logits)`, or `mean(...)` of a tensor",
                        ));
                    }
                    stmts.push(StepStmt::Update {
                        optimizer: opt,
                        loss: expr,
                    });
                }
            }
            StmtKind::Log { .. } | StmtKind::Call(_) => errors.push(CheckError::misplaced(
                "this statement cannot run inside a step".into(),
                "not a binding or an update".into(),
                stmt.span,
                "a step binds values (`logits = model(x)`) and updates optimizers; log from `on epoch_end { }`",
            )),
        }
    }
    if failed || errors.len() > errors_before {
        cx.failed_data.push(data_index);
    }
    cx.envs.insert(data_index, env);
    Some(Step {
        data: data_index,
        x: x.name.clone(),
        y: y.name.clone(),
        stmts,
    })
}

/// Remembers which model's output a name holds, so that a loss on it can point at the model's last layer.
fn note_producer(cx: &mut StepCx<'_>, name: &str, value: &TensorExpr) {
    let model = match value {
        TensorExpr::CallModel { model, .. } => Some(*model),
        TensorExpr::Var(v) => cx.producers.get(v).copied(),
        _ => None,
    };
    match model {
        Some(m) => cx.producers.insert(name.to_string(), m),
        None => cx.producers.remove(name),
    };
}

/// One step per data set: two would make `metric ... on DATA` ambiguous.
pub fn check_step_data_unique(
    steps: &[(Step, Span)],
    cx: &StepCx<'_>,
    errors: &mut Vec<CheckError>,
) {
    for (i, (step, span)) in steps.iter().enumerate() {
        if let Some((_, first)) = steps[..i].iter().find(|(s, _)| s.data == step.data) {
            let name = &cx.datasets.items[step.data].0.name;
            errors.push(
                CheckError::duplicate("step on data", name, *span, *first)
                    .with_help("do all the work on a data set in one step"),
            );
        }
    }
}

/// The output type of a model called on `input`, inferring its shapes on the first call.
pub fn model_output(
    cx: &mut StepCx<'_>,
    model: usize,
    input: &TType,
    span: Span,
    errors: &mut Vec<CheckError>,
) -> Option<TType> {
    if cx.models.is_broken(&cx.models.items[model].0.name) {
        // Its layers were already reported; shapes through it are unknown.
        return None;
    }
    let TType::Float(shape) = input else {
        errors.push(CheckError::incompatible(
            format!(
                "model `{}` is called on {input}",
                cx.models.items[model].0.name
            ),
            format!("{input}"),
            span,
            "models take the data's `x` (or another model's output)",
        ));
        return None;
    };
    match &cx.inferred[model] {
        Some(m) if m.input_shape == *shape => Some(TType::Float(m.output_shape().to_vec())),
        Some(m) => {
            errors.push(CheckError::shape(
                format!(
                    "model `{}` is called with inputs of shape {shape:?}, elsewhere {:?}",
                    m.name, m.input_shape
                ),
                format!("input of shape {shape:?}"),
                span,
                "a model takes one input shape; `flatten(x)` makes a vector of an image",
            ));
            None
        }
        None => {
            let (name, (drafts, model_span)) = &cx.models.items[model];
            let m = infer_shapes(&name.name, shape, drafts, *model_span, errors)?;
            let out = m.output_shape().to_vec();
            cx.inferred[model] = Some(m);
            Some(TType::Float(out))
        }
    }
}

/// Checks a loss's arguments; a failure about the predictions of a model points at its last layer too.
pub fn loss_type(
    cx: &StepCx<'_>,
    loss: usize,
    target: &TType,
    prediction: &TType,
    prediction_expr: &TensorExpr,
    span: Span,
    errors: &mut Vec<CheckError>,
) -> Option<TType> {
    let last_layer = match prediction_expr {
        TensorExpr::Var(v) => cx
            .producers
            .get(v)
            .and_then(|m| cx.inferred[*m].as_ref())
            .and_then(|m| m.layers.last())
            .map(|l| {
                (
                    l.span,
                    format!("the last layer outputs {:?}", l.output_shape),
                )
            }),
        _ => None,
    };
    let loss = &cx.losses.items[loss].1;
    let before = errors.len();
    let ok = loss_compatible(loss, target, prediction, span, errors);
    if let (Some(err), Some((layer_span, label))) = (errors.get_mut(before), last_layer) {
        err.related = Some((layer_span, label));
    }
    ok.then_some(TType::Scalar)
}

fn loss_compatible(
    loss: &Loss,
    target: &TType,
    prediction: &TType,
    span: Span,
    errors: &mut Vec<CheckError>,
) -> bool {
    let name = &loss.name;
    let mut fail = |title: String, help: &str| {
        errors.push(CheckError::incompatible(
            title,
            format!("`{name}` applied here"),
            span,
            help,
        ));
        false
    };
    let TType::Float(pred) = prediction else {
        return fail(
            format!("loss `{name}` needs predictions, got {prediction}"),
            "pass the model's output as the second argument",
        );
    };
    match (loss.kind, target) {
        (
            LossKind::SparseCategoricalCrossentropy { .. } | LossKind::Nll,
            TType::Labels { classes },
        ) => {
            if pred.len() != 1 || pred[0] != *classes {
                return fail(
                    format!("the data has {classes} classes but the model outputs {pred:?}"),
                    &format!("make the last layer `dense(units = {classes})`"),
                );
            }
            true
        }
        (LossKind::SparseCategoricalCrossentropy { .. }, TType::Float(_)) => fail(
            "`sparse_categorical_crossentropy` takes class indices, but the labels are one-hot"
                .to_string(),
            "use `categorical_crossentropy`, or remove `one_hot()` from the data",
        ),
        (LossKind::Nll, TType::Float(_)) => fail(
            "`nll_loss` takes class indices, but the labels are one-hot".to_string(),
            "remove `one_hot()` from the data",
        ),
        (LossKind::CategoricalCrossentropy { .. }, TType::Labels { .. }) => fail(
            "`categorical_crossentropy` takes one-hot labels, but the labels are class indices"
                .to_string(),
            "use `sparse_categorical_crossentropy`, or add `one_hot()` to the data pipeline",
        ),
        (LossKind::BinaryCrossentropy { .. }, TType::Labels { classes }) => {
            if *classes != 2 {
                return fail(
                    format!("`binary_crossentropy` scores 2 classes, but the data has {classes}"),
                    &format!("for {classes} classes use `sparse_categorical_crossentropy` and a last layer of {classes} units"),
                );
            }
            if pred.iter().product::<usize>() != 1 {
                return fail(
                    format!("`binary_crossentropy` needs one output per example, but the model outputs {pred:?}"),
                    "make the last layer `dense(units = 1)`",
                );
            }
            true
        }
        (_, TType::Float(t)) if t != pred => fail(
            format!("targets of shape {t:?} do not match predictions of shape {pred:?}"),
            "the model's output shape must equal the target's",
        ),
        (_, TType::Float(_)) => true,
        (
            LossKind::MeanSquaredError | LossKind::MeanAbsoluteError | LossKind::Huber { .. },
            TType::Labels { .. },
        ) => {
            if pred.iter().product::<usize>() != 1 {
                return fail(
                    format!("a regression loss on class labels needs 1 output, the model outputs {pred:?}"),
                    "use a classification loss, or a model with one output",
                );
            }
            true
        }
        (_, TType::Scalar | TType::Number) => fail(
            format!("loss `{name}` needs targets, got {target}"),
            "pass the labels `y` first",
        ),
    }
}
