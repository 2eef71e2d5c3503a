//! `data NAME = source | transform | ...`: the source and transforms, in order.

use std::path::PathBuf;

use super::call::CallArgs;
use super::error::CheckError;
use super::plan::{
    ArraySpec, Augment, Categories, DataSet, DataSource, ImageSpec, Labels, Missing, Scaling,
    Standardize, Subset, TableSpec, Task, TextClassesSpec, TextSpec,
};
use super::sources::DataFiles;
use super::Table;
use crate::catalog::{Catalogued, Source, Transform};
use crate::source::Span;
use crate::syntax::ast::{Call, Ident};

/// Checks one `data` declaration. `earlier` holds the data sets checked before it (the
/// parts of a `concat` are); `part` says whether some `concat` reads it, so that it needs
/// no `batch` of its own.
pub fn check_data(
    name: &Ident,
    pipeline: &[Call],
    span: Span,
    files: &dyn DataFiles,
    earlier: &Table<DataSet>,
    part: bool,
    errors: &mut Vec<CheckError>,
) -> Option<DataSet> {
    let mut data = DataSet {
        name: name.name.clone(),
        source: DataSource::Mnist { train: true },
        scaling: Scaling::default(),
        standardize: None,
        subsets: Vec::new(),
        augment: Vec::new(),
        element_shape: vec![28, 28],
        labels: Labels::Classes {
            classes: 10,
            one_hot: false,
        },
        shuffle: None,
        batch: 32,
        span,
        source_span: span,
        file_spans: Vec::new(),
    };
    let Some((source, transforms)) = pipeline.split_first() else {
        return Some(data);
    };
    let described = read_source(source, &mut data, files, earlier, errors);
    let mut batch_span: Option<Span> = None;
    let mut shuffle_span: Option<Span> = None;
    let mut augment_span: Option<Span> = None;
    let mut standardize_span: Option<Span> = None;
    for call in transforms {
        let op = call.name.name.as_str();
        if let Some(after) = batch_span {
            if op != "batch" {
                errors.push(
                    CheckError::misplaced(
                        format!("`{op}` comes after `batch`"),
                        "after batching".into(),
                        call.span,
                        "transforms apply to single elements: move it before `batch(...)`",
                    )
                    .with_related(after, "batched here"),
                );
            }
        }
        let Some(transform) = Transform::named(op) else {
            if Source::named(op).is_some() {
                errors.push(CheckError::misplaced(
                    format!("a second source `{op}` in data `{}`", name.name),
                    "a source can only start a pipeline".into(),
                    call.name.span,
                    "declare another `data` for it",
                ));
            } else {
                let known = Transform::names();
                errors.push(CheckError::unknown("transform", op, call.name.span, &known));
            }
            continue;
        };
        let read = |errors: &mut Vec<CheckError>| CallArgs::read(call, transform.entry(), errors);
        let selects = matches!(
            transform,
            Transform::Take | Transform::Skip | Transform::Split
        );
        if let (true, Some(shuffled)) = (selects, shuffle_span) {
            errors.push(
                CheckError::misplaced(
                    format!("`{op}` comes after `shuffle`"),
                    "after shuffling".into(),
                    call.span,
                    "select examples before shuffling, so that each epoch sees the same ones: move it before `shuffle(...)`",
                )
                .with_related(shuffled, "shuffled here"),
            );
        }
        let rescales = matches!(
            transform,
            Transform::Scale | Transform::Normalize | Transform::Standardize
        );
        if let (true, Some(standardized)) = (rescales, standardize_span) {
            errors.push(
                CheckError::misplaced(
                    format!("`{op}` comes after `standardize`"),
                    "after standardizing".into(),
                    call.span,
                    "`standardize` already gives each column mean 0 and standard deviation 1: remove this one",
                )
                .with_related(standardized, "standardized here"),
            );
        }
        if let (true, Some(augmented)) = (rescales, augment_span) {
            errors.push(
                CheckError::misplaced(
                    format!("`{op}` comes after a random augmentation"),
                    "after augmenting".into(),
                    call.span,
                    "augmentations act on the values the model sees: move `scale` and `normalize` before them",
                )
                .with_related(augmented, "augmented here"),
            );
        }
        match transform {
            Transform::Take => data
                .subsets
                .push(Subset::Take(read(errors).count("count", errors))),
            Transform::Skip => data
                .subsets
                .push(Subset::Skip(read(errors).count("count", errors))),
            Transform::Split => {
                let args = read(errors);
                let fraction = args.number("fraction", errors);
                let right = args.name("part", errors) == "right";
                let shuffle = args.boolean("shuffle", errors);
                if fraction == 0.0 {
                    let span = args.get("fraction").map_or(call.span, |e| e.span);
                    errors.push(
                        CheckError::invalid(
                            "`split(0)` leaves no example on the left".into(),
                            "must be above 0".into(),
                            span,
                        )
                        .with_help("e.g. `split(0.9)` keeps 90% on the left and 10% on the right"),
                    );
                }
                data.subsets.push(Subset::Split {
                    fraction,
                    right,
                    shuffle,
                });
            }
            Transform::RandomFlip
            | Transform::RandomTranslate
            | Transform::RandomCrop
            | Transform::RandomRotation
            | Transform::Cutout
            | Transform::RandomNoise => {
                let args = read(errors);
                let op = match transform {
                    Transform::RandomFlip => Augment::Flip {
                        horizontal: args.boolean("horizontal", errors),
                        vertical: args.boolean("vertical", errors),
                    },
                    Transform::RandomTranslate => Augment::Translate {
                        fraction: args.number("fraction", errors),
                    },
                    Transform::RandomCrop => Augment::Crop {
                        padding: args.count("padding", errors),
                    },
                    Transform::RandomRotation => Augment::Rotation {
                        degrees: args.number("degrees", errors),
                    },
                    Transform::Cutout => Augment::Cutout {
                        size: args.count("size", errors),
                    },
                    _ => Augment::Noise {
                        std: args.number("std", errors),
                    },
                };
                if !matches!(op, Augment::Noise { .. }) && data.element_shape.len() < 2 {
                    errors.push(CheckError::invalid(
                        format!("`{}` moves pixels of images, but data `{}`'s elements are {:?}", call.name.name, name.name, data.element_shape),
                        "not images here".into(),
                        call.span,
                    ).with_help("put it before `reshape(...)`, where the elements are (rows, cols) or (channels, rows, cols)"));
                }
                data.augment.push(op);
                augment_span.get_or_insert(call.span);
            }
            Transform::Scale => {
                // The factor applies on top of earlier scalings.
                let factor = read(errors).number("factor", errors) as f32;
                data.scaling.times(factor);
            }
            Transform::Normalize => normalize(&read(errors), call, &mut data, errors),
            Transform::Standardize => {
                let args = read(errors);
                let from = args.data_name("from", errors);
                data.standardize = Some(Standardize {
                    from: from.map_or_else(|| name.name.clone(), |(n, _)| n.to_string()),
                    span: from.map_or(call.span, |(_, span)| span),
                });
                // Standardizing the stored values makes any scaling before it moot.
                data.scaling = Scaling::default();
                standardize_span = Some(call.span);
            }
            Transform::ChannelAxis => {
                read(errors);
                if data.element_shape.len() >= 3 {
                    errors.push(
                        CheckError::invalid(
                            format!(
                                "data `{}`'s elements already have a channel axis: {:?}",
                                name.name, data.element_shape
                            ),
                            "a second channel axis".into(),
                            call.span,
                        )
                        .with_help("remove `channel_axis()`: the images are (channels, rows, cols) already"),
                    );
                } else {
                    data.element_shape.insert(0, 1);
                }
            }
            // Its arguments are the dimensions, as many as there are: read there.
            Transform::Reshape => reshape(call, &mut data, errors),
            Transform::OneHot => {
                read(errors);
                match &mut data.labels {
                    Labels::Classes { one_hot, .. } => *one_hot = true,
                    Labels::Tokens { .. } => errors.push(
                        CheckError::invalid(
                            format!("data `{}`'s targets are a class per position", name.name),
                            "not supported on token targets".into(),
                            call.span,
                        )
                        .with_help(
                            "remove `one_hot()`: `sparse_categorical_crossentropy` takes the token ids as they are",
                        ),
                    ),
                    Labels::Values { .. } => errors.push(
                        CheckError::invalid(
                            format!("data `{}`'s targets are values, not classes", name.name),
                            "nothing to one-hot".into(),
                            call.span,
                        )
                        .with_help(
                            "remove `one_hot()`: regression targets go to the loss as they are",
                        ),
                    ),
                }
            }
            Transform::Shuffle => {
                data.shuffle = Some(read(errors).count("buffer", errors));
                shuffle_span = Some(call.span);
            }
            Transform::Batch => {
                let args = read(errors);
                if let Some(first) = batch_span {
                    errors.push(
                        CheckError::duplicate("transform", "batch", call.span, first)
                            .with_help("batch once, at the end of the pipeline"),
                    );
                }
                data.batch = args.count("size", errors);
                batch_span = Some(call.span);
            }
        }
    }
    if batch_span.is_none() && !part {
        errors.push(CheckError::missing(
            "no `batch` here",
            format!("data `{}` is never batched", name.name),
            name.span,
            "end the pipeline with `| batch(64)`",
        ));
    }
    described.then_some(data)
}

fn read_source(
    call: &Call,
    data: &mut DataSet,
    files: &dyn DataFiles,
    earlier: &Table<DataSet>,
    errors: &mut Vec<CheckError>,
) -> bool {
    let name = call.name.name.as_str();
    let Some(source) = Source::named(name) else {
        if Transform::named(name).is_some() {
            errors.push(CheckError::misplaced(
                format!("data `{}` starts with the transform `{name}`", data.name),
                "not a source".into(),
                call.name.span,
                "start with a source: `mnist(split = \"train\")`, `cifar10(split = \"train\")` or `idx(images = ..., labels = ...)`",
            ));
        } else {
            let known = Source::names();
            errors.push(CheckError::unknown(
                "data source",
                name,
                call.name.span,
                &known,
            ));
        }
        return true;
    };
    let args = CallArgs::read(call, source.entry(), errors);
    data.source_span = call.span;
    let train = |errors: &mut Vec<CheckError>| match args.name("split", errors) {
        "train" => true,
        "test" => false,
        other => unreachable!("`{other}` is one of the catalogue's splits"),
    };
    match source {
        Source::Mnist => {
            data.source = DataSource::Mnist {
                train: train(errors),
            };
            true
        }
        Source::Cifar10 => {
            data.source = DataSource::Cifar10 {
                train: train(errors),
            };
            data.element_shape = crate::data::cifar10::IMAGE_SHAPE.to_vec();
            data.labels = Labels::Classes {
                classes: crate::data::cifar10::CLASSES,
                one_hot: false,
            };
            true
        }
        Source::Idx => {
            let images = args.string("images", errors);
            let labels = args.string("labels", errors);
            let (rows, cols) = args.pair("shape", errors);
            data.element_shape = vec![rows, cols];
            data.labels = Labels::Classes {
                classes: args.count("classes", errors),
                one_hot: false,
            };
            if let (Some((images, images_span)), Some((labels, labels_span))) = (images, labels) {
                data.source = DataSource::Idx {
                    images: PathBuf::from(images),
                    labels: PathBuf::from(labels),
                };
                data.file_spans = vec![images_span, labels_span];
            }
            true
        }
        Source::Csv => read_csv(&args, data, files, errors),
        Source::Npy | Source::Npz => read_arrays(source, &args, data, files, errors),
        Source::Images => read_images(&args, data, files, errors),
        Source::Text => read_text(&args, data, files, errors),
        Source::TextClasses => read_text_classes(&args, data, files, errors),
        Source::Concat => read_concat(&args, call.span, data, earlier, errors),
        Source::AddingProblem => {
            let length = args.count("length", errors);
            data.source = DataSource::AddingProblem {
                length,
                examples: args.count("examples", errors),
                seed: args.count("seed", errors) as u64,
            };
            data.element_shape = vec![2, length];
            data.labels = Labels::Values { width: 1 };
            true
        }
    }
}

/// `concat(a, b, ...)`: the parts, checked before this data set, must have one element
/// shape and one kind of labels. False when a part could not be checked.
fn read_concat(
    args: &CallArgs<'_>,
    span: Span,
    data: &mut DataSet,
    earlier: &Table<DataSet>,
    errors: &mut Vec<CheckError>,
) -> bool {
    let Some(names) = args.rest_data_names(errors) else {
        return false;
    };
    if names.len() < 2 {
        errors.push(
            CheckError::invalid(
                "`concat` needs at least two data sets".into(),
                "only one part".into(),
                span,
            )
            .with_help("name the data sets to join, e.g. `concat(train_raw, test_raw)`; a single one needs no `concat`"),
        );
        return false;
    }
    let mut parts: Vec<(&Ident, &DataSet)> = Vec::new();
    let mut complete = true;
    for part in &names {
        // Cycles and parts declared later are resolved by `file::collect_datasets`, which
        // checks every part first: a name missing here is unknown or broken.
        match earlier.resolve("data", part, errors) {
            Some(i) => parts.push((part, &earlier.items[i].1)),
            None => complete = false,
        }
    }
    if !complete {
        return false;
    }
    let (first_name, first) = parts[0];
    for &(part_name, part) in &parts {
        if !part.augment.is_empty() {
            errors.push(
                CheckError::invalid(
                    format!(
                        "data `{}` has random augmentations, which `concat` does not keep",
                        part_name.name
                    ),
                    "augmented part".into(),
                    part_name.span,
                )
                .with_related(part.span, "augmented here")
                .with_help(
                    "augment the concatenation instead: `concat(a, b) | random_flip() | ...`",
                ),
            );
            complete = false;
        }
        if part_name.span == first_name.span {
            continue;
        }
        if part.element_shape != first.element_shape {
            errors.push(
                CheckError::shape(
                    format!(
                        "data `{}`'s elements are {:?}, `{}`'s {:?}",
                        part_name.name, part.element_shape, first_name.name, first.element_shape
                    ),
                    format!("elements {:?}", part.element_shape),
                    part_name.span,
                    "concatenate data sets of one element shape: `reshape(...)` or `channel_axis()` in a part's pipeline",
                )
                .with_related(first_name.span, format!("elements {:?}", first.element_shape)),
            );
            complete = false;
        }
        if !same_labels(part.labels, first.labels) {
            errors.push(
                CheckError::incompatible(
                    format!(
                        "data `{}` is labelled with {}, `{}` with {}",
                        part_name.name,
                        describe_labels(part.labels),
                        first_name.name,
                        describe_labels(first.labels)
                    ),
                    describe_labels(part.labels),
                    part_name.span,
                    "concatenate data sets labelled alike: as many classes, or as many target values",
                )
                .with_related(first_name.span, describe_labels(first.labels)),
            );
            complete = false;
        }
    }
    let sets: Vec<&DataSet> = parts.iter().map(|(_, d)| *d).collect();
    data.source = DataSource::Concat(parts.iter().map(|(n, _)| n.name.clone()).collect());
    data.element_shape.clone_from(&first.element_shape);
    data.labels = match first.labels {
        // A part's `one_hot()` carries over when every part has it.
        Labels::Classes { classes, .. } => Labels::Classes {
            classes,
            one_hot: sets
                .iter()
                .all(|d| matches!(d.labels, Labels::Classes { one_hot: true, .. })),
        },
        same @ (Labels::Values { .. } | Labels::Tokens { .. }) => same,
    };
    // The parts' scalings carry over when they agree; else each part's values are stored
    // scaled (`run::examples`) and the concatenation starts from them as they are.
    data.scaling = DataSet::shared_scaling(&sets).unwrap_or_default();
    complete
}

/// Labels of one kind and size, whether one-hot or not.
fn same_labels(a: Labels, b: Labels) -> bool {
    match (a, b) {
        (Labels::Classes { classes: x, .. }, Labels::Classes { classes: y, .. })
        | (Labels::Values { width: x }, Labels::Values { width: y }) => x == y,
        (Labels::Tokens { .. }, Labels::Tokens { .. }) => a == b,
        _ => false,
    }
}

fn describe_labels(labels: Labels) -> String {
    match labels {
        Labels::Classes { classes, .. } => format!("{classes} classes"),
        Labels::Values { width: 1 } => "1 target value".to_string(),
        Labels::Values { width } => format!("{width} target values"),
        Labels::Tokens { classes, length } => {
            format!("{length} tokens of a vocabulary of {classes}")
        }
    }
}

/// `csv(path, target = ..., ...)`: the table's columns, as the file gives them, decide the
/// element shape and the classes. False when the file cannot say.
fn read_csv(
    args: &CallArgs<'_>,
    data: &mut DataSet,
    files: &dyn DataFiles,
    errors: &mut Vec<CheckError>,
) -> bool {
    let path = args.string("path", errors);
    let names = |param: &str, errors: &mut Vec<CheckError>| -> Vec<String> {
        let list = args.strings(param, errors);
        list.into_iter().map(|(s, _)| s.to_string()).collect()
    };
    let targets = names("target", errors);
    let features = names("features", errors);
    let exclude = names("exclude", errors);
    let header = args.boolean("header", errors);
    let delimiter = match args.string("delimiter", errors) {
        Some((d, _)) if d.len() == 1 => d.as_bytes()[0],
        Some((_, span)) => {
            errors.push(
                CheckError::invalid(
                    "a delimiter is one character".into(),
                    "not one character".into(),
                    span,
                )
                .with_help("e.g. `delimiter = \";\"`, or `\"\\t\"` for tabs"),
            );
            b','
        }
        None => b',',
    };
    let missing = match args.name("missing", errors) {
        "mean" => Missing::Mean,
        "zero" => Missing::Zero,
        "drop" => Missing::Drop,
        _ => Missing::Error,
    };
    let task = read_task(args, errors);
    let categories = match args.name("categorical", errors) {
        "index" => Categories::Index,
        _ => Categories::OneHot,
    };
    let classes = class_names(args, errors);
    if let (Task::Regression, Some(given)) = (task, args.get("classes")) {
        errors.push(
            CheckError::invalid(
                "a regression has no classes".into(),
                "classes of a regression".into(),
                given.span,
            )
            .with_help("remove `classes`, or set `task = classification`"),
        );
    }
    let Some((path, span)) = path else {
        return false;
    };
    if targets.is_empty() {
        // `target` is required: its absence is reported already.
        return false;
    }
    data.source = DataSource::Csv(TableSpec {
        path: PathBuf::from(path),
        targets,
        features,
        exclude,
        classes,
        header,
        delimiter,
        missing,
        task,
        categories,
    });
    data.file_spans = vec![span];
    describe(data, files, span, errors)
}

/// `classes = ("cat", "dog")`: class names in label order, each once.
fn class_names(args: &CallArgs<'_>, errors: &mut Vec<CheckError>) -> Vec<String> {
    let given = args.strings("classes", errors);
    for (i, (name, span)) in given.iter().enumerate() {
        if let Some((_, first)) = given[..i].iter().find(|(n, _)| n == name) {
            errors.push(
                CheckError::duplicate("class", name, *span, *first)
                    .with_help("name each class once: its position is its label"),
            );
        }
        if name.is_empty() {
            errors.push(CheckError::invalid(
                "an empty class name".into(),
                "no name".into(),
                *span,
            ));
        }
    }
    given.into_iter().map(|(s, _)| s.to_string()).collect()
}

fn read_task(args: &CallArgs<'_>, errors: &mut Vec<CheckError>) -> Task {
    match args.name("task", errors) {
        "regression" => Task::Regression,
        _ => Task::Classification,
    }
}

/// Asks the files of `data`'s source (named at `span`) for its element shape and labels.
fn describe(
    data: &mut DataSet,
    files: &dyn DataFiles,
    span: Span,
    errors: &mut Vec<CheckError>,
) -> bool {
    match files.describe(&data.source, span) {
        Ok(described) => {
            data.element_shape = described.element_shape;
            data.labels = described.labels;
            true
        }
        Err(e) => {
            errors.push(*e);
            false
        }
    }
}

/// `npy(x, y)` and `npz(path, x = key, y = key)`: the arrays' shapes give the element
/// shape, the targets the classes.
fn read_arrays(
    source: Source,
    args: &CallArgs<'_>,
    data: &mut DataSet,
    files: &dyn DataFiles,
    errors: &mut Vec<CheckError>,
) -> bool {
    let task = read_task(args, errors);
    let (spec, spans) = if source == Source::Npz {
        let path = args.string("path", errors);
        let x = args.string("x", errors).map_or("x", |(k, _)| k);
        let y = args.string("y", errors).map_or("y", |(k, _)| k);
        let Some((path, span)) = path else {
            return false;
        };
        let spec = ArraySpec {
            x: PathBuf::from(path),
            y: PathBuf::from(path),
            keys: Some((x.to_string(), y.to_string())),
            task,
        };
        (spec, vec![span, span])
    } else {
        let (Some((x, x_span)), Some((y, y_span))) =
            (args.string("x", errors), args.string("y", errors))
        else {
            return false;
        };
        let spec = ArraySpec {
            x: PathBuf::from(x),
            y: PathBuf::from(y),
            keys: None,
            task,
        };
        (spec, vec![x_span, y_span])
    };
    data.source = DataSource::Arrays(spec);
    let span = spans[0];
    data.file_spans = spans;
    describe(data, files, span, errors)
}

/// `images(dir, size, color, on_error, stream)`: the class folders give the classes.
fn read_images(
    args: &CallArgs<'_>,
    data: &mut DataSet,
    files: &dyn DataFiles,
    errors: &mut Vec<CheckError>,
) -> bool {
    use crate::data::{Color, OnError, Stream};
    let dir = args.string("dir", errors);
    let size = args.pair("size", errors);
    let color = match args.name("color", errors) {
        "gray" => Color::Gray,
        _ => Color::Rgb,
    };
    let on_error = match args.name("on_error", errors) {
        "skip" => OnError::Skip,
        _ => OnError::Fail,
    };
    let stream = match args.name("stream", errors) {
        "always" => Stream::Always,
        "never" => Stream::Never,
        _ => Stream::Auto,
    };
    let classes = class_names(args, errors);
    let Some((dir, span)) = dir else {
        return false;
    };
    let source = DataSource::Images(ImageSpec {
        dir: PathBuf::from(dir),
        size,
        color,
        on_error,
        stream,
        classes,
    });
    read_file_source(data, source, span, files, errors)
}

/// Sets `data`'s source, which reads one file (or folder) named at `span`, and asks it for
/// the element shape and labels.
fn read_file_source(
    data: &mut DataSet,
    source: DataSource,
    span: Span,
    files: &dyn DataFiles,
    errors: &mut Vec<CheckError>,
) -> bool {
    data.source = source;
    data.file_spans = vec![span];
    describe(data, files, span, errors)
}

/// `text(path, block, stride, tokens)`: the file's characters (or bytes) give the vocabulary.
fn read_text(
    args: &CallArgs<'_>,
    data: &mut DataSet,
    files: &dyn DataFiles,
    errors: &mut Vec<CheckError>,
) -> bool {
    let path = args.string("path", errors);
    let block = args.count("block", errors);
    let stride = args.count_or("stride", block, errors);
    let bytes = args.name("tokens", errors) == "bytes";
    let Some((path, span)) = path else {
        return false;
    };
    let source = DataSource::Text(TextSpec {
        path: PathBuf::from(path),
        block,
        stride,
        bytes,
    });
    read_file_source(data, source, span, files, errors)
}

/// `text_classes(path, text, target, length, classes)`: the file's labels give the classes.
fn read_text_classes(
    args: &CallArgs<'_>,
    data: &mut DataSet,
    files: &dyn DataFiles,
    errors: &mut Vec<CheckError>,
) -> bool {
    let path = args.string("path", errors);
    let text = args.string("text", errors).map_or("text", |(t, _)| t);
    let target = args.string("target", errors).map_or("label", |(t, _)| t);
    let length = args.count("length", errors);
    let classes = class_names(args, errors);
    let Some((path, span)) = path else {
        return false;
    };
    let source = DataSource::TextClasses(TextClassesSpec {
        path: PathBuf::from(path),
        text: text.to_string(),
        target: target.to_string(),
        length,
        classes,
    });
    read_file_source(data, source, span, files, errors)
}

/// `normalize(mean, std)`: one number each for every value, or (torchvision's `Normalize`
/// with tuples) one per channel of (channels, rows, cols) elements.
fn normalize(args: &CallArgs<'_>, call: &Call, data: &mut DataSet, errors: &mut Vec<CheckError>) {
    let mean = args.per_channel("mean", errors);
    let std = args.per_channel("std", errors);
    let channels = match data.element_shape.as_slice() {
        [c, _, _] => Some(*c),
        [_, _] => Some(1),
        _ => None,
    };
    let mut fits = true;
    for (values, span) in [&mean, &std] {
        if values.len() == 1 || Some(values.len()) == channels {
            continue;
        }
        fits = false;
        let label = format!("{} numbers", values.len());
        let err = match channels {
            Some(c) => CheckError::shape(
                format!(
                    "{} numbers for data `{}`'s {c} channel{} ({:?})",
                    values.len(),
                    data.name,
                    if c == 1 { "" } else { "s" },
                    data.element_shape
                ),
                label,
                *span,
                format!("give one number for every channel, or {c} in a tuple, one per channel"),
            ),
            None => CheckError::shape(
                format!(
                    "{} numbers, one per channel, but data `{}`'s elements are {:?}: no channel axis",
                    values.len(),
                    data.name,
                    data.element_shape
                ),
                label,
                *span,
                "normalize per channel before `reshape(...)`, where the elements are (channels, rows, cols); or give one number",
            ),
        };
        errors.push(err.with_related(call.name.span, "normalized here"));
    }
    if fits {
        let f32s = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
        data.scaling.normalize(&f32s(&mean.0), &f32s(&std.0));
    }
}

/// `reshape(d1, d2, ...)`: positional dimensions only, as many as the shape has.
fn reshape(call: &Call, data: &mut DataSet, errors: &mut Vec<CheckError>) {
    let entry = Transform::Reshape.entry();
    let mut dims = Vec::new();
    let mut reported = false;
    for arg in &call.args {
        if let Some(name) = &arg.name {
            errors.push(CheckError::unknown_parameter(
                entry.name,
                &name.name,
                name.span,
                &entry.param_names(),
            ));
            reported = true;
            continue;
        }
        match super::args::count(&arg.value, "reshape", 1, errors) {
            Some(d) => dims.push(d),
            None => reported = true,
        }
    }
    if reported {
        // One diagnostic per mistake: a bad dimension says so; the shape it leaves is not
        // a second mistake.
        return;
    }
    let old: usize = data.element_shape.iter().product();
    // Checked: two dimensions of 2^32 would wrap to 0 values.
    let new = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    let Some(new) = new else {
        errors.push(CheckError::shape(
            format!("cannot reshape {old} values into {dims:?}"),
            "these dimensions hold more values than any memory".to_string(),
            call.span,
            "the new shape must hold the same number of values",
        ));
        return;
    };
    if dims.is_empty() {
        let rest = entry
            .rest
            .unwrap_or_else(|| unreachable!("`reshape` takes its dimensions as its rest"));
        errors.push(CheckError::missing_argument(entry.name, rest, call.span));
    } else if old != new {
        errors.push(CheckError::shape(
            format!("cannot reshape {old} values into {dims:?} ({new} values)"),
            format!("element shape is {:?}", data.element_shape),
            call.span,
            "the new shape must hold the same number of values",
        ));
    } else {
        data.element_shape = dims;
    }
}
