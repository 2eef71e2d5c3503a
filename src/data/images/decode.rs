//! One image file to `channels × height × width` bytes: read through the hostile-file
//! guard, decoded within limits, converted to RGB or gray, resized as Keras resizes.
//!
//! Where the result can differ from Keras' (`tf.image.decode_image`, `tf.image.resize`):
//! - gray is PIL's `convert("L")` (ITU-R 601-2 luma, `(19595 R + 38470 G + 7471 B +
//!   2^15) >> 16`), exactly; TensorFlow's PNG decoder converts through libpng and is off by
//!   one in about half the pixels of a random image; the `image` crate's own `to_luma8`
//!   uses the Rec. 709 weights (pure red: 54 against PIL's 76), so it is not used;
//! - JPEG is decoded by `jpeg-decoder`, whose inverse DCT and chroma upsampling are not
//!   libjpeg's: on a 4:2:0 JPEG written by PIL, within 3 levels of PIL's pixels (mean 0.13)
//!   and 5 of TensorFlow's, which is itself up to 3 from PIL's (its fast integer DCT);
//! - a 16-bit PNG becomes 8 bits by rounding (TensorFlow keeps the high byte);
//! - Keras keeps the resized image as `f32`; here it is rounded to the nearest byte.

use std::io::Cursor;
use std::path::Path;

use image::io::{Limits, Reader};
use image::{DynamicImage, ImageError, ImageFormat};

use super::Color;
use crate::files::ReadRefused;

/// The largest image file read, 256 MiB: past any photograph; the guard against
/// `/dev/zero` and friends is that only regular files are read at all.
pub const MAX_IMAGE_FILE_BYTES: u64 = 256 << 20;
/// The largest side an image may declare, in pixels.
pub const MAX_IMAGE_SIDE: u32 = 1 << 14;
/// The most memory one decoded image may take, 256 MiB (a 9,000 × 9,000 RGB photograph):
/// checked against the header before decoding, so a small file declaring a huge image (a
/// decompression bomb) is refused without allocating.
pub const MAX_DECODED_BYTES: u64 = 256 << 20;

/// Decodes the image at `path` into `out` (`channels × height × width`, channel-first),
/// or says why it cannot, in words that follow "cannot read image `path`: ".
pub fn decode_into(
    path: &Path,
    out: &mut [u8],
    (height, width): (usize, usize),
    color: Color,
) -> Result<(), String> {
    let bytes = crate::files::read_regular(path, MAX_IMAGE_FILE_BYTES).map_err(|e| match e {
        ReadRefused::Io(e) => e.to_string(),
        refused => refused.to_string(),
    })?;
    if bytes.is_empty() {
        return Err("the file is empty".into());
    }
    let image = decode(&bytes)?;
    let (w, h) = (image.width() as usize, image.height() as usize);
    let pixels = match color {
        Color::Rgb => image.into_rgb8().into_raw(),
        Color::Gray => gray(image),
    };
    resize_channel_first(&pixels, (h, w), color.channels(), (height, width), out);
    Ok(())
}

fn decode(bytes: &[u8]) -> Result<DynamicImage, String> {
    let mut reader = Reader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    // By content, as TensorFlow decodes: a PNG named `.jpg` reads as the PNG it is.
    let format = match reader.format() {
        Some(f @ (ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::Bmp | ImageFormat::Gif)) => f,
        Some(other) => {
            return Err(format!(
                "it is a {other:?} image; only PNG, JPEG, BMP and GIF are read"
            ))
        }
        None => return Err("it is not a PNG, JPEG, BMP or GIF image".into()),
    };
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_DECODED_BYTES);
    reader.limits(limits);
    reader.decode().map_err(|e| match e {
        ImageError::Limits(_) => {
            let declared = declared_size(bytes, format)
                .map_or_else(|| "an image".into(), |(w, h)| format!("{w} × {h} pixels"));
            format!(
                "it declares {declared}, more than the {MAX_IMAGE_SIDE} pixels a side and {} MiB decoded that are read",
                MAX_DECODED_BYTES >> 20
            )
        }
        e => {
            let name = match format {
                ImageFormat::Png => "PNG",
                ImageFormat::Jpeg => "JPEG",
                ImageFormat::Bmp => "BMP",
                _ => "GIF",
            };
            format!("its {name} data is corrupt or cut short ({e})")
        }
    })
}

/// The size an image's header declares, for the message refusing it. The `image` crate
/// will not tell it for a PNG past its own limits, so a PNG's is read from its header.
fn declared_size(bytes: &[u8], format: ImageFormat) -> Option<(u32, u32)> {
    if format == ImageFormat::Png {
        // Signature (8 bytes), then the IHDR chunk: length, type, width, height.
        let field = |at: usize| Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
        return Some((field(16)?, field(20)?));
    }
    Reader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .ok()
}

/// One byte per pixel: PIL's `convert("L")` (see the module's comment). Gray images are
/// taken as they are (alpha dropped, 16 bits rounded to 8).
fn gray(image: DynamicImage) -> Vec<u8> {
    match image {
        DynamicImage::ImageLuma8(_)
        | DynamicImage::ImageLumaA8(_)
        | DynamicImage::ImageLuma16(_)
        | DynamicImage::ImageLumaA16(_) => image.into_luma8().into_raw(),
        _ => image
            .into_rgb8()
            .as_raw()
            .chunks_exact(3)
            .map(|p| luma(p[0], p[1], p[2]))
            .collect(),
    }
}

/// ITU-R 601-2 luma in PIL's fixed point.
pub fn luma(r: u8, g: u8, b: u8) -> u8 {
    let l = (u32::from(r) * 19595 + u32::from(g) * 38470 + u32::from(b) * 7471 + 0x8000) >> 16;
    l as u8
}

/// Resizes `pixels` (`h × w × channels`, interleaved) to `size` with Keras' bilinear
/// (`tf.image.resize(method="bilinear", antialias=False)`) and writes them channel-first
/// into `out`, each value rounded to the nearest byte. An image already of `size` is copied.
pub fn resize_channel_first(
    pixels: &[u8],
    (h, w): (usize, usize),
    channels: usize,
    (height, width): (usize, usize),
    out: &mut [u8],
) {
    if (h, w) == (height, width) {
        for (c, plane) in out.chunks_exact_mut(height * width).enumerate() {
            for (o, p) in plane.iter_mut().zip(pixels[c..].iter().step_by(channels)) {
                *o = *p;
            }
        }
        return;
    }
    let rows = weights(h, height);
    let cols = weights(w, width);
    for (c, plane) in out.chunks_exact_mut(height * width).enumerate() {
        let at = |y: usize, x: usize| f32::from(pixels[(y * w + x) * channels + c]);
        for (y, &(y0, y1, dy)) in rows.iter().enumerate() {
            for (x, &(x0, x1, dx)) in cols.iter().enumerate() {
                let top = at(y0, x0) + (at(y0, x1) - at(y0, x0)) * dx;
                let bottom = at(y1, x0) + (at(y1, x1) - at(y1, x0)) * dx;
                let value = top + (bottom - top) * dy;
                plane[y * width + x] = value.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
}

/// For each output index along an axis: the two source indices around it and the weight of
/// the second, as TensorFlow's `compute_interpolation_weights` with half-pixel centres:
/// source `(i + 0.5) * in / out - 0.5`, both neighbours clamped into the image, in `f32`.
fn weights(input: usize, output: usize) -> Vec<(usize, usize, f32)> {
    let scale = input as f32 / output as f32;
    (0..output)
        .map(|i| {
            let at = (i as f32 + 0.5) * scale - 0.5;
            let floor = at.floor();
            let lower = floor.max(0.0) as usize;
            let upper = (at.ceil().max(0.0) as usize).min(input - 1);
            (lower, upper, at - floor)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gray_is_pil_s_convert_l() {
        // PIL 13: Image.fromarray(np.uint8([[rgb]])).convert("L").
        for (rgb, l) in [
            ([255, 0, 0], 76),
            ([0, 255, 0], 150),
            ([0, 0, 255], 29),
            ([255, 255, 255], 255),
            ([10, 200, 30], 124),
            ([0, 0, 0], 0),
        ] {
            assert_eq!(luma(rgb[0], rgb[1], rgb[2]), l, "{rgb:?}");
        }
    }

    /// A 5x7 gray ramp with one bright pixel (row 2, column 3).
    const RAMP: [u8; 35] = [
        3, 7, 14, 21, 28, 35, 42, 49, 56, 63, 70, 77, 84, 91, 98, 105, 112, 255, 126, 133, 140,
        147, 154, 161, 168, 175, 182, 189, 196, 203, 210, 217, 224, 231, 238,
    ];

    fn resized(size: (usize, usize)) -> Vec<u8> {
        let mut out = vec![0; size.0 * size.1];
        resize_channel_first(&RAMP, (5, 7), 1, size, &mut out);
        out
    }

    #[test]
    fn resizing_is_tensorflow_s_bilinear_rounded_to_bytes() {
        // TensorFlow 2.21: tf.image.resize(RAMP[5, 7, 1], size, method="bilinear",
        // antialias=False), Keras' resize, before rounding.
        let cases: [((usize, usize), &[f32]); 3] = [
            (
                (3, 4),
                &[
                    20.2083, 31.2083, 43.4583, 55.7083, 100.625, 129.875, 142.125, 137.375,
                    182.2917, 194.5417, 206.7917, 219.0417,
                ],
            ),
            (
                (5, 3),
                &[
                    5.6667, 21.0, 37.3333, 53.6667, 70.0, 86.3333, 102.6667, 255.0, 135.3333,
                    151.6667, 168.0, 184.3333, 200.6667, 217.0, 233.3333,
                ],
            ),
            ((2, 2), &[45.5, 70.0, 168.0, 192.5]),
        ];
        for (size, tf) in cases {
            let expected: Vec<u8> = tf.iter().map(|v| v.round() as u8).collect();
            assert_eq!(resized(size), expected, "{size:?}");
        }
        // Upsampling, 5x7 to 8x11: the first two rows.
        let tf_rows = [
            3.0, 4.8182, 7.6364, 12.0909, 16.5455, 21.0, 25.4545, 29.9091, 34.3636, 38.8182, 42.0,
            23.125, 25.5398, 29.0739, 33.5284, 37.983, 42.4375, 46.892, 51.3466, 55.8011, 60.2557,
            63.4375f32,
        ];
        let expected: Vec<u8> = tf_rows.iter().map(|v| v.round() as u8).collect();
        assert_eq!(resized((8, 11))[..22], expected[..]);
    }

    #[test]
    fn the_image_crate_s_triangle_filter_is_not_keras_bilinear_when_shrinking() {
        // `imageops::resize(.., FilterType::Triangle)` widens its filter by the scale, as
        // PIL's `BILINEAR` does (both give these bytes for RAMP at 5x3); TensorFlow without
        // antialiasing interpolates between the two nearest pixels only, so the bright pixel
        // stays 255 where the Triangle filter spreads it to 175.
        let triangle_5x3 = [
            7, 21, 36, 55, 70, 85, 104, 175, 134, 153, 168, 183, 202, 217, 232,
        ];
        assert_eq!(resized((5, 3))[7], 255);
        assert_ne!(resized((5, 3)), triangle_5x3);
    }

    #[test]
    fn an_image_of_the_asked_size_is_only_made_channel_first() {
        // 1x2 RGB: [r0 g0 b0 r1 g1 b1] becomes [r0 r1 g0 g1 b0 b1].
        let mut out = [0; 6];
        resize_channel_first(&[1, 2, 3, 4, 5, 6], (1, 2), 3, (1, 2), &mut out);
        assert_eq!(out, [1, 4, 2, 5, 3, 6]);
    }
}
