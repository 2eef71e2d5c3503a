//! A confusion matrix as files: a CSV of counts (rows = true class, columns = predicted, as
//! scikit-learn's `confusion_matrix`) and a PNG heat map of the same counts, each written
//! atomically.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::atomic::write_atomic;
use super::confine::in_run_dir;
use super::encode::{write_png, PixelFormat};
use super::error::OutputResult;

/// Pixels per cell of the heat map, and of the border between cells.
const CELL: usize = 24;
const GAP: usize = 1;

/// Writes `confusion/<name>.csv` and `confusion/<name>.png` in the run directory `dir`;
/// `counts` is `classes` × `classes`, `names` the class names (indices where the data has
/// none). Returns the two paths.
///
/// # Errors
/// What [`in_run_dir`] and [`write_atomic`] report.
pub fn write(
    dir: &Path,
    name: &str,
    counts: &[f64],
    names: &[String],
) -> OutputResult<[PathBuf; 2]> {
    let csv_path = in_run_dir(dir, &format!("confusion/{name}.csv"))?;
    let png_path = in_run_dir(dir, &format!("confusion/{name}.png"))?;
    let text = csv(counts, names);
    write_atomic(&csv_path, |w| w.write_all(text.as_bytes()))?;
    let (pixels, side) = heat_map(counts, names.len());
    write_png(
        &png_path,
        &pixels,
        side as u32,
        side as u32,
        PixelFormat::Rgb,
    )?;
    Ok([csv_path, png_path])
}

/// The CSV text: a header `true\predicted,<names>`, then one row per true class.
pub fn csv(counts: &[f64], names: &[String]) -> String {
    let quote = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let mut out = String::from("true\\predicted");
    for n in names {
        let _ = write!(out, ",{}", quote(n));
    }
    out.push('\n');
    for (row, n) in counts.chunks(names.len().max(1)).zip(names) {
        out.push_str(&quote(n));
        for c in row {
            let _ = write!(out, ",{c}");
        }
        out.push('\n');
    }
    out
}

/// RGB pixels of the heat map (a square of `side` pixels): each cell from white (0) to dark
/// blue (the largest count), cells apart by grey lines.
fn heat_map(counts: &[f64], classes: usize) -> (Vec<u8>, usize) {
    let side = classes * (CELL + GAP) + GAP;
    let mut pixels = vec![160u8; side * side * 3];
    let max = counts.iter().copied().fold(0.0, f64::max);
    for (i, &c) in counts.iter().enumerate() {
        let share = if max > 0.0 { c / max } else { 0.0 };
        // White to (8, 48, 107), matplotlib's "Blues" ends.
        let mix = |white: f64, dark: f64| (white + (dark - white) * share).round() as u8;
        let rgb = [mix(255.0, 8.0), mix(255.0, 48.0), mix(255.0, 107.0)];
        let (row, col) = (i / classes, i % classes);
        for y in 0..CELL {
            let start = ((row * (CELL + GAP) + GAP + y) * side + col * (CELL + GAP) + GAP) * 3;
            for px in pixels[start..start + CELL * 3].chunks_exact_mut(3) {
                px.copy_from_slice(&rgb);
            }
        }
    }
    (pixels, side)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_has_true_classes_as_rows_and_quotes_names() {
        let names = vec!["cat".to_string(), "dog, big".to_string()];
        assert_eq!(
            csv(&[3.0, 1.0, 0.0, 2.0], &names),
            "true\\predicted,cat,\"dog, big\"\ncat,3,1\n\"dog, big\",0,2\n"
        );
    }

    #[test]
    fn heat_map_is_darkest_at_the_largest_count() {
        let (p, side) = heat_map(&[4.0, 0.0, 1.0, 2.0], 2);
        assert_eq!(side, 51);
        let at = |row: usize, col: usize| {
            let i = ((row * (CELL + GAP) + GAP + 3) * side + col * (CELL + GAP) + GAP + 3) * 3;
            [p[i], p[i + 1], p[i + 2]]
        };
        assert_eq!(at(0, 0), [8, 48, 107]);
        assert_eq!(at(0, 1), [255, 255, 255]);
        assert!(at(1, 1)[0] < at(1, 0)[0]);
    }
}
