//! The language guide's tables, rendered from the catalogue. `docs/language.md` holds each
//! between `<!-- catalog: NAME -->` and `<!-- end catalog -->`; `tests/docs.rs` checks the
//! file matches, and rewrites it with `EXPR_UPDATE_DOCS=1`.

use std::fmt::Write as _;

use super::{
    Activation, Catalogued, Default, Entry, Function, Initializer, Kind, Layer, Loss, Optimizer,
    Param, Regularizer, Source, Transform, Type, Value,
};

/// The tables, by the name their marker gives.
pub const TABLES: &[&str] = &[
    "sources",
    "transforms",
    "layers",
    "activations",
    "losses",
    "optimizers",
    "functions",
    "initializers",
    "regularizers",
];

/// The markdown table called `name`, ending in a newline.
pub fn table(name: &str) -> Option<String> {
    Some(match name {
        "sources" => simple("source", &entries::<Source>()),
        "transforms" => simple("transform", &entries::<Transform>()),
        "layers" => layers(),
        "activations" => activations(),
        "losses" => simple("loss", &entries::<Loss>()),
        "optimizers" => simple("optimizer", &entries::<Optimizer>()),
        "functions" => functions(),
        "initializers" => initializers(),
        "regularizers" => simple("regularizer", &entries::<Regularizer>()),
        _ => return None,
    })
}

const START: &str = "<!-- catalog: ";
const END: &str = "<!-- end catalog -->";

/// `markdown` with every catalogue table replaced by its current rendering.
///
/// # Errors
/// A marker naming no table, or one without its end.
pub fn splice(markdown: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut lines = markdown.lines();
    while let Some(line) = lines.next() {
        out.push_str(line);
        out.push('\n');
        let Some(name) = line
            .strip_prefix(START)
            .and_then(|r| r.strip_suffix(" -->"))
        else {
            continue;
        };
        let table = table(name).ok_or_else(|| format!("no catalogue table `{name}`"))?;
        out.push_str(&table);
        if !lines.any(|l| l == END) {
            return Err(format!("the table `{name}` has no `{END}`"));
        }
        out.push_str(END);
        out.push('\n');
    }
    Ok(out)
}

fn entries<T: Catalogued>() -> Vec<&'static Entry> {
    T::ALL.iter().map(|id| id.entry()).collect()
}

fn row(cells: &[String]) -> String {
    format!("| {} |\n", cells.join(" | "))
}

fn head(columns: &[&str]) -> String {
    let cells: Vec<String> = columns.iter().map(ToString::to_string).collect();
    let rule: Vec<String> = columns.iter().map(|_| "---".to_string()).collect();
    row(&cells) + &row(&rule)
}

/// `` `mse` `` (or `` `mean_squared_error` ``).
fn name_cell(e: &Entry) -> String {
    let mut cell = format!("`{}`", e.name);
    for alias in e.aliases {
        // Writing to a String cannot fail.
        let _ = write!(cell, " (or `{alias}`)");
    }
    cell
}

fn class_cell(e: &Entry) -> String {
    e.class_name
        .map_or_else(|| "–".to_string(), |c| format!("`{c}`"))
}

/// One table of calls: name, parameters, the Keras class where any has one, what it is.
fn simple(what: &str, entries: &[&'static Entry]) -> String {
    let keras = entries.iter().any(|e| e.class_name.is_some());
    let mut columns = vec![what, "parameters"];
    if keras {
        columns.push("Keras");
    }
    columns.push("what it is");
    let mut out = head(&columns);
    for e in entries {
        let mut cells = vec![name_cell(e), params_cell(e)];
        if keras {
            cells.push(class_cell(e));
        }
        cells.push(e.doc.to_string());
        out.push_str(&row(&cells));
    }
    out
}

fn layers() -> String {
    let mut out = head(&["layer", "parameters", "in the summary", "what it is"]);
    for e in entries::<Layer>() {
        if e.kind != Kind::Layer {
            continue;
        }
        let summary = format!("`{}` ({})", e.base_name, class_cell(e));
        out.push_str(&row(&[name_cell(e), params_cell(e), summary, e.doc.into()]));
    }
    out
}

fn activations() -> String {
    let mut out = head(&["activation", "as a layer", "what it is"]);
    for a in Activation::ALL {
        let e = a.entry();
        let layer = if Layer::ALL.contains(&Layer::of(e)) {
            format!("`{}({})`", e.name, signature(e.params))
        } else {
            "–".to_string()
        };
        out.push_str(&row(&[name_cell(e), layer, e.doc.into()]));
    }
    out
}

fn functions() -> String {
    let mut out = head(&["function", "Keras", "what it is"]);
    for e in entries::<Function>() {
        let call = format!("`{}({})`", e.name, signature(e.params));
        out.push_str(&row(&[call, class_cell(e), e.doc.into()]));
    }
    out
}

fn initializers() -> String {
    let mut out = head(&["initializer", "Keras", "what it is"]);
    for e in entries::<Initializer>() {
        let name = if e.params.is_empty() {
            format!("`{}`", e.name)
        } else {
            format!("`{}({})`", e.name, signature(e.params))
        };
        out.push_str(&row(&[name, class_cell(e), e.doc.into()]));
    }
    out
}

/// `alpha = 0.3`: the parameters as a call would spell them out.
fn signature(params: &[Param]) -> String {
    let spelled: Vec<String> = params.iter().map(spell).collect();
    spelled.join(", ")
}

fn params_cell(e: &Entry) -> String {
    let mut cells: Vec<String> = e
        .params
        .iter()
        .map(|p| match hint(p.ty) {
            Some(hint) => format!("`{}` ({hint})", spell(p)),
            None => format!("`{}`", spell(p)),
        })
        .collect();
    if let Some(rest) = e.rest {
        // A source's rest names other data sets (`concat`); elsewhere it is dimensions.
        let what = if e.kind == Kind::Source {
            "data names, 2 or more"
        } else {
            "whole, ≥ 1"
        };
        cells.push(format!("the {rest}, positional ({what})"));
    }
    if cells.is_empty() {
        "none".to_string()
    } else {
        cells.join(", ")
    }
}

/// `units`, `use_bias = true`, `stride = pool`.
pub(crate) fn spell(p: &Param) -> String {
    match p.default {
        Default::Required(_) => p.name.to_string(),
        Default::Is(value) => format!("{} = {}", p.name, value_text(value)),
        Default::SameAs(other) => format!("{} = {other}", p.name),
        Default::Derived(how) => format!("{} = {how}", p.name),
    }
}

fn value_text(value: Value) -> String {
    match value {
        Value::Number(v) => number(v),
        Value::Count(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Name(n) => n.to_string(),
        Value::Pair(a, b) if a == b => a.to_string(),
        Value::Pair(a, b) => format!("({a}, {b})"),
        Value::Text(t) => format!("\"{t}\""),
    }
}

/// `0.001`, `1e-7`, `2`.
fn number(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.abs() < 1e-4 {
        format!("{v:e}")
    } else {
        v.to_string()
    }
}

/// What a type accepts, where the default does not already say it. Pipes are escaped for
/// the table.
pub(crate) fn hint(ty: Type) -> Option<String> {
    let listed = |names: &[&str], quote: &str| {
        names
            .iter()
            .map(|n| format!("{quote}{n}{quote}"))
            .collect::<Vec<_>>()
            .join(" \\| ")
    };
    match ty {
        Type::Count { min } => Some(format!("whole, ≥ {min}")),
        Type::Pair => Some("n or (h, w)".into()),
        Type::Positive => Some("> 0".into()),
        Type::NonNegative => Some("≥ 0".into()),
        Type::Fraction => Some("in [0, 1)".into()),
        Type::Name(names) => Some(listed(names, "")),
        Type::Text(&[]) => Some("a string".into()),
        Type::Text(names) => Some(listed(names, "\"")),
        Type::Texts => Some("a string or a tuple of strings".into()),
        Type::Numbers => Some("a tuple of numbers ≥ 0, one per class".into()),
        Type::Channels { positive: false } => {
            Some("a number, or a tuple of one per channel".into())
        }
        Type::Channels { positive: true } => Some("> 0, or a tuple of one per channel".into()),
        Type::DataName => Some("a `data` name".into()),
        Type::ValueName => Some("a value of a graph model".into()),
        Type::ValueNames => Some("a value of a graph model, or a tuple of them".into()),
        Type::Activation => Some("an activation".into()),
        Type::Initializer => Some("an initializer".into()),
        Type::Regularizer => Some("a regularizer".into()),
        Type::Number | Type::Bool | Type::Scalar => None,
    }
}
