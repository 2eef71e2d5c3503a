//! An experiment as a set of facts: named values (settings, calls), models as layer lists,
//! blocks as statement lists. Maps are sorted, so the order of declarations does not matter;
//! layer order does, because it changes the model.

use std::collections::BTreeMap;

use super::canon;
use crate::catalog::{call_params, layer_base};
use crate::syntax::ast::{self as ast, Call, DeclKind, File};

/// A value: plain text, or a call whose arguments compare one by one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Call {
        callee: String,
        args: Vec<(String, String)>,
    },
}

impl Value {
    fn of_call(c: &Call) -> Self {
        let known = call_params(&c.name.name);
        let mut args = canon::call_args(c, &known);
        // Named or positional, arguments compare in the parameters' order.
        args.sort_by_key(|(k, _)| {
            (
                known.iter().position(|p| p == k).unwrap_or(usize::MAX),
                k.clone(),
            )
        });
        Value::Call {
            callee: c.name.name.clone(),
            args,
        }
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Text(t) => f.write_str(t),
            Value::Call { callee, args } => {
                let args: Vec<String> = args
                    .iter()
                    .map(|(k, v)| {
                        if k.is_empty() {
                            v.clone()
                        } else {
                            format!("{k} = {v}")
                        }
                    })
                    .collect();
                write!(f, "{callee}({})", args.join(", "))
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerFact {
    /// Keras-style name: `dense`, `dense_1`.
    pub name: String,
    pub call: Value,
    /// Known when the experiment checks.
    pub parameters: Option<usize>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub values: BTreeMap<String, Value>,
    pub models: BTreeMap<String, Vec<LayerFact>>,
    /// Statement lists by block: `on epoch_end`, `after`, `step on train`.
    pub blocks: BTreeMap<String, Vec<String>>,
}

impl Facts {
    /// The facts of a parsed file; parameter counts come from checking it, when it checks.
    pub fn of(file: &File) -> Self {
        let counts = parameter_counts(file);
        let mut facts = Facts::default();
        for decl in &file.decls {
            facts.add(&decl.kind, &counts);
        }
        facts
    }

    fn add(&mut self, kind: &DeclKind, counts: &BTreeMap<String, Vec<usize>>) {
        let text = |s: String| Value::Text(s);
        match kind {
            DeclKind::Experiment { name, settings } => {
                self.values
                    .insert("experiment".into(), text(name.name.clone()));
                for s in settings {
                    let key = format!("experiment.{}", s.name.name);
                    self.values.insert(key, text(canon::expr(&s.value)));
                }
            }
            DeclKind::Train { settings } => {
                for s in settings {
                    let key = format!("train.{}", s.name.name);
                    self.values.insert(key, text(canon::expr(&s.value)));
                }
            }
            DeclKind::Optimizer { name, call, models } => {
                self.values
                    .insert(format!("optimizer {}", name.name), Value::of_call(call));
                if !models.is_empty() {
                    let names: Vec<&str> = models.iter().map(|m| m.name.as_str()).collect();
                    let key = format!("optimizer {}.for", name.name);
                    self.values.insert(key, text(names.join(", ")));
                }
            }
            DeclKind::Loss { name, call } => {
                self.values
                    .insert(format!("loss {}", name.name), Value::of_call(call));
            }
            DeclKind::Data { name, pipeline } => {
                let mut seen = BTreeMap::<&str, usize>::new();
                for (i, c) in pipeline.iter().enumerate() {
                    let n = seen.entry(c.name.name.as_str()).or_default();
                    let step = if *n == 0 {
                        c.name.name.clone()
                    } else {
                        format!("{}_{n}", c.name.name)
                    };
                    *n += 1;
                    // The source keeps its place; transforms are named, so reordering shows.
                    let key = format!("data {}.{step}", name.name);
                    self.values.insert(key, Value::of_call(c));
                    if i > 0 {
                        let order = format!("data {}.order", name.name);
                        let names: Vec<&str> =
                            pipeline.iter().map(|c| c.name.name.as_str()).collect();
                        self.values.insert(order, text(names.join(" | ")));
                    }
                }
            }
            DeclKind::Model { name, layers } => {
                self.add_model(&name.name, &ast::LayerItem::expand(layers), counts);
            }
            DeclKind::GraphModel { name, graph } => {
                self.add_model(&name.name, &graph.layer_calls(), counts);
                // The wiring, so that a change of what feeds what shows too.
                self.blocks
                    .insert(format!("model {}", name.name), canon::graph(graph));
            }
            DeclKind::Block { name, params, body } => {
                let mut lines = vec![canon::block_head(params)];
                match body {
                    ast::BlockBody::Graph(graph) => lines.extend(canon::graph(graph)),
                    ast::BlockBody::Layers(layers) => {
                        lines.extend(
                            ast::LayerItem::expand(layers)
                                .into_iter()
                                .map(|c| canon::call(c, &[])),
                        );
                    }
                }
                self.blocks.insert(format!("block {}", name.name), lines);
            }
            DeclKind::Metrics { metrics } => {
                for m in metrics {
                    let value = format!("{} on {}", canon::expr(&m.value), m.on.name);
                    self.values
                        .insert(format!("metric {}", m.name.name), text(value));
                }
            }
            DeclKind::Step { data, x, y, body } => {
                let key = format!("step on {} ({}, {})", data.name, x.name, y.name);
                self.blocks
                    .insert(key, body.iter().map(canon::stmt).collect());
            }
            DeclKind::Hook { event, body } => {
                self.blocks
                    .entry(canon::event(event))
                    .or_default()
                    .extend(body.iter().map(canon::stmt));
            }
            DeclKind::Before { body } => {
                let block = self.blocks.entry("before".into()).or_default();
                block.extend(body.iter().map(canon::stmt));
            }
            DeclKind::After { body } => {
                let block = self.blocks.entry("after".into()).or_default();
                block.extend(body.iter().map(canon::stmt));
            }
            DeclKind::Sweep { items } => {
                for item in items {
                    let (key, value) = sweep_fact(item);
                    self.values.insert(key, text(value));
                }
            }
        }
    }

    /// A model's layers, named Keras style in the order they are written. Parameter counts
    /// are known when the file checks and every call is one layer (no block).
    fn add_model(&mut self, model: &str, calls: &[&Call], counts: &BTreeMap<String, Vec<usize>>) {
        let counts = counts.get(model).filter(|c| c.len() == calls.len());
        let mut seen = BTreeMap::<&str, usize>::new();
        let facts = calls
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let base = layer_base(&c.name.name);
                let n = seen.entry(base).or_default();
                let layer = if *n == 0 {
                    base.to_string()
                } else {
                    format!("{base}_{n}")
                };
                *n += 1;
                LayerFact {
                    name: layer,
                    call: Value::of_call(c),
                    parameters: counts.and_then(|c| c.get(i).copied()),
                }
            })
            .collect();
        self.models.insert(model.to_string(), facts);
    }

    /// Total parameters of a model, when every layer's count is known.
    pub fn model_parameters(&self, model: &str) -> Option<usize> {
        self.models.get(model)?.iter().map(|l| l.parameters).sum()
    }
}

/// Parameters per layer, by model, when the file checks (layers are one per call then).
fn parameter_counts(file: &File) -> BTreeMap<String, Vec<usize>> {
    crate::check::check(file).map_or_else(
        |_| BTreeMap::new(),
        |exp| {
            exp.models
                .iter()
                .map(|m| {
                    let counts = m
                        .layers
                        .iter()
                        .map(crate::check::plan::Layer::parameter_count)
                        .collect();
                    (m.name.clone(), counts)
                })
                .collect()
        },
    )
}

/// A sweep line as a fact: `sweep grid opt.lr` = `(0.001, 0.0003)`, `sweep jobs` = `2`.
fn sweep_fact(item: &ast::SweepItem) -> (String, String) {
    match item {
        ast::SweepItem::Grid { path, values, .. } => (
            format!("sweep grid {}", path.text),
            values.render(canon::expr),
        ),
        ast::SweepItem::Uniform {
            path,
            low,
            high,
            scale,
            ..
        } => (
            format!("sweep uniform {}", path.text),
            ast::render_uniform(low, high, scale.as_ref(), canon::expr),
        ),
        ast::SweepItem::Setting(s) => (format!("sweep {}", s.name.name), canon::expr(&s.value)),
    }
}
