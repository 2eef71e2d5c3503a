//! Hooks (`on step`, `on epoch_start`, `on epoch_end`, `on every N steps`),
//! `before` and `after` blocks, and the scalar expressions and log format
//! strings they use.

use std::path::PathBuf;

use super::args::{self, Args};
use super::error::CheckError;
use super::plan::{
    Action, Clip, Format, FormatSpec, FormatStyle, Hooks, Metric, Piece, ScalarExpr, ScalarFn,
    ScalarOp, Step,
};
use super::steps::StepCx;
use crate::catalog::{self, Catalogued};
use crate::source::Span;
use crate::syntax::ast::{
    BinOp, Call, DeclKind, Event, Expr, ExprKind, File, Ident, StmtKind, StringLit,
};
use crate::syntax::parse_expr_at;

pub const EVENTS: &[&str] = &["step", "epoch_start", "epoch_end"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Step,
    Epoch,
    EverySteps,
    Before,
    After,
}

struct HookCx<'a, 'b> {
    cx: &'a StepCx<'b>,
    steps: &'a [Step],
    metrics: &'a [Metric],
}

pub fn check_hooks(
    file: &File,
    cx: &StepCx<'_>,
    steps: &[Step],
    metrics: &[Metric],
    hooks: &mut Hooks,
    errors: &mut Vec<CheckError>,
) -> (Vec<Action>, Vec<Action>) {
    let hx = HookCx { cx, steps, metrics };
    let mut before = Vec::new();
    let mut after = Vec::new();
    for decl in &file.decls {
        let (place, body, out): (Place, _, &mut Vec<Action>) = match &decl.kind {
            DeclKind::Hook { event, body } => match event {
                Event::Named(id) => match id.name.as_str() {
                    "step" => (Place::Step, body, &mut hooks.on_step),
                    "epoch_start" => (Place::Epoch, body, &mut hooks.epoch_start),
                    "epoch_end" => (Place::Epoch, body, &mut hooks.epoch_end),
                    other => {
                        errors.push(
                            CheckError::unknown("event", other, id.span, EVENTS).with_help(
                                "events: `step`, `epoch_start`, `epoch_end`, `every N steps`",
                            ),
                        );
                        continue;
                    }
                },
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
        }
    }

    fn call(&self, place: Place, call: &Call, errors: &mut Vec<CheckError>) -> Option<Action> {
        let name = call.name.name.as_str();
        let allowed: &[&str] = match place {
            Place::Step => &["clip"],
            Place::Before => &["load"],
            Place::After => &["plot", "save", "grid"],
            Place::Epoch => &["grid"],
            Place::EverySteps => &[],
        };
        if !allowed.contains(&name) {
            let all = ["clip", "load", "plot", "save", "grid"];
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
                    "grid" => (
                        "`grid` can only run at the end of an epoch or after training",
                        "move it into `on epoch_end { }` or `after { }`",
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
            return None;
        }
        match name {
            "grid" => super::grid::check_grid(self.cx, self.steps, call, errors),
            "clip" => {
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
                    errors.push(CheckError::invalid(
                        "`clip` takes exactly one of `norm`, `global_norm`, `value`".into(),
                        format!("{} given", given.len()),
                        call.span,
                    ).with_help("e.g. `clip(norm = 1.0)` clips each gradient tensor like tf.clip_by_norm"));
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
            "save" | "load" => {
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
            _ => {
                // plot(metric, metric, ..., to = "file.png")
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
        }
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
        let value = self.scalar(value, errors)?;
        Some(Action::SetLr { optimizer, value })
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
                if found.is_none() && !self.cx.poisoned.contains(&id.name) {
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

    /// A scalar expression over the loop's state: numbers, `epoch`, `step`,
    /// `steps_per_epoch`, `lr`/`OPT.lr`, metrics, maths and schedules.
    fn scalar(&self, e: &Expr, errors: &mut Vec<CheckError>) -> Option<ScalarExpr> {
        Some(match &e.kind {
            ExprKind::Number(v) => ScalarExpr::Const(*v),
            ExprKind::Neg(inner) => ScalarExpr::Neg(Box::new(self.scalar(inner, errors)?)),
            ExprKind::Binary(op, l, r) => {
                let l = self.scalar(l, errors);
                let r = self.scalar(r, errors);
                ScalarExpr::Binary(scalar_op(*op), Box::new(l?), Box::new(r?))
            }
            ExprKind::Name(id) => match id.name.as_str() {
                "epoch" => ScalarExpr::Epoch,
                "step" => ScalarExpr::GlobalStep,
                "steps_per_epoch" => ScalarExpr::StepsPerEpoch,
                "lr" if self.cx.optimizers.items.len() == 1 => ScalarExpr::Lr(0),
                name => match self.metrics.iter().position(|m| m.name == name) {
                    Some(i) => ScalarExpr::Metric(i),
                    None if self.cx.poisoned.iter().any(|p| p == name) => return None,
                    None => {
                        let mut known = vec!["epoch", "step", "steps_per_epoch", "lr"];
                        known.extend(self.metrics.iter().map(|m| m.name.as_str()));
                        errors.push(CheckError::unknown("value", name, id.span, &known));
                        return None;
                    }
                },
            },
            ExprKind::Field(base, field) if field.name == "lr" => match &base.kind {
                ExprKind::Name(opt) => {
                    ScalarExpr::Lr(self.cx.optimizers.resolve("optimizer", opt, errors)?)
                }
                _ => {
                    errors.push(CheckError::invalid(
                        "only optimizers have `.lr`".into(),
                        "not an optimizer".into(),
                        base.span,
                    ));
                    return None;
                }
            },
            ExprKind::Call(call) => {
                let Some(function) = catalog::Function::named(&call.name.name) else {
                    let known = catalog::Function::names();
                    errors.push(CheckError::unknown(
                        "function",
                        &call.name.name,
                        call.name.span,
                        &known,
                    ));
                    return None;
                };
                let f = scalar_fn(function);
                let entry = function.entry();
                let arity = entry.required()..=entry.params.len();
                if let Some(named) = call.args.iter().find_map(|a| a.name.as_ref()) {
                    errors.push(
                        CheckError::invalid(
                            "scalar functions take positional arguments".into(),
                            "named argument".into(),
                            named.span,
                        )
                        .with_help(schedule_help(f)),
                    );
                    return None;
                }
                if !arity.contains(&call.args.len()) {
                    errors.push(
                        CheckError::invalid(
                            format!(
                                "`{}` takes {} argument(s), got {}",
                                call.name.name,
                                arity.start(),
                                call.args.len()
                            ),
                            "wrong number of arguments".into(),
                            call.span,
                        )
                        .with_help(schedule_help(f)),
                    );
                    return None;
                }
                let args: Option<Vec<_>> = call
                    .args
                    .iter()
                    .map(|a| self.scalar(&a.value, errors))
                    .collect();
                ScalarExpr::Call(f, args?)
            }
            _ => {
                errors.push(CheckError::wrong_type(
                    "value",
                    "a number",
                    args::describe(e),
                    e.span,
                ));
                return None;
            }
        })
    }

    /// Splits a format string into text and `{expr:spec}` holes; `{{`/`}}` are braces.
    fn format(&self, s: &StringLit, errors: &mut Vec<CheckError>) -> Option<Format> {
        let raw = s.raw.as_str();
        let base = s.span.start;
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut i = 0;
        let bytes = raw.as_bytes();
        let mut ok = true;
        while i < raw.len() {
            match bytes[i] {
                b'{' if bytes.get(i + 1) == Some(&b'{') => {
                    text.push('{');
                    i += 2;
                }
                b'}' if bytes.get(i + 1) == Some(&b'}') => {
                    text.push('}');
                    i += 2;
                }
                b'{' => {
                    let Some(close) = raw[i..].find('}').map(|c| i + c) else {
                        errors.push(
                            CheckError::invalid(
                                "unclosed `{` in a log format".into(),
                                "opened here".into(),
                                Span::new(base + i, base + i + 1),
                            )
                            .with_help("close it with `}`, or write `{{` for a literal brace"),
                        );
                        return None;
                    };
                    let inner = &raw[i + 1..close];
                    let (expr_text, spec_text) = match inner.find(':') {
                        Some(c) => (&inner[..c], Some(&inner[c + 1..])),
                        None => (inner, None),
                    };
                    let expr = match parse_expr_at(expr_text, base + i + 1) {
                        Ok(e) => e,
                        Err(e) => {
                            errors.push(CheckError::invalid(
                                format!("bad expression in a log format: expected {}", e.expected),
                                e.found,
                                e.span,
                            ));
                            ok = false;
                            i = close + 1;
                            continue;
                        }
                    };
                    let spec_span = Span::new(base + i + 2 + expr_text.len(), base + close);
                    let spec = match spec_text.map(|t| parse_spec(t, spec_span)) {
                        None => FormatSpec::default(),
                        Some(Ok(spec)) => spec,
                        Some(Err(e)) => {
                            errors.push(*e);
                            ok = false;
                            FormatSpec::default()
                        }
                    };
                    if !text.is_empty() {
                        pieces.push(Piece::Text(unescape(&std::mem::take(&mut text))));
                    }
                    match self.scalar(&expr, errors) {
                        Some(value) => pieces.push(Piece::Hole { value, spec }),
                        None => ok = false,
                    }
                    i = close + 1;
                }
                _ => {
                    let c = raw[i..].chars().next().unwrap_or(' ');
                    text.push(c);
                    i += c.len_utf8();
                }
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(unescape(&text)));
        }
        ok.then_some(Format { pieces })
    }
}

/// The plan's operator for the syntax's.
fn scalar_op(op: BinOp) -> ScalarOp {
    match op {
        BinOp::Add => ScalarOp::Add,
        BinOp::Sub => ScalarOp::Sub,
        BinOp::Mul => ScalarOp::Mul,
        BinOp::Div => ScalarOp::Div,
        BinOp::Pow => ScalarOp::Pow,
    }
}

/// The plan's function for the catalogue's.
fn scalar_fn(function: catalog::Function) -> ScalarFn {
    match function {
        catalog::Function::Exp => ScalarFn::Exp,
        catalog::Function::Log => ScalarFn::Log,
        catalog::Function::Sqrt => ScalarFn::Sqrt,
        catalog::Function::Floor => ScalarFn::Floor,
        catalog::Function::Cos => ScalarFn::Cos,
        catalog::Function::Min => ScalarFn::Min,
        catalog::Function::Max => ScalarFn::Max,
        catalog::Function::Exponential => ScalarFn::Exponential,
        catalog::Function::StepDecay => ScalarFn::StepDecay,
        catalog::Function::Cosine => ScalarFn::Cosine,
        catalog::Function::Warmup => ScalarFn::Warmup,
    }
}

fn schedule_help(f: ScalarFn) -> &'static str {
    match f {
        ScalarFn::Exponential => "`exponential(initial, rate, steps)` = initial * rate ** (step / steps)",
        ScalarFn::StepDecay => "`step_decay(initial, factor, every)` = initial * factor ** floor(epoch / every)",
        ScalarFn::Cosine => "`cosine(initial, steps, alpha)`: cosine decay from initial to alpha * initial over `steps` steps",
        ScalarFn::Warmup => "`warmup(target, steps)`: rises linearly from 0 to target over `steps` steps",
        ScalarFn::Exp
        | ScalarFn::Log
        | ScalarFn::Sqrt
        | ScalarFn::Floor
        | ScalarFn::Min
        | ScalarFn::Max
        | ScalarFn::Cos => "e.g. `min(a, b)`, `exp(x)`",
    }
}

fn unescape(raw: &str) -> String {
    raw.replace("\\n", "\n")
        .replace("\\t", "\t")
        .replace("\\\"", "\"")
        .replace("\\\\", "\\")
}

/// `.4f`, `.2e`, `d`, `.1%`, `f`.
fn parse_spec(text: &str, span: Span) -> Result<FormatSpec, Box<CheckError>> {
    let bad = || {
        Box::new(
            CheckError::invalid(
                format!("unknown format spec `{text}`"),
                "not a format spec".into(),
                span,
            )
            .with_help("use `.4f` (fixed), `.2e` (exponent), `d` (integer) or `.1%` (percent)"),
        )
    };
    let (precision, rest) = match text.strip_prefix('.') {
        Some(r) => {
            let digits: String = r.chars().take_while(char::is_ascii_digit).collect();
            let p = digits.parse::<usize>().map_err(|_| bad())?;
            if p > 30 {
                return Err(bad());
            }
            (Some(p), &r[digits.len()..])
        }
        None => (None, text),
    };
    let style = match rest {
        "f" => FormatStyle::Fixed,
        "e" => FormatStyle::Exponent,
        "d" if precision.is_none() => FormatStyle::Integer,
        "%" => FormatStyle::Percent,
        "" => FormatStyle::General,
        _ => return Err(bad()),
    };
    Ok(FormatSpec { precision, style })
}
