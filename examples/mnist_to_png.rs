//! Writes MNIST's 70,000 images as PNG files in class folders, the layout `images(...)`
//! reads (Keras' `image_dataset_from_directory`): `OUT/train/<digit>/NNNNN.png` and
//! `OUT/test/<digit>/NNNNN.png`, `NNNNN` the image's index in its split, 8-bit gray.
//!
//!     cargo run --release --example mnist_to_png -- OUT_DIR
//!
//! MNIST comes from `$EXPR_DATA/mnist` when set, else from expr's cache (downloaded and
//! verified if missing), as `mnist(...)` finds it.

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::Path;

use expr::data::{
    default_cache_dir, locate_mnist, read_idx_images, read_idx_labels, Mirror, Split,
};
use miette::IntoDiagnostic;
use rayon::prelude::*;

fn main() -> miette::Result<()> {
    let Some(out) = std::env::args_os().nth(1) else {
        eprintln!("usage: mnist_to_png OUT_DIR");
        std::process::exit(2);
    };
    let out = Path::new(&out);
    let mirror = Mirror::from_env()?;
    let cache = default_cache_dir()?;
    for (split, name) in [(Split::Train, "train"), (Split::Test, "test")] {
        let (images, labels) = locate_mnist(split, &mirror, &cache)?;
        let (pixels, shape) = read_idx_images(&images)?;
        let labels = read_idx_labels(&labels)?;
        let (rows, cols) = (shape[0] as u32, shape[1] as u32);
        let dir = out.join(name);
        for digit in 0..10 {
            fs::create_dir_all(dir.join(digit.to_string())).into_diagnostic()?;
        }
        // `read_idx_images` gives one row of pixels per image, in standard layout.
        let pixels = pixels.as_standard_layout();
        let pixels = pixels.as_slice().unwrap_or_default();
        pixels
            .par_chunks_exact((rows * cols) as usize)
            .zip(labels.to_vec())
            .enumerate()
            .try_for_each(|(i, (image, label))| {
                let path = dir.join(label.to_string()).join(format!("{i:05}.png"));
                write_png(&path, image, cols, rows)
            })?;
        println!("wrote {} images to {}", labels.len(), dir.display());
    }
    Ok(())
}

fn write_png(path: &Path, pixels: &[u8], width: u32, height: u32) -> miette::Result<()> {
    let file = BufWriter::new(File::create(path).into_diagnostic()?);
    let mut encoder = png::Encoder::new(file, width, height);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| miette::miette!("{e}"))?;
    writer
        .write_image_data(pixels)
        .map_err(|e| miette::miette!("{}: {e}", path.display()))
}
