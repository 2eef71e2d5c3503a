//! The file as a whole: declarations collected into tables, the `train`
//! settings, and the standard step desugared into explicit steps.

use super::call::CallArgs;
use super::data::check_data;
use super::error::CheckError;
use super::model::{read_layers, LayerDraft};
use super::plan::{
    CheckpointSettings, Experiment, Hooks, Loss, LossKind, NonFinitePolicy, Optimizer,
    OptimizerKind, StepStmt, TensorExpr,
};
use super::steps::{self, StepCx};
use super::{first_decl_span, hooks, Table};
use crate::catalog::{self, Catalogued};
use crate::source::Span;
use crate::syntax::ast::{Call, DeclKind, Expr, ExprKind, File, Ident, Setting};

pub fn check_file(file: &File, errors: &mut Vec<CheckError>) -> Option<Experiment> {
    let mut datasets = Table::default();
    let mut models: Table<(Vec<LayerDraft>, Span)> = Table::default();
    let mut losses = Table::default();
    let mut optimizer_decls: Vec<(&Ident, &Call, &[Ident])> = Vec::new();
    let mut experiment: Option<(&Ident, &[Setting])> = None;
    let mut train: Option<(&[Setting], Span)> = None;

    for decl in &file.decls {
        match &decl.kind {
            DeclKind::Experiment { name, settings } => {
                if let Some((first, _)) = experiment {
                    errors.push(CheckError::duplicate(
                        "experiment",
                        &name.name,
                        name.span,
                        first.span,
                    ));
                } else {
                    experiment = Some((name, settings));
                }
            }
            DeclKind::Data { name, pipeline } => {
                let data = check_data(name, pipeline, decl.span, errors);
                datasets.insert("data", name, data, errors);
            }
            DeclKind::Model { name, layers } => {
                let errors_before = errors.len();
                let drafts = read_layers(layers, errors);
                if layers.is_empty() {
                    errors.push(CheckError::missing(
                        "no layers",
                        format!("model `{}` has no layers", name.name),
                        name.span,
                        "list its layers between the braces, e.g. `dense(units = 10)`",
                    ));
                }
                // A model with a bad layer has no shapes to infer: its callers stay quiet.
                if errors.len() > errors_before {
                    models.insert_broken(name);
                }
                models.insert("model", name, (drafts, decl.span), errors);
            }
            DeclKind::Loss { name, call } => {
                if let Some(kind) = read_loss(call, errors) {
                    let loss = Loss {
                        name: name.name.clone(),
                        kind,
                    };
                    losses.insert("loss", name, loss, errors);
                } else {
                    losses.insert_broken(name);
                }
            }
            DeclKind::Optimizer {
                name,
                call,
                models: for_models,
            } => optimizer_decls.push((name, call, for_models)),
            DeclKind::Train { settings } => {
                if let Some((_, first)) = train {
                    errors.push(
                        CheckError::duplicate(
                            "block",
                            "train",
                            keyword(decl.span, "train"),
                            keyword(first, "train"),
                        )
                        .with_help("merge the two `train` blocks"),
                    );
                } else {
                    train = Some((settings, decl.span));
                }
            }
            DeclKind::Metrics { .. }
            | DeclKind::Step { .. }
            | DeclKind::Hook { .. }
            | DeclKind::Before { .. }
            | DeclKind::After { .. } => {}
        }
    }

    let mut optimizers = Table::default();
    for (name, call, for_models) in optimizer_decls {
        let model_ids: Vec<usize> = if for_models.is_empty() {
            (0..models.items.len()).collect()
        } else {
            for_models
                .iter()
                .filter_map(|m| models.resolve("model", m, errors))
                .collect()
        };
        if let Some((kind, lr)) = read_optimizer(call, errors) {
            let opt = Optimizer {
                name: name.name.clone(),
                kind,
                lr,
                models: model_ids,
            };
            optimizers.insert("optimizer", name, opt, errors);
        } else {
            optimizers.insert_broken(name);
        }
    }

    let (name, seed, threads) = match experiment {
        Some((name, settings)) => {
            let (seed, threads) = experiment_settings(settings, errors);
            (name.name.clone(), seed, threads)
        }
        None => {
            errors.push(CheckError::missing(
                "the file starts here",
                "no `experiment` declaration".into(),
                Span::new(0, 0),
                "start the file with `experiment NAME { seed = 42 }`",
            ));
            (String::new(), 0, None)
        }
    };

    let mut cx = StepCx {
        datasets: &datasets,
        models: &models,
        losses: &losses,
        optimizers: &optimizers,
        inferred: vec![None; models.items.len()],
        failed_data: Vec::new(),
        poisoned: Vec::new(),
        incomplete: false,
        producers: std::collections::HashMap::new(),
        envs: std::collections::HashMap::new(),
        failed_names: Vec::new(),
    };
    let mut plan_steps = Vec::new();
    let mut on_non_finite = NonFinitePolicy::Stop;
    let mut checkpoints = CheckpointSettings::default();
    let epochs = match train {
        Some((settings, span)) => train_settings(
            settings,
            span,
            &mut cx,
            &mut plan_steps,
            &mut on_non_finite,
            &mut checkpoints,
            errors,
        ),
        None => {
            errors.push(CheckError::missing(
                "no `train` block",
                "the experiment never says how long to train".into(),
                first_decl_span(file, |_| true),
                "add `train { epochs = 5 }` (and `model`, `data`, `loss`, `optimizer` for the standard step)",
            ));
            1
        }
    };
    for decl in &file.decls {
        if let DeclKind::Step { data, x, y, body } = &decl.kind {
            if let Some(step) = steps::check_step(&mut cx, data, x, y, body, errors) {
                plan_steps.push((step, decl.span));
            }
        }
    }
    steps::check_step_data_unique(&plan_steps, &cx, errors);
    let plan_steps: Vec<_> = plan_steps.into_iter().map(|(s, _)| s).collect();
    if plan_steps.is_empty() && train.is_some() && cx.failed_data.is_empty() && !cx.incomplete {
        errors.push(CheckError::missing(
            "no training step",
            "nothing is trained".into(),
            train.map_or(Span::new(0, 0), |t| keyword(t.1, "train")),
            "set `model`, `data`, `loss` and `optimizer` in `train { }`, or write a `step on DATA (x, y) { ... }`",
        ));
    }

    let metrics = super::metrics::check_metrics(file, &plan_steps, &mut cx, errors);
    let mut hooks = Hooks::default();
    super::grid::infer_grid_models(file, &mut cx, &plan_steps);
    let (before, after) = hooks::check_hooks(file, &cx, &plan_steps, &metrics, &mut hooks, errors);

    for (i, (name, _)) in models.items.iter().enumerate() {
        if cx.inferred[i].is_none()
            && cx.failed_data.is_empty()
            && !cx.incomplete
            && !models.is_broken(&name.name)
            && !errors.iter().any(|e| e.code == "shape")
        {
            errors.push(CheckError::missing(
                "never called",
                format!("model `{}` is never used by a step", name.name),
                name.span,
                "call it in a step, or set `model = ...` in `train { }`",
            ));
        }
    }
    let models = cx.inferred.into_iter().collect::<Option<Vec<_>>>()?;
    Some(Experiment {
        name,
        seed,
        threads,
        epochs,
        on_non_finite,
        checkpoints,
        datasets: datasets.items.into_iter().map(|(_, d)| d).collect(),
        models,
        losses: losses.items.into_iter().map(|(_, l)| l).collect(),
        optimizers: optimizers.items.into_iter().map(|(_, o)| o).collect(),
        steps: plan_steps,
        metrics,
        hooks,
        before,
        after,
    })
}

fn experiment_settings(settings: &[Setting], errors: &mut Vec<CheckError>) -> (u64, Option<usize>) {
    let mut seed = 0;
    let mut threads = None;
    for s in settings {
        match s.name.name.as_str() {
            "seed" => {
                if let Some(v) = super::args::count(&s.value, "seed", 0, errors) {
                    seed = v as u64;
                }
            }
            "threads" => threads = super::args::count(&s.value, "threads", 1, errors),
            other => errors.push(CheckError::unknown_parameter(
                "experiment",
                other,
                s.name.span,
                &["seed", "threads"],
            )),
        }
    }
    (seed, threads)
}

const TRAIN_SETTINGS: &[&str] = &[
    "epochs",
    "model",
    "data",
    "validate",
    "loss",
    "optimizer",
    "on_nan",
    "checkpoint_steps",
    "checkpoint_epochs",
    "checkpoint_keep",
];

/// Reads `train { }` and, when it names a model, desugars the standard step:
/// on `data`: `logits = model(x, training = true)`, `loss = LOSS(y, logits)`,
/// `update OPT minimizing loss`; on `validate`: the same without the update.
fn train_settings(
    settings: &[Setting],
    span: Span,
    cx: &mut StepCx<'_>,
    steps: &mut Vec<(super::plan::Step, Span)>,
    on_nan: &mut NonFinitePolicy,
    checkpoints: &mut CheckpointSettings,
    errors: &mut Vec<CheckError>,
) -> usize {
    let mut epochs = None;
    let mut named = std::collections::HashMap::new();
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
            epochs = super::args::count(&s.value, "epochs", 1, errors);
            None
        } else if let Some(kind) = key.strip_prefix("checkpoint_") {
            let min = usize::from(kind == "keep");
            if let Some(v) = super::args::count(&s.value, key, min, errors) {
                match kind {
                    "steps" => checkpoints.every_steps = v as u64,
                    "epochs" => checkpoints.every_epochs = v,
                    "keep" => checkpoints.keep = v,
                    other => unreachable!("`checkpoint_{other}` is not in TRAIN_SETTINGS"),
                }
            }
            None
        } else if key == "on_nan" {
            *on_nan = match &s.value.kind {
                ExprKind::Name(id) if id.name == "stop" => NonFinitePolicy::Stop,
                ExprKind::Name(id) if id.name == "skip" => NonFinitePolicy::Skip,
                ExprKind::Name(id) => {
                    errors.push(CheckError::unknown(
                        "`on_nan` policy",
                        &id.name,
                        id.span,
                        &["stop", "skip"],
                    ));
                    NonFinitePolicy::Stop
                }
                _ => {
                    errors.push(
                        CheckError::wrong_type("on_nan", "`stop` or `skip`", super::args::describe(&s.value), s.value.span)
                            .with_help("write `on_nan = skip` to skip steps whose loss or gradients are not finite"),
                    );
                    NonFinitePolicy::Stop
                }
            };
            None
        } else {
            name_value(&s.value, key, errors)
        };
        named.insert(key, (s.name.span, value));
    }
    // A misspelt setting (`epoch = 1`) is already reported as unknown: do not also report it missing.
    let misspelt = |key: &str| {
        settings.iter().any(|s| {
            !TRAIN_SETTINGS.contains(&s.name.name.as_str())
                && super::error::did_you_mean(&s.name.name, &[key]).is_some()
        })
    };
    let head = keyword(span, "train");
    if !settings.iter().any(|s| s.name.name == "epochs") && !misspelt("epochs") {
        errors.push(CheckError::missing(
            "`train` block",
            "`train` does not say how many `epochs`".into(),
            head,
            "add `epochs = 5`",
        ));
    }
    let get = |k: &str| named.get(k).and_then(|(_, ident)| ident.clone());
    // Where the standard step's model and loss are named, for its diagnostics.
    let setting_span = |k: &str| {
        settings
            .iter()
            .find(|s| s.name.name == k)
            .map_or(head, |s| s.name.span.to(s.value.span))
    };
    if named.contains_key("model") && get("model").is_none() {
        // `model = "net"`: reported as a wrong type; the step cannot be built.
        cx.incomplete = true;
    } else if let Some(model) = get("model") {
        let resolved = (
            cx.models.resolve("model", &model, errors),
            get("data").and_then(|d| cx.datasets.resolve("data", &d, errors)),
            get("loss").and_then(|l| cx.losses.resolve("loss", &l, errors)),
            get("optimizer").and_then(|o| cx.optimizers.resolve("optimizer", &o, errors)),
        );
        for key in ["data", "loss", "optimizer"] {
            if !named.contains_key(key) && !misspelt(key) {
                errors.push(CheckError::missing(
                    "`train` block",
                    format!("the standard step needs `{key}`"),
                    head,
                    format!("add `{key} = NAME` to `train {{ }}`"),
                ));
            }
        }
        if resolved.0.is_none()
            || resolved.1.is_none()
            || resolved.2.is_none()
            || resolved.3.is_none()
        {
            cx.incomplete = true;
        }
        let datasets = cx.datasets;
        let validate =
            get("validate").and_then(|v| datasets.resolve("data", &v, errors).map(|d| (d, v.span)));
        if let (Some(model), Some(data), Some(loss), Some(opt)) = resolved {
            let spans = [setting_span("model"), setting_span("loss")];
            let mut add =
                |data: usize, training: bool, span: Span, errors: &mut Vec<CheckError>| -> bool {
                    let mut stmts = vec![
                        StepStmt::Let {
                            name: "logits".into(),
                            value: TensorExpr::CallModel {
                                model,
                                input: Box::new(TensorExpr::Var("x".into())),
                                training,
                            },
                        },
                        StepStmt::Let {
                            name: "loss".into(),
                            value: TensorExpr::CallLoss {
                                loss,
                                target: Box::new(TensorExpr::Var("y".into())),
                                prediction: Box::new(TensorExpr::Var("logits".into())),
                            },
                        },
                    ];
                    if training {
                        stmts.push(StepStmt::Update {
                            optimizer: opt,
                            loss: TensorExpr::Var("loss".into()),
                        });
                    }
                    match steps::check_desugared(cx, data, stmts, spans, errors) {
                        Some(step) => {
                            steps.push((step, span));
                            true
                        }
                        None => false,
                    }
                };
            let trained = add(data, true, span, errors);
            if let Some((vdata, vspan)) = validate {
                if trained {
                    add(vdata, false, vspan, errors);
                } else {
                    // Validation repeats the training step's model and loss: its errors would be the same.
                    cx.failed_data.push(vdata);
                }
            }
        }
    } else {
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
    epochs.unwrap_or(1)
}

/// The span of a declaration's leading keyword, for diagnostics about a whole block.
fn keyword(decl: Span, word: &str) -> Span {
    Span::new(decl.start, decl.start + word.len())
}

fn name_value(expr: &Expr, key: &str, errors: &mut Vec<CheckError>) -> Option<Ident> {
    match &expr.kind {
        ExprKind::Name(id) => Some(id.clone()),
        _ => {
            errors.push(
                CheckError::wrong_type(key, "a name", super::args::describe(expr), expr.span)
                    .with_help(format!(
                        "write the name of a declared {key}, without quotes"
                    )),
            );
            None
        }
    }
}

pub(super) fn read_loss(call: &Call, errors: &mut Vec<CheckError>) -> Option<LossKind> {
    let name = call.name.name.as_str();
    let Some(loss) = catalog::Loss::named(name) else {
        let known = catalog::Loss::names();
        errors.push(CheckError::unknown("loss", name, call.name.span, &known));
        return None;
    };
    let args = CallArgs::read(call, loss.entry(), errors);
    let kind = match loss {
        catalog::Loss::SparseCategoricalCrossentropy => LossKind::SparseCategoricalCrossentropy {
            from_logits: args.boolean("from_logits", errors),
        },
        catalog::Loss::CategoricalCrossentropy => LossKind::CategoricalCrossentropy {
            from_logits: args.boolean("from_logits", errors),
        },
        catalog::Loss::BinaryCrossentropy => LossKind::BinaryCrossentropy {
            from_logits: args.boolean("from_logits", errors),
        },
        catalog::Loss::MeanSquaredError => LossKind::MeanSquaredError,
        catalog::Loss::MeanAbsoluteError => LossKind::MeanAbsoluteError,
    };
    Some(kind)
}

/// Optimizers, with Keras' defaults (the catalogue's).
pub(super) fn read_optimizer(
    call: &Call,
    errors: &mut Vec<CheckError>,
) -> Option<(OptimizerKind, f64)> {
    let name = call.name.name.as_str();
    let Some(optimizer) = catalog::Optimizer::named(name) else {
        let known = catalog::Optimizer::names();
        errors.push(CheckError::unknown(
            "optimizer",
            name,
            call.name.span,
            &known,
        ));
        return None;
    };
    let args = CallArgs::read(call, optimizer.entry(), errors);
    let lr = args.number("lr", errors);
    let kind = match optimizer {
        catalog::Optimizer::Sgd => OptimizerKind::Sgd {
            momentum: args.number("momentum", errors),
            nesterov: args.boolean("nesterov", errors),
        },
        catalog::Optimizer::Adam => OptimizerKind::Adam {
            beta1: args.number("beta1", errors),
            beta2: args.number("beta2", errors),
            epsilon: args.number("epsilon", errors),
        },
        catalog::Optimizer::AdamW => OptimizerKind::AdamW {
            beta1: args.number("beta1", errors),
            beta2: args.number("beta2", errors),
            epsilon: args.number("epsilon", errors),
            weight_decay: args.number("weight_decay", errors),
        },
        catalog::Optimizer::RmsProp => OptimizerKind::RmsProp {
            rho: args.number("rho", errors),
            momentum: args.number("momentum", errors),
            epsilon: args.number("epsilon", errors),
        },
    };
    Some((kind, lr))
}
