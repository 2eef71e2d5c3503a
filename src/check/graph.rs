//! Graph models and blocks: `model critic (image, label) { a = image | dense(8) ... return ... }`.
//!
//! Reading a graph (`read_graph`) resolves its names top to bottom into a list of nodes,
//! each reading values computed before it, so a graph is acyclic by construction: a name
//! used before its definition is reported as such. Blocks are expanded where they are used,
//! their parameters substituted into their calls' arguments, so that the plan knows only
//! layers and combinators. Shapes are inferred later (`infer_graph`), once the step that
//! calls the model says its input shapes.

use std::collections::HashMap;

use super::error::CheckError;
use super::model::read_layer;
use super::plan::{Graph, GraphInput, Layer, LayerKind, Model, Node, NodeOp};
use crate::catalog::{self, Catalogued};
use crate::source::Span;
use crate::syntax::ast::{
    BinOp, BlockBody, BlockParam, Call, Expr, ExprKind, Graph as AstGraph, GraphExpr,
    GraphExprKind, GraphStmtKind, Ident, LayerItem,
};

/// A block declared at top level, by name.
pub type Blocks<'a> = HashMap<String, (&'a Ident, &'a [BlockParam], &'a BlockBody)>;

/// A graph whose layers are read but whose shapes are not yet known.
#[derive(Debug, Clone)]
pub struct GraphDraft {
    pub inputs: Vec<(String, Span)>,
    pub nodes: Vec<NodeDraft>,
    /// Value ids (`inputs`, then one per node) and the span of each returned expression.
    pub outputs: Vec<(usize, Span)>,
}

#[derive(Debug, Clone)]
pub struct NodeDraft {
    pub op: DraftOp,
    pub inputs: Vec<usize>,
    pub span: Span,
    /// Where the block this node comes from is used, for errors inside the block.
    pub used_at: Option<(Span, String)>,
}

#[derive(Debug, Clone)]
pub enum DraftOp {
    /// A layer, and whether it is trained (`trainable = false` freezes it).
    Layer(LayerKind, bool),
    Add,
    Multiply,
    /// `concat(a, b, axis = 0)`: the axis of the element shape, if given.
    Concat(Option<usize>),
    /// Output `k` (from 1) of the layer of several outputs the node reads.
    Output(usize),
}

/// The names bound where a layer is used, and the statements after it (to tell a name
/// defined later from an unknown one).
type Scope<'s> = (&'s [(String, usize)], &'s [crate::syntax::ast::GraphStmt]);

/// How deep blocks may use blocks: a block that uses itself would never end.
const MAX_BLOCK_DEPTH: usize = 16;

struct Reader<'b, 'e> {
    blocks: &'b Blocks<'b>,
    nodes: Vec<NodeDraft>,
    inputs: usize,
    /// For each value id, whether something reads it.
    used: Vec<bool>,
    /// The innermost block use being expanded.
    used_at: Option<(Span, String)>,
    depth: usize,
    /// Values of layers of several outputs that no assignment has named yet.
    unnamed: Vec<usize>,
    errors: &'e mut Vec<CheckError>,
    ok: bool,
}

/// Reads a graph model's statements into nodes; `None` after reporting.
pub fn read_graph(
    graph: &AstGraph,
    blocks: &Blocks<'_>,
    errors: &mut Vec<CheckError>,
) -> Option<GraphDraft> {
    let mut r = Reader {
        blocks,
        nodes: Vec::new(),
        inputs: graph.inputs.len(),
        used: vec![false; graph.inputs.len()],
        used_at: None,
        depth: 0,
        unnamed: Vec::new(),
        errors,
        ok: true,
    };
    let mut seen = HashMap::new();
    for input in &graph.inputs {
        if let Some(first) = seen.insert(input.name.clone(), input.span) {
            r.errors.push(CheckError::duplicate(
                "input",
                &input.name,
                input.span,
                first,
            ));
            r.ok = false;
        }
    }
    let env: Vec<(String, usize)> = graph
        .inputs
        .iter()
        .enumerate()
        .map(|(i, id)| (id.name.clone(), i))
        .collect();
    let outputs = r.body(graph, env, &Substitution::default())?;
    // Unused inputs and values: their layers would have parameters without gradients.
    for (i, input) in graph.inputs.iter().enumerate() {
        if !r.used[i] {
            r.errors.push(
                CheckError::invalid(
                    format!("input `{}` is never used", input.name),
                    "never read".into(),
                    input.span,
                )
                .with_help("remove it, or feed it into the model's layers"),
            );
            r.ok = false;
        }
    }
    let ok = r.ok;
    let (nodes, inputs) = (
        r.nodes,
        graph
            .inputs
            .iter()
            .map(|i| (i.name.clone(), i.span))
            .collect(),
    );
    ok.then_some(GraphDraft {
        inputs,
        nodes,
        outputs,
    })
}

/// Block parameters bound to the expressions of a use.
#[derive(Default, Clone)]
struct Substitution {
    values: HashMap<String, Expr>,
}

impl Substitution {
    /// The call with each argument that names a parameter replaced by its value.
    fn apply(&self, call: &Call) -> Call {
        let mut call = call.clone();
        for arg in &mut call.args {
            self.expr(&mut arg.value);
        }
        call
    }

    fn expr(&self, e: &mut Expr) {
        match &mut e.kind {
            ExprKind::Name(id) => {
                if let Some(v) = self.values.get(&id.name) {
                    // The value, at the place of the name in the block.
                    let span = e.span;
                    *e = v.clone();
                    e.span = span;
                }
            }
            ExprKind::Tuple(items) => items.iter_mut().for_each(|i| self.expr(i)),
            ExprKind::Neg(inner) => self.expr(inner),
            ExprKind::Binary(_, a, b) => {
                self.expr(a);
                self.expr(b);
            }
            _ => {}
        }
    }
}

impl Reader<'_, '_> {
    fn fail(&mut self, err: CheckError) {
        let err = match (&self.used_at, err.related.is_none()) {
            (Some((span, label)), true) => err.with_related(*span, label.clone()),
            _ => err,
        };
        self.errors.push(err);
        self.ok = false;
    }

    /// The statements of a graph with `env` bound; the returned values.
    fn body(
        &mut self,
        graph: &AstGraph,
        mut env: Vec<(String, usize)>,
        subst: &Substitution,
    ) -> Option<Vec<(usize, Span)>> {
        let mut returned = None;
        // Each assignment's values and where they were named, to report values never read.
        let mut assigned: Vec<Vec<(usize, &Ident)>> = Vec::new();
        for (k, stmt) in graph.stmts.iter().enumerate() {
            match &stmt.kind {
                GraphStmtKind::Assign { names, value } => {
                    let later = &graph.stmts[k + 1..];
                    let v = self.value(value, &env, later, subst);
                    let values = match v {
                        Some(v) => self.unpack(v, names, value),
                        None => vec![None; names.len()],
                    };
                    let mut group = Vec::new();
                    for (name, v) in names.iter().zip(values) {
                        env.retain(|(n, _)| n != &name.name);
                        // Without a value, its readers stay quiet: the name is bound to
                        // nothing.
                        env.push((name.name.clone(), v.unwrap_or(usize::MAX)));
                        if let Some(v) = v {
                            group.push((v, name));
                        }
                    }
                    assigned.push(group);
                    self.unnamed_outputs();
                }
                GraphStmtKind::Return(values) => {
                    if returned.is_some() {
                        self.fail(CheckError::invalid(
                            "a model returns once".into(),
                            "a second `return`".into(),
                            stmt.span,
                        ));
                        continue;
                    }
                    let mut outs = Vec::new();
                    for v in values {
                        if let Some(id) = self.value(v, &env, &[], subst) {
                            outs.push((id, v.span));
                        }
                    }
                    self.unnamed_outputs();
                    returned = Some(outs);
                }
            }
        }
        // A layer of several outputs is used when one of them is.
        for group in assigned {
            let Some(&(_, name)) = group.first() else {
                continue;
            };
            if !group.iter().any(|&(v, _)| self.used[v]) {
                self.fail(
                    CheckError::invalid(
                        format!("value `{}` is never used", name.name),
                        "computed here, never read".into(),
                        name.span,
                    )
                    .with_help(
                        "its layers would have parameters without gradients: use it, or remove it",
                    ),
                );
            }
        }
        let Some(outs) = returned else {
            self.fail(CheckError::missing(
                "return",
                "the graph never says what it returns".into(),
                graph.inputs.first().map_or(Span::new(0, 0), |i| i.span),
                "end it with `return NAME` (or `return a, b` for several outputs)",
            ));
            return None;
        };
        (outs.len() == values_len(graph)).then_some(outs)
    }

    /// Marks `v` as read.
    fn read(&mut self, v: usize) -> usize {
        if let Some(u) = self.used.get_mut(v) {
            *u = true;
        }
        v
    }

    fn push(&mut self, op: DraftOp, inputs: Vec<usize>, span: Span) -> usize {
        self.nodes.push(NodeDraft {
            op,
            inputs,
            span,
            used_at: self.used_at.clone(),
        });
        self.used.push(false);
        self.inputs + self.nodes.len() - 1
    }

    /// The value id of a graph expression; `None` after reporting (or when a name read is
    /// bound to a failed value).
    fn value(
        &mut self,
        e: &GraphExpr,
        env: &[(String, usize)],
        later: &[crate::syntax::ast::GraphStmt],
        subst: &Substitution,
    ) -> Option<usize> {
        match &e.kind {
            GraphExprKind::Name(id) => self.name(id, env, later),
            GraphExprKind::Call(call) => {
                if call.name.name == "concat" {
                    return self.concat(call, env, later, subst);
                }
                let what = if self.blocks.contains_key(&call.name.name) {
                    "block"
                } else {
                    "layer"
                };
                if what == "block" || catalog::Layer::named(&call.name.name).is_some() {
                    self.fail(
                        CheckError::invalid(
                            format!("this {what} has no input"),
                            "no input".into(),
                            call.span,
                        )
                        .with_help(format!(
                            "pipe a value into it: `x | {}(...)`",
                            call.name.name
                        )),
                    );
                } else {
                    let mut known: Vec<&str> = vec!["concat"];
                    known.extend(env.iter().map(|(n, _)| n.as_str()));
                    self.fail(CheckError::unknown(
                        "combinator",
                        &call.name.name,
                        call.name.span,
                        &known,
                    ));
                }
                None
            }
            GraphExprKind::Pipe(input, calls) => {
                let mut v = self.value(input, env, later, subst)?;
                for call in calls {
                    v = self.apply(call, v, (env, later), subst)?;
                }
                Some(v)
            }
            GraphExprKind::Add(items) | GraphExprKind::Mul(items) => {
                let values: Vec<Option<usize>> = items
                    .iter()
                    .map(|i| self.value(i, env, later, subst))
                    .collect();
                let values = values.into_iter().collect::<Option<Vec<_>>>()?;
                let op = if matches!(e.kind, GraphExprKind::Add(_)) {
                    DraftOp::Add
                } else {
                    DraftOp::Multiply
                };
                Some(self.push(op, values, e.span))
            }
        }
    }

    fn name(
        &mut self,
        id: &Ident,
        env: &[(String, usize)],
        later: &[crate::syntax::ast::GraphStmt],
    ) -> Option<usize> {
        if let Some(&(_, v)) = env.iter().rev().find(|(n, _)| *n == id.name) {
            return (v != usize::MAX).then(|| self.read(v));
        }
        let defined_later = later.iter().find_map(|s| match &s.kind {
            GraphStmtKind::Assign { names, .. } => {
                names.iter().find(|n| n.name == id.name).map(|n| n.span)
            }
            GraphStmtKind::Return(_) => None,
        });
        match defined_later {
            Some(at) => self.fail(
                CheckError::invalid(
                    format!("`{}` is used before it is defined", id.name),
                    "used here".into(),
                    id.span,
                )
                .with_related(at, "defined later here")
                .with_help("a model is computed top to bottom, so its graph cannot have cycles: compute the value before the line that reads it"),
            ),
            None => {
                let known: Vec<&str> = env.iter().map(|(n, _)| n.as_str()).collect();
                self.fail(CheckError::unknown("value", &id.name, id.span, &known));
            }
        }
        None
    }

    /// `concat(a, b, ..., axis = 0)`.
    fn concat(
        &mut self,
        call: &Call,
        env: &[(String, usize)],
        later: &[crate::syntax::ast::GraphStmt],
        subst: &Substitution,
    ) -> Option<usize> {
        let mut values = Vec::new();
        let mut axis = None;
        let mut ok = true;
        for arg in &call.args {
            let value = {
                let mut v = arg.value.clone();
                subst.expr(&mut v);
                v
            };
            match (&arg.name, &value.kind) {
                (Some(n), ExprKind::Int(a)) if n.name == "axis" => {
                    axis = usize::try_from(*a).ok();
                }
                (Some(n), _) if n.name == "axis" => {
                    self.fail(CheckError::wrong_type(
                        "`axis`",
                        "a whole number",
                        "something else",
                        value.span,
                    ));
                    ok = false;
                }
                (Some(n), _) => {
                    self.fail(CheckError::unknown_parameter(
                        "concat",
                        &n.name,
                        n.span,
                        &["axis"],
                    ));
                    ok = false;
                }
                (None, _) => match self.expr_value(&value, env, later) {
                    Some(v) => values.push(v),
                    None => ok = false,
                },
            }
        }
        if ok && values.len() < 2 {
            self.fail(
                CheckError::invalid(
                    "`concat` joins two values or more".into(),
                    format!(
                        "{} value{}",
                        values.len(),
                        if values.len() == 1 { "" } else { "s" }
                    ),
                    call.span,
                )
                .with_help("write `concat(a, b)`"),
            );
            ok = false;
        }
        ok.then(|| self.push(DraftOp::Concat(axis), values, call.span))
    }

    /// An argument of `concat`: a name, or names joined by `+` and `*`.
    fn expr_value(
        &mut self,
        e: &Expr,
        env: &[(String, usize)],
        later: &[crate::syntax::ast::GraphStmt],
    ) -> Option<usize> {
        match &e.kind {
            ExprKind::Name(id) => self.name(id, env, later),
            ExprKind::Binary(op @ (BinOp::Add | BinOp::Mul), a, b) => {
                let a = self.expr_value(a, env, later);
                let b = self.expr_value(b, env, later);
                let op = if *op == BinOp::Add {
                    DraftOp::Add
                } else {
                    DraftOp::Multiply
                };
                Some(self.push(op, vec![a?, b?], e.span))
            }
            _ => {
                self.fail(
                    CheckError::invalid(
                        "`concat` joins values of the model".into(),
                        "not a value".into(),
                        e.span,
                    )
                    .with_help("name the value first: `a = x | dense(8)`, then `concat(a, b)`"),
                );
                None
            }
        }
    }

    /// `v | call`: a layer, or a block expanded in place. `scope` holds the names a layer's
    /// second input (cross-attention's `value = memory`) may read, and the statements after.
    fn apply(
        &mut self,
        call: &Call,
        v: usize,
        scope: Scope<'_>,
        subst: &Substitution,
    ) -> Option<usize> {
        let call = subst.apply(call);
        if let Some(&(name, params, body)) = self.blocks.get(&call.name.name) {
            return self.block(&call, name, params, body, v, scope);
        }
        if catalog::Layer::named(&call.name.name).is_none() && call.name.name != "concat" {
            let mut known = catalog::Layer::names();
            let blocks: Vec<&str> = self.blocks.keys().map(String::as_str).collect();
            known.extend(blocks);
            self.fail(CheckError::unknown(
                "layer or block",
                &call.name.name,
                call.name.span,
                &known,
            ));
            return None;
        }
        let before = self.errors.len();
        let (kind, trainable) = read_layer(&call, self.errors)?;
        if self.errors.len() > before {
            if let Some((span, label)) = &self.used_at {
                for e in &mut self.errors[before..] {
                    if e.related.is_none() {
                        e.related = Some((*span, label.clone()));
                    }
                }
            }
            self.ok = false;
            return None;
        }
        let mut inputs = vec![v];
        let more: Vec<Ident> = kind
            .more_inputs()
            .into_iter()
            .map(|(name, span)| Ident {
                name: name.to_string(),
                span,
            })
            .collect();
        if let Some(first) = more.first() {
            let (env, later) = scope;
            if env.is_empty() {
                self.fail(second_input_in_stack(&first.name, first.span));
                return None;
            }
            let values: Vec<Option<usize>> =
                more.iter().map(|id| self.name(id, env, later)).collect();
            inputs.extend(values.into_iter().collect::<Option<Vec<_>>>()?);
        }
        let several = !kind.more_outputs().is_empty();
        let v = self.push(DraftOp::Layer(kind, trainable), inputs, call.span);
        if several {
            self.unnamed.push(v);
        }
        Some(v)
    }

    /// The values an assignment's `names` bind to `v`: `v` itself, or when `v` is a layer
    /// of several outputs, each of its outputs (nodes of their own after the first). `None`
    /// for each after reporting.
    fn unpack(&mut self, v: usize, names: &[Ident], value: &GraphExpr) -> Vec<Option<usize>> {
        let several = self.unnamed.last() == Some(&v);
        if several {
            self.unnamed.pop();
        }
        let outputs = match &self.nodes.get(v.wrapping_sub(self.inputs)) {
            Some(NodeDraft {
                op: DraftOp::Layer(kind, _),
                ..
            }) if several => kind.more_outputs(),
            _ => Vec::new(),
        };
        if names.len() == 1 + outputs.len() {
            let mut values = vec![Some(v)];
            for (k, name) in names[1..].iter().enumerate() {
                values.push(Some(self.push(DraftOp::Output(k + 1), vec![v], name.span)));
            }
            return values;
        }
        let span = names[0].span.to(names[names.len() - 1].span);
        let err = if outputs.is_empty() {
            CheckError::invalid(
                format!("{} names for one value", names.len()),
                format!("{} names", names.len()),
                span,
            )
            .with_related(value.span, "one value")
            .with_help("only a layer of several outputs is unpacked, such as `y, h, c = x | lstm(32, return_state = true)`")
        } else {
            let mut all = vec!["y".to_string()];
            all.extend(outputs.iter().map(|(n, _)| n.clone()));
            CheckError::invalid(
                format!(
                    "this layer gives {} values ({}), not {}",
                    all.len(),
                    all.join(", "),
                    names.len()
                ),
                format!(
                    "{} name{}",
                    names.len(),
                    if names.len() == 1 { "" } else { "s" }
                ),
                span,
            )
            .with_related(self.nodes[v - self.inputs].span, "gives them")
            .with_help(format!("name each: `{} = ...`", all.join(", ")))
        };
        self.fail(err);
        vec![None; names.len()]
    }

    /// Reports the layers of several outputs that the statement just read did not unpack.
    fn unnamed_outputs(&mut self) {
        for v in std::mem::take(&mut self.unnamed) {
            let node = &self.nodes[v - self.inputs];
            let DraftOp::Layer(kind, _) = &node.op else {
                continue;
            };
            let mut all = vec!["y".to_string()];
            all.extend(kind.more_outputs().into_iter().map(|(n, _)| n));
            let span = node.span;
            self.fail(
                CheckError::invalid(
                    format!(
                        "this layer gives {} values ({}), and a pipe passes on one",
                        all.len(),
                        all.join(", ")
                    ),
                    "several outputs".into(),
                    span,
                )
                .with_help(format!(
                    "name each on a line of its own: `{} = x | ...`, then use them",
                    all.join(", ")
                )),
            );
        }
    }

    /// A block used on value `v`: its parameters bound from the call, its body read in place.
    /// A graph block's inputs after the first are values of `scope`, named by the call.
    fn block(
        &mut self,
        call: &Call,
        name: &Ident,
        params: &[BlockParam],
        body: &BlockBody,
        v: usize,
        scope: Scope<'_>,
    ) -> Option<usize> {
        if self.depth >= MAX_BLOCK_DEPTH {
            self.fail(
                CheckError::invalid(
                    format!("blocks are nested more than {MAX_BLOCK_DEPTH} deep here"),
                    format!("`{}` used here", name.name),
                    call.span,
                )
                .with_help("a block cannot use itself, directly or through another block"),
            );
            return None;
        }
        let (call, inputs) = match body {
            BlockBody::Graph(graph) => {
                let (rest, mut more) = self.more_inputs(call, name, params, graph, scope)?;
                more.insert(0, v);
                (rest, more)
            }
            BlockBody::Layers(_) => (call.clone(), vec![v]),
        };
        let call = &call;
        let subst = self.bind(call, name, params)?;
        let outer = self
            .used_at
            .replace((call.span, format!("in this use of block `{}`", name.name)));
        self.depth += 1;
        let out = match body {
            BlockBody::Layers(items) => {
                if !super::file::check_repeats(items, self.errors) {
                    self.ok = false;
                    return None;
                }
                let mut v = Some(v);
                for c in LayerItem::expand(items) {
                    v = v.and_then(|v| self.apply(c, v, (&[], &[]), &subst));
                }
                v
            }
            BlockBody::Graph(graph) => self.graph_block(graph, name, &inputs, call.span, &subst),
        };
        self.depth -= 1;
        self.used_at = outer;
        out
    }

    /// A graph block's inputs after the first, passed by name (`memory = enc`, as
    /// cross-attention's `value = enc`): the call without those arguments, and the values
    /// they name in `scope`.
    fn more_inputs(
        &mut self,
        call: &Call,
        name: &Ident,
        params: &[BlockParam],
        graph: &AstGraph,
        scope: Scope<'_>,
    ) -> Option<(Call, Vec<usize>)> {
        let mut rest = call.clone();
        let mut values = Vec::new();
        let mut ok = true;
        for input in &graph.inputs[1..] {
            if let Some(p) = params.iter().find(|p| p.name.name == input.name) {
                self.fail(
                    CheckError::invalid(
                        format!(
                            "`{}` is both a parameter and an input of block `{}`",
                            input.name, name.name
                        ),
                        "an input".into(),
                        input.span,
                    )
                    .with_related(p.name.span, "a parameter")
                    .with_help("rename one of them"),
                );
                return None;
            }
            let named =
                |a: &crate::syntax::ast::Arg| a.name.as_ref().is_some_and(|n| n.name == input.name);
            let Some(at) = rest.args.iter().position(named) else {
                self.fail(
                    CheckError::missing_argument(&name.name, &input.name, call.span)
                        .with_related(input.span, "an input of the block")
                        .with_help(format!(
                            "name the value it reads: `x | {}({} = NAME)`",
                            name.name, input.name
                        )),
                );
                ok = false;
                continue;
            };
            let arg = rest.args.remove(at);
            if let Some(again) = rest.args.iter().find(|a| named(a)) {
                self.fail(CheckError::duplicate_argument(
                    &input.name,
                    again.value.span,
                    arg.value.span,
                ));
                ok = false;
                continue;
            }
            let value = match &arg.value.kind {
                ExprKind::Name(id) if scope.0.is_empty() => {
                    self.fail(
                        CheckError::invalid(
                            format!("`{}` is not a value here: a stack of layers names no values", id.name),
                            format!("input `{}` of block `{}`", input.name, name.name),
                            id.span,
                        )
                        .with_help(format!(
                            "a block of several inputs is used in a graph model: `model NAME (x) {{ ... y = x | {}({} = m) ... return y }}`",
                            name.name, input.name
                        )),
                    );
                    None
                }
                ExprKind::Name(id) => self.name(id, scope.0, scope.1),
                _ => {
                    self.fail(
                        CheckError::invalid(
                            format!(
                                "input `{}` of block `{}` is a value of the model",
                                input.name, name.name
                            ),
                            "not a value".into(),
                            arg.value.span,
                        )
                        .with_help(format!(
                            "name the value first: `m = x | dense(8)`, then `{} = m`",
                            input.name
                        )),
                    );
                    None
                }
            };
            match value {
                Some(v) => values.push(v),
                None => ok = false,
            }
        }
        ok.then_some((rest, values))
    }

    /// A graph block's body read with its inputs bound to `values`, the piped value first.
    fn graph_block(
        &mut self,
        graph: &AstGraph,
        name: &Ident,
        values: &[usize],
        span: Span,
        subst: &Substitution,
    ) -> Option<usize> {
        let env: Vec<(String, usize)> = graph
            .inputs
            .iter()
            .map(|i| i.name.clone())
            .zip(values.iter().copied())
            .collect();
        // An input counts as read when the block reads it; what read it before stays read.
        let was_used: Vec<bool> = values.iter().map(|&v| self.used[v]).collect();
        for &v in values {
            self.used[v] = false;
        }
        let outs = self.body(graph, env, subst);
        // After an error in the body, an input may look unread: its reader failed.
        for (input, &v) in graph.inputs.iter().zip(values) {
            if outs.is_some() && !self.used[v] {
                self.fail(CheckError::invalid(
                    format!(
                        "input `{}` of block `{}` is never used",
                        input.name, name.name
                    ),
                    "never read".into(),
                    input.span,
                ));
            }
        }
        // The values a use of the block names are read by that use.
        for (k, (&v, was)) in values.iter().zip(was_used).enumerate() {
            self.used[v] |= was || k > 0;
        }
        let outs = outs?;
        if outs.len() != 1 {
            self.fail(CheckError::invalid(
                format!(
                    "block `{}` returns {} values, a pipe takes one",
                    name.name,
                    outs.len()
                ),
                "used in a pipe".into(),
                span,
            ));
            return None;
        }
        Some(outs[0].0)
    }

    /// The block's parameters bound to the call's arguments and the defaults.
    fn bind(&mut self, call: &Call, name: &Ident, params: &[BlockParam]) -> Option<Substitution> {
        let known: Vec<&str> = params.iter().map(|p| p.name.name.as_str()).collect();
        let mut values: HashMap<String, Expr> = HashMap::new();
        let mut positional = 0;
        let mut ok = true;
        for arg in &call.args {
            let param = match &arg.name {
                Some(n) => {
                    if !known.contains(&n.name.as_str()) {
                        self.fail(CheckError::unknown_parameter(
                            &name.name, &n.name, n.span, &known,
                        ));
                        ok = false;
                        continue;
                    }
                    n.name.clone()
                }
                None => {
                    let Some(p) = known.get(positional) else {
                        self.fail(CheckError::too_many_arguments(
                            &name.name,
                            known.len(),
                            arg.value.span,
                        ));
                        ok = false;
                        continue;
                    };
                    positional += 1;
                    (*p).to_string()
                }
            };
            if values.insert(param.clone(), arg.value.clone()).is_some() {
                self.fail(CheckError::duplicate_argument(
                    &param,
                    arg.value.span,
                    call.span,
                ));
                ok = false;
            }
        }
        for p in params {
            if values.contains_key(&p.name.name) {
                continue;
            }
            match &p.default {
                Some(d) => {
                    values.insert(p.name.name.clone(), d.clone());
                }
                None => {
                    self.fail(
                        CheckError::missing_argument(&name.name, &p.name.name, call.span)
                            .with_related(p.name.span, "declared here"),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(Substitution { values })
    }
}

/// A layer of a stack (or of a block of layers) that names a value to read beside its
/// input: a stack has no named values.
pub fn second_input_in_stack(name: &str, span: Span) -> CheckError {
    CheckError::invalid(
        format!("`{name}` is not a value here: a stack of layers names no values"),
        "names a value of the model".into(),
        span,
    )
    .with_help(format!(
        "a layer reads another value (cross-attention's `value`, a recurrent layer's `initial_state`) in a graph model: write the model with a named input, `model NAME (x) {{ ... y = x | attention(heads = 4, value = {name}) ... return y }}`"
    ))
}

/// A layer of several outputs in a stack, which passes one value from layer to layer.
pub fn several_outputs_in_stack(kind: &LayerKind, span: Span) -> CheckError {
    let mut all = vec!["y".to_string()];
    all.extend(kind.more_outputs().into_iter().map(|(n, _)| n));
    CheckError::invalid(
        format!(
            "this layer gives {} values ({}), and a stack of layers passes on one",
            all.len(),
            all.join(", ")
        ),
        "several outputs".into(),
        span,
    )
    .with_help(format!(
        "write the model as a graph that names each: `model NAME (x) {{ {} = x | ... }}`",
        all.join(", ")
    ))
}

/// How many values a graph's `return` lists (0 without one).
fn values_len(graph: &AstGraph) -> usize {
    graph
        .stmts
        .iter()
        .find_map(|s| match &s.kind {
            GraphStmtKind::Return(v) => Some(v.len()),
            GraphStmtKind::Assign { .. } => None,
        })
        .unwrap_or(0)
}

/// A stack of calls that uses a block, read as a graph of one input.
pub fn read_stack_with_blocks(
    calls: &[&Call],
    span: Span,
    blocks: &Blocks<'_>,
    errors: &mut Vec<CheckError>,
) -> Option<GraphDraft> {
    let mut r = Reader {
        blocks,
        nodes: Vec::new(),
        inputs: 1,
        used: vec![false],
        used_at: None,
        depth: 0,
        unnamed: Vec::new(),
        errors,
        ok: true,
    };
    let mut v = Some(r.read(0));
    for call in calls {
        v = v.and_then(|v| r.apply(call, v, (&[], &[]), &Substitution::default()));
    }
    r.unnamed_outputs();
    let v = v?;
    r.ok.then(|| GraphDraft {
        inputs: vec![("x".into(), span)],
        nodes: r.nodes,
        outputs: vec![(v, span)],
    })
}

/// Infers every node's shape from the inputs' shapes, naming layers Keras style over the
/// whole model (`conv2d`, `conv2d_1`, ...).
pub fn infer_graph(
    name: &str,
    input_shapes: &[Vec<usize>],
    draft: &GraphDraft,
    span: Span,
    errors: &mut Vec<CheckError>,
) -> Option<Model> {
    let mut shapes: Vec<Vec<usize>> = input_shapes.to_vec();
    let mut layers = Vec::new();
    let mut nodes: Vec<Node> = Vec::with_capacity(draft.nodes.len());
    let mut counts = HashMap::<&str, usize>::new();
    for node in &draft.nodes {
        let before = errors.len();
        let ins: Vec<&Vec<usize>> = node.inputs.iter().map(|&v| &shapes[v]).collect();
        let out = match &node.op {
            DraftOp::Layer(kind, trainable) => {
                let mut kind = kind.clone();
                if ins.len() > 1 {
                    kind.set_more_input_shapes(ins[1..].iter().map(|s| (*s).clone()).collect());
                }
                kind.output_shape(ins[0], node.span, errors).map(|out| {
                    let base = kind.entry().base_name;
                    let n = counts.entry(base).or_default();
                    let layer_name = if *n == 0 {
                        base.to_string()
                    } else {
                        format!("{base}_{n}")
                    };
                    *n += 1;
                    layers.push(Layer {
                        name: layer_name,
                        kind,
                        input_shape: ins[0].clone(),
                        output_shape: out.clone(),
                        span: node.span,
                        trainable: *trainable,
                    });
                    (NodeOp::Layer(layers.len() - 1), out)
                })
            }
            DraftOp::Add | DraftOp::Multiply => {
                let (op, sym, keras) = if matches!(node.op, DraftOp::Add) {
                    (NodeOp::Add, "+", "Add")
                } else {
                    (NodeOp::Multiply, "*", "Multiply")
                };
                match ins.iter().find(|s| **s != ins[0]) {
                    Some(other) => {
                        errors.push(
                            CheckError::shape(
                                format!(
                                    "`{sym}` needs values of one shape, got {:?} and {other:?}",
                                    ins[0]
                                ),
                                format!("{:?} {sym} {other:?}", ins[0]),
                                node.span,
                                format!("{keras} works elementwise: make both sides the same shape (e.g. a `dense` or a 1x1 `conv2d` on one side)"),
                            ),
                        );
                        None
                    }
                    None => Some((op, ins[0].clone())),
                }
            }
            DraftOp::Concat(axis) => concat_shape(&ins, *axis, node.span, errors)
                .map(|(axis, out)| (NodeOp::Concat { axis }, out)),
            DraftOp::Output(index) => {
                let of = node.inputs[0] - input_shapes.len();
                let NodeOp::Layer(l) = nodes[of].op else {
                    unreachable!("an output node reads a layer of several outputs")
                };
                let shape = layers[l].kind.more_outputs()[index - 1].1.clone();
                Some((NodeOp::Output { index: *index }, shape))
            }
        };
        if let Some((span, label)) = &node.used_at {
            for e in &mut errors[before..] {
                if e.related.is_none() {
                    e.related = Some((*span, label.clone()));
                }
            }
        }
        let (op, out) = out?;
        nodes.push(Node {
            op,
            inputs: node.inputs.clone(),
            output_shape: out.clone(),
            span: node.span,
        });
        shapes.push(out);
    }
    let inputs = draft
        .inputs
        .iter()
        .zip(input_shapes)
        .map(|((n, _), s)| GraphInput {
            name: n.clone(),
            shape: s.clone(),
        })
        .collect();
    let graph = Graph {
        inputs,
        nodes,
        outputs: draft.outputs.iter().map(|(v, _)| *v).collect(),
    };
    super::mask::check_graph_masks(&layers, &graph, errors);
    Some(Model {
        name: name.to_string(),
        input_shape: input_shapes.first().cloned().unwrap_or_default(),
        layers,
        span,
        graph: Some(graph),
    })
}

/// Keras' Concatenate: along channels for images (axis 0 of the element shape, which is
/// channels first), along features for flat values; the other axes must agree.
fn concat_shape(
    ins: &[&Vec<usize>],
    axis: Option<usize>,
    span: Span,
    errors: &mut Vec<CheckError>,
) -> Option<(usize, Vec<usize>)> {
    let rank = ins[0].len();
    let axis = axis.unwrap_or(0);
    if axis >= rank {
        errors.push(CheckError::shape(
            format!("`concat` along axis {axis} of values of shape {:?}", ins[0]),
            format!(
                "values have {rank} ax{}",
                if rank == 1 { "is" } else { "es" }
            ),
            span,
            "axis 0 is the channels of images and the features of flat values",
        ));
        return None;
    }
    if axis != 0 {
        errors.push(CheckError::shape(
            format!("`concat` joins along axis 0 (channels or features), not {axis}"),
            format!("axis {axis}"),
            span,
            "leave `axis` out, or write `axis = 0`",
        ));
        return None;
    }
    let mut out = ins[0].clone();
    for s in &ins[1..] {
        let same_rest = s.len() == rank && s[1..] == ins[0][1..];
        if !same_rest {
            errors.push(CheckError::shape(
                format!(
                    "`concat` joins values that agree but for axis {axis}, got {:?} and {s:?}",
                    ins[0]
                ),
                format!("{:?} and {s:?}", ins[0]),
                span,
                "flatten images before joining them with flat values: `x | flatten()`",
            ));
            return None;
        }
        out[axis] += s[axis];
    }
    Some((axis, out))
}
