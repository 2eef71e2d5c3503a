//! How fast `read_image_folder` decodes a folder of images, e.g. MNIST's 60,000 training
//! PNGs written by the `mnist_to_png` example:
//!
//!     cargo run --release --example image_folder_throughput -- /tmp/mnist_png/train [threads]
//!
//! Prints the time to scan the folder and images per second to decode it whole (28 x 28
//! gray, as Keras' `color_mode="grayscale"`; no resize), the median of 3 reads, on
//! `threads` rayon threads (default: all). `bench/decode_pngs.py` times Pillow on the same
//! files.

use std::path::Path;
use std::time::Instant;

use expr::data::{read_image_folder, scan_image_folder, Color, OnError};

fn main() -> miette::Result<()> {
    let mut args = std::env::args_os().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: image_folder_throughput DIR [threads]");
        std::process::exit(2);
    };
    let threads = args
        .next()
        .and_then(|t| t.to_str()?.parse().ok())
        .unwrap_or(0);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| miette::miette!("{e}"))?;
    let start = Instant::now();
    let scan = scan_image_folder(Path::new(&dir))?;
    let scanned = start.elapsed().as_secs_f64();
    println!(
        "scan: {} files in {} classes in {:.3} s",
        scan.files.len(),
        scan.classes.len(),
        scanned
    );
    let mut rates = Vec::new();
    let mut checksum = 0u64;
    for _ in 0..3 {
        let start = Instant::now();
        let folder =
            pool.install(|| read_image_folder(&scan, (28, 28), Color::Gray, OnError::Fail))?;
        let seconds = start.elapsed().as_secs_f64();
        rates.push(folder.labels.len() as f64 / seconds);
        checksum = folder.images.iter().map(|&v| u64::from(v)).sum();
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "decode: {:.0} images/s (median of 3; all: {:.0?}) on {} threads; pixel sum {checksum}",
        rates[1],
        rates,
        pool.current_num_threads()
    );
    Ok(())
}
