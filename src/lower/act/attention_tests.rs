//! `dense` at each position of a sequence and `attention` (the input projection, the heads,
//! the output projection, as the layers compose them) against PyTorch's `nn.Linear` and
//! `nn.MultiheadAttention(4, heads, batch_first = True)` on fixed inputs, outputs and every
//! gradient: `bench/reference/attention.py` prints the numbers (float64).

#![allow(clippy::unreadable_literal)] // PyTorch's numbers as the script prints them

use dfdx::prelude::*;

use super::{attention, positionwise_dense, Act};
use crate::check::plan::Activation;
use crate::lower::params::Param;
use crate::ops::WeightLayout;

const B: usize = 2;
const D: usize = 4;
const T: usize = 3;

fn seq(n: usize, f: impl Fn(usize) -> f64) -> Vec<f32> {
    (0..n).map(|i| f(i) as f32).collect()
}

/// `(batch, channels, length)`, as the script builds it.
fn x_values() -> Vec<f32> {
    seq(B * D * T, |i| ((i * 7 % 23) as f64 - 11.0) / 8.0)
}

fn upstream(n: usize) -> Vec<f32> {
    seq(n, |i| (i % 5) as f64 * 0.3 - 0.5)
}

/// A parameter read on the host, as the layers lower theirs.
fn param(dev: &Cpu, name: &str, shape: Vec<usize>, value: Vec<f32>) -> Param {
    let mut p = Param::new(dev, name.into(), shape, value);
    p.read_on_host(dev);
    p
}

fn assert_near(what: &str, got: &[f32], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (f64::from(g) - w).abs() <= 2e-6 * w.abs().max(1.0),
            "{what}[{i}]: {g} against PyTorch's {w}"
        );
    }
}

/// Output and gradients of `sum(y * upstream)` for a layer built by `layer` from the input
/// and the parameters.
fn run(
    params: &mut [Param],
    layer: impl Fn(
        Tensor<(usize, usize, usize, usize), f32, Cpu, OwnedTape<f32, Cpu>>,
        &[Param],
    ) -> Act<OwnedTape<f32, Cpu>>,
) -> (Vec<f32>, Vec<f32>, Vec<Vec<f32>>) {
    let dev = Cpu::default();
    let x = dev.tensor_from_vec(x_values(), (B, D, 1, T));
    let Act::Image(y) = layer(x.leaky_trace(), params) else {
        unreachable!("sequences stay images")
    };
    let out = y.as_vec();
    let r = dev.tensor_from_vec(upstream(out.len()), *y.shape());
    let mut grads = (y * r).sum().backward();
    let dx = grads.get(&x).as_vec();
    let dp = params
        .iter()
        .map(|p| p.to_canonical(&p.take_grad(&mut grads)))
        .collect();
    (out, dx, dp)
}

#[test]
fn dense_at_each_position_matches_pytorch_linear() {
    let dev = Cpu::default();
    let w = seq(3 * D, |i| ((i * 5 % 11) as f64 - 5.0) / 6.0);
    // Stored (in, out), as the dense layer keeps it.
    let stored: Vec<f32> = (0..D * 3).map(|i| w[(i % 3) * D + i / 3]).collect();
    for (activation, want) in [
        (Activation::Linear, [DENSE_Y, DENSE_DX, DENSE_DW, DENSE_DB]),
        (
            Activation::Softmax,
            [
                DENSE_SOFTMAX_Y,
                DENSE_SOFTMAX_DX,
                DENSE_SOFTMAX_DW,
                DENSE_SOFTMAX_DB,
            ],
        ),
    ] {
        let mut params = [
            param(&dev, "dense.weight", vec![D, 3], stored.clone()).transposed(),
            param(
                &dev,
                "dense.bias",
                vec![3],
                seq(3, |i| (i as f64 - 1.0) / 4.0),
            ),
        ];
        let (y, dx, dp) = run(&mut params, |x, p| {
            let y = positionwise_dense(x, &p[0], WeightLayout::InOut, Some(&p[1]), true);
            Act::Image(y).activate(activation)
        });
        let what = format!("{activation:?}");
        assert_near(&format!("{what} y"), &y, want[0]);
        assert_near(&format!("{what} dx"), &dx, want[1]);
        assert_near(&format!("{what} dw"), &dp[0], want[2]);
        assert_near(&format!("{what} db"), &dp[1], want[3]);
    }
}

#[test]
fn attention_matches_pytorch_multihead_attention() {
    let dev = Cpu::default();
    for (heads, causal, want) in [
        (1, false, MHA1_FULL),
        (2, true, MHA2_CAUSAL),
        (2, false, MHA2_FULL),
    ] {
        let mut params = [
            param(
                &dev,
                "a.in_proj_weight",
                vec![3 * D, D],
                seq(3 * D * D, |i| ((i * 5 % 17) as f64 - 8.0) / 10.0),
            ),
            param(
                &dev,
                "a.in_proj_bias",
                vec![3 * D],
                seq(3 * D, |i| ((i * 3 % 7) as f64 - 3.0) / 10.0),
            ),
            param(
                &dev,
                "a.out_proj.weight",
                vec![D, D],
                seq(D * D, |i| ((i * 11 % 13) as f64 - 6.0) / 10.0),
            ),
            param(
                &dev,
                "a.out_proj.bias",
                vec![D],
                seq(D, |i| ((i % 5) as f64 - 2.0) / 10.0),
            ),
        ];
        let (y, dx, dp) = run(&mut params, |x, p| {
            let qkv = positionwise_dense(x, &p[0], WeightLayout::OutIn, Some(&p[1]), true);
            let heads_out = attention(qkv, heads, D / heads, causal, None, None);
            Act::Image(positionwise_dense(
                heads_out,
                &p[2],
                WeightLayout::OutIn,
                Some(&p[3]),
                true,
            ))
        });
        let what = format!("{heads} heads, causal {causal}");
        assert_near(&format!("{what}: y"), &y, want[0]);
        assert_near(&format!("{what}: dx"), &dx, want[1]);
        for (i, name) in [
            "in_proj_weight",
            "in_proj_bias",
            "out_proj.weight",
            "out_proj.bias",
        ]
        .iter()
        .enumerate()
        {
            assert_near(&format!("{what}: {name}"), &dp[i], want[2 + i]);
        }
    }
}

/// PyTorch's numbers: output, input gradient, then the parameters' gradients in the state
/// dict's order.
type Mha = [&'static [f64]; 6];
const MHA1_FULL: Mha = [
    MHA1_FULL_Y,
    MHA1_FULL_DX,
    MHA1_FULL_D_IN_W,
    MHA1_FULL_D_IN_B,
    MHA1_FULL_D_OUT_W,
    MHA1_FULL_D_OUT_B,
];
const MHA2_CAUSAL: Mha = [
    MHA2_CAUSAL_Y,
    MHA2_CAUSAL_DX,
    MHA2_CAUSAL_D_IN_W,
    MHA2_CAUSAL_D_IN_B,
    MHA2_CAUSAL_D_OUT_W,
    MHA2_CAUSAL_D_OUT_B,
];
const MHA2_FULL: Mha = [
    MHA2_FULL_Y,
    MHA2_FULL_DX,
    MHA2_FULL_D_IN_W,
    MHA2_FULL_D_IN_B,
    MHA2_FULL_D_OUT_W,
    MHA2_FULL_D_OUT_B,
];

// The script's output, pasted.
#[rustfmt::skip]
const DENSE_Y: &[f64] = &[1.60416667, -0.458333333, -0.604166667, -1.20833333, 0.0416666667, 0.333333333, -1.5, 1.45833333, 0.583333333, -0.625, -0.770833333, -0.4375, 0.375, 0.666666667, 0.0, 0.458333333, -0.416666667, 1.58333333];
#[rustfmt::skip]
const DENSE_DX: &[f64] = &[0.616666667, 0.666666667, -0.283333333, 2.96059473e-17, -0.3, -0.1, -0.25, 0.2, -0.1, 0.05, -0.4, -0.1, -0.683333333, 0.616666667, 0.666666667, 0.3, 2.96059473e-17, -0.3, 0.55, -0.25, 0.2, 0.25, 0.05, -0.4];
#[rustfmt::skip]
const DENSE_DW: &[f64] = &[0.6125, -0.675, -0.525, -0.375, -0.925, -0.225, -0.675, -1.125, -0.2125, -0.7125, -0.6375, -0.5625];
#[rustfmt::skip]
const DENSE_DB: &[f64] = &[-0.6, 1.8, -0.3];
#[rustfmt::skip]
const DENSE_SOFTMAX_Y: &[f64] = &[0.90504572, 0.105853922, 0.1463601, 0.0543522202, 0.174523613, 0.373743608, 0.0406020596, 0.719622464, 0.479896292, 0.149862276, 0.150712495, 0.0990742523, 0.407367902, 0.634523305, 0.153449204, 0.442769822, 0.2147642, 0.747476544];
#[rustfmt::skip]
const DENSE_SOFTMAX_DX: &[f64] = &[0.0797108942, 0.0767193359, -0.0784553039, -0.0216653549, 0.00434104775, -0.056914755, -0.0216653549, 0.00434104775, -0.056914755, -0.0216653549, 0.00434104775, -0.056914755, -0.111766421, 0.167684552, 0.0693832919, 0.101367454, -0.00790812883, 0.00356794062, 0.101367454, -0.00790812883, 0.00356794062, 0.101367454, -0.00790812883, 0.00356794062];
#[rustfmt::skip]
const DENSE_SOFTMAX_DW: &[f64] = &[0.0490477025, -0.0853166683, -0.0607046483, -0.0360926284, 0.0334737732, 0.0982476762, 0.031932484, -0.0343827083, -0.0825214757, -0.012931008, 0.0287721643, 0.0704753366];
#[rustfmt::skip]
const DENSE_SOFTMAX_DB: &[f64] = &[-0.0984480798, 0.265260769, -0.166812689];
#[rustfmt::skip]
const MHA1_FULL_Y: &[f64] = &[-0.374449584, -0.350962396, -0.354525031, -0.190384523, -0.157664924, -0.0494999149, 0.248596749, 0.228803334, 0.179285187, -0.673384638, -0.678779293, -0.833523443, 0.0686445126, 0.00626074476, 0.144783951, 0.0200879256, -0.0349082908, 0.0872108516, 0.0640441108, 0.101802707, 0.0179597138, -0.215773652, -0.245323858, -0.179707602];
#[rustfmt::skip]
const MHA1_FULL_DX: &[f64] = &[-0.132489572, 0.0804361633, -0.0775168193, 0.171026659, 0.0986012657, -0.109160093, -0.122662029, 0.114276197, 0.0177034521, -0.139657695, -0.130647584, 0.0992963157, 0.117530803, 0.324176786, -0.0564379249, -0.0606194972, -0.154847025, 0.0470620264, -0.143339281, -0.042004699, 0.119388899, 0.223287414, 0.162514289, -0.219801665];
#[rustfmt::skip]
const MHA1_FULL_D_IN_W: &[f64] = &[0.196743587, 0.335279446, 0.359126917, 0.382974388, -0.224859808, -0.140378237, -0.148760882, -0.157143527, -0.100375098, -0.275117345, -0.295372253, -0.315627162, 0.0923541072, 0.0340499595, 0.0356580921, 0.0372662247, 0.103127854, -0.0769939712, -0.0769939712, -0.0769939712, 0.211499903, 0.301655964, 0.301655964, 0.301655964, -0.061762328, -0.212705401, -0.212705401, -0.212705401, -0.00727871295, 0.0227567655, 0.0227567655, 0.0227567655, -0.698246915, -0.0119580147, 0.0180419853, 0.0480419853, 0.473848007, 0.238820474, 0.163820474, 0.0888204738, 0.679862888, 0.156602123, 0.0741021229, -0.00839787712, -0.0895611659, -0.124964458, -0.117464458, -0.109964458];
#[rustfmt::skip]
const MHA1_FULL_D_IN_B: &[f64] = &[-0.0953898828, 0.0335305812, 0.0810196337, -0.00643253044, -3.46944695e-18, 5.55111512e-17, -4.16333634e-17, 0.0, -0.12, 0.3, 0.33, -0.03];
#[rustfmt::skip]
const MHA1_FULL_D_OUT_W: &[f64] = &[-0.078067385, 0.511415862, 0.227963991, 0.817447238, 0.147927573, -0.124178606, -0.153076352, -0.425182532, 0.0809215249, 0.437534558, -0.42110913, -0.0644960964, 0.0705524547, 0.184057881, 0.0700855934, 0.18359102];
#[rustfmt::skip]
const MHA1_FULL_D_OUT_B: &[f64] = &[0.6, -1.66533454e-16, 0.9, 0.3];
#[rustfmt::skip]
const MHA2_CAUSAL_Y: &[f64] = &[-0.34375, -0.338360808, -0.264024678, 0.1275, -0.301860474, -0.139256382, 0.095, 0.225948712, 0.164547973, -1.05875, -0.714710773, -0.671633584, 0.0175, 0.35882899, 0.203810911, -0.025, 0.279691077, -0.120990115, 0.095, -0.112608789, 0.052058016, -0.24, -0.0768857417, -0.250273743];
#[rustfmt::skip]
const MHA2_CAUSAL_DX: &[f64] = &[0.0395119549, -0.353536269, -0.112919862, -0.315660972, 0.484691852, 0.0832562077, 0.146652016, 0.288362119, -0.0958944565, 0.0286762871, -0.205686472, -0.048076213, -0.00986432965, 0.253783126, 0.146018253, 0.213837095, -0.16247921, -0.201456489, -0.403960477, 0.215266935, 0.179070674, -0.0915218921, 0.174364298, -0.0538808567];
#[rustfmt::skip]
const MHA2_CAUSAL_D_IN_W: &[f64] = &[0.0246037653, 0.0098154533, -0.00497285869, -0.0197611707, -0.090777481, -0.15018384, -0.209590199, -0.268996558, -0.261635898, -0.374996785, -0.488357671, -0.601718558, -0.00437949668, -0.0214217439, -0.0384639912, -0.0555062384, -0.262608748, -0.0553805395, -0.0553805395, -0.0553805395, 0.184130331, 0.0828973609, 0.0828973609, 0.0828973609, -0.0452137529, -0.117541259, -0.117541259, -0.117541259, -0.00689988598, 0.0576116923, 0.0576116923, 0.0576116923, -0.875413304, -0.12588973, -0.09588973, -0.06588973, 1.28799127, -0.423391354, -0.498391354, -0.573391354, 0.95787628, 0.247889624, 0.165389624, 0.0828896237, -0.783846902, 0.210798413, 0.218298413, 0.225798413];
#[rustfmt::skip]
const MHA2_CAUSAL_D_IN_B: &[f64] = &[0.0591532479, 0.237625435, 0.453443546, 0.068168989, 1.38777878e-17, -4.16333634e-17, -6.9388939e-18, -8.67361738e-19, -0.12, 0.3, 0.33, -0.03];
#[rustfmt::skip]
const MHA2_CAUSAL_D_OUT_W: &[f64] = &[0.033513357, 0.614783699, 0.759867087, 1.05849966, -0.154086788, -0.171369931, -0.714096182, -0.950131861, -0.00511722821, 0.522729439, -0.162754062, 0.499700482, -0.35102592, 0.27154789, -0.641607703, 0.0136041646];
#[rustfmt::skip]
const MHA2_CAUSAL_D_OUT_B: &[f64] = &[0.6, -1.66533454e-16, 0.9, 0.3];
#[rustfmt::skip]
const MHA2_FULL_Y: &[f64] = &[-0.827529664, -0.248499456, -0.264024678, -0.0174704432, -0.234611879, -0.139256382, 0.428554253, 0.198976261, 0.164547973, -1.22805814, -0.564684224, -0.671633584, 0.0872951726, -0.0150537865, 0.203810911, -0.0759866757, -0.0405969077, -0.120990115, 0.0829452008, 0.111188221, 0.052058016, -0.249538018, -0.250459853, -0.250273743];
#[rustfmt::skip]
const MHA2_FULL_DX: &[f64] = &[0.196340043, -0.294941145, -0.270367334, 0.180642275, 0.00365926137, -0.00650910535, -0.348598723, 0.418604121, 0.130657693, 0.0150510182, -0.118386987, -0.0383107324, 0.136353819, 0.231136151, 0.0456362698, -0.0289345325, 0.0235256768, -0.103030988, -0.14375846, 0.0223577367, 0.0137562695, 0.0816964524, 0.012066443, -0.0741997395];
#[rustfmt::skip]
const MHA2_FULL_D_IN_W: &[f64] = &[-0.00260765255, 0.0243210294, 0.0172862405, 0.0102514517, -0.0223052019, -0.150561496, -0.209020301, -0.267479106, -0.160895204, -0.388545199, -0.440424182, -0.492303166, 0.102295388, 0.00812379529, -0.0221010186, -0.0523258324, -0.337396272, -0.146599822, -0.146599822, -0.146599822, 0.134111178, 0.0565261566, 0.0565261566, 0.0565261566, -0.127939317, -0.296783711, -0.296783711, -0.296783711, -0.0517404035, 0.00810923389, 0.00810923389, 0.00810923389, -0.839520416, -0.01344177, 0.01655823, 0.04655823, 0.160520607, 0.677705685, 0.602705685, 0.527705685, 0.528330265, 0.116463395, 0.0339633949, -0.0485366051, -0.464324856, 0.215155305, 0.222655305, 0.230155305];
#[rustfmt::skip]
const MHA2_FULL_D_IN_B: &[f64] = &[0.0281391553, 0.233835221, 0.207515935, 0.120899255, 2.77555756e-17, -4.16333634e-17, -1.38777878e-17, 1.73472348e-18, -0.12, 0.3, 0.33, -0.03];
#[rustfmt::skip]
const MHA2_FULL_D_OUT_W: &[f64] = &[-0.288582758, 0.55391514, 0.601507092, 0.718785434, 0.227879641, -0.130983387, -0.46166556, -0.524857377, 0.0607253867, 0.418986973, -0.156958515, 0.115503788, 0.308226411, 0.174841204, -0.565995624, -0.123422176];
#[rustfmt::skip]
const MHA2_FULL_D_OUT_B: &[f64] = &[0.6, -1.66533454e-16, 0.9, 0.3];
