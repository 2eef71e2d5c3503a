//! Diffs and experiments as text: the human diff, and the canonical listing `--textconv`
//! gives git, whose line diff then reads as a semantic one.

use std::fmt::Write;

use super::changes::Change;
use super::facts::Facts;

/// `12,345`: parameter counts are read more than computed with.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn signed(n: i64) -> String {
    let sign = if n < 0 { "-" } else { "+" };
    format!("{sign}{}", thousands(n.unsigned_abs() as usize))
}

fn params_note(p: Option<i64>) -> String {
    match p {
        Some(p) if p != 0 => format!("  ({} parameters)", signed(p)),
        _ => String::new(),
    }
}

/// One line per change: `~` changed, `+` added, `-` removed.
pub fn text(changes: &[Change]) -> String {
    if changes.is_empty() {
        return "no semantic changes\n".into();
    }
    let mut out = String::new();
    for c in changes {
        let _ = writeln!(out, "{}", line(c));
    }
    out
}

fn line(c: &Change) -> String {
    match c {
        Change::Changed { path, old, new } => format!("~ {path}: {old} → {new}"),
        Change::Added { path, new } => format!("+ {path}: {new}"),
        Change::Removed { path, old } => format!("- {path}: {old}"),
        Change::LayerAdded {
            model,
            layer,
            new,
            parameters,
        } => format!(
            "+ model {model}: layer {layer} {new}{}",
            params_note(*parameters)
        ),
        Change::LayerRemoved {
            model,
            layer,
            old,
            parameters,
        } => format!(
            "- model {model}: layer {layer} {old}{}",
            params_note(*parameters)
        ),
        Change::LayerChanged {
            model,
            layer,
            old,
            new,
            parameters,
        } => format!(
            "~ model {model}: layer {layer} {old} → {new}{}",
            params_note(*parameters)
        ),
        Change::ModelParameters { model, old, new } => format!(
            "~ model {model}: {} → {} parameters ({})",
            thousands(*old),
            thousands(*new),
            signed(*new as i64 - *old as i64)
        ),
        Change::StatementAdded { block, statement } => format!("+ {block}: {statement}"),
        Change::StatementRemoved { block, statement } => format!("- {block}: {statement}"),
    }
}

/// The experiment as sorted facts, one per line, for `git diff` through `textconv`.
pub fn canonical(facts: &Facts) -> String {
    let mut out = String::new();
    for (key, value) in &facts.values {
        let _ = writeln!(out, "{key} = {value}");
    }
    for (model, layers) in &facts.models {
        match facts.model_parameters(model) {
            Some(total) => {
                let _ = writeln!(out, "model {model} ({} parameters)", thousands(total));
            }
            None => {
                let _ = writeln!(out, "model {model}");
            }
        }
        for l in layers {
            let count = l.parameters.map_or(String::new(), |p| {
                format!("  [{} parameters]", thousands(p))
            });
            let _ = writeln!(out, "  {} = {}{count}", l.name, l.call);
        }
    }
    for (block, stmts) in &facts.blocks {
        let _ = writeln!(out, "{block}");
        for s in stmts {
            let _ = writeln!(out, "  {s}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(signed(-100_480), "-100,480");
    }
}
