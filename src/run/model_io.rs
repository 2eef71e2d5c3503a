//! Saving and loading a model's weights as safetensors, in PyTorch's layout so
//! that `safetensors.torch.load_file` + `load_state_dict` take them as they are:
//!
//! - `<layer>.weight` of a dense layer is (out, in) — transposed from our (in, out);
//! - `<layer>.weight` of a conv2d is (out, in, kh, kw), as ours;
//! - `<layer>.bias` is (out,).
//!
//! Layer names are Keras-style (`conv2d`, `dense`, `dense_1`); `flatten` is NCHW
//! order, which matches PyTorch's `nn.Flatten` after a conv stack. The engine hands the
//! tensors over in that layout ([`Engine::model_tensors`]), whatever layout it trains in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::check::plan::Experiment;
use crate::data::{ColumnStats, Examples};

use crate::lower::{Engine, TensorMismatch};
use crate::output::model_file::{load_tensors_within, save_tensors};

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ModelFileError {
    #[error("`{path}` has no tensor `{name}` for model `{model}`")]
    #[diagnostic(
        code(expr::run::missing_tensor),
        help("the file was saved from another model; it holds: {found}")
    )]
    Missing {
        path: PathBuf,
        name: String,
        model: String,
        found: String,
    },
    #[error("tensor `{name}` in `{path}` has shape {found:?}, model `{model}` needs {expected:?}")]
    #[diagnostic(
        code(expr::run::tensor_shape),
        help("load weights saved from a model with the same layers")
    )]
    Shape {
        path: PathBuf,
        name: String,
        model: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Output(#[from] crate::output::OutputError),
}

/// Writes model `m` of `engine` to `path`, with the experiment's and the model's names,
/// and the statistics `standardize()` scaled the training inputs by (of `examples`, by
/// data set index), so that inference elsewhere scales its inputs as training did.
pub fn save(
    engine: &Engine,
    m: usize,
    path: &Path,
    examples: &[Arc<Examples>],
) -> Result<(), ModelFileError> {
    let exp = engine.experiment();
    let mut metadata = BTreeMap::from([
        ("experiment".to_string(), exp.name.clone()),
        ("model".to_string(), exp.models[m].name.clone()),
        ("layout".to_string(), "pytorch".to_string()),
        (
            "producer".to_string(),
            format!("expr {}", env!("CARGO_PKG_VERSION")),
        ),
    ]);
    if let Some(stats) = training_inputs(exp, examples) {
        // JSON lists: safetensors' metadata maps strings to strings.
        let list = |v: &[f64]| serde_json::to_string(v).unwrap_or_default();
        metadata.insert("input_mean".into(), list(&stats.mean));
        metadata.insert("input_std".into(), list(&stats.std));
    }
    save_tensors(path, &engine.model_tensors(m), &metadata)?;
    Ok(())
}

/// The statistics `standardize` scaled the training data's inputs by: the data of the first
/// step that trains, when it is standardized.
fn training_inputs<'a>(exp: &Experiment, examples: &'a [Arc<Examples>]) -> Option<&'a ColumnStats> {
    let step = exp.steps.iter().find(|s| s.trains())?;
    examples.get(step.data)?.encoding.standardized.as_ref()
}

/// Sets model `m` of `engine` from the file at `path`; a file that does not fit changes
/// nothing.
pub fn load_into(engine: &mut Engine, m: usize, path: &Path) -> Result<(), ModelFileError> {
    // The model's own size bounds the file: its tensors, with room for a header, names
    // and a few tensors more (a file saved from a larger model is then reported by name).
    let expected: u64 = engine
        .model_tensors(m)
        .iter()
        .map(|t| t.data.len() as u64 * 4)
        .sum();
    let (tensors, _) =
        load_tensors_within(path, expected.saturating_mul(4).saturating_add(64 << 20))?;
    let model = engine.experiment().models[m].name.clone();
    engine.load_model(m, &tensors).map_err(|e| match e {
        TensorMismatch::Missing { name } => ModelFileError::Missing {
            path: path.into(),
            name,
            model,
            found: tensors
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        },
        TensorMismatch::Shape {
            name,
            expected,
            found,
        } => ModelFileError::Shape {
            path: path.into(),
            name,
            model,
            expected,
            found,
        },
    })
}
