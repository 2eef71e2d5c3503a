//! Axes of a metric plot: ranges, tick positions and tick labels.
//!
//! Both axes carry ticks we compute ourselves. plotters' own float tick search loops forever
//! when a range's span overflows (values near `f64::MAX`), and a loss that explodes is exactly
//! what a plot must survive; computing ticks here keeps every loop bounded.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};

/// Values beyond this magnitude are treated like NaN: a diverged metric, not something to plot.
/// The bound keeps every span and margin finite.
pub const PLOTTABLE_LIMIT: f64 = 1e300;

/// Whether `value` is drawn.
pub fn plottable(value: f64) -> bool {
    value.is_finite() && value.abs() <= PLOTTABLE_LIMIT
}

/// A linear axis over `range` with bold ticks at `ticks` and no light grid lines.
pub struct Axis {
    pub range: Range<f64>,
    pub ticks: Vec<f64>,
}

impl Ranged for Axis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        // Ranges are never empty (see `x_axis`, `y_axis`), so the division is safe.
        let fraction = (value - self.range.start) / (self.range.end - self.range.start);
        let pixel = f64::from(limit.0) + fraction * f64::from(limit.1 - limit.0);
        // Plottable values lie inside the range, so the pixel fits; `as` saturates otherwise.
        #[allow(clippy::cast_possible_truncation)]
        let pixel = pixel.round() as i32;
        pixel
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// The epoch axis `1..=epochs`, padded by half an epoch so end markers are not clipped.
pub fn x_axis(epochs: usize) -> Axis {
    #[allow(clippy::cast_precision_loss)] // epoch counts are far below 2^52
    let end = epochs as f64 + 0.5;
    Axis {
        range: 0.5..end,
        ticks: epoch_ticks(epochs),
    }
}

/// Integer epoch ticks: every epoch when few, else multiples of a 1-2-5 step (at most ten of
/// them), plus epoch 1 when the step leaves room for it.
pub fn epoch_ticks(epochs: usize) -> Vec<f64> {
    let step = epoch_step(epochs);
    let first = if step == 1 { 1 } else { step };
    #[allow(clippy::cast_precision_loss)]
    let mut ticks: Vec<f64> = (first..=epochs).step_by(step).map(|e| e as f64).collect();
    if step >= 5 || ticks.is_empty() {
        ticks.insert(0, 1.0);
    }
    ticks
}

/// The smallest 1-2-5 step that leaves at most ten multiples in `1..=epochs`.
fn epoch_step(epochs: usize) -> usize {
    let mut magnitude = 1usize;
    // 20 decades exceed `usize::MAX`, so the search always ends inside the loop.
    for _ in 0..20 {
        for factor in [1, 2, 5] {
            let step = magnitude.saturating_mul(factor);
            if epochs / step <= 10 {
                return step;
            }
        }
        magnitude = magnitude.saturating_mul(10);
    }
    epochs.max(1)
}

/// The value axis: all plottable values plus a 6% margin (a unit window when there are none,
/// a ±10% window around a flat history), with ticks and the decimals its labels need.
pub fn y_axis(values: impl Iterator<Item = f64>) -> (Axis, usize) {
    let (lo, hi) = values
        .filter(|v| plottable(*v))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    let (lo, hi) = if lo > hi {
        (0.0, 1.0)
    } else {
        let scale = lo.abs().max(hi.abs());
        let span = hi - lo;
        if span <= scale * 1e-9 {
            let half = if scale > 0.0 { scale * 0.1 } else { 0.5 };
            (lo - half, hi + half)
        } else {
            (lo - span * 0.06, hi + span * 0.06)
        }
    };
    let (ticks, decimals) = value_ticks(lo, hi);
    (
        Axis {
            range: lo..hi,
            ticks,
        },
        decimals,
    )
}

/// About six "nice" ticks (multiples of 1, 2 or 5 × 10^k) within `lo..=hi`, and the decimals
/// that tell them apart. Requires a finite, positive span.
pub fn value_ticks(lo: f64, hi: f64) -> (Vec<f64>, usize) {
    let raw = (hi - lo) / 6.0;
    let power = raw.log10().floor();
    let magnitude = 10f64.powf(power);
    let factor = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .find(|f| f * magnitude >= raw)
        .unwrap_or(10.0);
    let step = factor * magnitude;
    let first = (lo / step).ceil();
    // Bounded: the span is at most about 6.x steps.
    let ticks = (0..=12)
        .map(|i| (first + f64::from(i)) * step)
        .take_while(|t| *t <= hi)
        // `(first + i) * step` can land a hair off zero; show it as zero.
        .map(|t| if t.abs() < step * 1e-9 { 0.0 } else { t })
        .collect();
    let decimals = if factor >= 10.0 {
        -(power + 1.0)
    } else {
        -power
    };
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let decimals = decimals.clamp(0.0, 12.0) as usize;
    (ticks, decimals)
}

/// A tick label with `decimals` decimals, or in scientific notation when that would be long.
pub fn format_tick(value: f64, decimals: usize) -> String {
    // `value_ticks` snaps near-zero ticks to exactly zero.
    #[allow(clippy::float_cmp)]
    if value == 0.0 && decimals > 5 {
        "0".to_owned()
    } else if value.abs() >= 1e6 || decimals > 5 {
        format!("{value:.2e}")
    } else {
        format!("{value:.decimals$}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_ticks_are_integers_and_few() {
        assert_eq!(epoch_ticks(1), vec![1.0]);
        assert_eq!(epoch_ticks(5), vec![1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(epoch_ticks(12), vec![2.0, 4.0, 6.0, 8.0, 10.0, 12.0]);
        let hundred = epoch_ticks(100);
        assert!((hundred[0] - 1.0).abs() < f64::EPSILON);
        assert_eq!(
            hundred[1..],
            [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0]
        );
        for epochs in 1..3000 {
            let ticks = epoch_ticks(epochs);
            assert!(
                !ticks.is_empty() && ticks.len() <= 12,
                "{epochs}: {ticks:?}"
            );
            #[allow(clippy::cast_precision_loss)]
            let last = epochs as f64;
            assert!(ticks
                .iter()
                .all(|t| t.fract() == 0.0 && (1.0..=last).contains(t)));
        }
    }

    #[test]
    fn y_axis_has_a_margin_and_handles_flat_empty_and_huge_histories() {
        let (axis, _) = y_axis([1.0, 2.0, f64::NAN].into_iter());
        assert!((axis.range.start - 0.94).abs() < 1e-12, "{:?}", axis.range);
        assert!((axis.range.end - 2.06).abs() < 1e-12, "{:?}", axis.range);
        let (axis, _) = y_axis([3.0, 3.0].into_iter());
        assert!(
            axis.range.start < 3.0 && axis.range.end > 3.0,
            "{:?}",
            axis.range
        );
        assert_eq!(y_axis([0.0].into_iter()).0.range, -0.5..0.5);
        assert_eq!(y_axis([f64::NAN].into_iter()).0.range, 0.0..1.0);
        assert_eq!(y_axis(std::iter::empty()).0.range, 0.0..1.0);
        let (axis, _) = y_axis([f64::MAX, -1e300, 1e300, 0.0].into_iter());
        assert!(axis.range.start.is_finite() && axis.range.end.is_finite());
        assert!(!axis.ticks.is_empty());
    }

    #[test]
    fn value_ticks_are_nice_and_inside_the_range() {
        assert_eq!(
            value_ticks(0.0, 1.0),
            (vec![0.0, 0.2, 0.4, 0.600_000_000_000_000_1, 0.8, 1.0], 1)
        );
        let (ticks, decimals) = value_ticks(0.3, 2.4);
        assert_eq!(ticks, vec![0.5, 1.0, 1.5, 2.0]);
        assert_eq!(decimals, 1);
        let (ticks, decimals) = value_ticks(-30.0, 470.0);
        assert_eq!(ticks, vec![0.0, 100.0, 200.0, 300.0, 400.0]);
        assert_eq!(decimals, 0);
        for (lo, hi) in [(1e-12, 3e-12), (-2e300, 2e300), (0.999, 1.001), (5.0, 5.5)] {
            let (ticks, _) = value_ticks(lo, hi);
            assert!((3..=12).contains(&ticks.len()), "{lo} {hi}: {ticks:?}");
            // Rounding may put a tick an ulp outside; plotters draws it on the edge.
            let slack = (hi - lo) * 1e-9;
            let inside = |t: &f64| (lo - slack..=hi + slack).contains(t);
            assert!(ticks.iter().all(inside), "{lo} {hi}: {ticks:?}");
        }
    }

    #[test]
    fn tick_labels_use_enough_decimals() {
        let (ticks, decimals) = value_ticks(0.0, 1.0);
        let labels: Vec<String> = ticks.iter().map(|t| format_tick(*t, decimals)).collect();
        assert_eq!(labels, ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        assert_eq!(format_tick(2.0, 0), "2");
        assert_eq!(format_tick(1.5e-9, 10), "1.50e-9");
        assert_eq!(format_tick(2.0e7, 0), "2.00e7");
        assert_eq!(format_tick(0.0, 10), "0");
    }
}
