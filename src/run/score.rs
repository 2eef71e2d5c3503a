//! Scoring a generator by a classifier: the images a GAN experiment's `grid`
//! draws, classified by a model trained on the real data. Good samples are
//! classified confidently (mean top-class probability) and cover every class.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use super::grid;
use super::model_io::load_into;
use crate::check::plan::Action;
use crate::check::Experiment;
use crate::lower::Engine;

pub struct Score {
    pub samples: usize,
    /// Mean over samples of the classifier's highest softmax probability.
    pub mean_top: f64,
    /// Fraction of samples assigned to each class.
    pub coverage: Vec<f64>,
}

/// Generates `samples` images with the first `grid` of `gan` (its models loaded
/// from `<run_dir>/<model>.safetensors`, noise seeded with `seed`) and classifies
/// them with the first model of `classifier_exp`, loaded from `classifier_file`.
///
/// # Errors
/// A readable message when a file is missing or does not fit, or `gan` has no `grid`.
pub fn score(
    gan: &Arc<Experiment>,
    run_dir: &Path,
    classifier_exp: &Arc<Experiment>,
    classifier_file: &Path,
    samples: usize,
    seed: u64,
) -> Result<Score, String> {
    let action = gan
        .hooks
        .epoch_end
        .iter()
        .chain(&gan.after)
        .find(|a| matches!(a, Action::Grid { step: None, .. }))
        .ok_or("the experiment has no `grid` of generated images (without `on = ...`)")?
        .clone();
    let mut g = Engine::new(gan.clone());
    for (m, model) in gan.models.iter().enumerate() {
        let file = run_dir.join(format!("{}.safetensors", model.name));
        if file.exists() {
            load_into(&mut g, m, &file).map_err(|e| format!("{}: {e}", file.display()))?;
        }
    }
    let images = grid::images(&g, &action, &HashMap::new(), Some(samples), seed)
        .ok_or("the grid produced no images")?;
    let mut c = Engine::new(classifier_exp.clone());
    let model = classifier_exp
        .models
        .first()
        .ok_or("the classifier experiment has no model")?;
    load_into(&mut c, 0, classifier_file)
        .map_err(|e| format!("{}: {e}", classifier_file.display()))?;
    if model.input_shapes().len() != 1 || model.output_shapes().len() != 1 {
        return Err(format!(
            "the classifier `{}` must take one input and return one value",
            model.name
        ));
    }
    let per: usize = model.input_shape.iter().product();
    let (h, w) = images.tile;
    if per != h * w {
        return Err(format!(
            "the classifier takes {:?}, the images are {h} x {w}",
            model.input_shape
        ));
    }
    let n = images.rows;
    let pixels: Vec<f32> = images.pixels[..n * per]
        .iter()
        .map(|v| v.clamp(0.0, 1.0))
        .collect();
    let classes = model.output_shape().iter().product::<usize>();
    let mut counts = vec![0usize; classes];
    let mut top_sum = 0.0f64;
    for (rows, chunk) in pixels.chunks(250 * per).map(|c| (c.len() / per, c)) {
        let mut shape = vec![rows];
        shape.extend(&model.input_shape);
        let probs = softmax_rows(&c.infer(0, chunk.to_vec(), &shape), classes);
        for row in probs.chunks(classes) {
            let (best, p) =
                row.iter()
                    .enumerate()
                    .fold((0, f32::MIN), |b, (i, &p)| if p > b.1 { (i, p) } else { b });
            counts[best] += 1;
            top_sum += f64::from(p);
        }
    }
    Ok(Score {
        samples: n,
        mean_top: top_sum / n as f64,
        coverage: counts.iter().map(|&k| k as f64 / n as f64).collect(),
    })
}

/// Each row of `classes` logits as probabilities.
fn softmax_rows(logits: &[f32], classes: usize) -> Vec<f32> {
    logits
        .chunks(classes)
        .flat_map(super::predict::softmax)
        .collect()
}
