//! `upsample2d(size, interpolation)`: each image grown `size` times along height and width,
//! Keras' `UpSampling2D`. `nearest` repeats each pixel; `bilinear` interpolates with
//! half-pixel centres as Keras (TensorFlow's `resize`) does, which for upsampling is also
//! PyTorch's `interpolate(mode = "bilinear", align_corners = False)` (not
//! `align_corners = True`). Lowered onto `ops::upsample2d`.

use super::shape::image_input;
use super::{LayerDef, LayerOp};
use crate::catalog::layers::{layer, param};
use crate::catalog::{self, Default, Entry, Type, Value};
use crate::check::call::CallArgs;
use crate::check::error::CheckError;
use crate::check::plan::Layer;
use crate::export::graph::string;
use crate::export::{ExportError, Graph};
use crate::lower::act::{Act, AnyTape, Forward};
use crate::lower::model::Lowering;
use crate::ops::{self, handoff::Handoff};
use crate::source::Span;

/// Its catalogue entry.
pub static ENTRY: Entry = layer(
    "upsample2d",
    &[
        param("size", Type::Pair, Default::Is(Value::Pair(2, 2))),
        param(
            "interpolation",
            Type::Name(&["nearest", "bilinear"]),
            Default::Is(Value::Name("nearest")),
        ),
    ],
    "up_sampling2d",
    "UpSampling2D",
    "images grown `size` times: `nearest` repeats pixels, `bilinear` interpolates as Keras (PyTorch's `align_corners = False`)",
);

#[derive(Debug, Clone, PartialEq)]
pub struct Upsample2d {
    pub size: (usize, usize),
    pub bilinear: bool,
}

impl LayerDef for Upsample2d {
    type Op = Upsample2dOp;

    fn read(_: catalog::Layer, args: &CallArgs<'_>, errors: &mut Vec<CheckError>) -> Self {
        Upsample2d {
            size: args.pair("size", errors),
            bilinear: args.name("interpolation", errors) == "bilinear",
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
        let [c, h, w] = image_input("upsample2d", input, span, errors)?;
        Some(vec![c, h * self.size.0, w * self.size.1])
    }

    /// The output is `size.0 * size.1` inputs large.
    fn scratch_factor(&self) -> usize {
        self.size.0 * self.size.1
    }

    /// `Resize` by the integer factors: `nearest` repeats (asymmetric coordinates, floor),
    /// `bilinear` interpolates with half-pixel centres, as `ops::upsample2d`.
    fn export(&self, _: &Layer, x: String, g: &mut Graph<'_>) -> Result<String, ExportError> {
        let scales = g.constant(
            "scales",
            &[4],
            &[1.0, 1.0, self.size.0 as f32, self.size.1 as f32],
        );
        let attributes = if self.bilinear {
            vec![
                string("mode", "linear"),
                string("coordinate_transformation_mode", "half_pixel"),
            ]
        } else {
            vec![
                string("mode", "nearest"),
                string("coordinate_transformation_mode", "asymmetric"),
                string("nearest_mode", "floor"),
            ]
        };
        Ok(g.node("Resize", &[&x, "", &scales], attributes))
    }

    fn lower(&self, _: &Layer, _: Option<&Layer>, _: &mut Lowering<'_>) -> (Upsample2dOp, bool) {
        (Upsample2dOp(self.clone()), false)
    }
}

pub struct Upsample2dOp(Upsample2d);

impl LayerOp for Upsample2dOp {
    fn forward<T: AnyTape>(&self, x: Act<T>, _: Option<Handoff>, _: &mut Forward<'_>) -> Act<T> {
        let x = x.into_image("upsample2d");
        Act::Image(ops::upsample2d(x, self.0.size, self.0.bilinear))
    }
}
