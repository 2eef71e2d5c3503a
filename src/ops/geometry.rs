//! Where sliding windows fall: output sizes and padding along one axis, shared by conv2d and
//! pooling so that both agree on what `valid` and `same` mean.

/// How a window is placed over the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// Only windows that fit entirely inside the input.
    Valid,
    /// Keras/TensorFlow `same`: `out = ceil(in / stride)`, padded by
    /// `max((out - 1) * stride + k - in, 0)` of which the smaller half goes before.
    Same,
}

/// The placement of windows along one axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Axis {
    pub(crate) input: usize,
    pub(crate) window: usize,
    pub(crate) stride: usize,
    pub(crate) pad_before: usize,
    pub(crate) output: usize,
}

/// The in-bounds part of one window: taps `first_tap..first_tap + taps` of the window read
/// inputs `first_input..first_input + taps`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) first_tap: usize,
    pub(crate) first_input: usize,
    pub(crate) taps: usize,
}

impl Axis {
    /// `None` when the output would be empty or the window or stride is zero.
    pub(crate) fn new(
        input: usize,
        window: usize,
        stride: usize,
        padding: Padding,
    ) -> Option<Self> {
        if input == 0 || window == 0 || stride == 0 {
            return None;
        }
        let (output, pad_before) = match padding {
            Padding::Valid => {
                if window > input {
                    return None;
                }
                ((input - window) / stride + 1, 0)
            }
            Padding::Same => {
                let output = input.div_ceil(stride);
                let pad_total = ((output - 1) * stride + window).saturating_sub(input);
                (output, pad_total / 2)
            }
        };
        Some(Self {
            input,
            window,
            stride,
            pad_before,
            output,
        })
    }

    /// The axis of a transposed convolution read backwards: a transposed conv from `input`
    /// positions is the adjoint of a conv whose *input* is the transposed conv's output, so
    /// the returned axis has `input` = the transposed output's length and `output` = `input`.
    ///
    /// Lengths follow Keras' `Conv2DTranspose` (TensorFlow's `conv2d_transpose`): without
    /// `output_padding`, `same` gives `input * stride` and `valid` gives `input * stride +
    /// max(window - stride, 0)`; with it, `(input - 1) * stride + window - 2 * pad +
    /// output_padding` where `pad` is `window / 2` for `same` and 0 for `valid`. The crop of
    /// the full `(input - 1) * stride + window` result is TensorFlow's: of the
    /// `max(full - length, 0)` positions it drops, the smaller half goes before (PyTorch's
    /// `padding = p` drops `p` before instead). `None` for a zero size or a too large
    /// `output_padding` (it must be below the stride, as in both libraries).
    pub(crate) fn transposed(
        input: usize,
        window: usize,
        stride: usize,
        padding: Padding,
        output_padding: Option<usize>,
    ) -> Option<Self> {
        if input == 0 || window == 0 || stride == 0 {
            return None;
        }
        let output = match (padding, output_padding) {
            (_, Some(p)) if p >= stride => return None,
            (Padding::Same, None) => input * stride,
            (Padding::Valid, None) => input * stride + window.saturating_sub(stride),
            (padding, Some(p)) => {
                let pad = if padding == Padding::Same {
                    window / 2
                } else {
                    0
                };
                ((input - 1) * stride + window + p).checked_sub(2 * pad)?
            }
        };
        let full = (input - 1) * stride + window;
        let pad_before = match padding {
            Padding::Same => full.saturating_sub(output) / 2,
            Padding::Valid => 0,
        };
        // Every input position must land on at least one output position.
        if output == 0 || (input - 1) * stride + window <= pad_before {
            return None;
        }
        Some(Self {
            input: output,
            window,
            stride,
            pad_before,
            output: input,
        })
    }

    /// The in-bounds part of the window of output `index`. With the paddings above every
    /// window holds at least one input (`pad_before < window` and the last window starts
    /// before the end), but `taps` is computed with saturation so that it is never negative.
    pub(crate) fn span(&self, index: usize) -> Span {
        let start = index * self.stride;
        let first_input = start.saturating_sub(self.pad_before);
        let end = (start + self.window)
            .saturating_sub(self.pad_before)
            .min(self.input);
        Span {
            first_tap: first_input + self.pad_before - start,
            first_input,
            taps: end.saturating_sub(first_input),
        }
    }

    /// The outputs whose window tap `tap` falls inside the input, as a range `lo..hi`; output
    /// `i` in it reads input `i * stride + tap - pad_before`.
    pub(crate) fn outputs_reading(&self, tap: usize) -> (usize, usize) {
        // Smallest i with i * stride + tap >= pad_before.
        let lo = self.pad_before.saturating_sub(tap).div_ceil(self.stride);
        // Largest i with i * stride + tap - pad_before <= input - 1, plus one.
        let hi = if self.input + self.pad_before > tap {
            ((self.input - 1 + self.pad_before - tap) / self.stride + 1).min(self.output)
        } else {
            0
        };
        (lo.min(hi), hi)
    }

    /// The spans of all outputs, computed once per op call.
    pub(crate) fn spans(&self) -> Vec<Span> {
        (0..self.output).map(|i| self.span(i)).collect()
    }
}

/// The `(height, width)` of a convolution's output, `None` if it would be empty.
#[must_use]
pub fn conv2d_output_hw(
    in_hw: (usize, usize),
    kernel_hw: (usize, usize),
    stride: (usize, usize),
    padding: Padding,
) -> Option<(usize, usize)> {
    let h = Axis::new(in_hw.0, kernel_hw.0, stride.0, padding)?;
    let w = Axis::new(in_hw.1, kernel_hw.1, stride.1, padding)?;
    Some((h.output, w.output))
}

/// The `(height, width)` of a transposed convolution's output (see [`Axis::transposed`]),
/// `None` if it would be empty or `output_padding` is not below the stride.
#[must_use]
pub fn conv2d_transpose_output_hw(
    in_hw: (usize, usize),
    kernel_hw: (usize, usize),
    stride: (usize, usize),
    padding: Padding,
    output_padding: Option<usize>,
) -> Option<(usize, usize)> {
    let h = Axis::transposed(in_hw.0, kernel_hw.0, stride.0, padding, output_padding)?;
    let w = Axis::transposed(in_hw.1, kernel_hw.1, stride.1, padding, output_padding)?;
    Some((h.input, w.input))
}

/// The `(height, width)` of a pooling's output, `None` if it would be empty.
#[must_use]
pub fn pool2d_output_hw(
    in_hw: (usize, usize),
    size: (usize, usize),
    stride: (usize, usize),
    padding: Padding,
) -> Option<(usize, usize)> {
    // Pooling windows are placed exactly like convolution kernels.
    conv2d_output_hw(in_hw, size, stride, padding)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_output_counts_whole_windows() {
        assert_eq!(
            conv2d_output_hw((28, 28), (3, 3), (1, 1), Padding::Valid),
            Some((26, 26))
        );
        assert_eq!(
            pool2d_output_hw((26, 26), (2, 2), (2, 2), Padding::Valid),
            Some((13, 13))
        );
        assert_eq!(
            conv2d_output_hw((7, 5), (3, 2), (2, 3), Padding::Valid),
            Some((3, 2))
        );
        assert_eq!(
            conv2d_output_hw((2, 5), (3, 3), (1, 1), Padding::Valid),
            None
        );
    }

    #[test]
    fn same_output_is_input_over_stride_rounded_up() {
        assert_eq!(
            conv2d_output_hw((28, 28), (3, 3), (1, 1), Padding::Same),
            Some((28, 28))
        );
        assert_eq!(
            conv2d_output_hw((7, 8), (3, 3), (2, 2), Padding::Same),
            Some((4, 4))
        );
        assert_eq!(
            conv2d_output_hw((1, 1), (5, 5), (1, 1), Padding::Same),
            Some((1, 1))
        );
    }

    #[test]
    fn zero_stride_or_window_gives_no_output() {
        assert_eq!(
            conv2d_output_hw((5, 5), (3, 3), (0, 1), Padding::Same),
            None
        );
        assert_eq!(
            conv2d_output_hw((5, 5), (0, 3), (1, 1), Padding::Valid),
            None
        );
        assert_eq!(
            conv2d_output_hw((0, 5), (1, 1), (1, 1), Padding::Same),
            None
        );
    }

    #[test]
    fn same_padding_puts_the_smaller_half_before() {
        // in 5, k 4, s 1: total 3, before 1 (TensorFlow puts the extra one after).
        let a = Axis::new(5, 4, 1, Padding::Same).unwrap();
        assert_eq!((a.output, a.pad_before), (5, 1));
        assert_eq!(
            a.span(0),
            Span {
                first_tap: 1,
                first_input: 0,
                taps: 3
            }
        );
        assert_eq!(
            a.span(4),
            Span {
                first_tap: 0,
                first_input: 3,
                taps: 2
            }
        );
        // in 6, k 3, s 2: out 3, total 1, before 0.
        let b = Axis::new(6, 3, 2, Padding::Same).unwrap();
        assert_eq!((b.output, b.pad_before), (3, 0));
        assert_eq!(
            b.span(2),
            Span {
                first_tap: 0,
                first_input: 4,
                taps: 2
            }
        );
    }

    #[test]
    fn outputs_reading_a_tap_agree_with_spans() {
        for input in 1..10 {
            for window in 1..5 {
                for stride in 1..4 {
                    for padding in [Padding::Valid, Padding::Same] {
                        let Some(a) = Axis::new(input, window, stride, padding) else {
                            continue;
                        };
                        for tap in 0..window {
                            let (lo, hi) = a.outputs_reading(tap);
                            for i in 0..a.output {
                                let s = a.span(i);
                                let inside = (s.first_tap..s.first_tap + s.taps).contains(&tap);
                                assert_eq!(
                                    (lo..hi).contains(&i),
                                    inside,
                                    "{a:?} tap {tap} out {i}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn every_window_holds_an_input() {
        for input in 1..12 {
            for window in 1..6 {
                for stride in 1..5 {
                    for padding in [Padding::Valid, Padding::Same] {
                        let Some(a) = Axis::new(input, window, stride, padding) else {
                            continue;
                        };
                        for s in a.spans() {
                            assert!(s.taps >= 1, "{a:?} {s:?}");
                            assert!(s.first_input + s.taps <= input);
                            assert!(s.first_tap + s.taps <= window);
                        }
                    }
                }
            }
        }
    }
}
