//! Greyscale images (GAN samples, reconstructions) tiled into one PNG.
//!
//! Layout, like torchvision's `make_grid`: tiles of `h x w` pixels in `cols` columns (fewer when
//! there are fewer images), separated from each other and from the border by [`GRID_PADDING`]
//! pixels of mid grey, so tiles with black backgrounds (MNIST) stay visibly apart.

use std::path::Path;

use super::encode::{write_png, PixelFormat};
use super::error::{OutputError, OutputResult};

/// Pixels of padding between tiles and around the grid.
pub const GRID_PADDING: usize = 2;
/// Grey level of the padding.
pub const GRID_BACKGROUND: u8 = 128;

/// Tiles `n` greyscale images of `h x w` values in `[0, 1]` (row-major, image after image) into
/// a grid PNG at `path`, `cols` images per row. Values outside `[0, 1]` are clamped and NaN is
/// drawn black.
///
/// The PNG is `c * w + (c + 1) * GRID_PADDING` wide and `r * h + (r + 1) * GRID_PADDING` high,
/// where `c = min(cols, n)` and `r = ceil(n / c)`.
///
/// # Errors
/// [`OutputError::ImageGrid`] when `images.len() != n * h * w` or a size is zero, and the errors
/// of [`write_atomic`](super::atomic::write_atomic).
pub fn image_grid(
    path: &Path,
    images: &[f32],
    n: usize,
    h: usize,
    w: usize,
    cols: usize,
) -> OutputResult<()> {
    let bad = |reason: String| OutputError::ImageGrid {
        path: path.to_path_buf(),
        reason,
    };
    if n == 0 || h == 0 || w == 0 || cols == 0 {
        return Err(bad(format!(
            "n = {n}, h = {h}, w = {w}, cols = {cols}: none may be 0"
        )));
    }
    let expected = n.checked_mul(h).and_then(|v| v.checked_mul(w));
    if expected != Some(images.len()) {
        return Err(bad(format!(
            "expected n * h * w = {n} * {h} * {w} values, got {}",
            images.len()
        )));
    }
    let cols = cols.min(n);
    let rows = n.div_ceil(cols);
    let width = side(cols, w).ok_or_else(|| bad("the grid is too wide".to_owned()))?;
    let height = side(rows, h).ok_or_else(|| bad("the grid is too high".to_owned()))?;

    let (width_px, height_px) = (width as usize, height as usize);
    let mut pixels = vec![GRID_BACKGROUND; width_px * height_px];
    for (index, image) in images.chunks_exact(h * w).enumerate() {
        let top = GRID_PADDING + (index / cols) * (h + GRID_PADDING);
        let left = GRID_PADDING + (index % cols) * (w + GRID_PADDING);
        for (y, row) in image.chunks_exact(w).enumerate() {
            let start = (top + y) * width_px + left;
            for (pixel, &value) in pixels[start..start + w].iter_mut().zip(row) {
                *pixel = grey_level(value);
            }
        }
    }
    write_png(path, &pixels, width, height, PixelFormat::Grey)
}

/// Pixels along one side of the grid, if it fits a PNG dimension.
fn side(tiles: usize, tile: usize) -> Option<u32> {
    let total = tiles
        .checked_mul(tile)?
        .checked_add((tiles + 1).checked_mul(GRID_PADDING)?)?;
    u32::try_from(total).ok()
}

/// Maps `[0, 1]` to `0..=255`, rounding to nearest; NaN becomes 0.
fn grey_level(value: f32) -> u8 {
    if value.is_nan() {
        return 0;
    }
    // In range after the clamp, so the cast neither truncates nor wraps.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let level = (value.clamp(0.0, 1.0) * 255.0).round() as u8;
    level
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_grey(path: &Path) -> (u32, u32, Vec<u8>) {
        let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, png::ColorType::Grayscale);
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    #[test]
    fn tiles_a_known_pattern() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grid.png");
        // Three 2x3 images: image k has value (k * 6 + pixel) / 17 so every pixel is distinct.
        let (n, h, w) = (3, 2, 3);
        #[allow(clippy::cast_precision_loss)]
        let images: Vec<f32> = (0..n * h * w).map(|i| i as f32 / 17.0).collect();
        image_grid(&path, &images, n, h, w, 2).unwrap();

        let (width, height, pixels) = decode_grey(&path);
        // 2 columns, 2 rows: 2*3 + 3*2 = 12 wide, 2*2 + 3*2 = 10 high.
        assert_eq!((width, height), (12, 10));
        let at = |x: usize, y: usize| pixels[y * 12 + x];
        for k in 0..n {
            let (top, left) = (2 + (k / 2) * 4, 2 + (k % 2) * 5);
            for y in 0..h {
                for x in 0..w {
                    let value = images[k * h * w + y * w + x];
                    assert_eq!(
                        at(left + x, top + y),
                        grey_level(value),
                        "image {k} ({x}, {y})"
                    );
                }
            }
        }
        // Padding, and the empty fourth cell, are background.
        assert_eq!(at(0, 0), GRID_BACKGROUND);
        assert_eq!(at(5, 2), GRID_BACKGROUND);
        assert_eq!(at(8, 7), GRID_BACKGROUND);
        assert_eq!(at(11, 9), GRID_BACKGROUND);
    }

    #[test]
    fn extreme_values_are_clamped() {
        assert_eq!(grey_level(0.0), 0);
        assert_eq!(grey_level(1.0), 255);
        assert_eq!(grey_level(0.5), 128);
        assert_eq!(grey_level(-3.0), 0);
        assert_eq!(grey_level(7.0), 255);
        assert_eq!(grey_level(f32::NAN), 0);
        assert_eq!(grey_level(f32::INFINITY), 255);
    }

    #[test]
    fn more_columns_than_images_uses_one_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grid.png");
        image_grid(&path, &[1.0; 2 * 28 * 28], 2, 28, 28, 8).unwrap();
        let (width, height, _) = decode_grey(&path);
        assert_eq!((width, height), (2 * 28 + 3 * 2, 28 + 2 * 2));
    }

    #[test]
    fn wrong_length_is_an_error_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grid.png");
        let err = image_grid(&path, &[0.0; 10], 2, 2, 3, 2).unwrap_err();
        assert!(matches!(err, OutputError::ImageGrid { .. }), "{err:?}");
        assert!(err.to_string().contains("got 10"), "{err}");
        let err = image_grid(&path, &[], 0, 2, 3, 2).unwrap_err();
        assert!(matches!(err, OutputError::ImageGrid { .. }), "{err:?}");
        assert!(!path.exists());
    }
}
