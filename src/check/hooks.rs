//! Hooks (`on step`, `on epoch_start`, `on epoch_end`, `on every N steps`),
//! `before` and `after` blocks: the actions each place allows. The values
//! they compute are scalar expressions (`scalar.rs`); `log` takes a format
//! string (`format.rs`).

use std::path::PathBuf;

use super::args::{self, Args};
use super::error::CheckError;
use super::plan::{Action, Clip, Hooks, Improved, Metric, Step};
use super::steps::StepCx;
use crate::source::Span;
use crate::syntax::ast::{Call, DeclKind, Event, Expr, ExprKind, File, Ident, StmtKind};

pub const EVENTS: &[&str] = &["step", "epoch_start", "epoch_end", "improved"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Step,
    Epoch,
    EverySteps,
    Improved,
    Before,
    After,
}

/// What hook actions are checked against: the declarations, the checked
/// steps and the metrics.
pub(super) struct HookCx<'a, 'b> {
    pub(super) cx: &'a StepCx<'b>,
    pub(super) steps: &'a [Step],
    pub(super) metrics: &'a [Metric],
    /// The `reduce_on_plateau` rules read so far, numbered in the order they are written.
    pub(super) plateaus: std::cell::RefCell<Vec<super::plan::Plateau>>,
}

pub fn check_hooks(
    file: &File,
    cx: &StepCx<'_>,
    steps: &[Step],
    metrics: &[Metric],
    hooks: &mut Hooks,
    errors: &mut Vec<CheckError>,
) -> (Vec<Action>, Vec<Action>) {
    let hx = HookCx {
        cx,
        steps,
        metrics,
        plateaus: std::cell::RefCell::default(),
    };
    let mut before = Vec::new();
    let mut after = Vec::new();
    for decl in &file.decls {
        let (place, body, out): (Place, _, &mut Vec<Action>) = match &decl.kind {
            DeclKind::Hook { event, body } => match event {
                Event::Named(id) => match id.name.as_str() {
                    "step" => (Place::Step, body, &mut hooks.on_step),
                    "epoch_start" => (Place::Epoch, body, &mut hooks.epoch_start),
                    "epoch_end" => (Place::Epoch, body, &mut hooks.epoch_end),
                    "improved" => {
                        errors.push(
                            CheckError::missing_argument("improved", "metric", id.span)
                                .with_help("name the metric: `on improved(test_loss) { ... }`"),
                        );
                        continue;
                    }
                    other => {
                        errors.push(
                            CheckError::unknown("event", other, id.span, EVENTS).with_help(
                                "events: `step`, `epoch_start`, `epoch_end`, `every N steps`",
                            ),
                        );
                        continue;
                    }
                },
                Event::Call(call) => {
                    let Some(improved) = hx.improved(call, errors) else {
                        continue;
                    };
                    hooks.improved.push(improved);
                    let last = hooks.improved.len() - 1;
                    (Place::Improved, body, &mut hooks.improved[last].actions)
                }
                Event::EverySteps { steps, .. } => {
                    let n = args::count(steps, "every", 1, errors).unwrap_or(1);
                    hooks.every_steps.push((n, Vec::new()));
                    let last = hooks.every_steps.len() - 1;
                    (Place::EverySteps, body, &mut hooks.every_steps[last].1)
                }
            },
            DeclKind::Before { body } => (Place::Before, body, &mut before),
            DeclKind::After { body } => (Place::After, body, &mut after),
            _ => continue,
        };
        for stmt in body {
            if let Some(action) = hx.action(place, &stmt.kind, stmt.span, errors) {
                out.push(action);
            }
        }
    }
    hooks.plateaus = hx.plateaus.into_inner();
    (before, after)
}

impl HookCx<'_, '_> {
    fn action(
        &self,
        place: Place,
        stmt: &StmtKind,
        span: Span,
        errors: &mut Vec<CheckError>,
    ) -> Option<Action> {
        match stmt {
            StmtKind::Log { format } => Some(Action::Log(self.format(format, errors)?)),
            StmtKind::Assign { target, value } => self.assign(place, target, value, errors),
            StmtKind::Unpack { .. } => {
                errors.push(CheckError::misplaced(
                    "a model's outputs are unpacked inside a step".into(),
                    "in a hook".into(),
                    span,
                    "move it into `step on DATA (x, y) { ... }`",
                ));
                None
            }
            StmtKind::Update { .. } => {
                errors.push(CheckError::misplaced(
                    "`update` can only run inside a step".into(),
                    "in a hook".into(),
                    span,
                    "move it into `step on DATA (x, y) { ... }`",
                ));
                None
            }
            StmtKind::Call(call) => self.call(place, call, errors),
            StmtKind::Every { head, .. } => {
                errors.push(CheckError::misplaced(
                    "an `every N steps` block runs inside a step".into(),
                    "in a hook".into(),
                    *head,
                    "write a hook `on every N steps { ... }`, or move the block into `step on DATA (x, y) { ... }`",
                ));
                None
            }
        }
    }

    fn call(&self, place: Place, call: &Call, errors: &mut Vec<CheckError>) -> Option<Action> {
        let name = call.name.name.as_str();
        let allowed: &[&str] = match place {
            Place::Step => &["clip"],
            Place::Before => &["load"],
            Place::After => &["plot", "save", "grid", "sample"],
            Place::Epoch => &["grid", "sample"],
            Place::Improved => &["save", "grid", "sample"],
            Place::EverySteps => &[],
        };
        if !allowed.contains(&name) {
            report_misplaced(call, allowed, errors);
            return None;
        }
        match name {
            "grid" => super::grid::check_grid(self.cx, self.steps, call, errors),
            "sample" => super::sample::check_sample(self.cx, call, place == Place::After, errors),
            "clip" => self.clip(call, errors),
            "save" | "load" => self.save_or_load(call, errors),
            _ => self.plot(call, errors),
        }
    }

    /// The head of `on improved(metric, mode = min | max | auto)`.
    fn improved(&self, call: &Call, errors: &mut Vec<CheckError>) -> Option<Improved> {
        if call.name.name != "improved" {
            errors.push(CheckError::unknown(
                "event",
                &call.name.name,
                call.name.span,
                &["improved"],
            ));
            return None;
        }
        let a = Args::read(call, &["metric", "mode"], errors);
        let metric = a.required("metric", errors);
        let mode = a.choice("mode", &["min", "max", "auto"], errors);
        let metric = self.metric_ref(metric?, errors)?;
        let maximize = match mode.map(|(m, _)| m) {
            Some("max") => true,
            Some("min") => false,
            _ => super::stopping::higher_is_better(&self.metrics[metric]),
        };
        Some(Improved {
            metric,
            maximize,
            actions: Vec::new(),
        })
    }

    /// `clip(norm | global_norm | value = V, optimizer = OPT)`.
    fn clip(&self, call: &Call, errors: &mut Vec<CheckError>) -> Option<Action> {
        let a = Args::read(call, &["norm", "global_norm", "value", "optimizer"], errors);
        let optimizers = match a.get("optimizer") {
            Some(e) => vec![self.optimizer_ref(e, errors)?],
            None => (0..self.cx.optimizers.items.len()).collect(),
        };
        let given: Vec<_> = ["norm", "global_norm", "value"]
            .into_iter()
            .filter(|p| a.get(p).is_some())
            .collect();
        if given.len() != 1 {
            errors.push(
                CheckError::invalid(
                    "`clip` takes exactly one of `norm`, `global_norm`, `value`".into(),
                    format!("{} given", given.len()),
                    call.span,
                )
                .with_help(
                    "e.g. `clip(norm = 1.0)` clips each gradient tensor like tf.clip_by_norm",
                ),
            );
            return None;
        }
        let v = a.positive(given[0], 1.0, true, errors) as f32;
        let clip = match given[0] {
            "norm" => Clip::Norm(v),
            "global_norm" => Clip::GlobalNorm(v),
            "value" => Clip::Value(v),
            other => unreachable!("`{other}` is one of the three given above"),
        };
        Some(Action::Clip { clip, optimizers })
    }

    /// `save(model = M, to = "file")` or `load(model = M, from = "file")`.
    fn save_or_load(&self, call: &Call, errors: &mut Vec<CheckError>) -> Option<Action> {
        let name = call.name.name.as_str();
        let key = if name == "save" { "to" } else { "from" };
        let params = ["model", key];
        let a = Args::read(call, &params, errors);
        let model = a.required("model", errors);
        a.required(key, errors);
        let path = a.string(key, errors);
        let model = self.model_ref(model?, errors)?;
        let (path, _) = path?;
        let path = PathBuf::from(path);
        Some(if name == "save" {
            Action::Save { model, path }
        } else {
            Action::Load {
                model,
                path,
                span: call.span,
            }
        })
    }

    /// `plot(metric, metric, ..., to = "file.png")`.
    fn plot(&self, call: &Call, errors: &mut Vec<CheckError>) -> Option<Action> {
        let mut metrics = Vec::new();
        let mut path = None;
        for arg in &call.args {
            match &arg.name {
                Some(n) if n.name == "to" => {
                    if let ExprKind::Str(s) = &arg.value.kind {
                        path = Some(PathBuf::from(&s.value));
                    } else {
                        errors.push(CheckError::wrong_type(
                            "to",
                            "a string",
                            args::describe(&arg.value),
                            arg.value.span,
                        ));
                    }
                }
                Some(n) => errors.push(CheckError::unknown_parameter(
                    "plot",
                    &n.name,
                    n.span,
                    &["to"],
                )),
                None => {
                    if let Some(m) = self.metric_ref(&arg.value, errors) {
                        metrics.push(m);
                    }
                }
            }
        }
        if call.args.iter().all(|a| a.name.is_some()) {
            errors.push(CheckError::missing(
                "nothing to plot",
                "`plot` needs at least one metric".into(),
                call.span,
                "e.g. `plot(train_accuracy, test_accuracy, to = \"accuracy.png\")`",
            ));
        }
        let Some(path) = path else {
            errors.push(CheckError::missing_argument("plot", "to", call.span));
            return None;
        };
        Some(Action::Plot { metrics, path })
    }

    fn assign(
        &self,
        place: Place,
        target: &[Ident],
        value: &Expr,
        errors: &mut Vec<CheckError>,
    ) -> Option<Action> {
        let span = target[0].span.to(target[target.len() - 1].span);
        let optimizer = match target {
            [lr] if lr.name == "lr" => match self.cx.optimizers.items.len() {
                1 => 0,
                _ => {
                    errors.push(
                        CheckError::invalid(
                            "`lr` is ambiguous with several optimizers".into(),
                            "which optimizer?".into(),
                            span,
                        )
                        .with_help("write `OPTIMIZER.lr = ...`"),
                    );
                    return None;
                }
            },
            [opt, lr] if lr.name == "lr" => self.cx.optimizers.resolve("optimizer", opt, errors)?,
            _ => {
                errors.push(
                    CheckError::invalid(
                        "a hook can only set a learning rate".into(),
                        "not settable".into(),
                        span,
                    )
                    .with_help("write `lr = ...` or `OPTIMIZER.lr = ...`"),
                );
                return None;
            }
        };
        if matches!(place, Place::Before | Place::After) {
            errors.push(CheckError::misplaced(
                "the learning rate can only be set while training".into(),
                "outside the loop".into(),
                span,
                "set it `on epoch_start` or `on step`, or give `lr` to the optimizer",
            ));
            return None;
        }
        let value_span = value.span;
        let value = self.scalar(value, errors)?;
        // A number written as the rate is checked now, a computed one when the hook runs
        // (`run::hooks::BadLr`). 0 is allowed: it freezes one model (a GAN's
        // discriminator), and schedules decay to it.
        if let Some(v) = constant(&value) {
            if v < 0.0 {
                errors.push(
                    CheckError::invalid(
                        "a learning rate cannot be negative".into(),
                        format!("{v} would train by gradient ascent"),
                        value_span,
                    )
                    .with_help("e.g. `opt.lr = 1e-4`; `opt.lr = 0` pauses its updates"),
                );
                return None;
            }
        }
        Some(Action::SetLr {
            optimizer,
            value,
            span: span.to(value_span),
        })
    }

    fn optimizer_ref(&self, e: &Expr, errors: &mut Vec<CheckError>) -> Option<usize> {
        match &e.kind {
            ExprKind::Name(id) => self.cx.optimizers.resolve("optimizer", id, errors),
            _ => {
                errors.push(CheckError::wrong_type(
                    "optimizer",
                    "a name",
                    args::describe(e),
                    e.span,
                ));
                None
            }
        }
    }

    fn model_ref(&self, e: &Expr, errors: &mut Vec<CheckError>) -> Option<usize> {
        match &e.kind {
            ExprKind::Name(id) => self.cx.models.resolve("model", id, errors),
            _ => {
                errors.push(CheckError::wrong_type(
                    "model",
                    "a name",
                    args::describe(e),
                    e.span,
                ));
                None
            }
        }
    }

    fn metric_ref(&self, e: &Expr, errors: &mut Vec<CheckError>) -> Option<usize> {
        match &e.kind {
            ExprKind::Name(id) => {
                let found = self.metrics.iter().position(|m| m.name == id.name);
                let matrix = super::classify::not_a_number(self.cx, &id.name, id.span);
                if let (None, Some(err)) = (found, matrix) {
                    errors.push(err);
                } else if found.is_none() && !self.cx.poisoned.contains(&id.name) {
                    let known: Vec<&str> = self.metrics.iter().map(|m| m.name.as_str()).collect();
                    errors.push(CheckError::unknown("metric", &id.name, id.span, &known));
                }
                found
            }
            _ => {
                errors.push(CheckError::wrong_type(
                    "plot",
                    "a metric name",
                    args::describe(e),
                    e.span,
                ));
                None
            }
        }
    }
}

/// An action not allowed where it is: a known one told where it belongs, an
/// unknown one listed against what this place allows.
/// The value of a hook expression written as a plain number (`-1`, `0`), known before the
/// run; anything computed is checked when the hook runs.
fn constant(e: &super::plan::ScalarExpr) -> Option<f64> {
    use super::plan::ScalarExpr;
    match e {
        ScalarExpr::Const(v) => Some(*v),
        ScalarExpr::Neg(inner) => constant(inner).map(|v| -v),
        _ => None,
    }
}

fn report_misplaced(call: &Call, allowed: &[&str], errors: &mut Vec<CheckError>) {
    let name = call.name.name.as_str();
    let all = ["clip", "load", "plot", "save", "grid", "sample"];
    if all.contains(&name) {
        let (title, help) = match name {
            "clip" => (
                "`clip` can only run `on step`",
                "move it into `on step { }`, where the gradients exist",
            ),
            "load" => (
                "`load` can only run in `before { }`",
                "move it into `before { }`",
            ),
            "grid" | "sample" => (
                if name == "grid" {
                    "`grid` can only run at the end of an epoch or after training"
                } else {
                    "`sample` can only run at the end of an epoch or after training"
                },
                "move it into `on epoch_end { }` or `after { }`",
            ),
            "save" => (
                "`save` can only run after training, or when a metric improves",
                "move it into `after { }`, or into `on improved(METRIC) { }` to keep the best model",
            ),
            _ => (
                "this can only run after training",
                "move it into `after { }`; run records keep every epoch's metrics",
            ),
        };
        errors.push(CheckError::misplaced(
            title.into(),
            "not here".into(),
            call.span,
            help,
        ));
    } else {
        errors.push(CheckError::unknown("action", name, call.name.span, allowed));
    }
}
