//! The sources whose files decide what an example is: a CSV table's columns, NumPy arrays'
//! shapes, an image folder's classes. For each, what the checker needs to know
//! ([`describe`], as cheap as the format allows) and the examples a run reads ([`read`]).

use std::path::Path;

use ndarray::{Array1, Array2};

use super::error::{DataError, DataResult};
use super::examples::{Encoding, Examples, Inputs, Targets};
use super::numpy::{self, NumArray, Values};
use crate::check::plan::{ArraySpec, DataSource, ImageSpec, Labels, Task};

/// The element shape and labels of `source`'s examples.
///
/// # Panics
/// For sources whose shape the declaration gives (`mnist`, `cifar10`, `idx`): the checker
/// asks only of the others.
pub fn describe(source: &DataSource) -> DataResult<(Vec<usize>, Labels)> {
    match source {
        DataSource::Csv(spec) => {
            let table = super::table::read_table(spec)?;
            let labels = labels(spec.task, table.classes_or_width);
            Ok((vec![table.columns.len()], labels))
        }
        DataSource::Arrays(spec) => describe_arrays(spec),
        DataSource::Text(spec) => super::text::describe_text(spec),
        DataSource::TextClasses(spec) => super::text_classes::describe_text_classes(spec),
        DataSource::Images(spec) => {
            let scan = super::images::scan_image_folder(&spec.dir)?.only(&spec.classes)?;
            let (h, w) = spec.size;
            let labels = Labels::Classes {
                classes: scan.classes.len(),
                one_hot: false,
            };
            Ok((vec![spec.color.channels(), h, w], labels))
        }
        DataSource::Mnist { .. }
        | DataSource::Cifar10 { .. }
        | DataSource::Idx { .. }
        | DataSource::Concat(_)
        | DataSource::AddingProblem { .. } => {
            unreachable!("the declaration gives this source's shape")
        }
    }
}

/// The examples of a source that [`describe`] describes.
pub fn read(source: &DataSource) -> DataResult<Examples> {
    match source {
        DataSource::Csv(spec) => Ok(super::table::read_table(spec)?.into_examples(spec)),
        DataSource::Arrays(spec) => read_arrays(spec),
        DataSource::Text(spec) => super::text::read_text_examples(spec),
        DataSource::TextClasses(spec) => super::text_classes::read_text_classes(spec),
        DataSource::Images(spec) => read_images(spec),
        DataSource::Mnist { .. }
        | DataSource::Cifar10 { .. }
        | DataSource::Idx { .. }
        | DataSource::Concat(_)
        | DataSource::AddingProblem { .. } => {
            unreachable!("read by their own loaders")
        }
    }
}

fn labels(task: Task, classes_or_width: usize) -> Labels {
    match task {
        Task::Classification => Labels::Classes {
            classes: classes_or_width,
            one_hot: false,
        },
        Task::Regression => Labels::Values {
            width: classes_or_width,
        },
    }
}

/// The shape of one example of an array of `shape`: all but the first axis (`[1]` for a
/// vector of one value per example).
fn element_shape(shape: &[usize]) -> Vec<usize> {
    match shape {
        [] | [_] => vec![1],
        [_, rest @ ..] => rest.to_vec(),
    }
}

fn array_header(path: &Path, key: Option<&str>) -> DataResult<numpy::NpyHeader> {
    match key {
        Some(key) => numpy::read_npz_header(path, key),
        None => numpy::read_npy_header(path),
    }
}

fn array(path: &Path, key: Option<&str>) -> DataResult<NumArray> {
    match key {
        Some(key) => numpy::read_npz(path, key),
        None => numpy::read_npy(path),
    }
}

/// Headers for the inputs' shape; the whole targets for a classification's classes (a
/// vector, small next to the inputs).
fn describe_arrays(spec: &ArraySpec) -> DataResult<(Vec<usize>, Labels)> {
    let x = array_header(&spec.x, spec.key(true))?;
    let y = array_header(&spec.y, spec.key(false))?;
    rows_agree(spec, &x.shape, &y.shape)?;
    let labels = match spec.task {
        Task::Classification => {
            let (classes, positions) = class_targets(spec, &array(&spec.y, spec.key(false))?)?;
            let count = classes.iter().max().map_or(0, |&m| m as usize + 1);
            if positions == 1 {
                labels(Task::Classification, count)
            } else {
                Labels::Tokens {
                    classes: count,
                    length: positions,
                }
            }
        }
        Task::Regression => labels(Task::Regression, element_shape(&y.shape).iter().product()),
    };
    Ok((element_shape(&x.shape), labels))
}

fn read_arrays(spec: &ArraySpec) -> DataResult<Examples> {
    // A `.npy` file (or an uncompressed `.npz` member) of bytes or `f32` is mapped, not read
    // (`numpy::mapped`).
    let mapped = match spec.key(true) {
        None => numpy::map_npy(&spec.x)?,
        Some(key) => numpy::map_npz(&spec.x, key)?,
    };
    let (x_shape, inputs) = match mapped {
        Some(rows) => (
            array_header(&spec.x, spec.key(true))?.shape,
            Inputs::Mapped(rows),
        ),
        None => {
            let x = array(&spec.x, spec.key(true))?;
            let rows = x.shape.first().copied().unwrap_or(1);
            let features = element_shape(&x.shape).iter().product();
            let inputs = match x.values {
                Values::U8(v) => Inputs::U8(rows_of(v, rows, features)),
                Values::F32(v) => Inputs::F32(rows_of(v, rows, features)),
            };
            (x.shape, inputs)
        }
    };
    let y = array(&spec.y, spec.key(false))?;
    rows_agree(spec, &x_shape, &y.shape)?;
    let rows = x_shape.first().copied().unwrap_or(1);
    let element = element_shape(&x_shape);
    let targets = match spec.task {
        Task::Classification => {
            let (classes, positions) = class_targets(spec, &y)?;
            if positions == 1 {
                Targets::Classes(Array1::from_vec(classes))
            } else {
                Targets::Tokens(rows_of(classes, rows, positions))
            }
        }
        Task::Regression => {
            let width = element_shape(&y.shape).iter().product();
            let values = match y.values {
                Values::U8(v) => v.into_iter().map(f32::from).collect(),
                Values::F32(v) => v,
            };
            Targets::Values(rows_of(values, rows, width))
        }
    };
    Ok(Examples {
        inputs,
        element_shape: element,
        targets,
        source: match spec.key(true) {
            Some(key) => format!("`{}` (array `{key}`)", spec.x.display()),
            None => format!("`{}`", spec.x.display()),
        },
        encoding: Encoding::default(),
    })
}

/// `values` as `rows` rows of `width`.
fn rows_of<T>(values: Vec<T>, rows: usize, width: usize) -> Array2<T> {
    Array2::from_shape_vec((rows, width), values)
        .unwrap_or_else(|_| unreachable!("the reader returns as many values as the shape says"))
}

/// Class indices, whole numbers from 0: one per example (a vector, or a column), or one per
/// position of a sequence (a matrix, `(examples, positions)`: tags, or a translation's
/// tokens). The indices, and how many there are per example.
fn class_targets(spec: &ArraySpec, y: &NumArray) -> DataResult<(Vec<u32>, usize)> {
    let [positions] = element_shape(&y.shape)[..] else {
        return Err(DataError::Contents {
            path: spec.y.clone(),
            place: spec.key(false).map_or(String::new(), |k| format!("array `{k}`")),
            problem: format!(
                "class targets are one whole number per example, or one per position (examples, positions), but the array has shape {:?}",
                y.shape
            ),
            help: Some(
                "give a vector of class indices (`y.argmax(axis=-1)` for one-hot rows), or set `task = regression`"
                    .into(),
            ),
        });
    };
    Ok((y.class_indices(&spec.y, spec.key(false))?, positions))
}

/// Inputs and targets must count the same examples (a ragged `.npz` does not).
fn rows_agree(spec: &ArraySpec, x: &[usize], y: &[usize]) -> DataResult<()> {
    let (xn, yn) = (
        x.first().copied().unwrap_or(1),
        y.first().copied().unwrap_or(1),
    );
    if xn == yn && !x.is_empty() {
        return Ok(());
    }
    let targets = match spec.key(false) {
        Some(k) => format!("array `{k}`"),
        None => format!("`{}`", spec.y.display()),
    };
    Err(DataError::Contents {
        path: spec.x.clone(),
        place: spec
            .key(true)
            .map_or(String::new(), |k| format!("array `{k}`")),
        problem: if x.is_empty() {
            "the inputs are one value, not examples".to_string()
        } else {
            format!(
                "the inputs hold {xn} examples (shape {x:?}) but the targets {targets} hold {yn} (shape {y:?})"
            )
        },
        help: Some("inputs and targets need one row per example, in the same order".into()),
    })
}

fn read_images(spec: &ImageSpec) -> DataResult<Examples> {
    use super::images::{read_image_folder, stream_image_folder};

    let scan = super::images::scan_image_folder(&spec.dir)?.only(&spec.classes)?;
    let channels = spec.color.channels();
    let (h, w) = spec.size;
    let streamed = spec.stream.streams(scan.files.len(), channels * h * w);
    let (inputs, labels, skipped) = if streamed {
        let folder = stream_image_folder(&scan, spec.size, spec.color, spec.on_error)?;
        (Inputs::Files(folder.files), folder.labels, folder.skipped)
    } else {
        let folder = read_image_folder(&scan, spec.size, spec.color, spec.on_error)?;
        let rows = folder.labels.len();
        let images = rows_of(folder.images, rows, channels * h * w);
        (Inputs::U8(images), folder.labels, folder.skipped)
    };
    let rows = labels.len();
    let skipped = if skipped.is_empty() {
        String::new()
    } else {
        format!(", {} unreadable images skipped", skipped.len())
    };
    let notes = if streamed {
        format!("{skipped}, streamed")
    } else {
        skipped
    };
    Ok(Examples {
        inputs,
        element_shape: vec![channels, h, w],
        targets: Targets::Classes(Array1::from_vec(labels)),
        source: format!("`{}` ({rows} images{notes})", spec.dir.display()),
        encoding: Encoding {
            classes: scan.classes,
            ..Encoding::default()
        },
    })
}
