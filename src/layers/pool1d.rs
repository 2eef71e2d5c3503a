//! `maxpool1d(pool, stride, padding)`, `avgpool1d(...)`, `global_maxpool1d()` and
//! `global_avgpool1d()`: pooling over (channels, length) sequences, channel by channel
//! (Keras' `MaxPooling1D`, `AveragePooling1D`, `GlobalMaxPooling1D`,
//! `GlobalAveragePooling1D`; PyTorch's `MaxPool1d`, `AvgPool1d` with padding left out of
//! the mean, `AdaptiveMaxPool1d(1)` and `AdaptiveAvgPool1d(1)` then a flatten).
//!
//! A sequence is an image of one row to the engine: these run as the 2-D pooling of a
//! (1, pool) window and as the global 2-D pooling.

use super::shape::{sequence_input, window_output};
use super::{padding, LayerDef, LayerOp};
use crate::catalog::layers::{layer, param, PADDING};
use crate::catalog::{self, Default, Entry, Type, Value};
use crate::check::call::CallArgs;
use crate::check::error::CheckError;
use crate::check::plan::{self, Layer, PoolKind};
use crate::export::graph::int;
use crate::export::{self, ExportError, Graph};
use crate::lower::act::{
    channel_max, channel_mean, masked_channel_max, masked_channel_mean, Act, AnyTape, Forward,
};
use crate::lower::model::Lowering;
use crate::ops::handoff::Handoff;
use crate::ops::{self, Pool2dSpec};
use crate::source::Span;

const POOL: catalog::Param = param("pool", Type::Count { min: 1 }, Default::Is(Value::Count(2)));
const STRIDE: catalog::Param = param("stride", Type::Count { min: 1 }, Default::SameAs("pool"));

/// The catalogue entry of `maxpool1d`.
pub static MAXPOOL1D: Entry = layer(
    "maxpool1d",
    &[POOL, STRIDE, PADDING],
    "max_pooling1d",
    "MaxPooling1D",
    "the largest value of each window along the sequence, channel by channel",
);

/// The catalogue entry of `avgpool1d`.
pub static AVGPOOL1D: Entry = layer(
    "avgpool1d",
    &[POOL, STRIDE, PADDING],
    "average_pooling1d",
    "AveragePooling1D",
    "the mean of each window along the sequence, channel by channel (padding left out of the mean)",
);

/// The catalogue entry of `global_maxpool1d`.
pub static GLOBAL_MAXPOOL1D: Entry = layer(
    "global_maxpool1d",
    &[],
    "global_max_pooling1d",
    "GlobalMaxPooling1D",
    "the largest value of each channel over the whole sequence: (channels, length) to (channels,)",
);

/// The catalogue entry of `global_avgpool1d`.
pub static GLOBAL_AVGPOOL1D: Entry = layer(
    "global_avgpool1d",
    &[],
    "global_average_pooling1d",
    "GlobalAveragePooling1D",
    "the mean of each channel over the whole sequence: (channels, length) to (channels,)",
);

/// A window of `size` positions every `stride`, or (`size` 0) the whole sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct Pool1d {
    pub kind: PoolKind,
    pub global: bool,
    pub size: usize,
    pub stride: usize,
    pub padding: plan::Padding,
}

impl Pool1d {
    fn entry(&self) -> &'static Entry {
        match (self.kind, self.global) {
            (PoolKind::Max, false) => &MAXPOOL1D,
            (PoolKind::Avg, false) => &AVGPOOL1D,
            (PoolKind::Max, true) => &GLOBAL_MAXPOOL1D,
            (PoolKind::Avg, true) => &GLOBAL_AVGPOOL1D,
        }
    }
}

impl LayerDef for Pool1d {
    type Op = Pool1dOp;

    fn read(id: catalog::Layer, args: &CallArgs<'_>, errors: &mut Vec<CheckError>) -> Self {
        let is = |e: &'static Entry| id == catalog::Layer::of(e);
        let kind = if is(&MAXPOOL1D) || is(&GLOBAL_MAXPOOL1D) {
            PoolKind::Max
        } else {
            PoolKind::Avg
        };
        if is(&GLOBAL_MAXPOOL1D) || is(&GLOBAL_AVGPOOL1D) {
            return Pool1d {
                kind,
                global: true,
                size: 0,
                stride: 0,
                padding: plan::Padding::Valid,
            };
        }
        let size = args.count("pool", errors);
        Pool1d {
            kind,
            global: false,
            size,
            stride: args.count_or("stride", size, errors),
            padding: padding(args, errors),
        }
    }

    fn catalogued(&self) -> catalog::Layer {
        catalog::Layer::of(self.entry())
    }

    fn output_shape(
        &self,
        input: &[usize],
        span: Span,
        errors: &mut Vec<CheckError>,
    ) -> Option<Vec<usize>> {
        let name = self.entry().name;
        let [c, length] = sequence_input(name, input, span, errors)?;
        if self.global {
            return Some(vec![c]);
        }
        match window_output(length, self.size, self.stride, self.padding) {
            Some(out) if out > 0 => Some(vec![c, out]),
            _ => {
                errors.push(CheckError::shape(
                    format!(
                        "`{name}` pool {} is longer than its input of length {length}",
                        self.size
                    ),
                    "the output would be empty".into(),
                    span,
                    "use a smaller `pool`, or `padding = same`",
                ));
                None
            }
        }
    }

    /// `MaxPool` or `AveragePool` with a 1-D window over `(N, channels, length)`, or the
    /// global pooling then a flatten.
    fn export(&self, layer: &Layer, x: String, g: &mut Graph<'_>) -> Result<String, ExportError> {
        let (op, global) = match self.kind {
            PoolKind::Max => ("MaxPool", "GlobalMaxPool"),
            PoolKind::Avg => ("AveragePool", "GlobalAveragePool"),
        };
        if self.global {
            let y = g.node(global, &[&x], vec![]);
            return Ok(g.node("Flatten", &[&y], vec![int("axis", 1)]));
        }
        Ok(g.node(
            op,
            &[&x],
            export::window(layer, &[self.size], &[self.stride]),
        ))
    }

    fn lower(&self, layer: &Layer, _: Option<&Layer>, _: &mut Lowering<'_>) -> (Pool1dOp, bool) {
        let spec = (!self.global).then(|| Pool2dSpec {
            kind: match self.kind {
                PoolKind::Max => ops::PoolKind::Max,
                PoolKind::Avg => ops::PoolKind::Avg,
            },
            size: (1, self.size),
            stride: (1, self.stride),
            padding: super::pool2d::op_padding(self.padding),
        });
        let op = Pool1dOp {
            kind: self.kind,
            spec,
            name: self.entry().name,
            channels: layer.input_shape[0],
            length: layer.input_shape[1],
        };
        (op, false)
    }
}

pub struct Pool1dOp {
    kind: PoolKind,
    /// The window, or none for the global pooling.
    spec: Option<Pool2dSpec>,
    name: &'static str,
    channels: usize,
    length: usize,
}

impl LayerOp for Pool1dOp {
    fn forward<T: AnyTape>(&self, x: Act<T>, _: Option<Handoff>, cx: &mut Forward<'_>) -> Act<T> {
        let x = x.into_sequence(self.name, self.channels, self.length);
        // A global pool takes the padding mask of `embedding(mask_zero = true)`, if one
        // reaches it (a windowed pool never does: `check::mask`).
        let mask = if self.spec.is_none() {
            cx.mask.take()
        } else {
            None
        };
        match (&self.spec, self.kind, mask) {
            (Some(spec), _, _) => Act::Image(ops::pool2d(x, spec)),
            (None, PoolKind::Max, None) => Act::Flat(channel_max(x)),
            (None, PoolKind::Avg, None) => Act::Flat(channel_mean(x)),
            (None, PoolKind::Max, Some(mask)) => Act::Flat(masked_channel_max(x, &mask)),
            (None, PoolKind::Avg, Some(mask)) => Act::Flat(masked_channel_mean(x, &mask)),
        }
    }
}
