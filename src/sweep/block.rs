//! The `sweep { }` block of a file: the same space as `expr sweep`'s flags, written once
//! beside the experiment. Each grid line is a `--grid`, each uniform line a `--uniform`,
//! and `random`, `seed`, `jobs`, `epochs` the flags of those names; the values are kept as
//! written, so the block and the equivalent flags give the same points and sweep id.

use miette::Diagnostic;

use super::space::{Axis, Scale, Uniform, MAX_POINTS};
use crate::check::CheckError;
use crate::overrides;
use crate::syntax::ast::{DeclKind, Expr, ExprKind, File, GridValues, SweepItem};

/// What a file's sweep block says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BlockSweep {
    pub grid: Vec<Axis>,
    pub uniform: Vec<Uniform>,
    pub random: Option<usize>,
    pub seed: Option<u64>,
    pub jobs: Option<u16>,
    pub epochs: Option<usize>,
}

/// The settings a sweep block takes.
const SETTINGS: &[&str] = &["random", "seed", "jobs", "epochs"];

/// The file's sweep block, checked; `Ok(None)` when it has none. Every misuse is an error
/// with a span in the block: a path that names no overridable setting, an empty grid, an
/// empty range, a path swept twice, bounds that are not numbers or in the wrong order.
pub fn lower(file: &File) -> Result<Option<BlockSweep>, Vec<CheckError>> {
    let mut errors = Vec::new();
    let mut found: Option<BlockSweep> = None;
    let mut first_span = None;
    for decl in &file.decls {
        let DeclKind::Sweep { items } = &decl.kind else {
            continue;
        };
        if let Some(first) = first_span {
            let error = CheckError::sweep(
                "a file has one `sweep` block".into(),
                "a second one",
                decl.span,
            );
            errors.push(error.with_related(first, "the first"));
            continue;
        }
        first_span = Some(decl.span);
        found = Some(lower_items(file, items, &mut errors));
    }
    if errors.is_empty() {
        Ok(found)
    } else {
        Err(errors)
    }
}

fn lower_items(file: &File, items: &[SweepItem], errors: &mut Vec<CheckError>) -> BlockSweep {
    let mut sweep = BlockSweep::default();
    let mut seen: Vec<(&str, crate::source::Span)> = Vec::new();
    for item in items {
        let path = match item {
            SweepItem::Grid { path, .. } | SweepItem::Uniform { path, .. } => path,
            SweepItem::Setting(s) => {
                setting(&mut sweep, s, errors);
                continue;
            }
        };
        if let Some((_, first)) = seen.iter().find(|(p, _)| *p == path.text) {
            errors.push(
                CheckError::sweep(
                    format!("`{}` is swept twice", path.text),
                    "swept again here",
                    path.span,
                )
                .with_help("give each path one `grid` or `uniform` line, with all its values")
                .with_related(*first, "first swept here"),
            );
        }
        seen.push((&path.text, path.span));
        if let Err(e) = overrides::check_path(file, &path.text) {
            let mut error = CheckError::sweep(
                e.to_string(),
                "not an overridable setting of this file",
                path.span,
            );
            if let Some(help) = e.help() {
                error = error.with_help(help.to_string());
            }
            errors.push(error);
        }
        match item {
            SweepItem::Grid { values, .. } => {
                if let Some(axis) = grid_axis(&path.text, values, errors) {
                    sweep.grid.push(axis);
                }
            }
            SweepItem::Uniform {
                low, high, scale, ..
            } => {
                if let Some(u) = uniform(&path.text, low, high, scale.as_ref(), errors) {
                    sweep.uniform.push(u);
                }
            }
            SweepItem::Setting(_) => {}
        }
    }
    sweep
}

fn grid_axis(path: &str, values: &GridValues, errors: &mut Vec<CheckError>) -> Option<Axis> {
    match values {
        GridValues::List { texts, span, .. } => {
            if texts.is_empty() {
                errors.push(
                    CheckError::sweep(format!("the grid of `{path}` is empty"), "no values", *span)
                        .with_help("give at least one value: `(1e-3, 3e-4)`"),
                );
                return None;
            }
            Some(Axis {
                path: path.to_string(),
                values: texts.clone(),
            })
        }
        GridValues::Range { first, last, span } => {
            let (Ok(a), Ok(b)) = (first.parse::<i64>(), last.parse::<i64>()) else {
                errors.push(CheckError::sweep(
                    format!("the range `{first}..{last}` has a bound too large"),
                    "bounds must fit 64 bits",
                    *span,
                ));
                return None;
            };
            let count = i128::from(b) - i128::from(a) + 1;
            if count < 1 {
                errors.push(
                    CheckError::sweep(
                        format!("the range `{first}..{last}` is empty: its last number is below its first"),
                        "no values",
                        *span,
                    )
                    .with_help("write `FIRST..LAST` with FIRST ≤ LAST, both included: `1..5`"),
                );
                return None;
            }
            if count.unsigned_abs() > MAX_POINTS as u128 {
                errors.push(CheckError::sweep(
                    format!("the range `{first}..{last}` has {count} values, more than a sweep takes ({MAX_POINTS})"),
                    "this range",
                    *span,
                ));
                return None;
            }
            Some(Axis {
                path: path.to_string(),
                values: (a..=b).map(|v| v.to_string()).collect(),
            })
        }
    }
}

/// A bound of a uniform range: a number, maybe negated.
fn number(e: &Expr) -> Option<f64> {
    match &e.kind {
        ExprKind::Neg(inner) => number(inner).map(|v| -v),
        kind => kind.literal().filter(|v| v.is_finite()),
    }
}

fn uniform(
    path: &str,
    low: &Expr,
    high: &Expr,
    scale: Option<&crate::syntax::ast::Ident>,
    errors: &mut Vec<CheckError>,
) -> Option<Uniform> {
    let bound = |e: &Expr, errors: &mut Vec<CheckError>| {
        let v = number(e);
        if v.is_none() {
            errors.push(
                CheckError::sweep(
                    "a bound of `uniform` is not a number".into(),
                    "expected a number",
                    e.span,
                )
                .with_help(
                    "write `uniform PATH = LOW : HIGH`, e.g. `uniform opt.lr = 1e-4 : 1e-2 log`",
                ),
            );
        }
        v
    };
    let (low_v, high_v) = (bound(low, errors)?, bound(high, errors)?);
    let scale = match scale.map(|s| s.name.as_str()) {
        None => Scale::Linear,
        Some("log") => Scale::Log,
        _ => Scale::Int,
    };
    let span = low.span.to(high.span);
    let problem = if low_v >= high_v {
        Some((
            "LOW must be below HIGH",
            "write `LOW : HIGH` with LOW < HIGH: `1e-4 : 1e-2`",
        ))
    } else if scale == Scale::Log && low_v <= 0.0 {
        Some((
            "a log-uniform range must lie above 0",
            "start above 0: `1e-5 : 1e-2 log`",
        ))
    } else if scale == Scale::Int && (low_v.fract() != 0.0 || high_v.fract() != 0.0) {
        Some((
            "an `int` range needs whole bounds",
            "write whole numbers: `16 : 128 int`",
        ))
    } else {
        None
    };
    if let Some((problem, help)) = problem {
        errors.push(
            CheckError::sweep(
                format!("the range of `{path}` is wrong: {problem}"),
                "this range",
                span,
            )
            .with_help(help),
        );
        return None;
    }
    Some(Uniform {
        path: path.to_string(),
        low: low_v,
        high: high_v,
        scale,
    })
}

fn setting(sweep: &mut BlockSweep, s: &crate::syntax::ast::Setting, errors: &mut Vec<CheckError>) {
    let name = s.name.name.as_str();
    if !SETTINGS.contains(&name) {
        errors.push(CheckError::unknown(
            "sweep setting",
            name,
            s.name.span,
            SETTINGS,
        ));
        return;
    }
    let whole = match s.value.kind {
        ExprKind::Int(v) => Some(v),
        _ => None,
    };
    let Some(v) = whole.filter(|v| name == "seed" || *v >= 1) else {
        let least = if name == "seed" {
            "a whole number"
        } else {
            "a whole number of at least 1"
        };
        errors.push(CheckError::sweep(
            format!("`{name}` of a sweep must be {least}"),
            "expected a whole number",
            s.value.span,
        ));
        return;
    };
    match name {
        "seed" => sweep.seed = Some(v),
        "random" => sweep.random = usize::try_from(v).ok(),
        "epochs" => sweep.epochs = usize::try_from(v).ok(),
        _ => sweep.jobs = Some(u16::try_from(v).unwrap_or(u16::MAX)),
    }
}

/// Each grid value of the file's sweep block applied as `expr sweep` applies it (the
/// file with that one override), checked like the file: an error where a value breaks the
/// experiment, with the value's span in the block and the first finding as its title.
/// A range's first and last values stand for it.
pub fn check_values(
    source: &crate::source::Source,
    file: &File,
    check: impl Fn(&File) -> Result<(), Vec<CheckError>>,
) -> Vec<CheckError> {
    let mut errors = Vec::new();
    for decl in &file.decls {
        let DeclKind::Sweep { items } = &decl.kind else {
            continue;
        };
        for item in items {
            let SweepItem::Grid { path, values, .. } = item else {
                continue;
            };
            let tried: Vec<(String, crate::source::Span)> = match values {
                GridValues::List { values, texts, .. } => texts
                    .iter()
                    .cloned()
                    .zip(values.iter().map(|v| v.span))
                    .collect(),
                GridValues::Range {
                    first, last, span, ..
                } => vec![(first.clone(), *span), (last.clone(), *span)],
            };
            for (text, span) in tried {
                let o = overrides::Override {
                    path: path.text.clone(),
                    value: text.clone(),
                };
                let found = match overrides::apply(source, file, &[o]) {
                    Err(failure) => Some(failure.error.to_string()),
                    Ok(applied) => match crate::syntax::parse_file(&applied) {
                        Err(e) => Some(e.to_string()),
                        Ok(ast) => check(&ast)
                            .err()
                            .and_then(|e| e.first().map(|e| e.title.clone())),
                    },
                };
                if let Some(problem) = found {
                    errors.push(
                        CheckError::sweep(
                            format!("`{} = {text}` in the sweep: {problem}", path.text),
                            "this value",
                            span,
                        )
                        .with_help(
                            "each value is checked as `expr sweep` applies it, alone on the file",
                        ),
                    );
                }
            }
        }
    }
    errors
}
