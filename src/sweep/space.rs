//! What a sweep varies, from the command line: `--grid PATH=V1,V2,...` (each value, and
//! `FIRST..LAST` for every whole number between), and `--random N --uniform PATH=LOW:HIGH`
//! (`:log` for a log-uniform draw, `:int` for whole numbers), drawn from `--seed`.
//!
//! The points are every combination of the grid's values, the first `--grid` varying
//! slowest, each with every random draw; a point is a list of overrides, applied to the
//! file's text exactly as `expr run --set` applies them.

use rand::{Rng, SeedableRng};

use crate::overrides::Override;
use crate::source::{Source, Span};

/// One `--grid` axis: a path and the values it takes, as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub path: String,
    pub values: Vec<String>,
}

/// How `--uniform` draws between its bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Linear,
    /// Uniform in the logarithm: as many draws between 1e-4 and 1e-3 as between 1e-3 and 1e-2.
    Log,
    /// Whole numbers from LOW to HIGH, both included, each as likely.
    Int,
}

/// One `--uniform` range.
#[derive(Debug, Clone, PartialEq)]
pub struct Uniform {
    pub path: String,
    pub low: f64,
    pub high: f64,
    pub scale: Scale,
}

/// The grid, and the random draws with their seed.
#[derive(Debug, Clone, Default)]
pub struct Space {
    pub grid: Vec<Axis>,
    pub draws: usize,
    pub uniform: Vec<Uniform>,
    pub seed: u64,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SpaceError {
    #[error("`--{flag} {arg}` is not `PATH={form}`")]
    #[diagnostic(
        code(expr::sweep::form),
        help("write e.g. `--grid opt.lr=1e-3,3e-4` or `--uniform opt.lr=1e-4:1e-2:log`")
    )]
    Form {
        flag: &'static str,
        arg: String,
        form: &'static str,
    },
    #[error("an empty value in `--grid`")]
    #[diagnostic(
        code(expr::sweep::empty_value),
        help("separate values with single commas: `--grid opt.lr=1e-3,3e-4`")
    )]
    EmptyValue {
        #[label("no value here")]
        span: Span,
    },
    #[error("the range `{text}` is empty: its last number is below its first")]
    #[diagnostic(
        code(expr::sweep::range),
        help("write `FIRST..LAST` with FIRST ≤ LAST, both included: `1..5`")
    )]
    Range {
        text: String,
        #[label("{count} values")]
        span: Span,
        count: usize,
    },
    #[error("the range `{text}` has {count} values, more than a sweep takes ({max})")]
    #[diagnostic(
        code(expr::sweep::too_many),
        help("sweep fewer values, or draw them with `--random N --uniform`")
    )]
    TooMany {
        text: String,
        count: u128,
        max: usize,
        #[label("this range")]
        span: Span,
    },
    #[error("`{text}` is not a number")]
    #[diagnostic(code(expr::sweep::bound), help("write `--uniform PATH=LOW:HIGH`, `LOW:HIGH:log` or `LOW:HIGH:int`: `opt.lr=1e-4:1e-2:log`"))]
    Bound {
        text: String,
        #[label("expected a number")]
        span: Span,
    },
    #[error("unknown scale `{text}`")]
    #[diagnostic(code(expr::sweep::scale), help("the scales are `log` (uniform in the logarithm) and `int` (whole numbers); none is uniform"))]
    UnknownScale {
        text: String,
        #[label("expected `log` or `int`")]
        span: Span,
    },
    #[error("the range `{text}` is empty or wrong: {problem}")]
    #[diagnostic(code(expr::sweep::bounds), help("{help}"))]
    Bounds {
        text: String,
        problem: &'static str,
        help: &'static str,
        #[label("this range")]
        span: Span,
    },
    #[error("`{path}` is swept twice")]
    #[diagnostic(
        code(expr::sweep::twice),
        help("give each path one `--grid` or `--uniform`, with all its values")
    )]
    Twice {
        path: String,
        #[label("swept again here")]
        span: Span,
    },
    #[error("`--uniform` draws nothing without `--random N`")]
    #[diagnostic(code(expr::sweep::no_draws), help("add `--random 8` for 8 draws"))]
    NoDraws,
    #[error("`--random {draws}` has nothing to draw")]
    #[diagnostic(
        code(expr::sweep::no_uniform),
        help("say what to draw: `--uniform opt.lr=1e-4:1e-2:log`")
    )]
    NoUniform { draws: usize },
    #[error("a sweep of {count} points is more than {max}")]
    #[diagnostic(
        code(expr::sweep::too_many_points),
        help("sweep fewer values, or split the sweep")
    )]
    TooManyPoints { count: u128, max: usize },
    #[error("nothing to sweep")]
    #[diagnostic(
        code(expr::sweep::empty),
        help("give `--grid PATH=V1,V2` or `--random N --uniform PATH=LOW:HIGH`")
    )]
    Nothing,
}

/// An error and the argument its label points into.
#[derive(Debug)]
pub struct SpaceFailure {
    pub error: SpaceError,
    pub source: Option<Source>,
}

impl SpaceFailure {
    pub fn render(&self, colour: bool) -> String {
        crate::report::render(&self.error, self.source.as_ref(), colour)
    }
}

/// A sweep's points, each a list of overrides.
pub type Points = Vec<Vec<Override>>;

/// The most points a sweep has: a typo like `1..100000` is refused, not queued.
pub const MAX_POINTS: usize = 10_000;

type Parsed<T> = Result<T, Box<SpaceFailure>>;

fn fail(flag: &str, arg: &str, error: SpaceError) -> SpaceFailure {
    SpaceFailure {
        error,
        source: Some(Source::new(format!("--{flag}"), arg)),
    }
}

/// Splits `PATH=REST`, returning the path and where `REST` starts.
fn split_path<'a>(
    flag: &'static str,
    arg: &'a str,
    form: &'static str,
) -> Parsed<(&'a str, usize)> {
    match arg.split_once('=') {
        Some((path, rest)) if !path.trim().is_empty() && !rest.trim().is_empty() => {
            Ok((path.trim(), path.len() + 1))
        }
        _ => Err(Box::new(SpaceFailure {
            error: SpaceError::Form {
                flag,
                arg: arg.to_string(),
                form,
            },
            source: None,
        })),
    }
}

/// `--grid PATH=V1,V2,...`: values split at the commas outside brackets and strings, so a
/// tuple `(3, 3)` or a string `"a,b"` stays one value; `FIRST..LAST` is every whole number
/// from FIRST to LAST.
pub fn parse_grid(arg: &str) -> Parsed<Axis> {
    let (path, start) = split_path("grid", arg, "V1,V2,...")?;
    let mut values = Vec::new();
    for (span, text) in top_level_items(arg, start) {
        if text.is_empty() {
            return Err(Box::new(fail("grid", arg, SpaceError::EmptyValue { span })));
        }
        match range(text) {
            Some((first, last)) => {
                let count = i128::from(last) - i128::from(first) + 1;
                if count < 1 {
                    let error = SpaceError::Range {
                        text: text.to_string(),
                        span,
                        count: 0,
                    };
                    return Err(Box::new(fail("grid", arg, error)));
                }
                if count.unsigned_abs() > MAX_POINTS as u128 {
                    let error = SpaceError::TooMany {
                        text: text.to_string(),
                        count: count.unsigned_abs(),
                        max: MAX_POINTS,
                        span,
                    };
                    return Err(Box::new(fail("grid", arg, error)));
                }
                values.extend((first..=last).map(|v| v.to_string()));
            }
            None => values.push(text.to_string()),
        }
    }
    Ok(Axis {
        path: path.to_string(),
        values,
    })
}

/// `FIRST..LAST` of whole numbers.
fn range(text: &str) -> Option<(i64, i64)> {
    let (a, b) = text.split_once("..")?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

/// The comma-separated items of `arg` from `start`, trimmed, with their spans; commas inside
/// `()`, `[]` or a string do not split.
fn top_level_items(arg: &str, start: usize) -> Vec<(Span, &str)> {
    let item = |from: usize, to: usize| {
        let raw = &arg[from..to];
        let at = from + (raw.len() - raw.trim_start().len());
        let text = raw.trim();
        (Span::new(at, at + text.len()), text)
    };
    let mut items = Vec::new();
    let (mut depth, mut quoted, mut from) = (0usize, false, start);
    for (i, c) in arg.bytes().enumerate().skip(start) {
        match c {
            b'"' => quoted = !quoted,
            b'(' | b'[' if !quoted => depth += 1,
            b')' | b']' if !quoted => depth = depth.saturating_sub(1),
            b',' if !quoted && depth == 0 => {
                items.push(item(from, i));
                from = i + 1;
            }
            _ => {}
        }
    }
    items.push(item(from, arg.len()));
    items
}

/// `--uniform PATH=LOW:HIGH[:log|:int]`.
pub fn parse_uniform(arg: &str) -> Parsed<Uniform> {
    let (path, start) = split_path("uniform", arg, "LOW:HIGH")?;
    let rest = &arg[start..];
    let parts: Vec<&str> = rest.split(':').collect();
    let mut at = start;
    let mut spans = Vec::new();
    for p in &parts {
        spans.push(Span::new(at, at + p.len()));
        at += p.len() + 1;
    }
    let whole = Span::new(start, arg.len());
    if !(2..=3).contains(&parts.len()) {
        let error = SpaceError::Form {
            flag: "uniform",
            arg: arg.to_string(),
            form: "LOW:HIGH",
        };
        return Err(Box::new(SpaceFailure {
            error,
            source: None,
        }));
    }
    let number = |i: usize| -> Parsed<f64> {
        let text = parts[i].trim();
        text.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| {
                let error = SpaceError::Bound {
                    text: text.to_string(),
                    span: spans[i],
                };
                Box::new(fail("uniform", arg, error))
            })
    };
    let (low, high) = (number(0)?, number(1)?);
    let scale = match parts.get(2).map(|s| s.trim()) {
        None => Scale::Linear,
        Some("log") => Scale::Log,
        Some("int") => Scale::Int,
        Some(other) => {
            let error = SpaceError::UnknownScale {
                text: other.to_string(),
                span: spans[2],
            };
            return Err(Box::new(fail("uniform", arg, error)));
        }
    };
    let bounds = |problem, help| {
        Box::new(fail(
            "uniform",
            arg,
            SpaceError::Bounds {
                text: rest.to_string(),
                problem,
                help,
                span: whole,
            },
        ))
    };
    if low >= high {
        return Err(bounds(
            "LOW must be below HIGH",
            "write `LOW:HIGH` with LOW < HIGH: `1e-4:1e-2`",
        ));
    }
    if scale == Scale::Log && low <= 0.0 {
        return Err(bounds(
            "a log-uniform range must lie above 0",
            "start above 0: `1e-5:1e-2:log`",
        ));
    }
    if scale == Scale::Int && (low.fract() != 0.0 || high.fract() != 0.0) {
        return Err(bounds(
            "an `int` range needs whole bounds",
            "write whole numbers: `16:128:int`",
        ));
    }
    Ok(Uniform {
        path: path.to_string(),
        low,
        high,
        scale,
    })
}

impl Uniform {
    /// The value for a draw `u` in [0, 1), as the text the override writes: four
    /// significant digits (a sweep explores; the record keeps the exact text that ran).
    fn value(&self, u: f64) -> String {
        match self.scale {
            Scale::Linear => short(self.low + u * (self.high - self.low)),
            Scale::Log => short((self.low.ln() + u * (self.high.ln() - self.low.ln())).exp()),
            Scale::Int => {
                let n = self.high - self.low + 1.0;
                // Below n by construction (u < 1); floor keeps each whole number as likely.
                #[allow(clippy::cast_possible_truncation)]
                let v = (self.low + (u * n).floor()) as i64;
                v.to_string()
            }
        }
    }
}

/// Four significant digits in the language's number syntax: `3.162e-3`, `-1.5e0`.
fn short(v: f64) -> String {
    format!("{v:.3e}")
}

impl Space {
    /// Every point, in order, each a list of overrides; refused when nothing is swept, a
    /// path is swept twice, or there are more than [`MAX_POINTS`].
    pub fn points(&self, args: &[(&'static str, String)]) -> Parsed<Points> {
        let plain = |error| {
            Box::new(SpaceFailure {
                error,
                source: None,
            })
        };
        if self.draws > 0 && self.uniform.is_empty() {
            return Err(plain(SpaceError::NoUniform { draws: self.draws }));
        }
        if self.draws == 0 && !self.uniform.is_empty() {
            return Err(plain(SpaceError::NoDraws));
        }
        if self.grid.is_empty() && self.uniform.is_empty() {
            return Err(plain(SpaceError::Nothing));
        }
        let paths = self
            .grid
            .iter()
            .map(|a| &a.path)
            .chain(self.uniform.iter().map(|u| &u.path));
        let mut seen: Vec<&String> = Vec::new();
        for (i, path) in paths.enumerate() {
            if seen.contains(&path) {
                let (flag, arg) = &args[i];
                let span = Span::new(0, path.len());
                return Err(Box::new(fail(
                    flag,
                    arg,
                    SpaceError::Twice {
                        path: path.clone(),
                        span,
                    },
                )));
            }
            seen.push(path);
        }
        let count = self
            .grid
            .iter()
            .fold(1u128, |n, a| n.saturating_mul(a.values.len() as u128))
            .saturating_mul(self.draws.max(1) as u128);
        if count > MAX_POINTS as u128 {
            return Err(plain(SpaceError::TooManyPoints {
                count,
                max: MAX_POINTS,
            }));
        }
        let mut points: Vec<Vec<Override>> = vec![Vec::new()];
        for axis in &self.grid {
            points = points
                .into_iter()
                .flat_map(|p| {
                    axis.values.iter().map(move |v| {
                        let mut p = p.clone();
                        p.push(Override {
                            path: axis.path.clone(),
                            value: v.clone(),
                        });
                        p
                    })
                })
                .collect();
        }
        if self.draws == 0 {
            return Ok(points);
        }
        // ChaCha: the same draws on every machine and every version of `rand`.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(self.seed);
        let draws: Vec<Vec<Override>> = (0..self.draws)
            .map(|_| {
                self.uniform
                    .iter()
                    .map(|u| Override {
                        path: u.path.clone(),
                        value: u.value(rng.gen::<f64>()),
                    })
                    .collect()
            })
            .collect();
        Ok(points
            .into_iter()
            .flat_map(|p| {
                draws.iter().map(move |d| {
                    let mut p = p.clone();
                    p.extend(d.iter().cloned());
                    p
                })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests;
