//! Errors from writing and reading what a run produces.

use std::io;
use std::path::PathBuf;

use miette::Diagnostic;
use thiserror::Error;

/// Result alias for the `output` stage.
pub type OutputResult<T> = Result<T, OutputError>;

/// Everything that can go wrong when a run writes (or a later command reads) its files.
#[derive(Debug, Error, Diagnostic)]
pub enum OutputError {
    #[error("cannot write `{}`: directory `{}` does not exist", path.display(), dir.display())]
    #[diagnostic(
        code(expr::output::missing_directory),
        help("create the directory first, or choose an output path inside an existing one")
    )]
    MissingDirectory { path: PathBuf, dir: PathBuf },

    #[error("cannot write `{}`: `{}` is not a directory", path.display(), dir.display())]
    #[diagnostic(
        code(expr::output::not_a_directory),
        help("choose an output path whose parent is a directory")
    )]
    NotADirectory { path: PathBuf, dir: PathBuf },

    #[error("cannot write `{}`: the path does not name a file", path.display())]
    #[diagnostic(
        code(expr::output::not_a_file_path),
        help("give a file name such as `model.safetensors`, not a directory or `..`")
    )]
    NotAFilePath { path: PathBuf },

    #[error("cannot write `{}`: directory `{}` is not writable", path.display(), dir.display())]
    #[diagnostic(
        code(expr::output::not_writable),
        help("fix the directory's permissions, or choose an output directory you can write to")
    )]
    NotWritable {
        path: PathBuf,
        dir: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("cannot write `{}`: it is {kind}, and only a regular file is ever replaced", path.display())]
    #[diagnostic(
        code(expr::output::not_a_regular_file),
        help("remove it or choose another path; an output never replaces a link, device, pipe, socket or folder")
    )]
    NotRegularTarget { path: PathBuf, kind: &'static str },

    #[error("cannot write `{}`: `{}` is {kind}, not a folder inside the run directory", path.display(), dir.display())]
    #[diagnostic(
        code(expr::output::not_a_folder),
        help("remove or rename `{}`; outputs are written only into real folders of the run directory", dir.display())
    )]
    NotAFolder {
        path: PathBuf,
        dir: PathBuf,
        kind: &'static str,
    },

    #[error("cannot write `{}`: `{relative}` is not a path inside the run directory", dir.display())]
    #[diagnostic(
        code(expr::output::outside_run_directory),
        help("outputs are relative paths without `..`; `expr check` reports the path")
    )]
    OutsideRunDirectory { dir: PathBuf, relative: String },

    #[error("not enough free space in `{}`: {available} free, the run needs about {needed}", dir.display())]
    #[diagnostic(
        code(expr::output::no_space),
        help("free some space, choose another `--runs-dir`, or keep fewer checkpoints (`checkpoint_keep`); the estimate counts {what}")
    )]
    NoSpace {
        dir: PathBuf,
        available: String,
        needed: String,
        what: String,
    },

    #[error("failed to write `{}`", path.display())]
    #[diagnostic(
        code(expr::output::write_failed),
        help("check that the disk is not full; nothing was written at this path")
    )]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("cannot read `{}`: the file does not exist", path.display())]
    #[diagnostic(
        code(expr::output::file_not_found),
        help("check the path; a model file exists only after a run has saved its model")
    )]
    FileNotFound { path: PathBuf },

    #[error("cannot read `{}`: {reason}", path.display())]
    #[diagnostic(
        code(expr::output::read_refused),
        help(
            "give the path of a regular file (a symbolic link to one is fine) of a plausible size"
        )
    )]
    ReadRefused { path: PathBuf, reason: String },

    #[error("failed to read `{}`", path.display())]
    #[diagnostic(
        code(expr::output::read_failed),
        help("check that the file is readable")
    )]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("`{}` is not a valid safetensors file: {reason}", path.display())]
    #[diagnostic(
        code(expr::output::not_safetensors),
        help("the file is truncated or of another format; write it again with `expr`, or check the path")
    )]
    NotSafetensors { path: PathBuf, reason: String },

    #[error("tensor `{name}` in `{}` has dtype {dtype}, expected F32", path.display())]
    #[diagnostic(
        code(expr::output::unsupported_dtype),
        help("expr reads float32 tensors only; convert the file to float32 (for example with numpy's `astype(np.float32)`)")
    )]
    UnsupportedDtype {
        path: PathBuf,
        name: String,
        dtype: String,
    },

    #[error("tensor `{name}` has shape {shape:?} ({expected} values) but {actual} values")]
    #[diagnostic(
        code(expr::output::tensor_size_mismatch),
        help("the data length must equal the product of the shape")
    )]
    TensorSizeMismatch {
        name: String,
        shape: Vec<usize>,
        expected: usize,
        actual: usize,
    },

    #[error("tensor name `{name}` appears more than once")]
    #[diagnostic(
        code(expr::output::duplicate_tensor),
        help("give every saved tensor a distinct name")
    )]
    DuplicateTensor { name: String },

    #[error("cannot draw `{}`: {reason}", path.display())]
    #[diagnostic(
        code(expr::output::plot_failed),
        help("this is a problem drawing the image; check the plotted values and the output path")
    )]
    Plot { path: PathBuf, reason: String },

    #[error("cannot tile images into `{}`: {reason}", path.display())]
    #[diagnostic(
        code(expr::output::bad_image_grid),
        help("pass `n * h * w` values, with `n`, `h`, `w` and `cols` all at least 1")
    )]
    ImageGrid { path: PathBuf, reason: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostics_carry_an_output_code_and_help() {
        let errors = [
            OutputError::MissingDirectory {
                path: PathBuf::from("runs/x/model.safetensors"),
                dir: PathBuf::from("runs/x"),
            },
            OutputError::NotSafetensors {
                path: PathBuf::from("m.safetensors"),
                reason: "the header is not safetensors JSON".to_owned(),
            },
            OutputError::UnsupportedDtype {
                path: PathBuf::from("m.safetensors"),
                name: "w".to_owned(),
                dtype: "F16".to_owned(),
            },
        ];
        for err in &errors {
            let code = err.code().map(|c| c.to_string()).unwrap_or_default();
            assert!(code.starts_with("expr::output::"), "{code}");
            assert!(err.help().is_some(), "{err}");
            let message = err.to_string();
            assert!(!message.starts_with(char::is_uppercase), "{message}");
        }
        assert_eq!(
            errors[0].to_string(),
            "cannot write `runs/x/model.safetensors`: directory `runs/x` does not exist"
        );
    }
}
