//! Image folders written by the tests (PNG and JPEG through the `image` crate's encoders):
//! exact pixels, channel-first, gray as PIL's `convert("L")`, Keras' order of classes and
//! files, and the catalogue of bad files, each an error naming the file or, with
//! `OnError::Skip`, left out and counted.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

use std::fs;
use std::path::{Path, PathBuf};

use expr::data::{
    read_image_folder, scan_image_folder, Color, DataError, FolderScan, ImageFolder, OnError,
};
use image::{GrayImage, RgbImage};
use miette::Diagnostic;

/// A 2x3 RGB image whose every byte is distinct: pixel (y, x) is
/// `(10 * (3y + x) + 1, .. + 2, .. + 3)`.
fn rgb_2x3(offset: u8) -> RgbImage {
    RgbImage::from_fn(3, 2, |x, y| {
        let base = offset + 10 * (3 * y + x) as u8;
        image::Rgb([base + 1, base + 2, base + 3])
    })
}

fn write_png(path: &Path, image: &RgbImage) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    image
        .save_with_format(path, image::ImageFormat::Png)
        .unwrap();
}

/// A smooth 16x16 RGB gradient as a JPEG of quality 95, 4:2:0 as the encoder writes it.
fn write_jpeg(path: &Path) -> RgbImage {
    let image = RgbImage::from_fn(16, 16, |x, y| {
        image::Rgb([(x * 15) as u8, (y * 15) as u8, (120 + x * 4 + y * 3) as u8])
    });
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 95)
        .encode_image(&image)
        .unwrap();
    fs::write(path, bytes).unwrap();
    image
}

fn read(dir: &Path, size: (usize, usize), color: Color, on_error: OnError) -> ImageFolder {
    read_image_folder(&scan_image_folder(dir).unwrap(), size, color, on_error).unwrap()
}

#[test]
fn png_pixels_come_back_exactly_channel_first_with_their_labels() {
    let dir = tempfile::tempdir().unwrap();
    write_png(&dir.path().join("cat/a.png"), &rgb_2x3(0));
    write_png(&dir.path().join("dog/b.png"), &rgb_2x3(100));
    let scan = scan_image_folder(dir.path()).unwrap();
    assert_eq!(scan.classes, ["cat", "dog"]);
    let folder = read_image_folder(&scan, (2, 3), Color::Rgb, OnError::Fail).unwrap();
    assert_eq!((folder.channels, folder.size), (3, (2, 3)));
    assert_eq!(folder.labels, [0, 1]);
    #[rustfmt::skip]
    let first = [
        1, 11, 21, 31, 41, 51, // red plane, row by row
        2, 12, 22, 32, 42, 52, // green
        3, 13, 23, 33, 43, 53, // blue
    ];
    assert_eq!(folder.images[..18], first);
    let second: Vec<u8> = first.iter().map(|v| v + 100).collect();
    assert_eq!(folder.images[18..], second[..]);
    assert!(folder.skipped.is_empty());
}

#[test]
fn gray_is_pil_s_luma_and_a_gray_png_read_as_rgb_repeats_its_channel() {
    let dir = tempfile::tempdir().unwrap();
    // Pure red, green, blue, white, and a mix: PIL 13's convert("L") gives 76, 150, 29,
    // 255, 124 (the image crate's own `to_luma8` would give 54 for red: Rec. 709).
    let colours = [
        [255, 0, 0],
        [0, 255, 0],
        [0, 0, 255],
        [255, 255, 255],
        [10, 200, 30],
    ];
    let image = RgbImage::from_fn(5, 1, |x, _| image::Rgb(colours[x as usize]));
    write_png(&dir.path().join("a/colours.png"), &image);
    let gray = read(dir.path(), (1, 5), Color::Gray, OnError::Fail);
    assert_eq!(gray.channels, 1);
    assert_eq!(gray.images, [76, 150, 29, 255, 124]);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/gray.png");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    GrayImage::from_raw(2, 1, vec![7, 200])
        .unwrap()
        .save(&path)
        .unwrap();
    let rgb = read(dir.path(), (1, 2), Color::Rgb, OnError::Fail);
    assert_eq!(rgb.images, [7, 200, 7, 200, 7, 200]);
    let gray = read(dir.path(), (1, 2), Color::Gray, OnError::Fail);
    assert_eq!(gray.images, [7, 200]);
}

#[test]
fn images_are_resized_with_keras_bilinear() {
    // A 5x7 gray ramp with one bright pixel, to 3x4 and 2x2: TensorFlow 2.21's
    // tf.image.resize(method="bilinear", antialias=False), rounded (src/data/images/decode.rs
    // holds the unrounded values and the upsampling case).
    let ramp: Vec<u8> = (0..35u32)
        .map(|i| {
            if i == 17 {
                255
            } else {
                (i * 7 % 256).max(3) as u8
            }
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/ramp.png");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    GrayImage::from_raw(7, 5, ramp)
        .unwrap()
        .save(&path)
        .unwrap();
    let small = read(dir.path(), (3, 4), Color::Gray, OnError::Fail);
    assert_eq!(
        small.images,
        [20, 31, 43, 56, 101, 130, 142, 137, 182, 195, 207, 219]
    );
    assert_eq!(
        read(dir.path(), (2, 2), Color::Gray, OnError::Fail).images,
        [46, 70, 168, 193]
    );
}

#[test]
fn a_jpeg_decodes_close_to_pil() {
    let dir = tempfile::tempdir().unwrap();
    let source = write_jpeg(&dir.path().join("a/x.jpg"));
    let folder = read(dir.path(), (16, 16), Color::Rgb, OnError::Fail);
    let plane = |c: usize| &folder.images[c * 256..(c + 1) * 256];
    // PIL 13 (libjpeg) decodes this file to these; TensorFlow's fast integer DCT, which
    // Keras uses, is up to 6 away from both. jpeg-decoder is within 2 of PIL everywhere.
    let pil_red_row_0 = [
        0, 11, 29, 43, 57, 72, 89, 103, 119, 132, 149, 162, 177, 192, 208, 222,
    ];
    let pil_green_column_0 = [
        1, 14, 30, 45, 60, 75, 91, 104, 120, 134, 150, 164, 180, 195, 210, 224,
    ];
    let pil_blue_row_15 = [
        164, 167, 172, 176, 181, 184, 187, 192, 197, 200, 205, 209, 214, 217, 221, 225,
    ];
    let close = |ours: &[u8], pil: &[u8]| ours.iter().zip(pil).all(|(a, b)| a.abs_diff(*b) <= 2);
    assert!(close(&plane(0)[..16], &pil_red_row_0));
    let green_column: Vec<u8> = plane(1).iter().step_by(16).copied().collect();
    assert!(close(&green_column, &pil_green_column_0));
    assert!(close(&plane(2)[240..], &pil_blue_row_15));
    let original: Vec<u8> = (0..3)
        .flat_map(|c| source.pixels().map(move |p| p.0[c]))
        .collect();
    let worst = original
        .iter()
        .zip(&folder.images)
        .map(|(a, b)| a.abs_diff(*b))
        .max()
        .unwrap();
    assert!(
        worst <= 6,
        "quality 95 keeps every value within 6, found {worst}"
    );
}

/// A PNG header declaring `width` x `height` 8-bit RGB pixels, followed by no image data.
fn png_header_only(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend(width.to_be_bytes());
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    let mut crc = flate2::Crc::new();
    crc.update(&ihdr);
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend(13u32.to_be_bytes());
    bytes.extend(&ihdr);
    bytes.extend(crc.sum().to_be_bytes());
    bytes
}

/// A folder with two good PNGs and one of each bad file, in class `a`; returns the bad
/// files with what their error must say.
fn bad_catalogue(dir: &Path) -> Vec<(PathBuf, &'static str)> {
    write_png(&dir.join("a/good1.png"), &rgb_2x3(0));
    write_png(&dir.join("b/good2.png"), &rgb_2x3(50));
    let mut png = Vec::new();
    rgb_2x3(0)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let mut jpeg = Vec::new();
    write_jpeg(&dir.join("tmp/x.jpg"));
    jpeg.extend(fs::read(dir.join("tmp/x.jpg")).unwrap());
    fs::remove_dir_all(dir.join("tmp")).unwrap();
    // A JPEG whose entropy-coded data is garbage from the middle on.
    let half = jpeg.len() / 2;
    jpeg[half..].fill(0xff);
    let bad: [(&str, Vec<u8>, &str); 5] = [
        ("a/empty.png", Vec::new(), "the file is empty"),
        (
            "a/truncated.png",
            png[..png.len() / 2].to_vec(),
            "its PNG data is corrupt or cut short",
        ),
        (
            "a/corrupt.jpg",
            jpeg,
            "its JPEG data is corrupt or cut short",
        ),
        (
            "a/text.png",
            b"hello, not an image\n".to_vec(),
            "it is not a PNG, JPEG, BMP or GIF image",
        ),
        (
            "a/bomb.png",
            png_header_only(100_000, 100_000),
            "it declares 100000 × 100000 pixels",
        ),
    ];
    bad.into_iter()
        .map(|(name, bytes, says)| {
            let path = dir.join(name);
            fs::write(&path, bytes).unwrap();
            (path, says)
        })
        .collect()
}

#[test]
fn each_bad_file_is_an_error_naming_it() {
    for (path, says) in bad_catalogue(tempfile::tempdir().unwrap().path()) {
        // One bad file at a time, beside the good ones.
        let dir = path.parent().unwrap().parent().unwrap();
        let scan = scan_image_folder(dir).unwrap();
        let only = FolderScan {
            files: scan
                .files
                .iter()
                .filter(|(p, _)| p == &path || p.ends_with("good1.png"))
                .cloned()
                .collect(),
            ..scan
        };
        let err = read_image_folder(&only, (2, 3), Color::Rgb, OnError::Fail).unwrap_err();
        assert!(
            matches!(&err, DataError::BadImage { path: p, .. } if p == &path),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains(says), "{text}");
        assert_eq!(err.code().unwrap().to_string(), "expr::data::bad_image");
        assert!(err.help().unwrap().to_string().contains("on_error = skip"));
    }
}

#[test]
fn skipping_leaves_the_bad_files_out_and_lists_them_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let bad = bad_catalogue(dir.path());
    let scan = scan_image_folder(dir.path()).unwrap();
    assert_eq!(scan.files.len(), 7);
    let err = read_image_folder(&scan, (2, 3), Color::Rgb, OnError::Fail).unwrap_err();
    // The first bad file in the scan's order: class `a`, by name.
    assert!(err.to_string().contains("bomb.png"), "{err}");

    let folder = read_image_folder(&scan, (2, 3), Color::Rgb, OnError::Skip).unwrap();
    assert_eq!(folder.labels, [0, 1]);
    assert_eq!(folder.images.len(), 2 * 18);
    assert_eq!(folder.images[18..24], [51, 61, 71, 81, 91, 101]);
    let mut expected: Vec<&PathBuf> = bad.iter().map(|(p, _)| p).collect();
    expected.sort();
    let skipped: Vec<&PathBuf> = folder.skipped.iter().map(|(p, _)| p).collect();
    assert_eq!(skipped, expected);
    for (path, says) in &bad {
        let reason = &folder.skipped.iter().find(|(p, _)| p == path).unwrap().1;
        assert!(reason.contains(says), "{reason}");
    }
}

#[test]
fn a_folder_of_nothing_but_bad_files_is_an_error_even_when_skipping() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("a")).unwrap();
    fs::write(dir.path().join("a/empty.png"), b"").unwrap();
    let scan = scan_image_folder(dir.path()).unwrap();
    let err = read_image_folder(&scan, (2, 2), Color::Gray, OnError::Skip).unwrap_err();
    assert_eq!(err.code().unwrap().to_string(), "expr::data::no_image_read");
    assert!(err.help().unwrap().to_string().contains("empty.png"));
}

#[test]
fn folder_faults_name_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere");
    let err = scan_image_folder(&missing).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("cannot find the image folder `{}`", missing.display())
    );
    assert!(err.help().is_some());

    let file = dir.path().join("file.png");
    fs::write(&file, b"x").unwrap();
    let err = scan_image_folder(&file).unwrap_err();
    assert_eq!(
        err.code().unwrap().to_string(),
        "expr::data::unreadable_image_folder"
    );
    assert!(err.to_string().contains("file.png"), "{err}");

    // Images directly in the folder, no class sub-folders (and a hidden one).
    let flat = dir.path().join("flat");
    write_png(&flat.join("x.png"), &rgb_2x3(0));
    fs::create_dir_all(flat.join(".ipynb_checkpoints")).unwrap();
    let err = scan_image_folder(&flat).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("`{}` has no class sub-folders", flat.display())
    );

    // A class folder with no image in it (a text file does not count).
    let classes = dir.path().join("classes");
    write_png(&classes.join("cat/x.png"), &rgb_2x3(0));
    fs::create_dir_all(classes.join("dog")).unwrap();
    fs::write(classes.join("dog/readme.txt"), b"no images yet").unwrap();
    let err = scan_image_folder(&classes).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "class folder `{}` holds no images",
            classes.join("dog").display()
        )
    );
    assert!(err
        .help()
        .unwrap()
        .to_string()
        .contains("every sub-folder is a class"));
}

#[test]
fn a_fifo_named_like_an_image_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    write_png(&dir.path().join("a/good.png"), &rgb_2x3(0));
    let fifo = dir.path().join("a/pipe.png");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        return;
    }
    let folder = read(dir.path(), (2, 3), Color::Rgb, OnError::Skip);
    assert_eq!(folder.skipped.len(), 1);
    assert!(folder.skipped[0].1.contains("FIFO"), "{:?}", folder.skipped);
}

#[test]
fn the_result_does_not_depend_on_the_number_of_threads() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..40u8 {
        let class = ["a", "b", "c"][usize::from(i % 3)];
        write_png(&dir.path().join(format!("{class}/{i}.png")), &rgb_2x3(i));
    }
    fs::write(dir.path().join("b/broken.png"), b"").unwrap();
    let scan = scan_image_folder(dir.path()).unwrap();
    let with = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| read_image_folder(&scan, (3, 2), Color::Gray, OnError::Skip).unwrap())
    };
    let one = with(1);
    assert_eq!(one.labels.len(), 40);
    assert_eq!(one, with(4));
}

#[test]
fn mnist_written_as_png_class_folders_reads_back_as_the_idx_files() {
    // The layout `examples/mnist_to_png.rs` writes, for the first 300 test images.
    let data = expr::data::data_dir_from_env().unwrap_or_else(|| "/work/shared/data".into());
    let mnist = data.join("mnist");
    let (pixels, shape) =
        expr::data::read_idx_images(&mnist.join("t10k-images-idx3-ubyte.gz")).unwrap();
    let labels = expr::data::read_idx_labels(&mnist.join("t10k-labels-idx1-ubyte.gz")).unwrap();
    assert_eq!(shape, [28, 28]);
    let dir = tempfile::tempdir().unwrap();
    for i in 0..300 {
        let path = dir.path().join(format!("{}/{i:05}.png", labels[i]));
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let image = GrayImage::from_raw(28, 28, pixels.row(i).to_vec()).unwrap();
        image.save(&path).unwrap();
    }
    let scan = scan_image_folder(dir.path()).unwrap();
    assert_eq!(
        scan.classes,
        ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]
    );
    let folder = read_image_folder(&scan, (28, 28), Color::Gray, OnError::Fail).unwrap();
    for (k, (path, label)) in scan.files.iter().enumerate() {
        let i: usize = path.file_stem().unwrap().to_str().unwrap().parse().unwrap();
        assert_eq!(u32::from(labels[i]), *label);
        assert_eq!(folder.labels[k], *label);
        assert_eq!(
            &folder.images[k * 784..(k + 1) * 784],
            pixels.row(i).as_slice().unwrap()
        );
    }
}

#[test]
fn bmp_and_gif_files_are_read_too_by_their_content() {
    let dir = tempfile::tempdir().unwrap();
    let image = RgbImage::from_fn(2, 2, |x, y| {
        if (x + y) % 2 == 0 {
            image::Rgb([0, 0, 0])
        } else {
            image::Rgb([255, 255, 255])
        }
    });
    fs::create_dir_all(dir.path().join("a")).unwrap();
    image
        .save_with_format(dir.path().join("a/x.bmp"), image::ImageFormat::Bmp)
        .unwrap();
    image
        .save_with_format(dir.path().join("a/y.gif"), image::ImageFormat::Gif)
        .unwrap();
    // A PNG named `.jpg` is read as the PNG it is, as TensorFlow's `decode_image` does.
    image
        .save_with_format(dir.path().join("a/z.jpg"), image::ImageFormat::Png)
        .unwrap();
    let folder = read(dir.path(), (2, 2), Color::Gray, OnError::Fail);
    assert_eq!(folder.images, [0, 255, 255, 0].repeat(3));
}

#[test]
fn given_classes_choose_and_order_the_class_folders_as_keras_class_names() {
    let dir = tempfile::tempdir().unwrap();
    write_png(&dir.path().join("cat/a.png"), &rgb_2x3(0));
    write_png(&dir.path().join("dog/b.png"), &rgb_2x3(100));
    write_png(&dir.path().join("dog/c.png"), &rgb_2x3(50));
    write_png(&dir.path().join("owl/d.png"), &rgb_2x3(20));
    let names = |v: &[&str]| v.iter().map(|s| (*s).to_string()).collect::<Vec<_>>();
    let scan = scan_image_folder(dir.path()).unwrap();
    let only = scan.clone().only(&names(&["dog", "cat"])).unwrap();
    assert_eq!(only.classes, ["dog", "cat"]);
    let files: Vec<(String, u32)> = only
        .files
        .iter()
        .map(|(p, l)| (p.file_name().unwrap().to_string_lossy().into_owned(), *l))
        .collect();
    // `dog` first, its files in their order; `owl` left out.
    assert_eq!(
        files,
        [
            ("b.png".into(), 0),
            ("c.png".into(), 0),
            ("a.png".into(), 1)
        ]
    );
    let folder = read_image_folder(&only, (2, 3), Color::Rgb, OnError::Fail).unwrap();
    assert_eq!(folder.labels, [0, 0, 1]);
    assert_eq!(
        folder.images[..18],
        read(dir.path(), (2, 3), Color::Rgb, OnError::Fail).images[18..36]
    );
    // No list keeps every folder, sorted.
    assert_eq!(scan.clone().only(&[]).unwrap(), scan);
    let err = scan.only(&names(&["cat", "cow"])).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("no class sub-folder `cow`") && text.contains("cat, dog, owl"),
        "{text}"
    );
}
