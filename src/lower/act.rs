//! Activations between layers, and the tensor building blocks the layers' forward passes
//! are written with (`src/layers/`): those files call these and the ops, and never dfdx
//! itself, so that a change of tensor library rewrites this file, not every layer.

use dfdx::prelude::*;

use crate::check::plan::Activation;
use crate::ops;
use crate::ops::handoff::Handoff;
use crate::ops::{
    pointwise, positionwise, AttentionSpec, BatchMoments, BatchNormSpec, HostTensor, LayerNormSpec,
    Pointwise, PositionwiseSpec, WeightLayout,
};

use super::params::{Param, StateBuffer, T1};

/// A batch of flat vectors `(batch, features)`.
pub type Flat<T> = Tensor<(usize, usize), f32, Cpu, T>;
/// A batch of images `(batch, channels, height, width)`.
pub type Image<T> = Tensor<(usize, usize, usize, usize), f32, Cpu, T>;

/// The tapes a forward pass runs with: a training tape, or none. Two of them merge when a
/// graph model joins two values (`add`, `concat`).
pub trait AnyTape: Tape<f32, Cpu> + Merge<Self> + Default {}
impl<T: Tape<f32, Cpu> + Merge<T> + Default> AnyTape for T {}

/// An activation between layers: a batch of flat vectors or of images (NCHW).
#[derive(Clone)]
pub enum Act<T> {
    Flat(Flat<T>),
    Image(Image<T>),
}

impl<T: AnyTape> Act<T> {
    /// The batch as (batch, features), flattening images in NCHW order (PyTorch's).
    pub fn into_flat(self) -> Flat<T> {
        match self {
            Act::Flat(t) => t,
            Act::Image(t) => {
                let (b, c, h, w) = *t.shape();
                t.reshape_like(&(b, c * h * w))
            }
        }
    }

    /// The batch of images a layer that needs them gets (check guarantees it).
    pub fn into_image(self, layer: &str) -> Image<T> {
        match self {
            Act::Image(t) => t,
            Act::Flat(_) => unreachable!("check guarantees `{layer}` gets images"),
        }
    }

    /// A sequence of `channels` by `length` as the engine holds one, an image of one row
    /// `(batch, channels, 1, length)`, whatever image shape brought the same values (the
    /// data's `(batch, 1, channels, length)`, a step's matrix): a reshape, which moves nothing.
    pub fn into_sequence(self, layer: &str, channels: usize, length: usize) -> Image<T> {
        let x = self.into_image(layer);
        let batch = x.shape().0;
        x.reshape_like(&(batch, channels, 1, length))
    }

    /// Each element's values in the same order under a new shape: `[n]` gives vectors,
    /// `[c, h, w]` images (NCHW, so that `[256, 7, 7]` after a dense layer is PyTorch's
    /// `view(-1, 256, 7, 7)`). The checker guarantees the element counts agree.
    #[must_use]
    pub fn reshape(self, shape: &[usize]) -> Self {
        let flat = self.into_flat();
        let batch = flat.shape().0;
        match *shape {
            [n] => Act::Flat(flat.reshape_like(&(batch, n))),
            // A sequence (channels, length) is an image of one row.
            [c, l] => Act::Image(flat.reshape_like(&(batch, c, 1, l))),
            [c, h, w] => Act::Image(flat.reshape_like(&(batch, c, h, w))),
            _ => unreachable!("check allows reshapes to 1 to 3 axes, not {shape:?}"),
        }
    }

    /// An activation function, elementwise; softmax and log-softmax over the last axis of a
    /// flat batch and over channels of images (Keras' last axis in NHWC).
    #[must_use]
    pub fn activate(self, a: Activation) -> Self {
        match self {
            Act::Flat(t) => Act::Flat(activate_flat(t, a)),
            Act::Image(t) => Act::Image(match a {
                Activation::Softmax => t.softmax::<Axis<1>>(),
                Activation::LogSoftmax => t.log_softmax::<Axis<1>>(),
                _ => elementwise(t, a),
            }),
        }
    }

    /// Inverted dropout at `rate` (a fresh mask from the device's generator; dfdx's mask,
    /// drawn in parallel by `ops::dropout`).
    #[must_use]
    pub fn dropout(self, rate: f32) -> Self {
        let rate = f64::from(rate);
        match self {
            Act::Flat(t) => Act::Flat(crate::ops::dropout(t, rate)),
            Act::Image(t) => Act::Image(crate::ops::dropout(t, rate)),
        }
    }
}

impl<T: AnyTape> Act<T> {
    /// A second handle on this value for another reader in a graph model: the same numbers
    /// under a new tensor id on an empty tape (`ops::fork`: the storage shared), whose
    /// gradient flows back into this one's when the tapes merge. dfdx's binary ops cannot
    /// take one id as both operands.
    #[must_use]
    pub fn fork(&self) -> Self {
        match self {
            Act::Flat(t) => Act::Flat(crate::ops::fork(t.with_empty_tape())),
            Act::Image(t) => Act::Image(crate::ops::fork(t.with_empty_tape())),
        }
    }

    /// The tape this value carries, the tensor dropped.
    pub fn into_tape(self) -> T {
        match self {
            Act::Flat(t) => t.split_tape().1,
            Act::Image(t) => t.split_tape().1,
        }
    }

    /// The same tensor (id and storage) without a tape.
    #[must_use]
    pub fn untaped(&self) -> Act<NoneTape> {
        match self {
            Act::Flat(t) => Act::Flat(t.retaped()),
            Act::Image(t) => Act::Image(t.retaped()),
        }
    }
}

impl Act<NoneTape> {
    /// This tensor on `tape`.
    #[must_use]
    pub fn with_tape<T: AnyTape>(self, tape: T) -> Act<T> {
        match self {
            Act::Flat(t) => Act::Flat(t.put_tape(tape)),
            Act::Image(t) => Act::Image(t.put_tape(tape)),
        }
    }
}

/// The input of the sigmoid or softmax that gave a model's output, kept beside it: a
/// cross-entropy of that output reads these logits instead, as Keras does (its TensorFlow
/// backend's `_get_logits`). The loss is the same; the gradient is `p - t` exactly, where
/// from the probabilities, clipped at 1e-7, it vanishes on saturated outputs and loses
/// precision in `1 - p` near 1.
#[derive(Clone)]
pub struct Logits {
    pub values: Act<NoneTape>,
    /// The activation the output is of them: `Sigmoid` or `Softmax`.
    pub activation: Activation,
}

/// A model's outputs with every tape moved onto output `onto`, the others left on empty
/// tapes (their values and ids unchanged). The outputs share history (layers before a
/// fork); the first reader takes the tape that records it all, so that a loss reading any
/// subset of the outputs sends gradients through every layer it depends on.
pub fn gather_tapes<T: AnyTape>(acts: Vec<Act<T>>, onto: usize) -> Vec<Act<T>> {
    let mut tape: Option<T> = None;
    let parts: Vec<Act<NoneTape>> = acts
        .into_iter()
        .map(|a| {
            let (a, t) = match a {
                Act::Flat(x) => {
                    let (x, t) = x.split_tape();
                    (Act::Flat(x), t)
                }
                Act::Image(x) => {
                    let (x, t) = x.split_tape();
                    (Act::Image(x), t)
                }
            };
            tape = Some(match tape.take() {
                Some(all) => all.merge(t),
                None => t,
            });
            a
        })
        .collect();
    let mut tape = tape;
    parts
        .into_iter()
        .enumerate()
        .map(|(i, a)| {
            let t = if i == onto {
                tape.take().unwrap_or_default()
            } else {
                T::default()
            };
            match a {
                Act::Flat(x) => Act::Flat(x.put_tape(t)),
                Act::Image(x) => Act::Image(x.put_tape(t)),
            }
        })
        .collect()
}

/// Keras' `Add` (`op` false) or `Multiply` (`op` true) of values of one shape, elementwise.
pub fn combine<T: AnyTape>(values: Vec<Act<T>>, how: Combine) -> Act<T> {
    let last = values.len() - 1;
    let mut it = values.into_iter().enumerate();
    let (_, first) = it
        .next()
        .unwrap_or_else(|| unreachable!("check: two values or more"));
    it.fold(first, |acc, (i, v)| {
        // A ReLU applies to the whole sum: the last addition.
        let how = match how {
            Combine::AddRelu if i < last => Combine::Add,
            how => how,
        };
        match (acc, v) {
            (Act::Flat(a), Act::Flat(b)) => Act::Flat(how.apply(a, b)),
            (Act::Image(a), Act::Image(b)) => Act::Image(how.apply(a, b)),
            _ => unreachable!("check guarantees values of one shape"),
        }
    })
}

/// How [`combine`] joins values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Combine {
    Add,
    /// `relu` of the sum (`ops::add_relu`).
    AddRelu,
    Multiply,
}

impl Combine {
    fn apply<S: Shape, T: AnyTape>(
        self,
        a: Tensor<S, f32, Cpu, T>,
        b: Tensor<S, f32, Cpu, T>,
    ) -> Tensor<S, f32, Cpu, T> {
        match self {
            Combine::Add => ops::add(a, b),
            Combine::AddRelu => ops::add_relu(a, b),
            Combine::Multiply => a * b,
        }
    }
}

/// Keras' `Concatenate` along the features of flat values or the channels of images.
pub fn concat<T: AnyTape>(values: Vec<Act<T>>) -> Act<T> {
    let mut it = values.into_iter();
    let first = it
        .next()
        .unwrap_or_else(|| unreachable!("check: two values or more"));
    it.fold(first, |acc, v| match (acc, v) {
        (Act::Flat(a), Act::Flat(b)) => Act::Flat((a, b).concat_along(Axis::<1>)),
        (Act::Image(a), Act::Image(b)) => Act::Image((a, b).concat_along(Axis::<1>)),
        _ => unreachable!("check guarantees values of one rank"),
    })
}

/// What a layer's forward pass reads besides its input.
pub struct Forward<'a> {
    pub params: &'a [Param],
    /// The model's layer state that is not trained (`Lowering::add_state`), as it was
    /// before this pass.
    pub state: &'a [StateBuffer],
    /// New values for that state which this pass computed (in training, batch norm's running
    /// statistics), by index: the engine stores them once the step is done.
    pub state_updates: Vec<(usize, Vec<f32>)>,
    /// Training mode (dropout draws masks).
    pub training: bool,
    /// Whether the input needs a gradient: false for data and for what only layers whose
    /// parameters are not trained (`param_grads`) made of it, so that an op can skip
    /// computing one nobody reads.
    pub input_grad: bool,
    /// Per parameter, whether the update in progress reads its gradient (`None`: all of
    /// them). An update trains its optimizer's parameters only, so a GAN's generator update
    /// passes through the discriminator without computing the discriminator's gradients.
    pub param_grads: Option<&'a [bool]>,
    /// An activation the op hands to the next beside the tape (see `ops::handoff`).
    pub handoff: Option<Handoff>,
    /// The padding mask of `embedding(mask_zero = true)`, `(batch, length)`: 1 at a token,
    /// 0 at padding (id 0). Set by the embedding, carried unchanged by the layers that keep
    /// each position where it was, taken by the global pool that leaves the padding out
    /// (`check::mask` allows only such models). In a graph, each value has its own.
    pub mask: Option<Vec<f32>>,
    /// The logits of the layer just run, where its last act was a sigmoid or softmax
    /// ([`Self::activate`]); the model runner resets them before each layer and takes those
    /// of the layers that give the model's outputs.
    pub logits: Option<Logits>,
}

impl Forward<'_> {
    /// Whether the update in progress reads parameter `p`'s gradient.
    pub fn param_grad(&self, p: usize) -> bool {
        self.param_grads.is_none_or(|wanted| wanted[p])
    }

    /// A layer's activation, the last thing the layer does: a sigmoid or softmax keeps its
    /// input as [`Self::logits`].
    pub fn activate<T: AnyTape>(&mut self, y: Act<T>, a: Activation) -> Act<T> {
        self.logits = matches!(a, Activation::Sigmoid | Activation::Softmax).then(|| Logits {
            values: y.untaped(),
            activation: a,
        });
        y.activate(a)
    }
}

/// `x · w + b` through dfdx's matmul, for CPUs where our dense op does not run.
pub fn affine<T: AnyTape>(x: Flat<T>, w: &Param, b: Option<&Param>) -> Flat<T> {
    let y = x.matmul(w.r2().clone());
    match b {
        Some(b) => {
            let shape = *y.shape();
            y + b
                .r1()
                .clone()
                .broadcast_like::<(usize, usize), Axis<0>>(&shape)
        }
        None => y,
    }
}

/// A dense layer at each position of a sequence `(batch, features, 1, length)`
/// (`ops::positionwise`): `w` stored `(in, out)` or `(out, in)` as `layout` says, read on
/// the host (its tensor may be a token, see `Param::read_on_host`).
pub fn positionwise_dense<T: AnyTape>(
    x: Image<T>,
    w: &Param,
    layout: WeightLayout,
    b: Option<&Param>,
    input_grad: bool,
) -> Image<T> {
    let units = match layout {
        WeightLayout::InOut => w.shape[1],
        WeightLayout::OutIn => w.shape[0],
    };
    positionwise_part(x, (w, layout), b, 0..units, input_grad)
}

/// As [`positionwise_dense`] with the units `rows` of a weight stored `(out, in)` and of its
/// bias: cross-attention makes its queries and its keys and values with parts of one
/// projection.
pub fn positionwise_rows<T: AnyTape>(
    x: Image<T>,
    w: &Param,
    b: Option<&Param>,
    rows: std::ops::Range<usize>,
    input_grad: bool,
) -> Image<T> {
    positionwise_part(x, (w, WeightLayout::OutIn), b, rows, input_grad)
}

fn positionwise_part<T: AnyTape>(
    x: Image<T>,
    (w, layout): (&Param, WeightLayout),
    b: Option<&Param>,
    rows: std::ops::Range<usize>,
    input_grad: bool,
) -> Image<T> {
    let spec = PositionwiseSpec {
        weight: HostTensor {
            tensor: w.r2(),
            value: &w.value,
        },
        layout,
        bias: b.map(|b| HostTensor {
            tensor: b.r1(),
            value: &b.value,
        }),
        units: rows.len(),
        first_unit: rows.start,
        input_grad,
    };
    positionwise(x, &spec)
}

/// Multi-head scaled dot-product attention (`ops::attention`) of projected queries, keys and
/// values `(batch, 3 * width, 1, length)`; `dropout` on the probabilities at that rate, its
/// masks drawn from one seed of the device's generator per call (as [`channel_dropout`]).
pub fn attention<T: AnyTape>(
    qkv: Image<T>,
    heads: usize,
    key_dim: usize,
    causal: bool,
    dropout: Option<f32>,
    keys: Option<&[f32]>,
) -> Image<T> {
    let dropout = dropout
        .filter(|&rate| rate > 0.0)
        .map(|rate| (rate, qkv.device().random_u64()));
    let spec = AttentionSpec {
        heads,
        key_dim,
        causal,
        dropout,
    };
    crate::ops::attention(qkv, &spec, keys)
}

/// Cross-attention (`ops::cross_attention`) of projected queries `(batch, width, 1,
/// queries)` and keys and values `(batch, 2 * width, 1, keys)`; dropout as [`attention`],
/// `keys` the memory's padding mask as there.
pub fn cross_attention<T: AnyTape>(
    q: Image<T>,
    kv: Image<T>,
    heads: usize,
    key_dim: usize,
    causal: bool,
    dropout: Option<f32>,
    keys: Option<&[f32]>,
) -> Image<T> {
    let dropout = dropout
        .filter(|&rate| rate > 0.0)
        .map(|rate| (rate, q.device().random_u64()));
    let spec = AttentionSpec {
        heads,
        key_dim,
        causal,
        dropout,
    };
    crate::ops::cross_attention(q, kv, &spec, keys)
}

/// The largest value of each channel of a batch of images: (b, c, h, w) → (b, c).
pub fn channel_max<T: AnyTape>(x: Image<T>) -> Flat<T> {
    x.max::<(usize, usize), Axes2<2, 3>>()
}

/// The mean of each channel of a batch of images: (b, c, h, w) → (b, c).
pub fn channel_mean<T: AnyTape>(x: Image<T>) -> Flat<T> {
    x.mean::<(usize, usize), Axes2<2, 3>>()
}

/// Batch normalisation (`ops::batch_norm`) per feature of a flat batch, per channel of images;
/// in training, also the batch's statistics.
pub fn batch_norm<T: AnyTape>(
    x: Act<T>,
    spec: &BatchNormSpec<'_>,
) -> (Act<T>, Option<BatchMoments>) {
    match x {
        Act::Image(t) => {
            let (y, moments) = crate::ops::batch_norm(t, spec);
            (Act::Image(y), moments)
        }
        Act::Flat(t) => {
            let (b, f) = *t.shape();
            let (y, moments) = crate::ops::batch_norm(t.reshape_like(&(b, f, 1, 1)), spec);
            (Act::Flat(y.reshape_like(&(b, f))), moments)
        }
    }
}

/// Layer normalisation: each flat example over its features, each position of an image over
/// its channels (Keras' `axis = -1` in channels-last), then `* gamma + beta` per feature or
/// channel (either may be absent).
pub fn layer_norm<T: AnyTape>(
    x: Act<T>,
    epsilon: f32,
    gamma: Option<&Param>,
    beta: Option<&Param>,
) -> Act<T> {
    let spec = LayerNormSpec {
        epsilon,
        gamma: gamma.map(|g| (g.r1(), &g.value[..])),
        beta: beta.map(|b| (b.r1(), &b.value[..])),
    };
    match x {
        Act::Flat(t) => {
            let (b, f) = *t.shape();
            let y = crate::ops::layer_norm(t.reshape_like(&(b, f, 1, 1)), &spec);
            Act::Flat(y.reshape_like(&(b, f)))
        }
        Act::Image(t) => Act::Image(crate::ops::layer_norm(t, &spec)),
    }
}

/// Dropout of whole channels at `rate` (Keras' `SpatialDropout2D`): one draw per (example,
/// channel), kept values scaled by `1 / (1 - rate)`. Like dfdx's dropout, it takes one seed
/// from the device's generator per call, so a run's draws stay in step with its seed.
pub fn channel_dropout<T: AnyTape>(x: Image<T>, rate: f32) -> Image<T> {
    use rand::{rngs::StdRng, Rng, SeedableRng};
    let (b, c, h, w) = *x.shape();
    let dev = x.device().clone();
    let mut rng = StdRng::seed_from_u64(dev.random_u64());
    let keep = 1.0 / (1.0 - rate);
    let mut mask = Vec::with_capacity(b * c * h * w);
    for _ in 0..b * c {
        let v = if rng.gen::<f32>() < rate { 0.0 } else { keep };
        mask.extend(std::iter::repeat_n(v, h * w));
    }
    x * dev.tensor_from_vec(mask, (b, c, h, w))
}

/// The table's row at each token id of `ids` (batch, length): a sequence `(batch, width, 1,
/// length)` (`ops::embedding`).
pub fn embedding<T: AnyTape>(ids: Flat<T>, table: &Param, width: usize) -> Act<T> {
    Act::Image(crate::ops::embedding::embedding(
        ids,
        HostTensor {
            tensor: table.r2(),
            value: &table.value,
        },
        width,
    ))
}

/// The padding mask of a batch of token ids `(batch, length)`: 1 where the id is not 0.
pub fn padding_mask<T: AnyTape>(ids: &Flat<T>) -> Vec<f32> {
    ids.as_vec()
        .into_iter()
        .map(|id| if id == 0.0 { 0.0 } else { 1.0 })
        .collect()
}

/// The mean of each channel of a sequence `(b, c, 1, l)` over the positions `mask` (`(b,
/// l)`, 1 or 0) keeps, `(b, c)`: Keras' `GlobalAveragePooling1D` given a mask. An example
/// with every position masked gives zeros (Keras' 0 / 0).
pub fn masked_channel_mean<T: AnyTape>(x: Image<T>, mask: &[f32]) -> Flat<T> {
    let shape = *x.shape();
    let (b, _, _, l) = shape;
    let weights: Vec<f32> = mask
        .chunks_exact(l.max(1))
        .flat_map(|m| {
            let kept: f32 = m.iter().sum();
            m.iter()
                .map(move |&v| if kept > 0.0 { v / kept } else { 0.0 })
        })
        .collect();
    let w: Tensor<(usize, usize), f32, Cpu> = x.device().tensor_from_vec(weights, (b, l));
    (x * w.broadcast_like::<_, Axes2<1, 2>>(&shape)).sum::<(usize, usize), Axes2<2, 3>>()
}

/// The largest value of each channel of a sequence `(b, c, 1, l)` among the positions
/// `mask` keeps, `(b, c)` (PyTorch's `masked_fill(-inf)` then `max`); an example with every
/// position masked gives zeros.
pub fn masked_channel_max<T: AnyTape>(x: Image<T>, mask: &[f32]) -> Flat<T> {
    /// Far below any activation, and far enough above `f32::MIN` that adding it to one
    /// stays finite.
    const MASKED: f32 = -1e30;
    let shape = *x.shape();
    let (b, c, _, l) = shape;
    let dev = x.device().clone();
    let offsets: Vec<f32> = mask
        .iter()
        .map(|&m| if m > 0.0 { 0.0 } else { MASKED })
        .collect();
    let offsets: Tensor<(usize, usize), f32, Cpu> = dev.tensor_from_vec(offsets, (b, l));
    let any: Vec<f32> = mask
        .chunks_exact(l.max(1))
        .map(|m| if m.iter().any(|&v| v > 0.0) { 1.0 } else { 0.0 })
        .collect();
    let any: Tensor<(usize,), f32, Cpu> = dev.tensor_from_vec(any, (b,));
    let max =
        (x + offsets.broadcast_like::<_, Axes2<1, 2>>(&shape)).max::<(usize, usize), Axes2<2, 3>>();
    max * any.broadcast_like::<_, Axis<1>>(&(b, c))
}

/// A sequence plus the table's row for each position (a learned position embedding).
pub fn add_positions<T: AnyTape>(x: Image<T>, table: &Param) -> Act<T> {
    Act::Image(crate::ops::embedding::add_positions(
        x,
        HostTensor {
            tensor: table.r2(),
            value: &table.value,
        },
    ))
}

/// A sequence `(batch, width, 1, length)` plus a constant `(width, length)` (a sinusoidal
/// position encoding), the same for every example.
pub fn add_constant<T: AnyTape>(x: Image<T>, constant: &[f32]) -> Act<T> {
    let shape = *x.shape();
    let (_, width, _, length) = shape;
    let c: Tensor<(usize, usize), f32, Cpu> = x
        .device()
        .tensor_from_vec(constant.to_vec(), (width, length));
    Act::Image(x + c.broadcast_like::<_, Axes2<0, 2>>(&shape))
}

/// A sequence's (or image's) scores as one row per example and position, `(batch *
/// positions, channels)`, in the order of the positions' class labels: PyTorch's
/// `cross_entropy` on `(batch, classes, positions)`.
pub fn positions_as_rows<T: AnyTape>(x: Image<T>) -> Flat<T> {
    let (b, c, h, w) = *x.shape();
    x.permute::<_, Axes4<0, 2, 3, 1>>()
        .reshape_like(&(b * h * w, c))
}

/// A zero vector of `n` values (a bias for an op that always takes one).
pub fn zeros(dev: &Cpu, n: usize) -> T1 {
    dev.zeros_like(&(n,))
}

fn activate_flat<T: AnyTape>(t: Flat<T>, a: Activation) -> Flat<T> {
    match a {
        Activation::Softmax => t.softmax::<Axis<1>>(),
        // dfdx's log-softmax subtracts a logsumexp taken after the maximum.
        Activation::LogSoftmax => t.log_softmax::<Axis<1>>(),
        _ => elementwise(t, a),
    }
}

fn elementwise<S: Shape, T: AnyTape>(
    t: Tensor<S, f32, Cpu, T>,
    a: Activation,
) -> Tensor<S, f32, Cpu, T> {
    match a {
        Activation::Linear | Activation::Softmax | Activation::LogSoftmax => t,
        Activation::Relu => pointwise(t, Pointwise::Relu),
        Activation::Sigmoid => pointwise(t, Pointwise::Sigmoid),
        Activation::Tanh => pointwise(t, Pointwise::Tanh),
        Activation::LeakyRelu { alpha } => pointwise(t, Pointwise::LeakyRelu { alpha }),
        // Keras' default gelu is the exact (erf) form.
        Activation::Gelu => pointwise(t, Pointwise::Gelu),
        // The rest are one fused op each (`ops::pointwise`), Keras' formulas.
        Activation::Elu { alpha } => pointwise(t, Pointwise::Elu { alpha }),
        Activation::Selu => pointwise(t, Pointwise::Selu),
        Activation::Swish => pointwise(t, Pointwise::Swish),
        Activation::Softplus => pointwise(t, Pointwise::Softplus),
        Activation::HardSigmoid => pointwise(t, Pointwise::HardSigmoid),
    }
}

#[cfg(test)]
mod activation_tests;

#[cfg(test)]
mod attention_tests;

#[cfg(test)]
mod mask_tests;

#[cfg(test)]
mod norm_tests;

#[cfg(test)]
mod tests {
    use super::*;

    /// (2, 3, 2, 2) images with distinct values, so that each channel has one maximum.
    fn images() -> Vec<f32> {
        (0..24)
            .map(|i| ((i * 7 % 24) as f32 - 11.5) / 4.0)
            .collect()
    }

    fn pooled(max: bool, x: &[f32]) -> Vec<f64> {
        x.chunks(4)
            .map(|plane| {
                let v = plane.iter().map(|&v| f64::from(v));
                if max {
                    v.fold(f64::NEG_INFINITY, f64::max)
                } else {
                    v.sum::<f64>() / 4.0
                }
            })
            .collect()
    }

    #[test]
    fn channel_pools_match_a_direct_computation_and_finite_differences() {
        let dev = Cpu::default();
        for max in [true, false] {
            let run = |x: Vec<f32>| -> Vec<f32> {
                let t = dev.tensor_from_vec(x, (2, 3, 2, 2));
                let y = if max { channel_max(t) } else { channel_mean(t) };
                y.as_vec()
            };
            let x = images();
            let got = run(x.clone());
            for (g, w) in got.iter().zip(pooled(max, &x)) {
                assert!((f64::from(*g) - w).abs() < 1e-6, "max {max}: {got:?}");
            }
            // The gradient of sum(y * weights) against central finite differences.
            let weights: Vec<f32> = (0..6).map(|i| i as f32 * 0.5 - 1.0).collect();
            let t = dev.tensor_from_vec(x.clone(), (2, 3, 2, 2));
            let y = if max {
                channel_max(t.leaky_trace())
            } else {
                channel_mean(t.leaky_trace())
            };
            let w = dev.tensor_from_vec(weights.clone(), (2, 3));
            let grads = (y * w).sum().backward();
            let analytic = grads.get(&t).as_vec();
            let loss = |x: Vec<f32>| -> f64 {
                run(x)
                    .iter()
                    .zip(&weights)
                    .map(|(a, b)| f64::from(*a) * f64::from(*b))
                    .sum()
            };
            for k in 0..x.len() {
                let h = 1e-2;
                let mut plus = x.clone();
                plus[k] += h;
                let mut minus = x.clone();
                minus[k] -= h;
                let numeric = (loss(plus) - loss(minus)) / (2.0 * f64::from(h));
                assert!(
                    (f64::from(analytic[k]) - numeric).abs() < 1e-3,
                    "max {max}, input {k}: {} against {numeric}",
                    analytic[k]
                );
            }
        }
    }

    #[test]
    fn channel_dropout_drops_whole_channels_scaled_and_repeats_with_the_seed() {
        let (b, c, h, w) = (8, 16, 3, 3);
        let x: Vec<f32> = (0..b * c * h * w).map(|i| (i % 17) as f32 - 8.0).collect();
        let run = |seed: u64| {
            let dev = Cpu::seed_from_u64(seed);
            let t = dev.tensor_from_vec(x.clone(), (b, c, h, w));
            let y = channel_dropout(t.leaky_trace(), 0.25);
            let values = y.as_vec();
            let grads = y.sum().backward();
            (values, grads.get(&t).as_vec())
        };
        let (y, dx) = run(3);
        assert_eq!(
            run(3),
            (y.clone(), dx.clone()),
            "the same seed, the same mask"
        );
        assert_ne!(run(4).0, y, "another seed, another mask");
        let plane = h * w;
        let mut dropped = 0;
        for p in 0..b * c {
            let g = &dx[p * plane..][..plane];
            // The gradient is the mask: 0 or 1 / (1 - rate), the same over the channel.
            assert!(g.iter().all(|&v| v == g[0]), "channel {p}: {g:?}");
            assert!(g[0] == 0.0 || (g[0] - 4.0 / 3.0).abs() < 1e-6, "{}", g[0]);
            dropped += usize::from(g[0] == 0.0);
            for k in 0..plane {
                let i = p * plane + k;
                assert!((y[i] - x[i] * g[0]).abs() < 1e-6, "value {i}");
            }
        }
        // 128 channels at rate 0.25: 32 expected; the bounds are 4 standard deviations.
        assert!((12..=52).contains(&dropped), "{dropped} of 128 dropped");
    }
}
