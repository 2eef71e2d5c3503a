//! Line plots of per-epoch metric histories, rendered to PNG.
//!
//! Text is drawn with a DejaVu Sans font embedded in the binary (plotters' `ab_glyph` backend),
//! so plots render the same on a machine with no system fonts. The chart is rendered into an
//! RGB buffer and encoded by [`write_png`], which writes atomically.

use std::path::Path;
use std::sync::OnceLock;

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use super::encode::{write_png, PixelFormat};
use super::error::{OutputError, OutputResult};
pub use super::grid::image_grid;

/// Width of a plot in pixels.
pub const PLOT_WIDTH: u32 = 960;
/// Height of a plot in pixels.
pub const PLOT_HEIGHT: u32 = 600;

/// The family name our embedded font is registered under.
const FONT: &str = "sans-serif";
static FONT_BYTES: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Up to this many epochs every point gets a marker; beyond it markers would clutter the lines,
/// and only points with no finite neighbour (which a line cannot show) get one.
const MARKERS_UP_TO: usize = 40;

/// Colour-blind-friendly, mutually distinct line colours (Okabe–Ito, then darker variants).
const PALETTE: [RGBColor; 10] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(170, 51, 51),
    RGBColor(102, 102, 0),
    RGBColor(68, 68, 170),
];

/// One named line: `values[i]` is the metric after epoch `i + 1`.
#[derive(Debug, Clone, Copy)]
pub struct Series<'a> {
    pub name: &'a str,
    pub values: &'a [f64],
}

/// Draws `series` against epochs `1..=n` (n = the longest series) into a PNG at `path`.
///
/// Non-finite values (NaN, ±inf, e.g. from a diverged run) are left out: the line breaks there.
///
/// # Errors
/// [`OutputError::Plot`] when drawing fails, and the errors of
/// [`write_atomic`](super::atomic::write_atomic) when the file cannot be written.
pub fn plot_series(path: &Path, title: &str, y_label: &str, series: &[Series]) -> OutputResult<()> {
    ensure_font().map_err(|reason| plot_error(path, reason))?;
    let (width, height) = (PLOT_WIDTH as usize, PLOT_HEIGHT as usize);
    let mut pixels = vec![0u8; width * height * 3];
    draw_chart(&mut pixels, title, y_label, series).map_err(|reason| plot_error(path, reason))?;
    write_png(path, &pixels, PLOT_WIDTH, PLOT_HEIGHT, PixelFormat::Rgb)
}

fn plot_error(path: &Path, reason: String) -> OutputError {
    OutputError::Plot {
        path: path.to_path_buf(),
        reason,
    }
}

/// Registers the embedded font once per process.
fn ensure_font() -> Result<(), String> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok());
    if ok {
        Ok(())
    } else {
        Err("the embedded font could not be loaded".to_owned())
    }
}

fn draw_chart(
    pixels: &mut [u8],
    title: &str,
    y_label: &str,
    series: &[Series],
) -> Result<(), String> {
    let epochs = series
        .iter()
        .map(|s| s.values.len())
        .max()
        .unwrap_or(0)
        .max(1);
    let (y_min, y_max) = y_range(series);
    let x_ticks = epoch_ticks(epochs);

    let root = BitMapBackend::with_buffer(pixels, (PLOT_WIDTH, PLOT_HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    #[allow(clippy::cast_precision_loss)] // epoch counts are far below 2^52
    let x_range = EpochAxis {
        range: 0.5..epochs as f64 + 0.5,
        ticks: x_ticks,
    };
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 26))
        .margin(18)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(x_range, y_min..y_max)
        .map_err(|e| e.to_string())?;

    let y_decimals = decimals_for(y_max - y_min);
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(y_label)
        .axis_desc_style((FONT, 18))
        .label_style((FONT, 15))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format_tick(*y, y_decimals))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.12))
        .draw()
        .map_err(|e| e.to_string())?;

    for (index, line) in series.iter().enumerate() {
        let colour = PALETTE[index % PALETTE.len()];
        draw_line(&mut chart, line, colour, epochs <= MARKERS_UP_TO)?;
    }

    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FONT, 16))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

type Chart<'a, 'b> = ChartContext<'a, BitMapBackend<'b>, Cartesian2d<EpochAxis, RangedCoordf64>>;

/// Draws one series as line runs between non-finite gaps, plus markers, and adds its legend entry.
fn draw_line(
    chart: &mut Chart,
    line: &Series,
    colour: RGBColor,
    all_markers: bool,
) -> Result<(), String> {
    let style = colour.stroke_width(2);
    let runs = finite_runs(line.values);
    // The legend entry hangs off this (possibly empty) first draw, so an all-NaN series still
    // appears in the legend.
    chart
        .draw_series(LineSeries::new(
            runs.first().cloned().unwrap_or_default(),
            style,
        ))
        .map_err(|e| e.to_string())?
        .label(line.name)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], colour.stroke_width(2)));
    for run in runs.iter().skip(1) {
        chart
            .draw_series(LineSeries::new(run.iter().copied(), style))
            .map_err(|e| e.to_string())?;
    }
    let markers = runs
        .iter()
        .filter(|run| all_markers || run.len() == 1)
        .flatten()
        .map(|&point| Circle::new(point, 4, colour.filled()));
    chart.draw_series(markers).map_err(|e| e.to_string())?;
    Ok(())
}

/// Splits values into runs of consecutive finite points `(epoch, value)`.
fn finite_runs(values: &[f64]) -> Vec<Vec<(f64, f64)>> {
    let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current = Vec::new();
    for (index, &value) in values.iter().enumerate() {
        if value.is_finite() {
            #[allow(clippy::cast_precision_loss)]
            current.push(((index + 1) as f64, value));
        } else if !current.is_empty() {
            runs.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        runs.push(current);
    }
    runs
}

/// The y range: all finite values plus a 6% margin; a flat or empty history gets a unit window.
fn y_range(series: &[Series]) -> (f64, f64) {
    let finite = series
        .iter()
        .flat_map(|s| s.values.iter())
        .copied()
        .filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if lo > hi {
        return (0.0, 1.0);
    }
    let span = hi - lo;
    if !span.is_finite() {
        // Values near ±f64::MAX: no room for a margin.
        return (lo, hi);
    }
    let scale = lo.abs().max(hi.abs());
    if span <= scale * 1e-9 || span == 0.0 {
        let half = if scale > 0.0 { scale * 0.1 } else { 0.5 };
        return (lo - half, hi + half);
    }
    let margin = span * 0.06;
    (lo - margin, hi + margin)
}

/// The x axis: epochs as a continuous range padded by half an epoch on each side (so the first
/// and last markers are not clipped), ticked only at the integer epochs we choose.
struct EpochAxis {
    range: Range<f64>,
    ticks: Vec<f64>,
}

impl Ranged for EpochAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        // The range is at least one epoch wide, so the division is safe.
        let fraction = (value - self.range.start) / (self.range.end - self.range.start);
        let pixel = f64::from(limit.0) + fraction * f64::from(limit.1 - limit.0);
        #[allow(clippy::cast_possible_truncation)] // pixels on a bitmap fit an i32
        let pixel = pixel.round() as i32;
        pixel
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // No light grid lines between epochs.
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

/// Integer epoch ticks: every epoch when few, else a 1-2-5 step giving at most about ten ticks.
fn epoch_ticks(epochs: usize) -> Vec<f64> {
    let mut step = 1;
    'search: for magnitude in [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000] {
        for factor in [1, 2, 5] {
            step = magnitude * factor;
            if epochs / step <= 10 {
                break 'search;
            }
        }
    }
    let first = if step == 1 { 1 } else { step };
    #[allow(clippy::cast_precision_loss)]
    let mut ticks: Vec<f64> = (first..=epochs).step_by(step).map(|e| e as f64).collect();
    // The first epoch deserves a label when the next tick is far enough away not to crowd it.
    if step >= 5 {
        ticks.insert(0, 1.0);
    }
    ticks
}

/// Decimals that distinguish ticks spread over `span` (plotters puts up to about ten there).
fn decimals_for(span: f64) -> usize {
    let step = span / 10.0;
    if !step.is_finite() || step <= 0.0 {
        return 2;
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    decimals.min(8)
}

fn format_tick(value: f64, decimals: usize) -> String {
    if value != 0.0 && (value.abs() >= 1e6 || decimals > 6) {
        format!("{value:.2e}")
    } else {
        format!("{value:.decimals$}")
    }
}

#[cfg(test)]
mod tests;
