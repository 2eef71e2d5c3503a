//! The catalogue: every name the language knows as a call (layers, activations, losses,
//! optimizers, schedules, data sources and transforms), with its parameters, their types
//! and defaults, its name in the model summary and in override paths, its Keras class, and
//! its line in `docs/language.md`, declared once.
//!
//! Each kind is an enum of ids (`Optimizer::Sgd`) whose `entry` is a plain `static`: adding
//! a variant fails to compile until it has an entry, and until every reader's `match` over
//! the kind handles it. `check` reads calls against these entries (parameter lists,
//! defaults, the "known …" lists of its diagnostics), `overrides` and `diff` take parameter
//! lists and base names from here, and `docs` renders the language guide's tables.
//!
//! Nothing here knows the AST, the checked plan or dfdx: it is data.

pub mod data;
pub mod docs;
pub mod initializers;
pub mod layers;
pub mod losses;
pub mod optimizers;
pub mod regularizers;
pub mod schedules;

pub use data::{Source, Transform};
pub use initializers::Initializer;
pub use layers::{Activation, Layer};
pub use losses::Loss;
pub use optimizers::Optimizer;
pub use regularizers::Regularizer;
pub use schedules::Function;

/// What a catalogue entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A layer of a model: `dense(units = 10)`.
    Layer,
    /// `activation = relu`; all but `linear` are also layers of their own (`relu()`).
    Activation,
    Loss,
    Optimizer,
    /// A learning-rate schedule in a hook's scalar expression: `warmup(1e-3, 500)`.
    Schedule,
    /// A maths function in a hook's scalar expression: `min(a, b)`.
    Function,
    /// What starts a data pipeline: `mnist(split = "train")`.
    Source,
    /// A step of a data pipeline after its source: `batch(64)`.
    Transform,
    /// How a layer's weights start: `kernel_init = he_normal`.
    Initializer,
    /// A penalty on a layer's kernel: `kernel_regularizer = l2(0.01)`.
    Regularizer,
}

/// One name the language knows.
#[derive(Debug, PartialEq)]
pub struct Entry {
    pub name: &'static str,
    pub kind: Kind,
    /// Other spellings (`mean_squared_error` for `mse`), accepted but never listed.
    pub aliases: &'static [&'static str],
    /// In positional order.
    pub params: &'static [Param],
    /// Positional arguments taken after `params`, as many as given, named this in
    /// diagnostics: `reshape(d1, d2, ...)`'s "dimensions". Each is a whole number from 1.
    pub rest: Option<&'static str>,
    /// The name of a layer in the model summary and in override paths, before numbering
    /// (`max_pooling2d`, then `max_pooling2d_1`); the name itself for everything else.
    pub base_name: &'static str,
    /// The Keras class it corresponds to, where there is one (the summary shows a layer's).
    pub class_name: Option<&'static str>,
    /// What it is, in one line of the language guide.
    pub doc: &'static str,
}

/// A parameter of an entry.
#[derive(Debug, PartialEq)]
pub struct Param {
    pub name: &'static str,
    pub ty: Type,
    pub default: Default,
}

/// What a parameter accepts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Type {
    /// A whole number at least `min`.
    Count {
        min: usize,
    },
    /// A whole number from 1, or a pair of them: `3` or `(3, 3)`.
    Pair,
    /// Any finite number.
    Number,
    /// A number greater than 0.
    Positive,
    /// A number 0 or more.
    NonNegative,
    /// A number in [0, 1).
    Fraction,
    Bool,
    /// The name of an activation (`Activation`).
    Activation,
    /// An initializer (`Initializer`): its name, or a call with its parameters.
    Initializer,
    /// A regularizer (`Regularizer`), a call or a name (with its defaults), or `none`.
    Regularizer,
    /// A bare name, one of these.
    Name(&'static [&'static str]),
    /// A string in double quotes; one of these, unless the list is empty.
    Text(&'static [&'static str]),
    /// A string, or a tuple of them: `"a"` or `("a", "b")` (column names).
    Texts,
    /// A tuple of numbers ≥ 0, not all 0: `(1.0, 2.5)` (one per class); `none` by default.
    Numbers,
    /// A number, or a tuple of them, one per channel: `0.5` or `(0.49, 0.48, 0.45)`; each
    /// greater than 0 when `positive`.
    Channels {
        positive: bool,
    },
    /// The name of a `data` declaration.
    DataName,
    /// The name of a value computed in a graph model (cross-attention's keys and values).
    ValueName,
    /// A value of a graph model, or a tuple of them (a recurrent layer's initial state).
    ValueNames,
    /// A scalar expression over the loop's state (schedules' and functions' arguments).
    Scalar,
}

/// What a parameter is when a call leaves it out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Default {
    /// The call must give it. Checking reports it missing and goes on as if it were this
    /// placeholder, so that the rest of the file is still checked.
    Required(Value),
    /// This value.
    Is(Value),
    /// The value of another parameter of the call (`stride = pool`).
    SameAs(&'static str),
    /// Worked out from the input and the other parameters, as the text says for the guide
    /// (attention's `key_dim = width / heads`).
    Derived(&'static str),
}

/// A default or placeholder value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    Number(f64),
    /// A whole number.
    Count(usize),
    Bool(bool),
    /// A bare name: `linear`, `valid`.
    Name(&'static str),
    Pair(usize, usize),
    /// A string; the empty one where nothing stands in for a missing path.
    Text(&'static str),
}

impl Entry {
    pub fn param(&self, name: &str) -> Option<&'static Param> {
        self.params.iter().find(|p| p.name == name)
    }

    /// The parameters' names, in positional order.
    pub fn param_names(&self) -> Vec<&'static str> {
        self.params.iter().map(|p| p.name).collect()
    }

    /// Whether a call by this name means this entry (its name or an alias).
    pub fn answers_to(&self, name: &str) -> bool {
        self.name == name || self.aliases.contains(&name)
    }

    /// The positional parameters that must be given: the fewest arguments a call takes.
    pub fn required(&self) -> usize {
        self.params
            .iter()
            .filter(|p| matches!(p.default, Default::Required(_)))
            .count()
    }
}

impl Param {
    pub fn is_required(&self) -> bool {
        matches!(self.default, Default::Required(_))
    }
}

/// The ids of one kind of entry, in the order diagnostics list them.
pub trait Catalogued: Copy + Sized + 'static {
    /// Every id, in the order of the "known …" lists.
    const ALL: &'static [Self];

    fn entry(self) -> &'static Entry;

    /// The id a call by this name means (a name or an alias).
    fn named(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|id| id.entry().answers_to(name))
    }

    /// The names a diagnostic lists as known (aliases left out).
    fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|id| id.entry().name).collect()
    }
}

fn entries_of<T: Catalogued>() -> impl Iterator<Item = &'static Entry> {
    T::ALL.iter().map(|id| id.entry())
}

/// Every entry, once, kind by kind: layers, activations (`linear` and the activation
/// layers), losses, optimizers, functions and schedules, sources, transforms.
pub fn entries() -> impl Iterator<Item = &'static Entry> {
    let layers = entries_of::<Layer>().filter(|e| e.kind == Kind::Layer);
    layers
        .chain(entries_of::<Activation>())
        .chain(entries_of::<Loss>())
        .chain(entries_of::<Optimizer>())
        .chain(entries_of::<Function>())
        .chain(entries_of::<Source>())
        .chain(entries_of::<Transform>())
        .chain(entries_of::<Initializer>())
        .chain(entries_of::<Regularizer>())
}

/// The entry a call in a declaration means (a layer, loss, optimizer, source or
/// transform), whatever the declaration: overrides and diffs read files that may not check.
pub fn callable(name: &str) -> Option<&'static Entry> {
    Layer::named(name)
        .map(Layer::entry)
        .or_else(|| Loss::named(name).map(Loss::entry))
        .or_else(|| Optimizer::named(name).map(Optimizer::entry))
        .or_else(|| Source::named(name).map(Source::entry))
        .or_else(|| Transform::named(name).map(Transform::entry))
}

/// The parameters of a call in a declaration, in positional order; none for a name the
/// catalogue does not know.
pub fn call_params(callee: &str) -> Vec<&'static str> {
    callable(callee).map(Entry::param_names).unwrap_or_default()
}

/// A model's call named as a layer of the summary, before numbering: `max_pooling2d` for
/// `maxpool2d`; an unknown name stands for itself.
pub fn layer_base(callee: &str) -> &str {
    Layer::named(callee).map_or(callee, |l| l.entry().base_name)
}

#[cfg(test)]
mod tests;
