//! Line plots of per-epoch metric histories, rendered to PNG.
//!
//! Text is drawn with a `DejaVu Sans` font embedded in the binary (the `ab_glyph` backend of plotters),
//! so plots render the same on a machine with no system fonts. The chart is rendered into an
//! RGB buffer and encoded by [`write_png`], which writes atomically.

mod against;
mod axis;

use std::path::Path;
use std::sync::OnceLock;

use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use self::axis::{format_tick, plottable, x_axis, y_axis, Axis};
use super::encode::{write_png, PixelFormat};
use super::error::{OutputError, OutputResult};
pub use super::grid::image_grid;
pub use against::plot_against;

/// Width of a plot in pixels.
pub const PLOT_WIDTH: u32 = 960;
/// Height of a plot in pixels.
pub const PLOT_HEIGHT: u32 = 600;

/// The family name our embedded font is registered under.
const FONT: &str = "sans-serif";
static FONT_BYTES: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Up to this many epochs every point gets a marker; beyond it markers would clutter the lines,
/// and only points with no plottable neighbour (which a line cannot show) get one.
const MARKERS_UP_TO: usize = 40;

/// Colour-blind-friendly, mutually distinct line colours (Okabe–Ito, then darker extras).
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
/// Values that are not finite or beyond ±1e300 (a diverged run) are left out and the line
/// breaks there; a series with no plottable value still gets its legend entry.
///
/// # Errors
/// [`OutputError::Plot`] when drawing fails, and the errors of
/// [`write_atomic`](super::atomic::write_atomic) when the file cannot be written.
pub fn plot_series(path: &Path, title: &str, y_label: &str, series: &[Series]) -> OutputResult<()> {
    let plot_error = |reason: String| OutputError::Plot {
        path: path.to_path_buf(),
        reason,
    };
    ensure_font().map_err(plot_error)?;
    let mut pixels = vec![0u8; PLOT_WIDTH as usize * PLOT_HEIGHT as usize * 3];
    draw_chart(&mut pixels, title, y_label, series).map_err(plot_error)?;
    write_png(path, &pixels, PLOT_WIDTH, PLOT_HEIGHT, PixelFormat::Rgb)
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

type Chart<'a, 'b> = ChartContext<'a, BitMapBackend<'b>, Cartesian2d<Axis, Axis>>;

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
    let (y, y_decimals) = y_axis(series.iter().flat_map(|s| s.values.iter().copied()));

    let root = BitMapBackend::with_buffer(pixels, (PLOT_WIDTH, PLOT_HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 26))
        .margin(18)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(x_axis(epochs), y)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(y_label)
        .axis_desc_style((FONT, 18))
        .label_style((FONT, 15))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|v| format_tick(*v, y_decimals))
        .bold_line_style(BLACK.mix(0.12))
        .draw()
        .map_err(|e| e.to_string())?;

    for (index, line) in series.iter().enumerate() {
        let colour = PALETTE[index % PALETTE.len()];
        draw_line(&mut chart, line, colour, epochs <= MARKERS_UP_TO)?;
    }
    if !series.is_empty() {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font((FONT, 16))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .draw()
            .map_err(|e| e.to_string())?;
    }
    root.present().map_err(|e| e.to_string())
}

/// Draws one series as line runs between gaps, plus markers, and adds its legend entry.
fn draw_line(
    chart: &mut Chart,
    line: &Series,
    colour: RGBColor,
    all_markers: bool,
) -> Result<(), String> {
    let style = colour.stroke_width(2);
    let runs = plottable_runs(line.values);
    // The legend entry hangs off this (possibly empty) first draw, so a series with no
    // plottable value still appears in the legend.
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

/// Splits values into runs of consecutive plottable points `(epoch, value)`.
fn plottable_runs(values: &[f64]) -> Vec<Vec<(f64, f64)>> {
    let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current = Vec::new();
    for (index, &value) in values.iter().enumerate() {
        if plottable(value) {
            #[allow(clippy::cast_precision_loss)] // epoch counts are far below 2^52
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

#[cfg(test)]
mod tests;
