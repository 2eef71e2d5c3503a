//! Check: resolves names, validates values and infers shapes, turning the AST
//! into a `plan::Experiment`, or into every error found (not just the first).
//!
//! `file` walks the file in phases and calls the rest: `data`, `model` and
//! `optimizers` (losses too) read declarations, `call` and `args` their
//! arguments; `train` reads `train { }` and desugars its standard step;
//! `steps` and `tensor` type steps; `metrics`, `grid` and `hooks` (with
//! `scalar` and `format`) check what runs around them; `paths` where outputs
//! are written; `resources` estimates memory. `plan` is the result.

mod accumulate;
pub mod args;
mod average;
pub mod call;
mod classify;
pub mod data;
pub mod error;
mod evaluation;
mod every;
pub mod file;
mod format;
pub mod graph;
pub mod grid;
pub mod hooks;
pub mod init;
pub mod json;
mod kinds;
mod mask;
pub mod metrics;
pub mod model;
mod norm;
pub mod optimizers;
pub mod paths;
pub mod plan;
mod plateau;
pub mod resources;
pub mod sample;
mod scalar;
pub mod sources;
pub mod steps;
mod stopping;
pub mod summary;
pub mod tensor;
pub mod train;

pub use error::CheckError;
pub use plan::Experiment;

use crate::source::Span;
use crate::syntax::ast::{DeclKind, File, Ident};

/// Names declared at the top level, in declaration order, with their spans.
pub struct Table<T> {
    pub items: Vec<(Ident, T)>,
    /// Names declared with errors of their own: references to them are not
    /// reported again (one mistake, one diagnostic).
    pub broken: Vec<String>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            items: Vec::new(),
            broken: Vec::new(),
        }
    }
}

impl<T> Table<T> {
    pub fn insert(&mut self, what: &str, name: &Ident, item: T, errors: &mut Vec<CheckError>) {
        if let Some((first, _)) = self.items.iter().find(|(n, _)| n.name == name.name) {
            errors.push(CheckError::duplicate(
                what, &name.name, name.span, first.span,
            ));
        } else {
            self.items.push((name.clone(), item));
        }
    }

    /// Records a declaration that failed its own checks.
    pub fn insert_broken(&mut self, name: &Ident) {
        self.broken.push(name.name.clone());
    }

    pub fn is_broken(&self, name: &str) -> bool {
        self.broken.iter().any(|b| b == name)
    }

    pub fn index(&self, name: &str) -> Option<usize> {
        self.items.iter().position(|(n, _)| n.name == name)
    }

    pub fn names(&self) -> Vec<&str> {
        self.items.iter().map(|(n, _)| n.name.as_str()).collect()
    }

    /// Resolves a reference, or reports it as unknown with a suggestion.
    pub fn resolve(&self, what: &str, name: &Ident, errors: &mut Vec<CheckError>) -> Option<usize> {
        let found = self.index(&name.name);
        if found.is_none() && !self.is_broken(&name.name) {
            errors.push(CheckError::unknown(
                what,
                &name.name,
                name.span,
                &self.names(),
            ));
        }
        found
    }
}

/// Checks a parsed file, reading the data files it names (CSV tables) from the current
/// folder. `Err` holds every error found, in file order.
pub fn check(file: &File) -> Result<Experiment, Vec<CheckError>> {
    check_with(file, &crate::data::preflight::OnDisk::new("."))
}

/// Checks a parsed file, learning what its data files say through `files`.
pub fn check_with(
    file: &File,
    files: &dyn sources::DataFiles,
) -> Result<Experiment, Vec<CheckError>> {
    let mut errors = Vec::new();
    let experiment = file::check_file(file, files, &mut errors);
    paths::check_output_paths(file, &mut errors);
    if let Err(sweep) = crate::sweep::block::lower(file) {
        errors.extend(sweep);
    }
    if let Some(exp) = &experiment {
        resources::check_fits(exp, resources::machine_memory(), &mut errors);
        norm::check_batch_statistics(exp, &mut errors);
    }
    errors.sort_by_key(|e| (e.span.start, e.span.end));
    errors.dedup();
    match experiment {
        Some(experiment) if errors.is_empty() => Ok(experiment),
        _ => Err(errors),
    }
}

/// The span of the first declaration of a kind, for errors about the file as a whole.
pub fn first_decl_span(file: &File, pred: impl Fn(&DeclKind) -> bool) -> Span {
    file.decls
        .iter()
        .find(|d| pred(&d.kind))
        .map_or(Span::new(0, 0), |d| d.span)
}
