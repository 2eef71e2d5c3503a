//! A metric against a swept value (`expr compare --sweep`): one marker per run, a line
//! through each value's mean, on an axis that suits the values: logarithmic for positive
//! numbers spread over a decade or more (learning rates), linear for other numbers, and
//! one evenly spaced slot per value, in order of appearance, for words (`adam`, `sgd`).

use std::path::Path;

use plotters::prelude::*;

use super::axis::{format_tick, plottable, y_axis, Axis};
use super::{ensure_font, PALETTE, PLOT_HEIGHT, PLOT_WIDTH};
use crate::output::encode::{write_png, PixelFormat};
use crate::output::error::{OutputError, OutputResult};

/// At most this many values get a tick label each; more share evenly chosen ones.
const MAX_TICKS: usize = 12;

/// Draws `points` (a swept value as written, the run's metric) into a PNG at `path`, the
/// values on the x axis named `x_label`. Metrics that are not finite are left out.
///
/// # Errors
/// [`OutputError::Plot`] when drawing fails, and the write's errors.
pub fn plot_against(
    path: &Path,
    title: &str,
    (x_label, y_label): (&str, &str),
    points: &[(String, f64)],
) -> OutputResult<()> {
    let plot_error = |reason: String| OutputError::Plot {
        path: path.to_path_buf(),
        reason,
    };
    ensure_font().map_err(plot_error)?;
    let scale = XScale::of(points.iter().map(|(v, _)| v.as_str()));
    let mut pixels = vec![0u8; PLOT_WIDTH as usize * PLOT_HEIGHT as usize * 3];
    draw(&mut pixels, title, (x_label, y_label), &scale, points).map_err(plot_error)?;
    write_png(path, &pixels, PLOT_WIDTH, PLOT_HEIGHT, PixelFormat::Rgb)
}

/// Where each distinct value sits on the x axis, and its label.
struct XScale {
    /// (value as written, position), in order of position.
    ticks: Vec<(String, f64)>,
    log: bool,
}

impl XScale {
    fn of<'a>(values: impl Iterator<Item = &'a str>) -> XScale {
        let mut distinct: Vec<&str> = Vec::new();
        for v in values {
            if !distinct.contains(&v) {
                distinct.push(v);
            }
        }
        let numbers: Option<Vec<f64>> = distinct
            .iter()
            .map(|v| v.parse::<f64>().ok().filter(|x| x.is_finite()))
            .collect();
        let Some(numbers) = numbers else {
            #[allow(clippy::cast_precision_loss)] // a handful of values
            let ticks = distinct
                .iter()
                .enumerate()
                .map(|(i, v)| ((*v).to_string(), i as f64))
                .collect();
            return XScale { ticks, log: false };
        };
        let (low, high) = numbers
            .iter()
            .fold((f64::MAX, f64::MIN), |(l, h), &x| (l.min(x), h.max(x)));
        let log = low > 0.0 && high / low >= 10.0;
        let mut ticks: Vec<(String, f64)> = distinct
            .iter()
            .zip(&numbers)
            .map(|(v, &x)| ((*v).to_string(), if log { x.log10() } else { x }))
            .collect();
        ticks.sort_by(|a, b| a.1.total_cmp(&b.1));
        XScale { ticks, log }
    }

    fn position(&self, value: &str) -> f64 {
        self.ticks
            .iter()
            .find(|(v, _)| v == value)
            .map_or(0.0, |t| t.1)
    }

    /// The axis over every position, padded so that the end markers show.
    fn axis(&self) -> Axis {
        let first = self.ticks.first().map_or(0.0, |t| t.1);
        let last = self.ticks.last().map_or(0.0, |t| t.1);
        let pad = if last > first {
            (last - first) * 0.08
        } else {
            0.5
        };
        let step = self.ticks.len().div_ceil(MAX_TICKS).max(1);
        Axis {
            range: first - pad..last + pad,
            ticks: self.ticks.iter().step_by(step).map(|t| t.1).collect(),
        }
    }

    /// The label of the tick at `x`: the value as the sweep wrote it.
    fn label(&self, x: f64) -> String {
        self.ticks
            .iter()
            .min_by(|a, b| (a.1 - x).abs().total_cmp(&(b.1 - x).abs()))
            .map_or_else(String::new, |t| t.0.clone())
    }
}

fn draw(
    pixels: &mut [u8],
    title: &str,
    (x_label, y_label): (&str, &str),
    scale: &XScale,
    points: &[(String, f64)],
) -> Result<(), String> {
    let drawn: Vec<(f64, f64)> = points
        .iter()
        .filter(|(_, y)| plottable(*y))
        .map(|(v, y)| (scale.position(v), *y))
        .collect();
    let (y, y_decimals) = y_axis(drawn.iter().map(|p| p.1));
    let root = BitMapBackend::with_buffer(pixels, (PLOT_WIDTH, PLOT_HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (super::FONT, 26))
        .margin(18)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(scale.axis(), y)
        .map_err(|e| e.to_string())?;
    let x_desc = if scale.log {
        format!("{x_label} (log scale)")
    } else {
        x_label.to_string()
    };
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_label)
        .axis_desc_style((super::FONT, 18))
        .label_style((super::FONT, 15))
        .x_label_formatter(&|x| scale.label(*x))
        .y_label_formatter(&|v| format_tick(*v, y_decimals))
        .bold_line_style(BLACK.mix(0.12))
        .draw()
        .map_err(|e| e.to_string())?;
    let colour = PALETTE[0];
    // The mean of each value's runs (several seeds), joined in the axis' order.
    let means: Vec<(f64, f64)> = scale
        .ticks
        .iter()
        .filter_map(|(_, x)| {
            let ys: Vec<f64> = drawn.iter().filter(|p| p.0 == *x).map(|p| p.1).collect();
            #[allow(clippy::cast_precision_loss)] // a handful of runs
            (!ys.is_empty()).then(|| (*x, ys.iter().sum::<f64>() / ys.len() as f64))
        })
        .collect();
    chart
        .draw_series(LineSeries::new(means, colour.mix(0.6).stroke_width(2)))
        .map_err(|e| e.to_string())?;
    chart
        .draw_series(drawn.iter().map(|&p| Circle::new(p, 5, colour.filled())))
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learning_rates_sit_on_a_log_axis_in_order() {
        let s = XScale::of(["1e-3", "3e-4", "1e-4", "1e-3"].into_iter());
        assert!(s.log);
        let names: Vec<&str> = s.ticks.iter().map(|t| t.0.as_str()).collect();
        assert_eq!(names, ["1e-4", "3e-4", "1e-3"]);
        assert!((s.position("1e-3") + 3.0).abs() < 1e-12);
        assert_eq!(s.label(-3.49), "3e-4");
    }

    #[test]
    fn close_numbers_sit_on_a_linear_axis_and_words_in_slots() {
        let s = XScale::of(["32", "64", "128"].into_iter());
        assert!(!s.log);
        assert_eq!(s.position("64"), 64.0);
        let s = XScale::of(["0", "0.5", "0.9"].into_iter());
        assert!(!s.log);
        let s = XScale::of(["sgd", "adam", "sgd"].into_iter());
        assert_eq!(
            (s.position("sgd"), s.position("adam"), s.label(0.9)),
            (0.0, 1.0, "adam".to_string())
        );
    }

    #[test]
    fn many_values_share_twelve_ticks() {
        let values: Vec<String> = (1..=40).map(|i| i.to_string()).collect();
        let s = XScale::of(values.iter().map(String::as_str));
        assert_eq!(s.axis().ticks.len(), 10);
    }
}
