//! Saving and loading a model's weights as safetensors, in PyTorch's layout so
//! that `safetensors.torch.load_file` + `load_state_dict` take them as they are:
//!
//! - `<layer>.weight` of a dense layer is (out, in) — transposed from our (in, out);
//! - `<layer>.weight` of a conv2d is (out, in, kh, kw), as ours;
//! - `<layer>.bias` is (out,).
//!
//! Layer names are Keras-style (`conv2d`, `dense`, `dense_1`); `flatten` is NCHW
//! order, which matches PyTorch's `nn.Flatten` after a conv stack (whatever order the
//! dense weight's rows are stored in while training: `crate::lower::params::RowOrder`).

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
                data: transpose(&p.canonical_value(), i, o),
            },
            None => NamedTensor {
                name: p.name.clone(),
                shape: p.shape.clone(),
                data: p.value.to_vec(),
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
        p.set_canonical_value(&v);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use dfdx::prelude::*;

    use super::*;
    use crate::lower::model::Act;
    use crate::lower::params::RowOrder;
    use crate::run::engine::Engine;

    const IMAGE: usize = 8;
    const FILTERS: usize = 16;
    const POOLED: usize = (IMAGE - 2) / 2;

    /// A conv (16 filters, so the AVX-512 path runs where the CPU has it), a 2x2 max pool, a
    /// flatten and a dense layer: the dense weight's rows are stored channels-last.
    fn engine(seed: u64) -> Engine {
        let text = format!(
            "experiment t {{ seed = {seed} }}
data train = idx(images = \"i\", labels = \"l\", shape = ({IMAGE}, {IMAGE}), classes = 3) | channel_axis() | batch(2)
model m {{
  conv2d(filters = {FILTERS}, kernel = 3, activation = relu)
  maxpool2d(pool = 2)
  flatten()
  dense(units = 3)
}}
loss xent = sparse_categorical_crossentropy(from_logits = true)
optimizer opt = sgd(lr = 0.1)
train {{ model = m
  data = train
  loss = xent
  optimizer = opt
  epochs = 1 }}"
        );
        let file = crate::syntax::parse_file(&text).expect("parses");
        let exp = crate::check::check(&file).unwrap_or_else(|e| panic!("{e:?}"));
        Engine::new(Arc::new(exp))
    }

    fn input() -> Vec<f32> {
        (0..2 * IMAGE * IMAGE)
            .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
            .collect()
    }

    fn predict(engine: &Engine) -> Vec<f32> {
        let x = engine.dev.tensor_from_vec(input(), (2, 1, IMAGE, IMAGE));
        match engine.models[0].forward::<NoneTape>(Act::Image(x), false, false) {
            Act::Flat(y) => y.as_vec(),
            Act::Image(_) => unreachable!("the model ends in a dense layer"),
        }
    }

    fn tensor<'a>(tensors: &'a [NamedTensor], name: &str) -> &'a NamedTensor {
        tensors.iter().find(|t| t.name == name).expect(name)
    }

    /// The model as PyTorch computes it from the file: NCHW, flattened channel-major, the
    /// dense weight `(out, in)`; in f64.
    fn pytorch_forward(tensors: &[NamedTensor]) -> Vec<f64> {
        let (cw, cb) = (
            tensor(tensors, "conv2d.weight"),
            tensor(tensors, "conv2d.bias"),
        );
        let (dw, db) = (
            tensor(tensors, "dense.weight"),
            tensor(tensors, "dense.bias"),
        );
        assert_eq!(cw.shape, [FILTERS, 1, 3, 3]);
        assert_eq!(dw.shape, [3, FILTERS * POOLED * POOLED]);
        let x = input();
        let mut out = Vec::new();
        for n in 0..2 {
            let pixel = |i: usize, j: usize| f64::from(x[n * IMAGE * IMAGE + i * IMAGE + j]);
            let mut flat = Vec::new();
            for c in 0..FILTERS {
                let conv = |i: usize, j: usize| {
                    let mut s = f64::from(cb.data[c]);
                    for (t, &w) in cw.data[c * 9..][..9].iter().enumerate() {
                        s += f64::from(w) * pixel(i + t / 3, j + t % 3);
                    }
                    s.max(0.0)
                };
                for i in 0..POOLED {
                    for j in 0..POOLED {
                        let (a, b) = (2 * i, 2 * j);
                        let m = conv(a, b)
                            .max(conv(a, b + 1))
                            .max(conv(a + 1, b))
                            .max(conv(a + 1, b + 1));
                        flat.push(m);
                    }
                }
            }
            for o in 0..3 {
                let row = &dw.data[o * flat.len()..][..flat.len()];
                let dot: f64 = row.iter().zip(&flat).map(|(&w, f)| f64::from(w) * f).sum();
                out.push(dot + f64::from(db.data[o]));
            }
        }
        out
    }

    #[test]
    fn files_hold_pytorch_layout_whatever_order_the_rows_are_stored_in() {
        let a = engine(1);
        let weight = &a.models[0].params[2];
        assert_eq!(weight.name, "dense.weight");
        assert_eq!(
            weight.rows,
            RowOrder::ChannelsLast {
                channels: FILTERS,
                positions: POOLED * POOLED
            }
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        save(&a.models[0], &a.exp.models[0], "t", &path).unwrap();
        let (tensors, _) = load_tensors(&path).unwrap();
        let want = pytorch_forward(&tensors);
        let got = predict(&a);
        for (k, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                (f64::from(*g) - w).abs() < 1e-4,
                "output {k}: {g} against {w}"
            );
        }
        // Loaded into a model initialised otherwise, it predicts the same bits.
        let mut b = engine(2);
        assert_ne!(predict(&b), got);
        load_into(&mut b.models[0], &a.exp.models[0], &path).unwrap();
        assert_eq!(predict(&b), got);
        assert_eq!(b.models[0].params[2].value, a.models[0].params[2].value);
    }
}
