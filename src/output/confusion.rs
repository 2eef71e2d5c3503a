//! A confusion matrix as files: a CSV of counts (rows = true class, columns = predicted, as
//! scikit-learn's `confusion_matrix`) and a PNG heat map of the same counts, each written
//! atomically. The heat map writes each count with a built-in 3 × 5 digit font, so it
//! needs no font files.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::atomic::write_atomic;
use super::confine::in_own_folder;
use super::encode::{write_png, PixelFormat};
use super::error::OutputResult;

/// The smallest cell of the heat map, in pixels, and the border between cells.
const CELL: usize = 28;
const GAP: usize = 1;
/// Counts are drawn with a 3 × 5 digit font, each font pixel a `SCALE` × `SCALE` square,
/// digits `ADVANCE` pixels apart.
const SCALE: usize = 2;
const ADVANCE: usize = 4 * SCALE;

/// The digits 0 to 9, 3 × 5 pixels each, one row per 3 bits (the high bit left).
const DIGITS: [[u8; 5]; 10] = [
    [7, 5, 5, 5, 7],
    [2, 6, 2, 2, 7],
    [7, 1, 7, 4, 7],
    [7, 1, 7, 1, 7],
    [5, 5, 7, 1, 1],
    [7, 4, 7, 1, 7],
    [7, 4, 7, 5, 7],
    [7, 1, 1, 1, 1],
    [7, 5, 7, 5, 7],
    [7, 5, 7, 1, 7],
];

/// The folder of a run directory that holds the confusion matrices.
pub const DIR: &str = "confusion";

/// Writes `confusion/<name>.csv` and `confusion/<name>.png` in the run directory `dir`;
/// `counts` is `classes` × `classes`, `names` the class names (indices where the data has
/// none). Returns the two paths.
///
/// # Errors
/// What [`in_own_folder`] and [`write_atomic`] report.
pub fn write(
    dir: &Path,
    name: &str,
    counts: &[f64],
    names: &[String],
) -> OutputResult<[PathBuf; 2]> {
    // The folder is the run's own (`expr check` keeps outputs out of it).
    let csv_path = in_own_folder(dir, DIR, &format!("{name}.csv"))?;
    let png_path = in_own_folder(dir, DIR, &format!("{name}.png"))?;
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
/// blue (the largest count), with its count written in it, cells apart by grey lines.
fn heat_map(counts: &[f64], classes: usize) -> (Vec<u8>, usize) {
    let labels: Vec<String> = counts.iter().map(|c| format!("{c}")).collect();
    let widest = labels.iter().map(String::len).max().unwrap_or(1);
    let cell = CELL.max(widest * ADVANCE + 2 * ADVANCE);
    let side = classes * (cell + GAP) + GAP;
    let mut pixels = vec![160u8; side * side * 3];
    let max = counts.iter().copied().fold(0.0, f64::max);
    for (i, (&c, label)) in counts.iter().zip(&labels).enumerate() {
        let share = if max > 0.0 { c / max } else { 0.0 };
        // White to (8, 48, 107), matplotlib's "Blues" ends.
        let mix = |white: f64, dark: f64| (white + (dark - white) * share).round() as u8;
        let rgb = [mix(255.0, 8.0), mix(255.0, 48.0), mix(255.0, 107.0)];
        let (left, top) = (
            (i % classes) * (cell + GAP) + GAP,
            (i / classes) * (cell + GAP) + GAP,
        );
        for y in top..top + cell {
            for x in left..left + cell {
                pixels[(y * side + x) * 3..][..3].copy_from_slice(&rgb);
            }
        }
        // Dark digits on light cells, white ones on dark cells, centred.
        let ink = if share > 0.5 { [255; 3] } else { [0; 3] };
        let x0 = left + (cell - (label.len() * ADVANCE - SCALE)) / 2;
        let y0 = top + (cell - 5 * SCALE) / 2;
        for (k, d) in label.bytes().enumerate() {
            let Some(glyph) = d.checked_sub(b'0').and_then(|d| DIGITS.get(usize::from(d))) else {
                continue;
            };
            for (row, bits) in glyph.iter().enumerate() {
                for col in (0..3).filter(|c| bits & (4 >> c) != 0) {
                    for (dy, dx) in (0..SCALE).flat_map(|dy| (0..SCALE).map(move |dx| (dy, dx))) {
                        let (x, y) = (x0 + k * ADVANCE + col * SCALE + dx, y0 + row * SCALE + dy);
                        pixels[(y * side + x) * 3..][..3].copy_from_slice(&ink);
                    }
                }
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
    fn heat_map_is_darkest_at_the_largest_count_and_writes_the_counts() {
        let (p, side) = heat_map(&[4.0, 0.0, 1.0, 2.0], 2);
        assert_eq!(side, 2 * (CELL + GAP) + GAP);
        let at = |row: usize, col: usize, (dy, dx): (usize, usize)| {
            let i = ((row * (CELL + GAP) + GAP + dy) * side + col * (CELL + GAP) + GAP + dx) * 3;
            [p[i], p[i + 1], p[i + 2]]
        };
        assert_eq!(at(0, 0, (1, 1)), [8, 48, 107]);
        assert_eq!(at(0, 1, (1, 1)), [255, 255, 255]);
        assert!(at(1, 1, (1, 1))[0] < at(1, 0, (1, 1))[0]);
        // A one-digit count sits in the middle: the 3 × 5 glyph, doubled, from (13, 9).
        let (x0, y0) = ((CELL - 3 * SCALE) / 2, (CELL - 5 * SCALE) / 2);
        // "4" (5, 5, 7, 1, 1): its top-left pixel is ink (white on the darkest cell), its
        // top-middle one is not; "0" on white has black ink all round its top row.
        assert_eq!(at(0, 0, (y0, x0)), [255; 3]);
        assert_eq!(at(0, 0, (y0, x0 + SCALE)), [8, 48, 107]);
        assert_eq!(at(0, 1, (y0, x0 + SCALE)), [0; 3]);
    }

    #[test]
    fn cells_widen_for_long_counts() {
        let (_, side) = heat_map(&[123_456.0, 0.0, 0.0, 7.0], 2);
        assert_eq!(side, 2 * (6 * ADVANCE + 2 * ADVANCE + GAP) + GAP);
    }
}
