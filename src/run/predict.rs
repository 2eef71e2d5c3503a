//! `expr predict`: a model's outputs per example — on a data set of the experiment, or on
//! image files given the data set's scalings — as predicted classes and probabilities.

use std::path::Path;

use crate::check::plan::{DataSet, Experiment, Labels, LossKind};
use crate::data::{batches, Batch, Examples, Gather};
use crate::lower::Engine;

/// How a model's outputs become probabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Probabilities {
    /// From the experiment: softmax when a loss reads the model's outputs as logits
    /// (`from_logits = true`) or the outputs are not already probabilities.
    Auto,
    /// `exp(z_k) / Σ exp(z_j)` over each row.
    Softmax,
    /// `1 / (1 + exp(-z))` of each output on its own.
    Sigmoid,
    /// The outputs as they are.
    None,
}

/// One example's prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// The example's label, where the data has class labels.
    pub label: Option<usize>,
    /// The index of the highest probability (the first of equal ones).
    pub class: usize,
    pub probabilities: Vec<f32>,
}

/// Why predictions cannot be made.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PredictError {
    #[error("model `{model}` takes {inputs} inputs; `expr predict` feeds one")]
    #[diagnostic(code(expr::predict::inputs))]
    Inputs { model: String, inputs: usize },
    #[error("the experiment has no data set `{name}`")]
    #[diagnostic(code(expr::predict::no_data), help("its data sets: {names}"))]
    NoData { name: String, names: String },
    #[error(
        "data `{data}` has elements of shape {data_shape:?}, model `{model}` takes {model_shape:?}"
    )]
    #[diagnostic(code(expr::predict::shape))]
    Shape {
        data: String,
        data_shape: Vec<usize>,
        model: String,
        model_shape: Vec<usize>,
    },
    #[error("cannot read image `{path}`: {message}")]
    #[diagnostic(code(expr::predict::image))]
    Image { path: String, message: String },
    #[error("image `{path}` is {width}x{height}, model `{model}` takes {expected:?}")]
    #[diagnostic(
        code(expr::predict::image_size),
        help("give an image of the size the data set's images have")
    )]
    ImageSize {
        path: String,
        width: u32,
        height: u32,
        model: String,
        expected: Vec<usize>,
    },
    /// A streamed image that cannot be read.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Data(#[from] crate::data::DataError),
}

/// The data set `name`, or by default the data of the first step that does not train
/// (the evaluation data), else the last data set declared.
pub fn data_set(exp: &Experiment, name: Option<&str>) -> Result<usize, PredictError> {
    match name {
        Some(name) => exp
            .datasets
            .iter()
            .position(|d| d.name == name)
            .ok_or_else(|| PredictError::NoData {
                name: name.into(),
                names: exp
                    .datasets
                    .iter()
                    .map(|d| d.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        None => Ok(exp
            .steps
            .iter()
            .find(|s| !s.trains())
            .map_or(exp.datasets.len().saturating_sub(1), |s| s.data)),
    }
}

/// What `auto` means: softmax when the experiment's first classification or regression
/// loss is a cross-entropy from logits or `nll` (sigmoid for one output), none when it
/// reads probabilities (`from_logits = false`) or is a regression's; without such a loss,
/// softmax unless `outputs` rows are already probabilities.
pub fn resolve_probabilities(
    exp: &Experiment,
    wanted: Probabilities,
    outputs: &[f32],
    width: usize,
) -> Probabilities {
    if wanted != Probabilities::Auto {
        return wanted;
    }
    let from_logits = exp.losses.iter().find_map(|l| match l.kind {
        LossKind::CategoricalCrossentropy { from_logits, .. }
        | LossKind::SparseCategoricalCrossentropy { from_logits, .. } => Some((from_logits, width)),
        LossKind::BinaryCrossentropy { from_logits, .. } => Some((from_logits, 1)),
        // Log-probabilities: their softmax is the probabilities.
        LossKind::Nll => Some((true, width)),
        // A regression's outputs are values, not scores of classes.
        LossKind::MeanSquaredError
        | LossKind::MeanAbsoluteError
        | LossKind::Huber { .. }
        | LossKind::LogCosh
        | LossKind::Poisson => Some((false, width)),
        _ => None,
    });
    match from_logits {
        Some((true, 1)) if width == 1 => Probabilities::Sigmoid,
        Some((true, _)) => Probabilities::Softmax,
        Some((false, _)) => Probabilities::None,
        None => {
            let distributions = outputs.chunks(width.max(1)).all(|row| {
                row.iter().all(|&p| (0.0..=1.0).contains(&p))
                    && (row.iter().sum::<f32>() - 1.0).abs() < 1e-4
            });
            if distributions {
                Probabilities::None
            } else {
                Probabilities::Softmax
            }
        }
    }
}

/// The elements of one example model `m` takes, checked to take one input.
fn input_shape(engine: &Engine, m: usize) -> Result<Vec<usize>, PredictError> {
    let model = &engine.experiment().models[m];
    let inputs = model.input_shapes();
    if inputs.len() != 1 {
        return Err(PredictError::Inputs {
            model: model.name.clone(),
            inputs: inputs.len(),
        });
    }
    Ok(inputs[0].clone())
}

/// Model `m`'s outputs on `x` (rows of `shape`), a batch at a time.
fn outputs(engine: &Engine, m: usize, x: &[f32], shape: &[usize]) -> Vec<f32> {
    let per: usize = shape.iter().product::<usize>().max(1);
    let mut out = Vec::new();
    for chunk in x.chunks(256 * per) {
        let mut s = vec![chunk.len() / per];
        s.extend(shape);
        out.extend(engine.infer(m, chunk.to_vec(), &s));
    }
    out
}

/// Rows of `width` outputs as predictions.
fn predictions(
    raw: &[f32],
    width: usize,
    how: Probabilities,
    labels: &[Option<usize>],
) -> Vec<Prediction> {
    raw.chunks(width.max(1))
        .zip(labels)
        .map(|(row, &label)| {
            let probabilities = match how {
                Probabilities::Softmax | Probabilities::Auto => softmax(row),
                Probabilities::Sigmoid => row.iter().map(|z| 1.0 / (1.0 + (-z).exp())).collect(),
                Probabilities::None => row.to_vec(),
            };
            let class = if width == 1 {
                // One output: the probability of class 1.
                usize::from(probabilities[0] >= 0.5)
            } else {
                argmax(&probabilities)
            };
            Prediction {
                label,
                class,
                probabilities,
            }
        })
        .collect()
}

/// The index of the largest value, the first of equal ones (as the accuracy metrics).
pub fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold(
            (0, f32::NEG_INFINITY),
            |b, (i, &p)| if p > b.1 { (i, p) } else { b },
        )
        .0
}

/// A row of logits as probabilities, stable for large logits.
pub fn softmax(row: &[f32]) -> Vec<f32> {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = row.iter().map(|v| (v - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.iter().map(|e| e / sum).collect()
}

/// Model `m`'s prediction for every example of data set `d`, in the data's order (no
/// shuffling, no augmentation: the examples as an evaluation step reads them).
pub fn on_data(
    engine: &Engine,
    m: usize,
    d: usize,
    examples: &Examples,
    how: Probabilities,
) -> Result<Vec<Prediction>, PredictError> {
    let exp = engine.experiment();
    let data = &exp.datasets[d];
    let shape = input_shape(engine, m)?;
    let model = &exp.models[m];
    if shape.iter().product::<usize>() != data.element_shape.iter().product::<usize>() {
        return Err(PredictError::Shape {
            data: data.name.clone(),
            data_shape: data.element_shape.clone(),
            model: model.name.clone(),
            model_shape: shape,
        });
    }
    let order: Vec<usize> = (0..examples.len()).collect();
    let mut raw = Vec::new();
    let mut labels = Vec::new();
    for indices in batches(&order, data.batch.max(1)) {
        let batch = Batch::gather(
            examples,
            indices,
            &Gather::plain(&data.scaling, &data.element_shape),
        )?;
        raw.extend(outputs(engine, m, &batch.x, &shape));
        match data.labels {
            Labels::Classes { .. } => labels.extend(batch.labels.iter().map(|&c| Some(c))),
            // A language model's targets are a token per position, not one per example.
            Labels::Values { .. } | Labels::Tokens { .. } => {
                labels.extend(indices.iter().map(|_| None));
            }
        }
    }
    let width = model.output_shape().iter().product::<usize>();
    let how = resolve_probabilities(exp, how, &raw, width);
    Ok(predictions(&raw, width, how, &labels))
}

/// Model `m`'s prediction for each image file, read as data set `d`'s images are
/// (greyscale or RGB by the model's channels, each byte scaled as the data set scales its
/// values); the image must have the model's size.
pub fn on_images(
    engine: &Engine,
    m: usize,
    d: &DataSet,
    paths: &[&Path],
    how: Probabilities,
) -> Result<Vec<Prediction>, PredictError> {
    let exp = engine.experiment();
    let model = &exp.models[m];
    let shape = input_shape(engine, m)?;
    let (channels, h, w) = match *shape.as_slice() {
        [h, w] => (1, h, w),
        [c, h, w] => (c, h, w),
        _ => (0, 0, 0),
    };
    let mut x = Vec::new();
    for path in paths {
        let shown = path.display().to_string();
        let image = image::open(path).map_err(|e| PredictError::Image {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        if channels == 0
            || image.width() as usize != w
            || image.height() as usize != h
            || !matches!(channels, 1 | 3)
        {
            return Err(PredictError::ImageSize {
                path: shown,
                width: image.width(),
                height: image.height(),
                model: model.name.clone(),
                expected: shape,
            });
        }
        let bytes = if channels == 1 {
            image.to_luma8().into_raw()
        } else {
            // Channels first, as the data sets hold images (C, H, W).
            let rgb = image.to_rgb8().into_raw();
            (0..3)
                .flat_map(|c| rgb.iter().skip(c).step_by(3).copied().collect::<Vec<_>>())
                .collect()
        };
        // One scaling pair for every value, or one per channel (`normalize` with tuples).
        let per_pair = bytes.len() / d.scaling.scale.len();
        x.extend(bytes.iter().enumerate().map(|(i, &b)| {
            let c = i / per_pair;
            f32::from(b) * d.scaling.scale[c] + d.scaling.shift[c]
        }));
    }
    let raw = outputs(engine, m, &x, &shape);
    let width = model.output_shape().iter().product::<usize>();
    let how = resolve_probabilities(exp, how, &raw, width);
    Ok(predictions(&raw, width, how, &vec![None; paths.len()]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_matches_torch_and_argmax_takes_the_first_maximum() {
        // torch.softmax(torch.tensor([1., 2., 3.]), 0)
        let p = softmax(&[1.0, 2.0, 3.0]);
        for (got, want) in p.iter().zip([0.090_030_57, 0.244_728_47, 0.665_240_96]) {
            assert!((got - want).abs() < 1e-7, "{p:?}");
        }
        // Large logits do not overflow.
        assert_eq!(softmax(&[1000.0, 1000.0]), [0.5, 0.5]);
        assert_eq!(argmax(&[0.2, 0.4, 0.4]), 1);
    }

    #[test]
    fn one_output_is_class_one_from_one_half() {
        let p = predictions(&[0.0, 2.0, -2.0], 1, Probabilities::Sigmoid, &[None; 3]);
        assert_eq!(p.iter().map(|p| p.class).collect::<Vec<_>>(), [1, 1, 0]);
        assert!((p[1].probabilities[0] - 0.880_797_1).abs() < 1e-6);
    }
}
