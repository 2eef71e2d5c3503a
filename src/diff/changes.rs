//! The differences between two sets of facts: values changed, added and removed (calls
//! argument by argument), layers aligned by a longest common subsequence, statements of each
//! block added and removed.

use serde::Serialize;

use super::facts::{Facts, LayerFact, Value};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    Changed {
        path: String,
        old: String,
        new: String,
    },
    Added {
        path: String,
        new: String,
    },
    Removed {
        path: String,
        old: String,
    },
    LayerAdded {
        model: String,
        layer: String,
        new: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        parameters: Option<i64>,
    },
    LayerRemoved {
        model: String,
        layer: String,
        old: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        parameters: Option<i64>,
    },
    LayerChanged {
        model: String,
        layer: String,
        old: String,
        new: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        parameters: Option<i64>,
    },
    ModelParameters {
        model: String,
        old: usize,
        new: usize,
    },
    StatementAdded {
        block: String,
        statement: String,
    },
    StatementRemoved {
        block: String,
        statement: String,
    },
}

/// Every change from `a` to `b`: values first, then models, then blocks.
pub fn changes(a: &Facts, b: &Facts) -> Vec<Change> {
    let mut out = Vec::new();
    for key in union(a.values.keys(), b.values.keys()) {
        match (a.values.get(key), b.values.get(key)) {
            (Some(x), Some(y)) if x != y => value_changes(key, x, y, &mut out),
            (Some(x), None) => out.push(Change::Removed {
                path: key.clone(),
                old: x.to_string(),
            }),
            (None, Some(y)) => out.push(Change::Added {
                path: key.clone(),
                new: y.to_string(),
            }),
            _ => {}
        }
    }
    for model in union(a.models.keys(), b.models.keys()) {
        let empty = Vec::new();
        let (x, y) = (
            a.models.get(model).unwrap_or(&empty),
            b.models.get(model).unwrap_or(&empty),
        );
        layer_changes(model, x, y, &mut out);
        if let (Some(old), Some(new)) = (a.model_parameters(model), b.model_parameters(model)) {
            if old != new {
                out.push(Change::ModelParameters {
                    model: model.clone(),
                    old,
                    new,
                });
            }
        }
    }
    for block in union(a.blocks.keys(), b.blocks.keys()) {
        let empty = Vec::new();
        let x = a.blocks.get(block).unwrap_or(&empty);
        let y = b.blocks.get(block).unwrap_or(&empty);
        for (i, j) in unmatched(x, y, |p, q| p == q) {
            if let Some(i) = i {
                out.push(Change::StatementRemoved {
                    block: block.clone(),
                    statement: x[i].clone(),
                });
            }
            if let Some(j) = j {
                out.push(Change::StatementAdded {
                    block: block.clone(),
                    statement: y[j].clone(),
                });
            }
        }
    }
    out
}

fn union<'a>(
    a: impl Iterator<Item = &'a String>,
    b: impl Iterator<Item = &'a String>,
) -> Vec<&'a String> {
    let mut keys: Vec<&String> = a.chain(b).collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Same callee: one change per argument (`optimizer opt.lr: 0.001 → 0.0003`); else the whole value.
fn value_changes(key: &str, x: &Value, y: &Value, out: &mut Vec<Change>) {
    if let (
        Value::Call {
            callee: c1,
            args: a1,
        },
        Value::Call {
            callee: c2,
            args: a2,
        },
    ) = (x, y)
    {
        if c1 == c2 && a1.iter().chain(a2).all(|(k, _)| !k.is_empty()) {
            let find = |args: &[(String, String)], k: &str| {
                args.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
            };
            let keys: Vec<&String> = union(a1.iter().map(|(k, _)| k), a2.iter().map(|(k, _)| k));
            for k in keys {
                let path = format!("{key}.{k}");
                match (find(a1, k), find(a2, k)) {
                    (Some(old), Some(new)) if old != new => {
                        out.push(Change::Changed { path, old, new });
                    }
                    (Some(old), None) => out.push(Change::Removed { path, old }),
                    (None, Some(new)) => out.push(Change::Added { path, new }),
                    _ => {}
                }
            }
            return;
        }
    }
    out.push(Change::Changed {
        path: key.to_string(),
        old: x.to_string(),
        new: y.to_string(),
    });
}

fn layer_changes(model: &str, x: &[LayerFact], y: &[LayerFact], out: &mut Vec<Change>) {
    let delta = |a: Option<usize>, b: Option<usize>| Some(b? as i64 - a? as i64);
    for (i, j) in unmatched(x, y, |p, q| p.call == q.call) {
        match (i.map(|i| &x[i]), j.map(|j| &y[j])) {
            (Some(old), Some(new)) => {
                let (o, n) = changed_args(&old.call, &new.call);
                out.push(Change::LayerChanged {
                    model: model.to_string(),
                    layer: new.name.clone(),
                    old: o,
                    new: n,
                    parameters: delta(old.parameters, new.parameters),
                });
            }
            (Some(old), None) => out.push(Change::LayerRemoved {
                model: model.to_string(),
                layer: old.name.clone(),
                old: old.call.to_string(),
                parameters: delta(old.parameters, Some(0)),
            }),
            (None, Some(new)) => out.push(Change::LayerAdded {
                model: model.to_string(),
                layer: new.name.clone(),
                new: new.call.to_string(),
                parameters: delta(Some(0), new.parameters),
            }),
            (None, None) => {}
        }
    }
}

/// For the same callee, only the arguments that differ (`units = 128` → `units = 256`);
/// otherwise both calls whole.
fn changed_args(x: &Value, y: &Value) -> (String, String) {
    if let (
        Value::Call {
            callee: c1,
            args: a1,
        },
        Value::Call {
            callee: c2,
            args: a2,
        },
    ) = (x, y)
    {
        if c1 == c2 {
            let only = |a: &[(String, String)], b: &[(String, String)]| {
                let kept: Vec<String> = a
                    .iter()
                    .filter(|arg| !b.contains(arg))
                    .map(|(k, v)| {
                        if k.is_empty() {
                            v.clone()
                        } else {
                            format!("{k} = {v}")
                        }
                    })
                    .collect();
                if kept.is_empty() {
                    "(default)".to_string()
                } else {
                    kept.join(", ")
                }
            };
            return (only(a1, a2), only(a2, a1));
        }
    }
    (x.to_string(), y.to_string())
}

/// The items outside a longest common subsequence, in order. Between two matched items, the
/// k-th unmatched item of each side is paired (a change); the rest stand alone.
fn unmatched<T>(
    x: &[T],
    y: &[T],
    same: impl Fn(&T, &T) -> bool,
) -> Vec<(Option<usize>, Option<usize>)> {
    let (n, m) = (x.len(), y.len());
    // lcs[i][j]: length of the LCS of x[i..] and y[j..].
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if same(&x[i], &y[j]) {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    let (mut gone, mut new) = (Vec::new(), Vec::new());
    let flush = |gone: &mut Vec<usize>, new: &mut Vec<usize>, out: &mut Vec<_>| {
        for k in 0..gone.len().max(new.len()) {
            out.push((gone.get(k).copied(), new.get(k).copied()));
        }
        gone.clear();
        new.clear();
    };
    while i < n || j < m {
        if i < n && j < m && same(&x[i], &y[j]) {
            flush(&mut gone, &mut new, &mut out);
            i += 1;
            j += 1;
        } else if j == m || (i < n && lcs[i + 1][j] >= lcs[i][j + 1]) {
            gone.push(i);
            i += 1;
        } else {
            new.push(j);
            j += 1;
        }
    }
    flush(&mut gone, &mut new, &mut out);
    out
}
