//! Errors of reading and writing run records.

use std::path::PathBuf;

/// A run record that cannot be written or read.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum RecordError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Write(#[from] crate::output::OutputError),

    #[error("cannot create the run directory `{}`: {source}", path.display())]
    #[diagnostic(
        code(expr::record::run_dir),
        help("pass `--runs-dir` with a directory you can write to")
    )]
    RunDir {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("cannot read the run record `{}`: {source}", path.display())]
    #[diagnostic(
        code(expr::record::read),
        help(
            "give the path of a `run.yaml` inside a run directory, e.g. `runs/mnist/<id>/run.yaml`"
        )
    )]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("`{}` is not a valid run record: {message}", path.display())]
    #[diagnostic(
        code(expr::record::invalid),
        help("run records are written by `expr run`; restore the file from the run, or rerun the experiment")
    )]
    Invalid { path: PathBuf, message: String },

    #[error("`{}` has record format {found}, this expr reads format {expected}", path.display())]
    #[diagnostic(
        code(expr::record::format),
        help("use the expr version that wrote the record (see `versions.expr` in it)")
    )]
    Format {
        path: PathBuf,
        found: u32,
        expected: u32,
    },

    #[error("the run record `{}` was edited: {problem}", path.display())]
    #[diagnostic(
        code(expr::record::edited),
        help("`{field}` no longer matches what the run wrote; restore the record, or pass `--accept-edited-record` to use it as it is now (the run then continues or repeats what the edited record says, not what ran)")
    )]
    Edited {
        path: PathBuf,
        field: String,
        problem: String,
    },

    #[error("data `{data}` changed since the run read it: `{file}` has sha256 {found}, the run record `{}` says {recorded}", path.display())]
    #[diagnostic(
        code(expr::record::data_changed),
        help("resume with the data the run started with (the record's `data` list names each file and its sha256), or start a new run with `expr run FILE`")
    )]
    DataChanged {
        path: PathBuf,
        data: String,
        file: String,
        recorded: String,
        found: String,
    },

    #[error("the run record `{}` holds no experiment text to rerun", path.display())]
    #[diagnostic(
        code(expr::record::no_source),
        help("only runs started from a `.exp` file can be rerun; run the file again with `expr run FILE`")
    )]
    NoSource { path: PathBuf },
}

pub type RecordResult<T> = Result<T, RecordError>;
