//! The abstract syntax tree: what the text says, with a span on everything a
//! diagnostic may point at. Nothing here is resolved or checked.

use crate::source::Span;

/// A name as written, with its place in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A whole `.exp` file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct File {
    pub decls: Vec<Decl>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Decl {
    pub kind: DeclKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DeclKind {
    Experiment {
        name: Ident,
        settings: Vec<Setting>,
    },
    Data {
        name: Ident,
        pipeline: Vec<Call>,
    },
    Model {
        name: Ident,
        layers: Vec<LayerItem>,
    },
    /// `model NAME (inputs) { ... return ... }`: a model that is a graph of layers.
    GraphModel {
        name: Ident,
        graph: Graph,
    },
    /// `block NAME(params) (inputs) { ... }` or `block NAME(params) { layers }`.
    Block {
        name: Ident,
        params: Vec<BlockParam>,
        body: BlockBody,
    },
    Loss {
        name: Ident,
        call: Call,
    },
    Optimizer {
        name: Ident,
        call: Call,
        models: Vec<Ident>,
    },
    Metrics {
        metrics: Vec<Metric>,
    },
    Train {
        settings: Vec<Setting>,
    },
    Step {
        data: Ident,
        x: Ident,
        y: Ident,
        body: Vec<Stmt>,
    },
    Hook {
        event: Event,
        body: Vec<Stmt>,
    },
    Before {
        body: Vec<Stmt>,
    },
    After {
        body: Vec<Stmt>,
    },
    /// `sweep { grid opt.lr = (1e-3, 3e-4) ... }`: what `expr sweep FILE` varies.
    Sweep {
        items: Vec<SweepItem>,
    },
}

/// One line of a `sweep { }` block.
#[derive(Debug, Clone, PartialEq)]
pub enum SweepItem {
    /// `grid opt.lr = (1e-3, 3e-4)` or `grid experiment.seed = 1..5`.
    Grid {
        path: SweepPath,
        values: GridValues,
        span: Span,
    },
    /// `uniform opt.lr = 1e-4 : 1e-2 log`.
    Uniform {
        path: SweepPath,
        low: Expr,
        high: Expr,
        /// `log` or `int`, as written.
        scale: Option<Ident>,
        span: Span,
    },
    /// `random = 8`, `seed = 1`, `jobs = 2`, `epochs = 3`.
    Setting(Setting),
}

impl SweepItem {
    /// The whole line, from its keyword (or setting name) to its last value.
    pub fn span(&self) -> Span {
        match self {
            SweepItem::Grid { span, .. } | SweepItem::Uniform { span, .. } => *span,
            SweepItem::Setting(s) => s.name.span.to(s.value.span),
        }
    }
}

impl GridValues {
    /// `(V1, V2)`, each value as `show` writes it, or `FIRST..LAST`: what `expr fmt` and
    /// `expr diff` print, each with its own way of writing a value.
    pub fn render(&self, show: impl Fn(&Expr) -> String) -> String {
        match self {
            GridValues::List { values, .. } => {
                let values: Vec<String> = values.iter().map(show).collect();
                format!("({})", values.join(", "))
            }
            GridValues::Range { first, last, .. } => format!("{first}..{last}"),
        }
    }
}

/// A uniform range, `LOW : HIGH log`, each bound as `show` writes it.
pub fn render_uniform(
    low: &Expr,
    high: &Expr,
    scale: Option<&Ident>,
    show: impl Fn(&Expr) -> String,
) -> String {
    let scale = scale.map(|s| format!(" {}", s.name)).unwrap_or_default();
    format!("{} : {}{scale}", show(low), show(high))
}

/// An override path as written in a sweep, `opt.lr`.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepPath {
    pub text: String,
    pub span: Span,
}

/// The values of a grid axis.
#[derive(Debug, Clone, PartialEq)]
pub enum GridValues {
    /// `(1e-3, 3e-4)`; `span` covers the parentheses. `texts` are the values as written,
    /// which become the points' overrides (as `--grid opt.lr=1e-3,3e-4` writes them).
    List {
        values: Vec<Expr>,
        texts: Vec<String>,
        span: Span,
    },
    /// `1..5`, each bound as written (it may not fit an `i64`: the checker says so).
    Range {
        first: String,
        last: String,
        span: Span,
    },
}

/// `name = value` inside `experiment { }` or `train { }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    pub name: Ident,
    pub value: Expr,
}

/// `train_loss = mean(loss) on train`.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: Ident,
    pub value: Expr,
    pub on: Ident,
}

/// When a hook runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `on step`, `on epoch_start`, `on epoch_end`, ...: checked against the known events.
    Named(Ident),
    /// `on every 100 steps`.
    EverySteps { steps: Expr, span: Span },
    /// `on improved(test_loss)`: an event with arguments, checked against the known events.
    Call(Call),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StmtKind {
    /// `target = value`; the target may be a dotted path (`opt.lr`).
    Assign { target: Vec<Ident>, value: Expr },
    /// `a, b = model(x)`: one name per output of a model.
    Unpack { targets: Vec<Ident>, value: Expr },
    /// `update opt minimizing loss`.
    Update { optimizer: Ident, loss: Expr },
    /// `log "format {expr:spec}"`.
    Log { format: StringLit },
    /// A bare call: `clip(norm = 1.0)`, `save(classifier, to = "m.safetensors")`.
    Call(Call),
    /// `every 5 steps { ... }` inside a step; `head` spans `every 5 steps`.
    Every {
        steps: Expr,
        head: Span,
        body: Vec<Stmt>,
    },
}

/// A string literal: its unescaped text, and the span of the text between the quotes.
#[derive(Debug, Clone, PartialEq)]
pub struct StringLit {
    pub value: String,
    /// The raw text between the quotes, as written (escapes not yet applied).
    pub raw: String,
    pub span: Span,
}

/// `name(arg, key = value)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub name: Ident,
    pub args: Vec<Arg>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    /// `Some` for `key = value`, `None` for a positional argument.
    pub name: Option<Ident>,
    pub value: Expr,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// A literal with a fraction or an exponent (`0.5`, `1e-3`), or a whole number too
    /// large for `Int`.
    Number(f64),
    /// A whole-number literal (`42`), exact up to `u64::MAX`: seeds use all 64 bits.
    Int(u64),
    Bool(bool),
    Str(StringLit),
    Name(Ident),
    /// `opt.lr`.
    Field(Box<Expr>, Ident),
    /// `t[:, 2:5]`: NumPy's basic indexing, one item per axis from the first.
    Index(Box<Expr>, Vec<IndexItem>),
    Tuple(Vec<Expr>),
    Call(Call),
    Neg(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
}

/// One item of `t[...]`: a position, or a range whose missing ends are the axis's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexItem {
    /// `3`, `-1`: one position (negative ones from the end); the axis goes.
    At { value: i64, span: Span },
    /// `2:5`, `:`, `-3:`: positions `start..end`; the axis stays.
    Range {
        start: Option<i64>,
        end: Option<i64>,
        span: Span,
    },
}

impl IndexItem {
    /// The item as written canonically: `3`, `-1`, `2:5`, `:`, `-3:`.
    pub fn text(&self) -> String {
        match self {
            IndexItem::At { value, .. } => value.to_string(),
            IndexItem::Range { start, end, .. } => {
                let side = |v: &Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
                format!("{}:{}", side(start), side(end))
            }
        }
    }

    pub fn span(&self) -> Span {
        match self {
            IndexItem::At { span, .. } | IndexItem::Range { span, .. } => *span,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Pow => "**",
        }
    }
}

impl ExprKind {
    /// A numeric literal's value as f64 (rounded for an `Int` above 2^53), or `None`.
    pub fn literal(&self) -> Option<f64> {
        match self {
            ExprKind::Number(v) => Some(*v),
            #[allow(clippy::cast_precision_loss)] // f64 arithmetic is what hooks compute in
            ExprKind::Int(v) => Some(*v as f64),
            _ => None,
        }
    }
}

impl Call {
    /// The argument at `position` among positional ones, or the one named `name`.
    pub fn arg(&self, position: usize, name: &str) -> Option<&Arg> {
        self.args
            .iter()
            .find(|a| a.name.as_ref().is_some_and(|n| n.name == name))
            .or_else(|| self.args.iter().filter(|a| a.name.is_none()).nth(position))
    }
}

/// The inputs and statements of a graph model or block.
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    pub inputs: Vec<Ident>,
    pub stmts: Vec<GraphStmt>,
}

/// A block's parameter: `filters`, or `strides = 1`.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockParam {
    pub name: Ident,
    pub default: Option<Expr>,
}

/// What a block holds: a graph, or layers in order.
#[derive(Debug, Clone, PartialEq)]
pub enum BlockBody {
    Graph(Graph),
    Layers(Vec<LayerItem>),
}

/// An entry of a stack of layers: a call, or calls repeated.
#[derive(Debug, Clone, PartialEq)]
pub enum LayerItem {
    Call(Call),
    /// `repeat 3 { ... }`: `count` as written (a whole number, checked by `check`).
    Repeat {
        count: Expr,
        items: Vec<LayerItem>,
        span: Span,
    },
}

/// Most times a `repeat` may run its calls.
pub const MAX_REPEAT: u64 = 1000;

/// Most layers a stack may expand to.
pub const MAX_LAYERS: usize = 10_000;

impl LayerItem {
    /// The calls of `items` in order, each repeat expanded (a count that is not a whole
    /// number up to [`MAX_REPEAT`] counts once: `check` reports it).
    pub fn expand(items: &[LayerItem]) -> Vec<&Call> {
        let mut out = Vec::new();
        if LayerItem::expanded_len(items) > MAX_LAYERS as u128 {
            // `check` reports it; nothing after it walks a model this large.
            return out;
        }
        for item in items {
            match item {
                LayerItem::Call(c) => out.push(c),
                LayerItem::Repeat { count, items, .. } => {
                    let n = match count.kind {
                        ExprKind::Int(n) if (1..=MAX_REPEAT).contains(&n) => n,
                        _ => 1,
                    };
                    let inner = LayerItem::expand(items);
                    for _ in 0..n {
                        out.extend(inner.iter().copied());
                    }
                }
            }
        }
        out
    }

    /// How many calls `items` expand to (saturating).
    pub fn expanded_len(items: &[LayerItem]) -> u128 {
        items.iter().fold(0u128, |sum, item| {
            sum.saturating_add(match item {
                LayerItem::Call(_) => 1,
                LayerItem::Repeat { count, items, .. } => {
                    let n = match count.kind {
                        ExprKind::Int(n) if (1..=MAX_REPEAT).contains(&n) => n,
                        _ => 1,
                    };
                    u128::from(n).saturating_mul(LayerItem::expanded_len(items))
                }
            })
        })
    }

    /// Where the item's text starts and ends.
    pub fn span(&self) -> Span {
        match self {
            LayerItem::Call(c) => c.span,
            LayerItem::Repeat { span, .. } => *span,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct GraphStmt {
    pub kind: GraphStmtKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum GraphStmtKind {
    /// `h = x | dense(8)`, or `y, h, c = x | lstm(8, return_state = true)`: one name per
    /// output of the value.
    Assign { names: Vec<Ident>, value: GraphExpr },
    /// `return a, b`.
    Return(Vec<GraphExpr>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct GraphExpr {
    pub kind: GraphExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum GraphExprKind {
    /// An input or a value named earlier.
    Name(Ident),
    /// `concat(a, b)`; a layer call with no input is reported by `check`.
    Call(Call),
    /// `x | dense(8) | relu()`: the value, then each layer or block in turn.
    Pipe(Box<GraphExpr>, Vec<Call>),
    /// `a + b + c`, elementwise.
    Add(Vec<GraphExpr>),
    /// `a * b`, elementwise.
    Mul(Vec<GraphExpr>),
}

impl GraphExpr {
    /// The expressions this one reads directly.
    pub fn children(&self) -> Vec<&GraphExpr> {
        match &self.kind {
            GraphExprKind::Name(_) | GraphExprKind::Call(_) => Vec::new(),
            GraphExprKind::Pipe(input, _) => vec![input],
            GraphExprKind::Add(items) | GraphExprKind::Mul(items) => items.iter().collect(),
        }
    }
}

impl Graph {
    /// The layer and block calls of the graph in the order they are written (`concat`s left out).
    pub fn layer_calls(&self) -> Vec<&Call> {
        fn walk<'a>(e: &'a GraphExpr, out: &mut Vec<&'a Call>) {
            for c in e.children() {
                walk(c, out);
            }
            if let GraphExprKind::Pipe(_, calls) = &e.kind {
                out.extend(calls);
            }
        }
        let mut out = Vec::new();
        for stmt in &self.stmts {
            match &stmt.kind {
                GraphStmtKind::Assign { value, .. } => walk(value, &mut out),
                GraphStmtKind::Return(values) => values.iter().for_each(|v| walk(v, &mut out)),
            }
        }
        out
    }
}
