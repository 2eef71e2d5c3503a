//! Saving and loading a model's weights as safetensors, in PyTorch's layout so
//! that `safetensors.torch.load_file` + `load_state_dict` take them as they are:
//!
//! - `<layer>.weight` of a dense layer is (out, in) — transposed from our (in, out);
//! - `<layer>.weight` of a conv2d is (out, in, kh, kw), as ours;
//! - `<layer>.bias` is (out,).
//!
//! Layer names are Keras-style (`conv2d`, `dense`, `dense_1`); `flatten` is NCHW
//! order, which matches PyTorch's `nn.Flatten` after a conv stack.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::check::plan::{LayerKind, Model};
use crate::lower::model::LoweredModel;
use crate::output::model_file::{load_tensors, save_tensors, NamedTensor};

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

/// Which parameters are dense kernels, stored transposed.
fn is_dense_weight(model: &Model, name: &str) -> Option<(usize, usize)> {
    model.layers.iter().find_map(|l| match l.kind {
        LayerKind::Dense { units, .. } if name == format!("{}.weight", l.name) => {
            Some((l.input_shape[0], units))
        }
        _ => None,
    })
}

fn transpose(v: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; v.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = v[r * cols + c];
        }
    }
    out
}

pub fn save(
    lowered: &LoweredModel,
    model: &Model,
    experiment: &str,
    path: &Path,
) -> Result<(), ModelFileError> {
    let tensors: Vec<NamedTensor> = lowered
        .params
        .iter()
        .map(|p| match is_dense_weight(model, &p.name) {
            Some((i, o)) => NamedTensor {
                name: p.name.clone(),
                shape: vec![o, i],
                data: transpose(&p.value, i, o),
            },
            None => NamedTensor {
                name: p.name.clone(),
                shape: p.shape.clone(),
                data: p.value.clone(),
            },
        })
        .collect();
    let metadata = BTreeMap::from([
        ("experiment".to_string(), experiment.to_string()),
        ("model".to_string(), model.name.clone()),
        ("layout".to_string(), "pytorch".to_string()),
        (
            "producer".to_string(),
            format!("expr {}", env!("CARGO_PKG_VERSION")),
        ),
    ]);
    save_tensors(path, &tensors, &metadata)?;
    Ok(())
}

pub fn load_into(
    lowered: &mut LoweredModel,
    model: &Model,
    path: &Path,
) -> Result<(), ModelFileError> {
    let (tensors, _) = load_tensors(path)?;
    let found = || {
        tensors
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    // Validate every tensor before touching the model, so a bad file changes nothing.
    let mut values = Vec::with_capacity(lowered.params.len());
    for p in &lowered.params {
        let Some(t) = tensors.iter().find(|t| t.name == p.name) else {
            return Err(ModelFileError::Missing {
                path: path.into(),
                name: p.name.clone(),
                model: model.name.clone(),
                found: found(),
            });
        };
        let (expected, data) = match is_dense_weight(model, &p.name) {
            Some((i, o)) => (vec![o, i], transpose(&t.data, o, i)),
            None => (p.shape.clone(), t.data.clone()),
        };
        if t.shape != expected {
            return Err(ModelFileError::Shape {
                path: path.into(),
                name: p.name.clone(),
                model: model.name.clone(),
                expected,
                found: t.shape.clone(),
            });
        }
        values.push(data);
    }
    for (p, v) in lowered.params.iter_mut().zip(values) {
        p.value = v;
        p.sync();
    }
    Ok(())
}
