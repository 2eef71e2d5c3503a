//! `data NAME = source | transform | ...`: the source and transforms, in order.

use std::path::PathBuf;

use super::args::Args;
use super::error::CheckError;
use super::plan::{DataSet, DataSource};
use crate::source::Span;
use crate::syntax::ast::{Call, Ident};

pub const SOURCES: &[&str] = &["mnist", "idx"];
pub const TRANSFORMS: &[&str] = &[
    "scale",
    "channel_axis",
    "reshape",
    "one_hot",
    "shuffle",
    "batch",
];

pub fn check_data(
    name: &Ident,
    pipeline: &[Call],
    span: Span,
    errors: &mut Vec<CheckError>,
) -> DataSet {
    let mut data = DataSet {
        name: name.name.clone(),
        source: DataSource::Mnist { train: true },
        scale: 1.0,
        element_shape: vec![28, 28],
        classes: 10,
        one_hot: false,
        shuffle: None,
        batch: 32,
        span,
    };
    let Some((source, transforms)) = pipeline.split_first() else {
        return data;
    };
    read_source(source, &mut data, errors);
    let mut batch_span: Option<Span> = None;
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
        match op {
            "scale" => {
                let args = Args::read(call, &["factor"], errors);
                if let Some(e) = args.required("factor", errors) {
                    if let Some(v) = super::args::number(e, "factor", errors) {
                        // The factor applies on top of earlier scalings.
                        data.scale *= v as f32;
                    }
                }
            }
            "channel_axis" => {
                Args::read(call, &[], errors);
                data.element_shape.insert(0, 1);
            }
            "reshape" => reshape(call, &mut data, errors),
            "one_hot" => {
                Args::read(call, &[], errors);
                data.one_hot = true;
            }
            "shuffle" => {
                let args = Args::read(call, &["buffer"], errors);
                args.required("buffer", errors);
                data.shuffle = Some(args.count("buffer", 1, 1, errors));
            }
            "batch" => {
                let args = Args::read(call, &["size"], errors);
                args.required("size", errors);
                if let Some(first) = batch_span {
                    errors.push(
                        CheckError::duplicate("transform", "batch", call.span, first)
                            .with_help("batch once, at the end of the pipeline"),
                    );
                }
                data.batch = args.count("size", 32, 1, errors);
                batch_span = Some(call.span);
            }
            other if SOURCES.contains(&other) => errors.push(CheckError::misplaced(
                format!("a second source `{other}` in data `{}`", name.name),
                "a source can only start a pipeline".into(),
                call.name.span,
                "declare another `data` for it",
            )),
            other => errors.push(CheckError::unknown(
                "transform",
                other,
                call.name.span,
                TRANSFORMS,
            )),
        }
    }
    if batch_span.is_none() {
        errors.push(CheckError::missing(
            "no `batch` here",
            format!("data `{}` is never batched", name.name),
            name.span,
            "end the pipeline with `| batch(64)`",
        ));
    }
    data
}

fn read_source(call: &Call, data: &mut DataSet, errors: &mut Vec<CheckError>) {
    match call.name.name.as_str() {
        "mnist" => {
            let args = Args::read(call, &["split"], errors);
            args.required("split", errors);
            if let Some((split, _)) = args.choice("split", &["train", "test"], errors) {
                data.source = DataSource::Mnist {
                    train: split == "train",
                };
            }
        }
        "idx" => {
            let args = Args::read(call, &["images", "labels", "shape", "classes"], errors);
            args.required("images", errors);
            args.required("labels", errors);
            args.required("shape", errors);
            args.required("classes", errors);
            let images = args.string("images", errors);
            let labels = args.string("labels", errors);
            let (rows, cols) = args.pair("shape", (28, 28), errors);
            data.element_shape = vec![rows, cols];
            data.classes = args.count("classes", 10, 1, errors);
            if let (Some((images, _)), Some((labels, _))) = (images, labels) {
                data.source = DataSource::Idx {
                    images: PathBuf::from(images),
                    labels: PathBuf::from(labels),
                };
            }
        }
        other if TRANSFORMS.contains(&other) => errors.push(CheckError::misplaced(
            format!("data `{}` starts with the transform `{other}`", data.name),
            "not a source".into(),
            call.name.span,
            "start with a source: `mnist(split = \"train\")` or `idx(images = ..., labels = ...)`",
        )),
        other => errors.push(CheckError::unknown(
            "data source",
            other,
            call.name.span,
            SOURCES,
        )),
    }
}

fn reshape(call: &Call, data: &mut DataSet, errors: &mut Vec<CheckError>) {
    let mut dims = Vec::new();
    for arg in &call.args {
        if let Some(name) = &arg.name {
            errors.push(CheckError::unknown_parameter(
                "reshape",
                &name.name,
                name.span,
                &[],
            ));
            continue;
        }
        if let Some(d) = super::args::count(&arg.value, "reshape", 1, errors) {
            dims.push(d);
        }
    }
    let old: usize = data.element_shape.iter().product();
    let new: usize = dims.iter().product();
    if dims.is_empty() {
        errors.push(CheckError::missing_argument(
            "reshape",
            "dimensions",
            call.span,
        ));
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
