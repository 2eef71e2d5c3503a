//! `conv2d_transpose(filters, kernel, stride, padding, output_padding, activation, use_bias)`:
//! a transposed 2-D convolution (Keras' `Conv2DTranspose`, PyTorch's `ConvTranspose2d`), the
//! layer that grows images in a generator or decoder.
//!
//! Output sizes and placement are Keras': `padding = same` gives `in * stride`, `valid`
//! gives `in * stride + max(kernel - stride, 0)`; with `output_padding = p`, `(in - 1) *
//! stride + kernel - 2 * pad + p` with `pad = kernel / 2` for `same` and 0 for `valid`. Where
//! positions are cropped from the full result, TensorFlow drops the smaller half before;
//! PyTorch's `ConvTranspose2d(padding = k // 2, output_padding = stride - 1)` gives the same
//! size but crops one more before for an odd `2 * pad - output_padding` (stride 2, kernel 5).
//!
//! The weight is stored (in, out, kh, kw), PyTorch's `ConvTranspose2d` layout, which model
//! files hold as is. Lowered onto `ops::conv2d_transpose`.

use super::shape::image_input;
use super::weights::Weights;
use super::{activation_named, padding, LayerDef, LayerOp};
use crate::catalog::layers::{
    layer, param, ACTIVATION, BIAS_INIT, KERNEL_INIT, KERNEL_REGULARIZER, PADDING, TRAINABLE,
    USE_BIAS,
};
use crate::catalog::{self, Default, Entry, Type, Value};
use crate::check::call::CallArgs;
use crate::check::error::CheckError;
use crate::check::plan::{Activation, Layer, Padding};
use crate::export::activation::activation;
use crate::export::graph::ints;
use crate::export::{self, ExportError, Graph};
use crate::lower::act::{zeros, Act, AnyTape, Forward};
use crate::lower::model::Lowering;
use crate::lower::params::T1;
use crate::ops::handoff::Handoff;
use crate::ops::{self, Conv2dTransposeSpec};
use crate::source::Span;

/// Its catalogue entry. `output_padding` left out is Keras' `None` (the lengths above);
/// the 0 shown is only the placeholder a given value replaces.
pub static ENTRY: Entry = layer(
    "conv2d_transpose",
    &[
        param(
            "filters",
            Type::Count { min: 1 },
            Default::Required(Value::Count(1)),
        ),
        param("kernel", Type::Pair, Default::Required(Value::Pair(1, 1))),
        param("stride", Type::Pair, Default::Is(Value::Pair(1, 1))),
        PADDING,
        param(
            "output_padding",
            Type::Count { min: 0 },
            Default::Is(Value::Count(0)),
        ),
        ACTIVATION,
        USE_BIAS,
        KERNEL_INIT,
        BIAS_INIT,
        KERNEL_REGULARIZER,
        TRAINABLE,
    ],
    "conv2d_transpose",
    "Conv2DTranspose",
    "a transposed 2-D convolution, growing (channels, height, width) images; `padding = same` gives `in * stride`; `output_padding` left out is Keras' `None`",
);

#[derive(Debug, Clone, PartialEq)]
pub struct Conv2dTranspose {
    pub filters: usize,
    pub kernel: (usize, usize),
    pub stride: (usize, usize),
    pub padding: Padding,
    /// Keras' `output_padding`, the same on both axes; `None` when left out.
    pub output_padding: Option<usize>,
    pub activation: Activation,
    pub use_bias: bool,
    pub weights: Weights,
}

impl LayerDef for Conv2dTranspose {
    type Op = Conv2dTransposeOp;

    fn read(_: catalog::Layer, args: &CallArgs<'_>, errors: &mut Vec<CheckError>) -> Self {
        let output_padding = args.count("output_padding", errors);
        Conv2dTranspose {
            filters: args.count("filters", errors),
            kernel: args.pair("kernel", errors),
            stride: args.pair("stride", errors),
            padding: padding(args, errors),
            output_padding: args.get("output_padding").map(|_| output_padding),
            activation: activation_named(args.activation("activation", errors)),
            use_bias: args.boolean("use_bias", errors),
            weights: Weights::read(args, errors),
        }
    }

    fn catalogued(&self) -> catalog::Layer {
        catalog::Layer::of(&ENTRY)
    }

    fn output_shape(
        &self,
        input: &[usize],
        span: Span,
        errors: &mut Vec<CheckError>,
    ) -> Option<Vec<usize>> {
        let [_, h, w] = image_input("conv2d_transpose", input, span, errors)?;
        if let Some(p) = self.output_padding {
            if p >= self.stride.0.min(self.stride.1) {
                errors.push(CheckError::shape(
                    format!(
                        "`conv2d_transpose` output_padding {p} is not smaller than its stride {}x{}",
                        self.stride.0, self.stride.1
                    ),
                    "output_padding must be below the stride on both axes".into(),
                    span,
                    "leave `output_padding` out, or make it smaller than the stride",
                ));
                return None;
            }
        }
        let padding = super::pool2d::op_padding(self.padding);
        // The rule is the op's own (`ops::conv2d_transpose_output_hw`): one place says it.
        let out = ops::conv2d_transpose_output_hw(
            (h, w),
            self.kernel,
            self.stride,
            padding,
            self.output_padding,
        );
        match out {
            Some((oh, ow)) if oh > 0 && ow > 0 => Some(vec![self.filters, oh, ow]),
            // An even kernel with `padding = same` and `output_padding = 0` crops all of a
            // 1-pixel input's output.
            _ => {
                errors.push(CheckError::shape(
                    format!("`conv2d_transpose` leaves nothing of its {h}x{w} input"),
                    "the output would be empty".into(),
                    span,
                    "leave `output_padding` out, or use `padding = valid`",
                ));
                None
            }
        }
    }

    /// The weight (in, out, kh, kw) as PyTorch's `ConvTranspose2d`, then the bias (out,).
    fn parameter_shapes(&self, input: &[usize]) -> Vec<Vec<usize>> {
        let mut shapes = vec![vec![input[0], self.filters, self.kernel.0, self.kernel.1]];
        if self.use_bias {
            shapes.push(vec![self.filters]);
        }
        shapes
    }

    /// The op scatters each input position's window product.
    fn scratch_factor(&self) -> usize {
        self.kernel.0 * self.kernel.1
    }

    /// `ConvTranspose` with explicit pads: of the full `(in - 1) * stride + kernel` result,
    /// the positions `ops::geometry` crops (TensorFlow's placement); an output longer than
    /// the full result (`valid` with a kernel below the stride, or `output_padding`) gets
    /// ONNX's `output_padding` after, which holds the bias only, as here.
    fn export(&self, layer: &Layer, x: String, g: &mut Graph<'_>) -> Result<String, ExportError> {
        let (i, o) = (&layer.input_shape, &layer.output_shape);
        let axis = |input: usize, kernel: usize, stride: usize, output: usize| {
            let full = (input - 1) * stride + kernel;
            let before = match self.padding {
                Padding::Same => full.saturating_sub(output) / 2,
                Padding::Valid => 0,
            };
            let after = full as i64 - before as i64 - output as i64;
            (before as i64, after.max(0), (-after).max(0))
        };
        let (top, bottom, extra_h) = axis(i[1], self.kernel.0, self.stride.0, o[1]);
        let (left, right, extra_w) = axis(i[2], self.kernel.1, self.stride.1, o[2]);
        let inputs = g.with_weights(&x, layer, self.use_bias)?;
        let mut attributes = export::window_padded(
            &[self.kernel.0, self.kernel.1],
            &[self.stride.0, self.stride.1],
            &[(top, bottom), (left, right)],
        );
        attributes.push(ints("output_padding", &[extra_h, extra_w]));
        let y = g.node_on("ConvTranspose", &inputs, attributes);
        Ok(activation(g, y, self.activation, 1))
    }

    fn lower(
        &self,
        layer: &Layer,
        _: Option<&Layer>,
        cx: &mut Lowering<'_>,
    ) -> (Conv2dTransposeOp, bool) {
        let (weight, bias) = cx.weight_and_bias(layer, &self.weights);
        let bias = bias.map_or_else(|| Bias::Zero(zeros(cx.dev, self.filters)), Bias::Param);
        let op = Conv2dTransposeOp {
            weight,
            bias,
            spec: Conv2dTransposeSpec {
                stride: self.stride,
                padding: super::pool2d::op_padding(self.padding),
                output_padding: self.output_padding,
                input_grad: true,
            },
            activation: self.activation,
        };
        (op, false)
    }
}

pub struct Conv2dTransposeOp {
    weight: usize,
    bias: Bias,
    spec: Conv2dTransposeSpec,
    activation: Activation,
}

/// The op always takes a bias: a layer declared without one gets zeros.
enum Bias {
    Param(usize),
    Zero(T1),
}

impl LayerOp for Conv2dTransposeOp {
    fn forward<T: AnyTape>(&self, x: Act<T>, _: Option<Handoff>, cx: &mut Forward<'_>) -> Act<T> {
        let x = x.into_image("conv2d_transpose");
        let b = match &self.bias {
            Bias::Param(b) => cx.params[*b].r1(),
            Bias::Zero(z) => z,
        };
        let spec = Conv2dTransposeSpec {
            input_grad: cx.input_grad,
            ..self.spec.clone()
        };
        let w = cx.params[self.weight].r4();
        cx.activate(
            Act::Image(ops::conv2d_transpose(x, w, b, &spec)),
            self.activation,
        )
    }
}
