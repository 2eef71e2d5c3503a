//! `zeropad2d(padding)`: zeros around each image, Keras' `ZeroPadding2D`. `padding = p` pads
//! every side by `p`, `(h, w)` the top and bottom by `h` and the left and right by `w`
//! (Keras' `((top, bottom), (left, right))` has no spelling yet). Lowered onto
//! `ops::zeropad2d`.

use super::shape::image_input;
use super::{LayerDef, LayerOp};
use crate::catalog::layers::{layer, param};
use crate::catalog::{self, Default, Entry, Type, Value};
use crate::check::call::CallArgs;
use crate::check::error::CheckError;
use crate::check::plan::Layer;
use crate::export::{ExportError, Graph};
use crate::lower::act::{Act, AnyTape, Forward};
use crate::lower::model::Lowering;
use crate::ops::{self, handoff::Handoff};
use crate::source::Span;

/// Its catalogue entry.
pub static ENTRY: Entry = layer(
    "zeropad2d",
    &[param("padding", Type::Pair, Default::Is(Value::Pair(1, 1)))],
    "zero_padding2d",
    "ZeroPadding2D",
    "zeros around each image: `padding` rows above and below, columns left and right",
);

#[derive(Debug, Clone, PartialEq)]
pub struct Zeropad2d {
    /// Rows above and below, columns left and right.
    pub padding: (usize, usize),
}

impl LayerDef for Zeropad2d {
    type Op = Zeropad2dOp;

    fn read(_: catalog::Layer, args: &CallArgs<'_>, errors: &mut Vec<CheckError>) -> Self {
        Zeropad2d {
            padding: args.pair("padding", errors),
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
        let [c, h, w] = image_input("zeropad2d", input, span, errors)?;
        let (ph, pw) = self.padding;
        Some(vec![c, h + 2 * ph, w + 2 * pw])
    }

    /// `Pad` with zeros on height and width.
    fn export(&self, _: &Layer, x: String, g: &mut Graph<'_>) -> Result<String, ExportError> {
        let (h, w) = (self.padding.0 as i64, self.padding.1 as i64);
        let pads = g.ints(&[0, 0, h, w, 0, 0, h, w]);
        Ok(g.node("Pad", &[&x, &pads], vec![]))
    }

    fn lower(&self, _: &Layer, _: Option<&Layer>, _: &mut Lowering<'_>) -> (Zeropad2dOp, bool) {
        let (ph, pw) = self.padding;
        (Zeropad2dOp(((ph, ph), (pw, pw))), false)
    }
}

pub struct Zeropad2dOp(((usize, usize), (usize, usize)));

impl LayerOp for Zeropad2dOp {
    fn forward<T: AnyTape>(&self, x: Act<T>, _: Option<Handoff>, _: &mut Forward<'_>) -> Act<T> {
        Act::Image(ops::zeropad2d(x.into_image("zeropad2d"), self.0))
    }
}
