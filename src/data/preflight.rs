//! What `expr check` (and `expr run`, before anything is created) verifies of the files an
//! experiment reads: each exists and is a file, each IDX header is sound, images and labels
//! count the same examples, and an element holds as many values as the declaration says;
//! CIFAR-10's batches, where they are on disk (`$EXPR_DATA`, or the cache once downloaded),
//! are all there and each a whole number of records. Only headers and lengths are read, so
//! this takes milliseconds even for large data sets; the full read at run time checks the
//! rest (the elements themselves, gzip's checksum, labels within the classes).

use miette::Diagnostic;

use super::cifar10::{cifar10_batch_records, find_cifar10};
use super::error::DataError;
use super::idx::{read_idx_dims, IdxKind};
use std::path::PathBuf;

use super::mnist::Split;
use crate::check::plan::{Action, DataSet, DataSource, Experiment};
use crate::check::sources::{DataFiles, Described};
use crate::check::CheckError;
use crate::source::Span;

/// What the checker learns from data files, read from disk with relative paths taken
/// from `base` (the folder of the `.exp` file).
pub struct OnDisk {
    base: PathBuf,
}

impl OnDisk {
    pub fn new(base: impl Into<PathBuf>) -> Self {
        OnDisk { base: base.into() }
    }
}

impl DataFiles for OnDisk {
    fn describe(&self, source: &DataSource, span: Span) -> Result<Described, Box<CheckError>> {
        let mut source = source.clone();
        source.rebase(&self.base);
        let (element_shape, labels) = super::sources::describe(&source).map_err(|e| {
            Box::new(match e {
                DataError::MissingFile { path, what } => file_error(
                    format!("cannot find {what} `{}`", path.display()),
                    Some(std::io::ErrorKind::NotFound),
                    span,
                    None,
                ),
                e => {
                    let help = e.help().map(|h| h.to_string());
                    data_file(e.to_string(), "this file".into(), span, help)
                }
            })
        })?;
        Ok(Described {
            element_shape,
            labels,
        })
    }
}

/// Every problem with the files `exp` names, as diagnostics on the strings naming them.
/// `exp`'s paths are the ones that will be read (see `Experiment::resolve_paths`).
pub fn check_files(exp: &Experiment) -> Vec<CheckError> {
    let mut errors = Vec::new();
    let mut cifar10_checked = Vec::new();
    for data in &exp.datasets {
        match &data.source {
            DataSource::Idx { images, labels } => {
                let [images_span, labels_span] = spans(data);
                let images_dims = header(images, IdxKind::Images, images_span, &mut errors);
                let labels_dims = header(labels, IdxKind::Labels, labels_span, &mut errors);
                if let (Some(i), Some(l)) = (images_dims, labels_dims) {
                    compare(data, &i, &l, [images_span, labels_span], &mut errors);
                }
            }
            // Once per split: two data sets over it would only repeat the diagnostic.
            DataSource::Cifar10 { train } if !cifar10_checked.contains(train) => {
                cifar10_checked.push(*train);
                cifar10(Split::of(*train), data.source_span, &mut errors);
            }
            DataSource::Cifar10 { .. }
            | DataSource::Mnist { .. }
            | DataSource::Csv(_)
            | DataSource::Arrays(_)
            | DataSource::Images(_)
            | DataSource::Text(_)
            | DataSource::TextClasses(_)
            | DataSource::Concat(_)
            | DataSource::AddingProblem { .. } => {}
        }
    }
    for action in &exp.before {
        if let Action::Load { path, span, .. } = action {
            if let Err(refused) = crate::files::open_regular(path, u64::MAX) {
                errors.push(file_error(
                    format!("cannot read the model file `{}`: {refused}", path.display()),
                    refused.io_kind(),
                    *span,
                    Some("a model saved by `save(...)` (safetensors), or by PyTorch's `safetensors.torch.save_file`"),
                ));
            }
        }
    }
    errors
}

/// CIFAR-10's batches of `split` where the run would read them: each there, each a whole
/// number of records. Not yet downloaded is not a mistake: the run downloads them.
fn cifar10(split: Split, span: Span, errors: &mut Vec<CheckError>) {
    let mut report = |e: &DataError, label: &str| {
        let help = e.help().map(|h| h.to_string());
        errors.push(data_file(e.to_string(), label.into(), span, help));
    };
    match find_cifar10(split) {
        Ok(None) => {}
        Ok(Some(files)) => {
            for file in files {
                if let Err(e) = cifar10_batch_records(&file) {
                    report(&e, "this source's files");
                }
            }
        }
        Err(e) => report(&e, "this source's files"),
    }
}

/// The spans of the images and labels strings; the whole declaration where a plan was
/// built without them.
fn spans(data: &DataSet) -> [Span; 2] {
    match data.file_spans.as_slice() {
        [images, labels] => [*images, *labels],
        _ => [data.span, data.span],
    }
}

/// The dimensions in the header of `path`, or a diagnostic on `span`.
fn header(
    path: &std::path::Path,
    kind: IdxKind,
    span: Span,
    errors: &mut Vec<CheckError>,
) -> Option<Vec<usize>> {
    match read_idx_dims(path, kind) {
        Ok(dims) => Some(dims),
        Err(DataError::MissingFile { .. }) => {
            errors.push(file_error(
                format!("cannot find {} `{}`", kind.what(), path.display()),
                Some(std::io::ErrorKind::NotFound),
                span,
                None,
            ));
            None
        }
        Err(e) => {
            let help = e.help().map(|h| h.to_string());
            errors.push(data_file(e.to_string(), "this file".into(), span, help));
            None
        }
    }
}

/// A file that cannot be read: where relative paths are read from, in the help.
fn file_error(
    title: String,
    kind: Option<std::io::ErrorKind>,
    span: Span,
    what_to_give: Option<&str>,
) -> CheckError {
    let label = match kind {
        Some(std::io::ErrorKind::NotFound) => "no such file",
        Some(std::io::ErrorKind::PermissionDenied) => "not readable",
        _ => "not a file that can be read",
    };
    let whence = "a relative path is read from the folder of the `.exp` file, wherever `expr` runs";
    let help = match what_to_give {
        Some(what) => format!("give {what}; {whence}"),
        None => whence.to_string(),
    };
    data_file(title, label.into(), span, Some(help))
}

/// A diagnostic about a file the experiment names (`expr::check::data_file`).
fn data_file(title: String, label: String, span: Span, help: Option<String>) -> CheckError {
    let mut error = CheckError::invalid(title, label, span);
    error.code = "data_file";
    error.help = help;
    error
}

/// Images and labels must count the same examples, and an image must hold the values the
/// declaration promises (the product of `shape`, which later transforms keep).
fn compare(
    data: &DataSet,
    images: &[usize],
    labels: &[usize],
    [images_span, labels_span]: [Span; 2],
    errors: &mut Vec<CheckError>,
) {
    let (image_count, label_count) = (images[0], labels[0]);
    if image_count != label_count {
        errors.push(
            data_file(
                format!(
                    "data `{}` has {image_count} images but {label_count} labels",
                    data.name
                ),
                format!("{label_count} labels"),
                labels_span,
                Some("give the label file that belongs to these images".into()),
            )
            .with_related(images_span, format!("{image_count} images")),
        );
    }
    let found: usize = images[1..].iter().product();
    let declared: usize = data.element_shape.iter().product();
    if found != declared {
        let shape = images[1..]
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        errors.push(data_file(
            format!(
                "data `{}`: each image in the file has {found} values ({}), the declaration {declared}",
                data.name,
                dims_text(&images[1..])
            ),
            format!("images of {}", dims_text(&images[1..])),
            images_span,
            Some(format!("declare `shape = ({shape})` to match the file")),
        ));
    }
}

fn dims_text(dims: &[usize]) -> String {
    dims.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("×")
}
