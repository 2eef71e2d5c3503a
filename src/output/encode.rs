//! PNG encoding of in-memory pixel buffers, written atomically.
//!
//! Plots are rendered into an RGB buffer and image grids are built as greyscale bytes; both are
//! encoded here rather than by plotters' path-based saving, so the write goes through
//! [`write_atomic`](super::atomic::write_atomic) and the encoding is identical everywhere.

use std::io;
use std::path::Path;

use super::atomic::write_atomic;
use super::error::OutputResult;

/// Pixel layout of a buffer handed to [`write_png`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    /// One byte per pixel.
    Grey,
    /// Three bytes per pixel, red first.
    Rgb,
}

impl PixelFormat {
    fn channels(self) -> usize {
        match self {
            Self::Grey => 1,
            Self::Rgb => 3,
        }
    }

    fn color_type(self) -> png::ColorType {
        match self {
            Self::Grey => png::ColorType::Grayscale,
            Self::Rgb => png::ColorType::Rgb,
        }
    }
}

/// Encodes `pixels` (row-major, 8 bits per channel) as a PNG at `path`, atomically.
///
/// # Errors
/// Whatever [`write_atomic`] reports; an encoder failure is reported as a write failure.
pub fn write_png(
    path: &Path,
    pixels: &[u8],
    width: u32,
    height: u32,
    format: PixelFormat,
) -> OutputResult<()> {
    // A buffer of the wrong size is a bug in this module, not a user error.
    debug_assert_eq!(
        pixels.len(),
        width as usize * height as usize * format.channels()
    );
    write_atomic(path, |file| {
        let mut encoder = png::Encoder::new(file, width, height);
        encoder.set_color(format.color_type());
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(png_to_io)?;
        writer.write_image_data(pixels).map_err(png_to_io)?;
        writer.finish().map_err(png_to_io)
    })
}

fn png_to_io(err: png::EncodingError) -> io::Error {
    match err {
        png::EncodingError::IoError(e) => e,
        other => io::Error::other(other),
    }
}
