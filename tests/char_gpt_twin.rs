//! A GPT saved by expr loads into its PyTorch twin's modules (`bench/twins/char_gpt.py`) and
//! gives the same outputs (issue 16): `bench/twins/char_gpt_loads.py` saved the weights
//! `tests/cases/run/tiny_gpt.exp` draws from its seed, loaded them into `Gpt` (token and
//! position embeddings, layer norms, `nn.MultiheadAttention` with a causal mask, the GELU
//! MLP, the head) and printed its logits at two sequences of token ids; expr's engine, from
//! the same seed, computes them here.

#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion
#![allow(clippy::unreadable_literal)] // PyTorch's numbers as the script prints them

use std::path::Path;
use std::sync::Arc;

/// PyTorch's logits, (batch, vocabulary, positions), as expr lays a sequence out.
const TORCH: [f32; 144] = [
    -0.8493, 0.481771, 0.409735, 1.435196, -0.557386, -0.035084, 1.210429, 0.297576, 0.917786,
    1.162805, 1.041251, 0.453916, 0.872177, 0.822833, 0.444237, 0.954835, 1.13652, -0.139508,
    0.148258, 1.534156, 0.422088, -0.974786, -0.818546, -0.091914, 1.101252, 1.162088, 0.885096,
    0.465045, 0.423572, 1.174096, 1.396265, 1.121524, -1.059822, -0.206485, -0.037441, 0.544051,
    1.326283, 0.194672, -0.107545, -0.541887, -0.632667, -0.682983, -0.964305, -0.132004,
    -0.512562, -0.394537, -1.125445, -0.478862, -0.134594, -0.45144, -0.291814, 1.401744, 0.819221,
    -0.935228, -0.91184, -0.529867, 0.58203, 0.205006, 0.303499, -0.876255, -0.970057, -0.308989,
    -0.089648, 0.004017, 0.314882, 0.239542, 0.629, 0.522658, 0.517, -0.852497, 0.032298, 0.445125,
    -0.780819, 0.107115, 0.130717, 1.024951, -0.389228, 0.006125, 1.304921, 0.246057, 0.737901,
    1.271793, 1.081504, 0.5269, 0.416837, 0.783547, 0.361619, 0.807411, 1.229269, 0.24522,
    0.449287, 2.163647, 0.453691, -1.030825, -0.720361, 0.50846, 1.036909, 1.263216, 0.887861,
    0.455088, 0.059894, 1.183128, 1.424638, 0.982081, -0.967528, -0.192559, -0.00786, 0.488187,
    1.437375, 0.551742, 0.035975, -0.353305, -0.514292, -0.657721, -0.884407, 0.134899, -0.092559,
    -0.375874, -1.20532, -0.325352, 0.028955, -0.431695, -0.250429, 1.631723, 1.063319, -0.864937,
    -0.885253, 0.129954, 0.537208, 0.373446, 0.38522, -0.935749, -1.039187, -0.468256, -0.015355,
    -0.348701, 0.627651, 0.422981, 0.759723, 0.15425, 0.783391, -0.781349, 0.303572, 0.976092,
];

#[test]
fn a_saved_gpt_gives_pytorchs_outputs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.txt"), "hello world\n".repeat(50)).unwrap();
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/run/tiny_gpt.exp");
    let path = dir.path().join("t.exp");
    std::fs::copy(case, &path).unwrap();
    let loaded = expr::overrides::load_file(&path, &[]).unwrap_or_else(|_| panic!("loads"));
    let engine = expr::lower::Engine::new(Arc::new(loaded.experiment));
    let ids: Vec<f32> = [3, 2, 4, 4, 5, 0, 7, 5, 8, 1, 0, 6, 6, 2, 3, 4]
        .iter()
        .map(|&i: &u8| f32::from(i))
        .collect();
    let logits = engine.infer(0, ids, &[2, 8]);
    assert_eq!(logits.len(), TORCH.len());
    for (i, (a, b)) in logits.iter().zip(TORCH).enumerate() {
        assert!((a - b).abs() < 2e-5, "logit {i}: expr {a}, PyTorch {b}");
    }
}
