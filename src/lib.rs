//! expr: a declarative language and interpreter for deep-learning experiments.
//!
//! The pipeline is visible in the module layout: `syntax` (pest → AST with spans) →
//! `check` (names, types, shapes) → `lower` (onto dfdx tensors and tape) → `run`
//! (the epoch/step loop, metrics, hooks, records). `ops` holds our own tape ops
//! (conv2d, pooling), `data` the dataset readers and the input pipeline, `output`
//! what a run writes (plots, model files, progress). `cli` is the command line's face: the
//! arguments, printing and exit codes of each subcommand; no other module imports it.
//! `catalog` declares every layer, activation, loss, optimizer, function, data source and
//! transform once; `check`, `overrides`, `diff` and the language guide's tables read it.
//! `files` opens every user-named path to read (regular files only, sizes checked first).

pub mod catalog;
pub mod check;
pub mod cli;
pub mod data;
pub mod diff;
pub mod export;
pub mod files;
pub mod fmt;
pub mod frontend;
pub mod html_report;
pub mod layers;
pub mod lower;
pub mod lsp;
pub mod ops;
pub mod output;
pub mod overrides;
pub mod record;
pub mod report;
pub mod run;
pub mod runs;
pub mod source;
pub mod suggest;
pub mod sweep;
pub mod syntax;

/// The unit tests allocate as the `expr` binary does (`src/main.rs`), so that the timing
/// harnesses (`ops::timing`) measure what a run sees: with the system allocator each large
/// buffer was a fresh `mmap`, and its page faults took a fifth of their samples.
#[cfg(test)]
#[global_allocator]
static TEST_ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
