//! Steps and metrics: tensor expressions resolved against the step's names,
//! with shapes inferred through model calls and losses checked against labels.

use std::collections::HashMap;

use super::error::CheckError;
use super::graph::infer_graph;
use super::model::{infer_shapes, ModelDraft};
use super::plan::{DataSet, Labels, Loss, LossKind, Model, Optimizer, Step, StepStmt, TensorExpr};
use super::tensor::{Env, Place, Reader, Typed};
use super::Table;
use crate::catalog::Catalogued;
use crate::source::Span;
use crate::syntax::ast::{Ident, Stmt, StmtKind};

#[derive(Clone)]
pub struct StepCx<'a> {
    pub datasets: &'a Table<DataSet>,
    pub models: &'a Table<(ModelDraft, Span)>,
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
    /// Metrics written to files (`confusion_matrix`): named where a number is wanted, they
    /// are reported as such.
    pub matrices: Vec<String>,
}

/// The type of a value in a step, per batch element.
#[derive(Debug, Clone, PartialEq)]
pub enum TType {
    Float(Vec<usize>),
    /// Class indices in `0..classes`: one per example, or one at each of `positions`
    /// positions (a language model's next tokens).
    Labels {
        classes: usize,
        positions: Option<usize>,
    },
    Scalar,
    /// A number written in the expression.
    Number,
}

impl std::fmt::Display for TType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TType::Float(shape) => write!(f, "values of shape {shape:?}"),
            TType::Labels {
                classes,
                positions: None,
            } => write!(f, "class labels (0..{classes})"),
            TType::Labels {
                classes,
                positions: Some(n),
            } => write!(f, "class labels (0..{classes}) at {n} positions"),
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
        } => TType::Labels {
            classes,
            positions: None,
        },
        Labels::Tokens { classes, length } => TType::Labels {
            classes,
            positions: Some(length),
        },
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
            StepStmt::ClipWeights { .. } | StepStmt::Every { .. } => {
                unreachable!("the standard step binds and updates")
            }
            StepStmt::Update { optimizer, loss } => {
                ok &= desugared_type(cx, loss, &env, spans, errors).is_some();
                if ok {
                    super::accumulate::check_update(cx, *optimizer, loss, &stmts, spans[0], errors);
                }
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
        TensorExpr::CallModel { model, inputs, .. } => {
            let outs = model_output(cx, *model, &[var(&inputs[0])?], spans[0], errors)?;
            if outs.len() != 1 {
                errors.push(CheckError::incompatible(
                    format!(
                        "the model returns {} values, the standard step takes one",
                        outs.len()
                    ),
                    "a model with several outputs".into(),
                    spans[0],
                    "write a `step on DATA (x, y) { a, b = model(x) ... }` that unpacks them",
                ));
                return None;
            }
            outs.into_iter().next()
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
    let flat = super::every::flatten(body, errors);
    // Per statement of `stmts`, the `every` block it sits in.
    let mut tags = Vec::new();
    let mut bindings = super::every::Bindings::default();
    for &(stmt, block) in &flat {
        let before = stmts.len();
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
                    super::accumulate::check_update(cx, opt, &expr, &stmts, loss.span, errors);
                    stmts.push(StepStmt::Update {
                        optimizer: opt,
                        loss: expr,
                    });
                }
            }
            StmtKind::Unpack { targets, value } => {
                let ok = check_unpack(cx, &mut env, &mut stmts, &mut noise, targets, value, (x, y), errors);
                if !ok {
                    for t in targets {
                        cx.failed_names.push(t.name.clone());
                    }
                    failed = true;
                }
            }
            StmtKind::Call(call) if call.name.name == "clip_weights" => {
                if let Some(clip) = super::every::clip_weights(cx, call, errors) {
                    stmts.push(clip);
                }
            }
            StmtKind::Log { .. } | StmtKind::Call(_) => errors.push(CheckError::misplaced(
                "this statement cannot run inside a step".into(),
                "not a binding, an update or `clip_weights`".into(),
                stmt.span,
                "a step binds values (`logits = model(x)`), updates optimizers and clips weights; log from `on epoch_end { }`",
            )),
            StmtKind::Every { .. } => unreachable!("`every::flatten` opened the blocks"),
        }
        bindings.check(&stmts[before..], block, stmt_text(stmt), errors);
        tags.resize(stmts.len(), block);
    }
    let ok = !failed && errors.len() == errors_before;
    if !ok {
        cx.failed_data.push(data_index);
    }
    cx.envs.insert(data_index, env);
    let step = Step {
        data: data_index,
        x: x.name.clone(),
        y: y.name.clone(),
        stmts: super::every::group(stmts, &tags),
    };
    if ok {
        super::every::check_trains(step.trains(), &flat, errors);
    }
    Some(step)
}

/// A statement's own text (pest's span runs on over the comments after it).
fn stmt_text(stmt: &Stmt) -> Span {
    let end = match &stmt.kind {
        StmtKind::Assign { value, .. }
        | StmtKind::Unpack { value, .. }
        | StmtKind::Update { loss: value, .. } => value.span.end,
        StmtKind::Call(call) => call.span.end,
        StmtKind::Log { .. } | StmtKind::Every { .. } => stmt.span.end,
    };
    Span::new(stmt.span.start, end)
}

/// `a, b = model(x)`: one name per output of the model; false after reporting.
#[allow(clippy::too_many_arguments)] // the step's state, threaded through as for `Assign`
fn check_unpack(
    cx: &mut StepCx<'_>,
    env: &mut Env,
    stmts: &mut Vec<StepStmt>,
    noise: &mut usize,
    targets: &[Ident],
    value: &crate::syntax::ast::Expr,
    (x, y): (&Ident, &Ident),
    errors: &mut Vec<CheckError>,
) -> bool {
    use crate::syntax::ast::ExprKind;
    for (i, t) in targets.iter().enumerate() {
        if t.name == x.name || t.name == y.name {
            errors.push(
                CheckError::invalid(
                    format!("`{}` is the step's data", t.name),
                    "bound by the step".into(),
                    t.span,
                )
                .with_help("bind the new value to another name"),
            );
            return false;
        }
        if let Some(first) = targets[..i].iter().find(|f| f.name == t.name) {
            errors.push(CheckError::duplicate("name", &t.name, t.span, first.span));
            return false;
        }
    }
    let model = match &value.kind {
        ExprKind::Call(call) => cx.models.index(&call.name.name).map(|m| (m, call)),
        _ => None,
    };
    let Some((model, call)) = model else {
        errors.push(
            CheckError::invalid(
                "only a model's outputs can be unpacked".into(),
                "not a model call".into(),
                value.span,
            )
            .with_help("write `a, b = model(x)` for a model that returns two values"),
        );
        return false;
    };
    let mut reader = Reader {
        cx,
        env,
        place: Place::Step,
        noise,
    };
    let Some((expr, types)) = reader.model_call_outputs(model, call, errors) else {
        return false;
    };
    if types.len() != targets.len() {
        let name = &cx.models.items[model].0.name;
        errors.push(
            CheckError::incompatible(
                format!(
                    "model `{name}` returns {} value{}, but {} names are given",
                    types.len(),
                    if types.len() == 1 { "" } else { "s" },
                    targets.len()
                ),
                format!("{} names", targets.len()),
                targets[0].span.to(targets[targets.len() - 1].span),
                "give one name per value the model's `return` lists",
            )
            .with_related(call.span, format!("returns {}", types.len())),
        );
        return false;
    }
    let names: Vec<String> = targets.iter().map(|t| t.name.clone()).collect();
    for (index, (t, ty)) in targets.iter().zip(types).enumerate() {
        cx.producers.remove(&t.name);
        env.insert(t.name.clone(), ty);
        stmts.push(StepStmt::Let {
            name: t.name.clone(),
            value: TensorExpr::ModelOutput {
                call: Box::new(expr.clone()),
                index,
                names: names.clone(),
            },
        });
    }
    true
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

/// The output types of a model called on `inputs`, inferring its shapes on the first call.
pub fn model_output(
    cx: &mut StepCx<'_>,
    model: usize,
    inputs: &[TType],
    span: Span,
    errors: &mut Vec<CheckError>,
) -> Option<Vec<TType>> {
    if cx.models.is_broken(&cx.models.items[model].0.name) {
        // Its layers were already reported; shapes through it are unknown.
        return None;
    }
    let expected = cx.models.items[model].1 .0.inputs();
    if inputs.len() != expected {
        errors.push(CheckError::incompatible(
            format!(
                "model `{}` takes {expected} input{}, given {}",
                cx.models.items[model].0.name,
                if expected == 1 { "" } else { "s" },
                inputs.len()
            ),
            format!("{} given", inputs.len()),
            span,
            "pass one value per input the model declares, in order",
        ));
        return None;
    }
    let mut shapes = Vec::with_capacity(inputs.len());
    for input in inputs {
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
        shapes.push(shape.clone());
    }
    let floats = |m: &Model| m.output_shapes().into_iter().map(TType::Float).collect();
    match &cx.inferred[model] {
        Some(m) if m.input_shapes() == shapes => Some(floats(m)),
        Some(m) => {
            let (now, before) = if shapes.len() == 1 {
                (format!("{:?}", shapes[0]), format!("{:?}", m.input_shape))
            } else {
                (format!("{shapes:?}"), format!("{:?}", m.input_shapes()))
            };
            errors.push(CheckError::shape(
                format!(
                    "model `{}` is called with inputs of shape {now}, elsewhere {before}",
                    m.name
                ),
                format!("input of shape {now}"),
                span,
                "a model takes one input shape; `flatten(x)` makes a vector of an image",
            ));
            None
        }
        None => {
            let (name, (draft, model_span)) = &cx.models.items[model];
            let m = match draft {
                ModelDraft::Stack(drafts) => {
                    infer_shapes(&name.name, &shapes[0], drafts, *model_span, errors)?
                }
                ModelDraft::Graph(g) => infer_graph(&name.name, &shapes, g, *model_span, errors)?,
            };
            let out = floats(&m);
            cx.inferred[model] = Some(m);
            Some(out)
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
            .filter(|m| m.graph.is_none())
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
    if let Some(w) = &loss.class_weight {
        // How many weights the loss needs: two outcomes for the binary cross-entropy, else
        // one per class, from the labels or from the predictions' width.
        let wanted = match (loss.kind, target, prediction) {
            (LossKind::BinaryCrossentropy { .. }, _, _) => Some((
                2,
                "`binary_crossentropy` weighs 2 outcomes, 0 and 1".to_string(),
            )),
            (_, TType::Labels { classes, .. }, _) => {
                Some((*classes, format!("the data has {classes} classes")))
            }
            (_, _, TType::Float(p)) => p
                .last()
                .map(|&n| (n, format!("the model outputs {n} classes"))),
            _ => None,
        };
        if let Some((_, what)) = wanted.filter(|(n, _)| *n != w.values.len()) {
            let given = w.values.len();
            errors.push(CheckError::incompatible(
                format!("`class_weight` gives {given} weights, but {what}"),
                format!("{given} weights"),
                w.span,
                "give one weight per class, in the order of the class indices",
            ));
            return false;
        }
    }
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
            TType::Labels { classes, positions },
        ) => {
            // A class per position: the scores of every class at every position, as
            // PyTorch's `cross_entropy` takes (batch, classes, positions).
            let wanted: Vec<usize> = std::iter::once(*classes).chain(*positions).collect();
            if *pred != wanted {
                return match positions {
                    None => fail(
                        format!("the data has {classes} classes but the model outputs {pred:?}"),
                        &format!("make the last layer `dense(units = {classes})`"),
                    ),
                    Some(n) => fail(
                        format!("the data has a class of {classes} at each of {n} positions, so the model must output {wanted:?}, but it outputs {pred:?}"),
                        &format!("end the model with `dense(units = {classes})` applied at each of the {n} positions"),
                    ),
                };
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
        (LossKind::KlDivergence | LossKind::CosineSimilarity, TType::Labels { .. }) => fail(
            format!("`{}` compares vectors, but the labels are class indices", loss.kind.catalogued().entry().name),
            "add `one_hot()` to the data pipeline, or compare with a tensor of the prediction's shape",
        ),
        (
            LossKind::BinaryCrossentropy { .. } | LossKind::Hinge | LossKind::SquaredHinge,
            TType::Labels {
                classes,
                positions: None,
            },
        ) => {
            let callee = loss.kind.catalogued().entry().name;
            if *classes != 2 {
                return fail(
                    format!("`{callee}` scores 2 classes, but the data has {classes}"),
                    &format!("for {classes} classes use `sparse_categorical_crossentropy` and a last layer of {classes} units"),
                );
            }
            if pred.iter().product::<usize>() != 1 {
                return fail(
                    format!("`{callee}` needs one output per example, but the model outputs {pred:?}"),
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
            LossKind::MeanSquaredError
            | LossKind::MeanAbsoluteError
            | LossKind::Huber { .. }
            | LossKind::LogCosh
            | LossKind::Poisson,
            TType::Labels {
                positions: None, ..
            },
        ) => {
            if pred.iter().product::<usize>() != 1 {
                return fail(
                    format!("a regression loss on class labels needs 1 output, the model outputs {pred:?}"),
                    "use a classification loss, or a model with one output",
                );
            }
            true
        }
        (_, TType::Labels { .. }) => fail(
            format!("`{name}` does not take a class at each position"),
            "score the tokens with `sparse_categorical_crossentropy`",
        ),
        (_, TType::Scalar | TType::Number) => fail(
            format!("loss `{name}` needs targets, got {target}"),
            "pass the labels `y` first",
        ),
    }
}
