//! ResNet-20 as shipped (`experiments/resnet20.exp`) against a PyTorch twin: its data
//! replaced by 8 generated 3x32x32 images, it trains 2 steps of 4 (SGD with momentum and
//! weight decay, batch norm in training mode) from its seeded initial weights; the loss
//! of each run and every tensor of the final model (weights, batch norm's running
//! statistics and counts) must equal what `bench/reference/resnet20_twin.py` computes in
//! PyTorch (float64) from the same initial weights. The script printed the numbers below;
//! it also compares every value of every tensor (largest difference 1.3e-5 of the
//! tensor's largest value).
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use std::path::Path;

use common::twin::{assert_tensors, f32_bytes, first_epoch, i64_bytes, run};
use common::write_npy;

/// The script's images: `((n*7 + c*3 + h*5 + w*11) % 17) / 17 - 0.5`, in float32.
fn write_data(dir: &Path) {
    let x = (0..8 * 3 * 32 * 32usize).map(|i| {
        let (n, c, h, w) = (i / 3072, i / 1024 % 3, i / 32 % 32, i % 32);
        let k = (n * 7 + c * 3 + h * 5 + w * 11) % 17;
        f32::from(u8::try_from(k).unwrap()) / 17.0 - 0.5
    });
    write_npy(&dir.join("x.npy"), "<f4", &[8, 3, 32, 32], &f32_bytes(x));
    let labels = i64_bytes(&[0, 3, 5, 9, 1, 1, 7, 2]);
    write_npy(&dir.join("y.npy"), "<i8", &[8], &labels);
}

/// The shipped experiment with the script's replacements.
fn experiment(epochs: usize, save_to: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/resnet20.exp");
    let text = std::fs::read_to_string(path).unwrap();
    // The file's own metrics and log, at its end, read the test set this replaces.
    let text = &text[..text.find("\nmetrics {").unwrap()];
    let start = text.find("data train").unwrap();
    let end = text.find("// Two 3x3 convs").unwrap();
    let data = "data train = npy(x = \"x.npy\", y = \"y.npy\") | batch(4)\n\n\
                data again = npy(x = \"x.npy\", y = \"y.npy\") | batch(4)\n\n";
    let text = format!("{}{data}{}", &text[..start], &text[end..])
        .replace("  validate = test\n", "  validate = again\n")
        .replace("epochs = 182", &format!("epochs = {epochs}"));
    let mut metric = String::new();
    if epochs > 0 {
        metric.push_str("  train_loss = mean(loss) on train\n");
    }
    metric.push_str("  again_loss = mean(loss) on again\n");
    format!("{text}\nmetrics {{\n{metric}}}\n\nafter {{\n  save(resnet, to = \"{save_to}\")\n}}\n")
}

#[allow(clippy::unreadable_literal)]
#[test]
fn resnet20_trains_as_its_pytorch_twin() {
    let dir = tempfile::tempdir().unwrap();
    write_data(dir.path());
    let initial = run(dir.path(), &experiment(0, "initial.safetensors"), "initial");
    let loss = first_epoch(&initial, "again_loss");
    assert!((loss - 8.616972376).abs() < 1e-4, "initial loss {loss}");
    let trained = run(dir.path(), &experiment(1, "final.safetensors"), "final");
    let loss = first_epoch(&trained, "train_loss");
    assert!(
        (loss - 3.122374067).abs() < 1e-4,
        "loss of the two steps {loss}"
    );
    assert_tensors(&trained.join("final.safetensors"), TWIN);
}

/// Each tensor of the final model in PyTorch: name, sum, sum of squares (as the script
/// prints them).
#[allow(clippy::unreadable_literal)]
#[rustfmt::skip]
const TWIN: &[(&str, f64, f64)] = &[
    ("batch_normalization.bias", -5.852189040e-02, 9.383410458e-03),
    ("batch_normalization.num_batches_tracked", 2.000000000e+00, 4.000000000e+00),
    ("batch_normalization.running_mean", 1.355041867e-03, 6.480011272e-06),
    ("batch_normalization.running_var", 1.573854265e+01, 1.548143889e+01),
    ("batch_normalization.weight", 1.598527967e+01, 1.598197815e+01),
    ("batch_normalization_1.bias", 3.819139501e-03, 4.330307603e-03),
    ("batch_normalization_1.num_batches_tracked", 2.000000000e+00, 4.000000000e+00),
    ("batch_normalization_1.running_mean", 2.330666261e-02, 1.616757596e-03),
    ("batch_normalization_1.running_var", 1.591961455e+01, 1.584023251e+01),
    ("batch_normalization_1.weight", 1.599929457e+01, 1.600317769e+01),
    ("batch_normalization_10.bias", -3.811957165e-02, 5.803375157e-04),
    ("batch_normalization_10.num_batches_tracked", 2.000000000e+00, 4.000000000e+00),
    ("batch_normalization_10.running_mean", 1.781617943e-01, 6.071576511e-03),
    ("batch_normalization_10.running_var", 3.217934510e+01, 3.236078126e+01),
    ("batch_normalization_10.weight", 3.199909604e+01, 3.199876469e+01),
    ("batch_normalization_11.bias", -1.891529733e-03, 2.742212024e-04),
    ("batch_normalization_11.num_batches_tracked", 2.000000000e+00, 4.000000000e+00),
    ("batch_normalization_11.running_mean", 6.723022294e-02, 2.469969235e-03),
    ("batch_normalization_11.running_var", 3.177150048e+01, 3.154476739e+01),
    ("batch_normalization_11.weight", 3.202567362e+01, 3.205176029e+01),
    ("batch_normalization_12.bias", 2.586481365e-03, 2.027761585e-04),
    ("batch_normalization_12.num_batches_tracked", 2.000000000e+00, 4.000000000e+00),
    ("batch_normalization_12.running_mean", 1.146808154e-01, 2.371130687e-02),
    ("batch_normalization_12.running_var", 3.263871039e+01, 3.329241159e+01),
    ("batch_normalization_12.weight", 3.199909327e+01, 3.199852198e+01),
    ("batch_normalization_13.bias", -1.162724396e-02, 1.382959855e-04),
    ("batch_normalization_13.num_batches_tracked", 2.000000000e+00, 4.000000000e+00),
    ("batch_normalization_13.running_mean", 3.282582341e-03, 2.330635207e-03),
    ("batch_normalization_13.running_var", 3.178294090e+01, 3.156746412e+01),
    ("batch_normalization_13.weight", 3.197955621e+01, 3.195936272e+01),
    ("batch_normalization_14.bias", 9.568105081e-03, 2.545872934e-04),
    ("batch_normalization_14.num_batches_tracked", 2.000000000e+00, 4.000000000e+00),
    ("batch_normalization_14.running_mean", 8.645029675e-02, 4.600430062e-02),
    ("batch_normalization_14.running_var", 6.622830742e+01, 6.854568231e+01),
    ("batch_normalization_14.weight", 6.399803993e+01, 6.399638271e+01),
    ("batch_normalization_15.bias", -1.083342065e-01, 1.696013999e-03),
    ("batch_normalization_15.num_batches_tracked", 2.000000000e+00, 4.000000000e+00),
    ("batch_normalization_15.running_mean", 1.604647723e-02, 6.223440408e-03),
    ("batch_normalization_15.running_var", 6.355010025e+01, 6.310371048e+01),
    ("batch_normalization_15.weight", 6.391966969e+01, 6.384052697e+01),
    ("batch_normalization_16.bias", -1.083342065e-01, 1.696013999e-03),
    ("batch_normalization_16.num_batches_tracked", 2.000000000e+00, 4.000000000e+00),
    ("batch_normalization_16.running_mean", -3.346325215e-01, 5.781263203e-02),
    ("batch_normalization_16.running_var", 6.606673314e+01, 6.821194288e+01),
    ("batch_normalization_16.weight", 6.394096746e+01, 6.388274179e+01),
    ("batch_normalization_17.bias", 9.064131918e-03, 1.670924221e-04),
    ("batch_normalization_17.num_batches_tracked", 2.000000000e+00, 4.000000000e+00),
    ("batch_normalization_17.running_mean", -5.801270784e-03, 1.037521927e-02),
    ("batch_normalization_17.running_var", 6.429513045e+01, 6.459272295e+01),
    ("batch_normalization_17.weight", 6.399799413e+01, 6.399629350e+01),
    ("batch_normalization_18.bias", -1.769460881e-01, 4.011297501e-03),
    ("batch_normalization_18.num_batches_tracked", 2.000000000e+00, 4.000000000e+00),
    ("batch_normalization_18.running_mean", -9.528422306e-03, 5.047607542e-03),
    ("batch_normalization_18.running_var", 6.352086308e+01, 6.304549341e+01),
    ("batch_normalization_18.weight", 6.390844296e+01, 6.381831604e+01),
    ("batch_normalization_19.bias", -4.010844409e-03, 1.029174814e-04),
    ("batch_normalization_19.num_batches_tracked", 2.000000000e+00, 4.000000000e+00),
    ("batch_normalization_19.running_mean", 2.127265465e-01, 1.770517202e-02),
    ("batch_normalization_19.running_var", 6.502273862e+01, 6.606326655e+01),
    ("batch_normalization_19.weight", 6.399797756e+01, 6.399611122e+01),
    ("batch_normalization_2.bias", -3.864600664e-02, 2.636380253e-03),
    ("batch_normalization_2.num_batches_tracked", 2.000000000e+00, 4.000000000e+00),
    ("batch_normalization_2.running_mean", -1.692187463e-03, 2.045628162e-03),
    ("batch_normalization_2.running_var", 1.592492369e+01, 1.585048113e+01),
    ("batch_normalization_2.weight", 1.596804838e+01, 1.594130630e+01),
    ("batch_normalization_20.bias", -2.224146446e-01, 6.435277074e-03),
    ("batch_normalization_20.num_batches_tracked", 2.000000000e+00, 4.000000000e+00),
    ("batch_normalization_20.running_mean", 5.052110205e-02, 4.804053761e-03),
    ("batch_normalization_20.running_var", 6.354569439e+01, 6.309484760e+01),
    ("batch_normalization_20.weight", 6.391074262e+01, 6.382257510e+01),
    ("batch_normalization_3.bias", 7.161805350e-03, 3.104008483e-03),
    ("batch_normalization_3.num_batches_tracked", 2.000000000e+00, 4.000000000e+00),
    ("batch_normalization_3.running_mean", 6.968825041e-02, 4.471504997e-03),
    ("batch_normalization_3.running_var", 1.617904493e+01, 1.636244476e+01),
    ("batch_normalization_3.weight", 1.599947380e+01, 1.600281082e+01),
    ("batch_normalization_4.bias", -3.046378488e-02, 2.170869555e-03),
    ("batch_normalization_4.num_batches_tracked", 2.000000000e+00, 4.000000000e+00),
    ("batch_normalization_4.running_mean", -7.589855354e-03, 1.937658600e-03),
    ("batch_normalization_4.running_var", 1.589280068e+01, 1.578650222e+01),
    ("batch_normalization_4.weight", 1.603131599e+01, 1.606557309e+01),
    ("batch_normalization_5.bias", -5.421257903e-02, 1.424506329e-03),
    ("batch_normalization_5.num_batches_tracked", 2.000000000e+00, 4.000000000e+00),
    ("batch_normalization_5.running_mean", -7.326579298e-02, 8.121438646e-03),
    ("batch_normalization_5.running_var", 1.649210156e+01, 1.700563319e+01),
    ("batch_normalization_5.weight", 1.599964206e+01, 1.600024663e+01),
    ("batch_normalization_6.bias", 4.243133894e-03, 6.794886198e-04),
    ("batch_normalization_6.num_batches_tracked", 2.000000000e+00, 4.000000000e+00),
    ("batch_normalization_6.running_mean", -3.145992283e-02, 1.145071473e-03),
    ("batch_normalization_6.running_var", 1.588842372e+01, 1.577779618e+01),
    ("batch_normalization_6.weight", 1.601321005e+01, 1.602733695e+01),
    ("batch_normalization_7.bias", 1.554528760e-02, 1.223209078e-03),
    ("batch_normalization_7.num_batches_tracked", 2.000000000e+00, 4.000000000e+00),
    ("batch_normalization_7.running_mean", 2.902008963e-02, 2.261665887e-02),
    ("batch_normalization_7.running_var", 3.319885235e+01, 3.444791423e+01),
    ("batch_normalization_7.weight", 3.199912910e+01, 3.200013386e+01),
    ("batch_normalization_8.bias", -1.422707489e-02, 7.647760552e-04),
    ("batch_normalization_8.num_batches_tracked", 2.000000000e+00, 4.000000000e+00),
    ("batch_normalization_8.running_mean", -1.174586927e-02, 2.040635429e-03),
    ("batch_normalization_8.running_var", 3.179231857e+01, 3.158641300e+01),
    ("batch_normalization_8.weight", 3.201724101e+01, 3.203537558e+01),
    ("batch_normalization_9.bias", -1.422707489e-02, 7.647760552e-04),
    ("batch_normalization_9.num_batches_tracked", 2.000000000e+00, 4.000000000e+00),
    ("batch_normalization_9.running_mean", -1.971236865e-01, 3.828691398e-02),
    ("batch_normalization_9.running_var", 3.304192378e+01, 3.413220879e+01),
    ("batch_normalization_9.weight", 3.197388280e+01, 3.194858429e+01),
    ("conv2d.weight", -2.407041526e+00, 3.230959371e+01),
    ("conv2d_1.weight", 3.256583531e+00, 3.136904950e+01),
    ("conv2d_10.weight", 1.832411404e+01, 6.441583142e+01),
    ("conv2d_11.weight", 9.191831757e+00, 6.378982643e+01),
    ("conv2d_12.weight", 7.514587669e+00, 6.435550412e+01),
    ("conv2d_13.weight", 1.351596065e+00, 6.382997745e+01),
    ("conv2d_14.weight", 3.852278762e+00, 1.278106510e+02),
    ("conv2d_15.weight", -1.236730454e+00, 1.282609968e+02),
    ("conv2d_16.weight", -1.567204996e+01, 1.237728035e+02),
    ("conv2d_17.weight", -2.430858108e+00, 1.285937942e+02),
    ("conv2d_18.weight", -9.286940733e-01, 1.274419766e+02),
    ("conv2d_19.weight", 1.581647628e+01, 1.266341509e+02),
    ("conv2d_2.weight", -8.472315713e-02, 3.247707835e+01),
    ("conv2d_20.weight", 7.755125990e+00, 1.289946629e+02),
    ("conv2d_3.weight", 5.024155801e+00, 3.195125459e+01),
    ("conv2d_4.weight", -1.174669529e+00, 3.326191531e+01),
    ("conv2d_5.weight", -3.163473307e+00, 3.167125791e+01),
    ("conv2d_6.weight", -4.335801153e+00, 3.267649459e+01),
    ("conv2d_7.weight", 8.839891690e-01, 6.404381836e+01),
    ("conv2d_8.weight", -5.346781936e-03, 6.340318815e+01),
    ("conv2d_9.weight", -8.421334139e+00, 6.391082905e+01),
    ("dense.bias", -1.387778781e-17, 7.679095878e-03),
    ("dense.weight", 4.271890268e+00, 1.715855917e+01),
];
