//! The models of the shipped `experiments/dcgan.exp` (the generator with batch norm in
//! inference mode, on the running statistics of its file; the discriminator) and
//! `experiments/vae.exp` (the encoder's two heads, the decoder), given model files of
//! formula weights under PyTorch's names and layouts, predict what their PyTorch twins
//! compute (`bench/twins/dcgan.py`, `bench/twins/vae.py`, which `load_state_dict` the same
//! tensors): `bench/reference/gan_vae_models.py` printed the numbers below and compares
//! every output with `expr predict` (largest difference 1.0e-6). A Keras placement of
//! `same` padding or of a transposed convolution's crop, a flatten or reshape order, a
//! transposed kernel, or running statistics read wrong, moves them by 1e-2 or more.
//! The data is replaced by .npy files, so no MNIST is needed.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::twin::f32_bytes;
use common::write_npy;
use expr::output::NamedTensor;

/// The script's `fill`: `(((i + start) * mul) % modulus - off) / scale` for i below n.
fn fill(n: usize, (mul, modulus, off, scale): (usize, usize, i16, f32), start: usize) -> Vec<f32> {
    (start..start + n)
        .map(|i| {
            // |k| < 300: exact in f32.
            let k = i16::try_from(i * mul % modulus).unwrap() - off;
            f32::from(k) / scale
        })
        .collect()
}

/// The smallest power of two whose square is at least 784 times a row's length.
fn weight_scale(shape: &[usize]) -> f32 {
    let row: usize = shape[1..].iter().product();
    let mut s = 1usize;
    while s * s < 784 * row {
        s *= 2;
    }
    f32::from(u16::try_from(s).unwrap())
}

/// One tensor of the script's formulas: `<layer>.<kind>` of `shape`.
fn tensor(name: &str, shape: &[usize]) -> NamedTensor {
    let n = shape.iter().product();
    let (layer, kind) = name.rsplit_once('.').unwrap();
    // Layers of one kind differ: `dense_2` starts 34 values into the pattern.
    let start = 17
        * layer
            .rsplit_once('_')
            .and_then(|(_, k)| k.parse::<usize>().ok())
            .unwrap_or(0);
    let data = match kind {
        "weight" if layer.starts_with("batch_normalization") => fill(n, (3, 7, 3, 8.0), start)
            .iter()
            .map(|v| 1.0 + v)
            .collect(),
        "weight" => fill(n, (53, 97, 48, weight_scale(shape)), start),
        "bias" => fill(n, (7, 5, 2, 16.0), start),
        "running_mean" => fill(n, (11, 13, 6, 32.0), start),
        "running_var" => (0..n)
            .map(|i| 0.5 + f32::from(u8::try_from(i * 5 % 9).unwrap()) / 8.0)
            .collect(),
        "num_batches_tracked" => vec![7.0],
        other => panic!("{other}"),
    };
    NamedTensor {
        name: name.into(),
        shape: shape.to_vec(),
        data,
    }
}

/// Writes model file `dir/NAME.safetensors` of the layers (name, shape).
fn write_model(dir: &Path, name: &str, layers: &[(&str, &[usize])]) {
    let tensors: Vec<NamedTensor> = layers.iter().map(|(n, s)| tensor(n, s)).collect();
    let path = dir.join(format!("{name}.safetensors"));
    expr::output::save_tensors(&path, &tensors, &BTreeMap::new()).unwrap();
}

fn batch_norm(layer: &str, c: usize) -> Vec<(String, Vec<usize>)> {
    ["weight", "bias", "running_mean", "running_var"]
        .iter()
        .map(|k| (format!("{layer}.{k}"), vec![c]))
        .chain([(format!("{layer}.num_batches_tracked"), vec![])])
        .collect()
}

fn write_models(dir: &Path) {
    let mut generator: Vec<(String, Vec<usize>)> = vec![("dense.weight".into(), vec![12544, 100])];
    generator.extend(batch_norm("batch_normalization", 12544));
    generator.push(("conv2d_transpose.weight".into(), vec![256, 128, 5, 5]));
    generator.extend(batch_norm("batch_normalization_1", 128));
    generator.push(("conv2d_transpose_1.weight".into(), vec![128, 64, 5, 5]));
    generator.extend(batch_norm("batch_normalization_2", 64));
    generator.push(("conv2d_transpose_2.weight".into(), vec![64, 1, 5, 5]));
    let generator: Vec<(&str, &[usize])> = generator
        .iter()
        .map(|(n, s)| (n.as_str(), s.as_slice()))
        .collect();
    write_model(dir, "generator", &generator);
    write_model(
        dir,
        "discriminator",
        &[
            ("conv2d.weight", &[64, 1, 5, 5]),
            ("conv2d.bias", &[64]),
            ("conv2d_1.weight", &[128, 64, 5, 5]),
            ("conv2d_1.bias", &[128]),
            ("dense.weight", &[1, 6272]),
            ("dense.bias", &[1]),
        ],
    );
    write_model(
        dir,
        "encoder",
        &[
            ("conv2d.weight", &[32, 1, 3, 3]),
            ("conv2d.bias", &[32]),
            ("conv2d_1.weight", &[64, 32, 3, 3]),
            ("conv2d_1.bias", &[64]),
            ("dense.weight", &[16, 3136]),
            ("dense.bias", &[16]),
            ("dense_1.weight", &[2, 16]),
            ("dense_1.bias", &[2]),
            ("dense_2.weight", &[2, 16]),
            ("dense_2.bias", &[2]),
        ],
    );
    write_model(
        dir,
        "decoder",
        &[
            ("dense.weight", &[3136, 2]),
            ("dense.bias", &[3136]),
            ("conv2d_transpose.weight", &[64, 64, 3, 3]),
            ("conv2d_transpose.bias", &[64]),
            ("conv2d_transpose_1.weight", &[64, 32, 3, 3]),
            ("conv2d_transpose_1.bias", &[32]),
            ("conv2d_transpose_2.weight", &[32, 1, 3, 3]),
            ("conv2d_transpose_2.bias", &[1]),
        ],
    );
}

/// A directory with the model files, the script's images (in [-1, 1), (3, 1, 28, 28):
/// the `train` data, and returned) and zero targets for them.
fn setup() -> (tempfile::TempDir, Vec<f32>) {
    let dir = tempfile::tempdir().unwrap();
    write_models(dir.path());
    let images = fill(3 * 784, (29, 256, 128, 128.0), 0);
    let bytes = f32_bytes(images.iter().copied());
    write_npy(
        &dir.path().join("images.npy"),
        "<f4",
        &[3, 1, 28, 28],
        &bytes,
    );
    let zeros = f32_bytes([0.0; 3]);
    write_npy(&dir.path().join("y.npy"), "<f4", &[3, 1], &zeros);
    (dir, images)
}

/// `expr predict` of `model` on the shipped experiment `name`, its data replaced by the
/// images (`train`) and the rows of x (`probe`): the outputs per example.
fn predict(
    dir: &Path,
    name: &str,
    edit: fn(String) -> String,
    model: &str,
    x: &[f32],
    shape: &[usize],
) -> Vec<Vec<f64>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join(format!("experiments/{name}.exp"))).unwrap();
    let (first, last) = match name {
        "dcgan" => ("data train =", "| batch(256)"),
        _ => ("data train_raw =", "| batch(128)"),
    };
    let a = text.find(first).unwrap();
    let b = a + text[a..].find(last).unwrap() + last.len();
    let data =
        "data train = npy(x = \"images.npy\", y = \"y.npy\", task = regression) | batch(3)\n\
                data probe = npy(x = \"x.npy\", y = \"y.npy\", task = regression) | batch(3)";
    let text = edit(format!("{}{data}{}", &text[..a], &text[b..]));
    std::fs::write(dir.join("probe.exp"), text).unwrap();
    write_npy(
        &dir.join("x.npy"),
        "<f4",
        shape,
        &f32_bytes(x.iter().copied()),
    );
    let weights = format!("{model}={model}.safetensors");
    let out = common::expr_in(
        dir,
        &[
            "predict",
            "probe.exp",
            "--model",
            &weights,
            "--data",
            "probe",
            "--probabilities",
            "none",
            "--threads",
            "2",
        ],
    );
    let csv = common::succeeded(&out);
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let first_output = header.iter().position(|h| *h == "p0").unwrap();
    lines
        .map(|l| {
            l.split(',')
                .skip(first_output)
                .map(|v| v.parse().unwrap())
                .collect()
        })
        .collect()
}

/// Each example's outputs against the script's (sum, sum weighted by `i % 7 - 3`, sum of
/// squares): the CSV's six decimals round each of the 784 values by up to 5e-7.
fn assert_stats(what: &str, got: &[Vec<f64>], want: &[(f64, f64, f64)]) {
    assert_eq!(got.len(), want.len(), "{what}: examples");
    for (row, &(sum, weighted, squares)) in got.iter().zip(want) {
        assert_eq!(row.len(), 784, "{what}: outputs");
        let weight = |i: usize| f64::from(u8::try_from(i % 7).unwrap()) - 3.0;
        let stats = [
            (row.iter().sum::<f64>(), sum),
            (
                row.iter().enumerate().map(|(i, v)| v * weight(i)).sum(),
                weighted,
            ),
            (row.iter().map(|v| v * v).sum(), squares),
        ];
        for (k, (got, want)) in stats.into_iter().enumerate() {
            assert!(
                (got - want).abs() < 1e-3 + 1e-5 * want.abs(),
                "{what}, statistic {k}: {got} against PyTorch's {want}"
            );
        }
    }
}

fn assert_values(what: &str, got: &[Vec<f64>], want: &[&[f64]]) {
    assert_eq!(got.len(), want.len(), "{what}: examples");
    for (row, want) in got.iter().zip(want) {
        assert_eq!(row.len(), want.len(), "{what}: outputs");
        for (g, w) in row.iter().zip(*want) {
            assert!(
                (g - w).abs() < 2e-6,
                "{what}: {row:?} against PyTorch's {want:?}"
            );
        }
    }
}

#[allow(clippy::unreadable_literal)]
#[test]
fn dcgan_models_compute_what_pytorch_computes_from_their_files() {
    let (dir, images) = setup();
    let same = |t: String| t;
    let noise = fill(300, (37, 101, 50, 32.0), 0);
    let got = predict(dir.path(), "dcgan", same, "generator", &noise, &[3, 100]);
    assert_stats(
        "generator",
        &got,
        &[
            (10.0496854, 0.712261094, 27.9274632),
            (11.2651714, -0.0403000853, 24.026702),
            (9.93358889, -0.953666736, 21.6223781),
        ],
    );
    let got = predict(
        dir.path(),
        "dcgan",
        same,
        "discriminator",
        &images,
        &[3, 1, 28, 28],
    );
    assert_values(
        "discriminator",
        &got,
        &[&[-0.0865115672], &[-0.152160943], &[0.00825813413]],
    );
}

#[allow(clippy::unreadable_literal)]
#[test]
fn vae_models_compute_what_pytorch_computes_from_their_files() {
    let (dir, images) = setup();
    let unit: Vec<f32> = images.iter().map(|v| (v + 1.0) / 2.0).collect();
    let same = |t: String| t;
    let got = predict(dir.path(), "vae", same, "encoder", &unit, &[3, 1, 28, 28]);
    assert_values(
        "encoder z_mean",
        &got,
        &[
            &[0.141820237, 0.00501203537],
            &[0.112024322, -0.0867369696],
            &[0.171435848, 0.0136857331],
        ],
    );
    // `expr predict` prints a model's first output: the encoder returning z_log_var first.
    let swap = |t: String| t.replace("return z_mean, z_log_var", "return z_log_var, z_mean");
    let got = predict(dir.path(), "vae", swap, "encoder", &unit, &[3, 1, 28, 28]);
    assert_values(
        "encoder z_log_var",
        &got,
        &[
            &[-0.0174626708, -0.091839157],
            &[0.0660359561, -0.118818492],
            &[-0.0384853482, -0.0639480203],
        ],
    );
    let codes = fill(6, (5, 7, 3, 2.0), 0);
    let got = predict(dir.path(), "vae", same, "decoder", &codes, &[3, 2]);
    assert_stats(
        "decoder",
        &got,
        &[
            (419.383067, 1.02044898, 231.823796),
            (420.600312, 1.27113181, 228.903099),
            (420.241061, 0.660048515, 229.578723),
        ],
    );
}
