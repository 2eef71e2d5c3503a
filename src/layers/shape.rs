//! Shape rules the image layers share: an image input, and a window sliding over it.

use crate::check::error::CheckError;
use crate::check::plan::Padding;
use crate::source::Span;

/// Output length of a window sliding over `len` (Keras/TF semantics); `None` if empty.
pub fn window_output(len: usize, window: usize, stride: usize, padding: Padding) -> Option<usize> {
    match padding {
        Padding::Valid if len >= window => Some((len - window) / stride + 1),
        Padding::Valid => None,
        Padding::Same => Some(len.div_ceil(stride)),
    }
}

/// The (channels, height, width) of an image input, or the error that `layer` needs one.
pub fn image_input(
    layer: &str,
    input: &[usize],
    span: Span,
    errors: &mut Vec<CheckError>,
) -> Option<[usize; 3]> {
    if let [c, h, w] = *input {
        return Some([c, h, w]);
    }
    let help = if input.len() == 2 {
        "add `channel_axis()` to the data pipeline, so images are (channels, height, width)"
    } else {
        "image layers need (channels, height, width) input; they cannot follow `flatten` or `dense`"
    };
    errors.push(CheckError::shape(
        format!(
            "`{layer}` needs an image input (channels, height, width), but gets shape {input:?}"
        ),
        format!("input here has shape {input:?}"),
        span,
        help,
    ));
    None
}

/// The (channels, length) of a sequence input, or the error that `layer` needs one.
/// Sequences are channels-first, as PyTorch's `Conv1d` takes them: Keras' (steps, channels)
/// is (channels, steps) here.
pub fn sequence_input(
    layer: &str,
    input: &[usize],
    span: Span,
    errors: &mut Vec<CheckError>,
) -> Option<[usize; 2]> {
    if let [c, l] = *input {
        return Some([c, l]);
    }
    errors.push(CheckError::shape(
        format!("`{layer}` needs a sequence input (channels, length), but gets shape {input:?}"),
        format!("input here has shape {input:?}"),
        span,
        "1-D layers take (channels, length): `reshape(channels, length)` makes one from vectors",
    ));
    None
}

/// A window sliding over an image, as a conv or pool layer declares it.
#[derive(Clone, Copy)]
pub struct Window {
    pub size: (usize, usize),
    pub stride: (usize, usize),
    pub padding: Padding,
}

/// The output plane of `window` (the parameter `what` of `layer`) over an `h` x `w` input,
/// or the error that it would be empty.
pub fn spatial(
    layer: &str,
    what: &str,
    (h, w): (usize, usize),
    Window {
        size: window,
        stride,
        padding,
    }: Window,
    span: Span,
    errors: &mut Vec<CheckError>,
) -> Option<(usize, usize)> {
    let out_h = window_output(h, window.0, stride.0, padding);
    let out_w = window_output(w, window.1, stride.1, padding);
    match (out_h, out_w) {
        (Some(a), Some(b)) if a > 0 && b > 0 => Some((a, b)),
        _ => {
            errors.push(CheckError::shape(
                format!(
                    "`{layer}` {what} {}x{} is larger than its {h}x{w} input",
                    window.0, window.1
                ),
                "the output would be empty".into(),
                span,
                format!("use a smaller `{what}`, or `padding = same`"),
            ));
            None
        }
    }
}
