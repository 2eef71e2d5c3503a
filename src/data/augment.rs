//! Random augmentation of training examples, on the fly as a batch is built: flips,
//! translations, crops, rotations, cutout and Gaussian noise.
//!
//! Each example's draws come from a generator seeded by the experiment's seed, the data
//! set, the epoch and the example's index in the source, and nothing else. So an
//! example is augmented the same way whichever batch, thread or worker builds it, a
//! resumed run draws exactly what the uninterrupted one would have, and every epoch sees
//! new draws.

use ndarray_rand::rand_distr::{Distribution, Normal};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub use crate::check::plan::Augment;

/// Where an example's draws come from (see the module's comment).
#[derive(Debug, Clone, Copy)]
pub struct Draws {
    pub seed: u64,
    /// The data set's index in the experiment.
    pub data: usize,
    pub epoch: usize,
}

impl Draws {
    /// The generator for the example at `index` in its source.
    fn rng(self, index: usize) -> ChaCha8Rng {
        let mut h = self.seed;
        for part in [self.data as u64, self.epoch as u64, index as u64] {
            h = splitmix(h ^ part);
        }
        ChaCha8Rng::seed_from_u64(h)
    }
}

/// `SplitMix64`'s finaliser: nearby inputs give unrelated outputs.
fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE5_E9B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Applies `ops` to one example, `row`, whose shape is `shape` (images are its last two
/// dimensions; any before them are channels, moved alike). `black` is the value a 0 byte
/// has after the pipeline's scaling: one for all channels, or one per channel. `index` is the example's index in its source.
pub fn apply(
    ops: &[Augment],
    row: &mut [f32],
    shape: &[usize],
    black: &[f32],
    draws: Draws,
    index: usize,
) {
    if ops.is_empty() {
        return;
    }
    let mut rng = draws.rng(index);
    let (h, w) = match shape {
        [.., h, w] => (*h, *w),
        _ => (1, row.len()),
    };
    for op in ops {
        match *op {
            Augment::Flip {
                horizontal,
                vertical,
            } => {
                let flip_h = horizontal && rng.gen_bool(0.5);
                let flip_v = vertical && rng.gen_bool(0.5);
                for image in row.chunks_exact_mut(h * w) {
                    if flip_h {
                        image.chunks_exact_mut(w).for_each(<[f32]>::reverse);
                    }
                    if flip_v {
                        for y in 0..h / 2 {
                            let (top, bottom) = image.split_at_mut((h - 1 - y) * w);
                            top[y * w..(y + 1) * w].swap_with_slice(&mut bottom[..w]);
                        }
                    }
                }
            }
            Augment::Translate { fraction } => {
                let dy = shift(&mut rng, fraction, h);
                let dx = shift(&mut rng, fraction, w);
                for (c, image) in row.chunks_exact_mut(h * w).enumerate() {
                    translate(image, h, w, dy, dx, black[c % black.len()]);
                }
            }
            Augment::Crop { padding } => {
                #[allow(clippy::cast_possible_wrap)] // a padding is far below isize::MAX
                let most = padding as isize;
                let dy = rng.gen_range(-most..=most);
                let dx = rng.gen_range(-most..=most);
                for (c, image) in row.chunks_exact_mut(h * w).enumerate() {
                    translate(image, h, w, dy, dx, black[c % black.len()]);
                }
            }
            Augment::Rotation { degrees } => {
                let angle = rng.gen_range(-degrees..=degrees);
                for (c, image) in row.chunks_exact_mut(h * w).enumerate() {
                    rotate(image, h, w, angle, black[c % black.len()]);
                }
            }
            Augment::Cutout { size } => {
                let (cy, cx) = (rng.gen_range(0..h), rng.gen_range(0..w));
                for (c, image) in row.chunks_exact_mut(h * w).enumerate() {
                    cutout(image, h, w, (cy, cx), size, black[c % black.len()]);
                }
            }
            Augment::Noise { std } => {
                let normal =
                    Normal::new(0.0, std).unwrap_or_else(|_| unreachable!("check: std > 0"));
                for v in row.iter_mut() {
                    *v += normal.sample(&mut rng) as f32;
                }
            }
        }
    }
}

/// A whole shift in `-m..=m`, `m = round(fraction * size)`, as torchvision draws it.
fn shift(rng: &mut ChaCha8Rng, fraction: f64, size: usize) -> isize {
    #[allow(clippy::cast_possible_truncation)] // fraction < 1: below the image size
    let most = (fraction * size as f64).round() as isize;
    if most == 0 {
        return 0;
    }
    rng.gen_range(-most..=most)
}

/// Fills the square of `image` (h × w) around `(cy, cx)` with `fill`, as the reference
/// Cutout does: rows (and columns) `c - size / 2` up to `c + size / 2`, exclusive, clipped
/// to the image. An even `size` covers `size` rows; an odd one `size - 1`, as there.
pub fn cutout(
    image: &mut [f32],
    h: usize,
    w: usize,
    (cy, cx): (usize, usize),
    size: usize,
    fill: f32,
) {
    let (y0, x0) = (cy.saturating_sub(size / 2), cx.saturating_sub(size / 2));
    let (y1, x1) = ((cy + size / 2).min(h), (cx + size / 2).min(w));
    for y in y0..y1 {
        image[y * w + x0..y * w + x1].fill(fill);
    }
}

/// Rotates `image` (h × w) by `degrees` counter-clockwise about its centre, each pixel
/// taking the value of the nearest source pixel, `fill` where that lies outside: torchvision's
/// `rotate(img, degrees, InterpolationMode.NEAREST, fill)` on a tensor.
///
/// It is computed as torchvision computes it, in `f32`: the inverse rotation maps each
/// output pixel's centre (relative to the image's centre) to normalised coordinates
/// (`_gen_affine_grid`), which `grid_sample` (`align_corners = False`) scales back to
/// pixels and rounds half to even. Doing the same arithmetic makes the same pixel win
/// where a source point falls near the middle between two pixels (at 90 degrees on an
/// odd-sized image, exactly on it).
pub fn rotate(image: &mut [f32], h: usize, w: usize, degrees: f64, fill: f32) {
    let (sin, cos) = degrees.to_radians().sin_cos();
    let (half_w, half_h) = (w as f32 * 0.5, h as f32 * 0.5);
    // torchvision's inverse matrix [[cos, -sin], [sin, cos]], over half the size.
    let (xx, xy) = (cos as f32 / half_w, -sin as f32 / half_w);
    let (yx, yy) = (sin as f32 / half_h, cos as f32 / half_h);
    let source = image.to_vec();
    for y in 0..h {
        let gy = y as f32 + 0.5 - half_h;
        for x in 0..w {
            let gx = x as f32 + 0.5 - half_w;
            let sx = ((gx * xx + gy * xy) + 1.0) * half_w - 0.5;
            let sy = ((gx * yx + gy * yy) + 1.0) * half_h - 0.5;
            let (sx, sy) = (sx.round_ties_even(), sy.round_ties_even());
            image[y * w + x] = if (0.0..w as f32).contains(&sx) && (0.0..h as f32).contains(&sy) {
                source[sy as usize * w + sx as usize]
            } else {
                fill
            };
        }
    }
}

/// Moves `image` (h × w) down by `dy` and right by `dx` pixels, filling with `fill`.
pub fn translate(image: &mut [f32], h: usize, w: usize, dy: isize, dx: isize, fill: f32) {
    let source = image.to_vec();
    for y in 0..h {
        for x in 0..w {
            let (sy, sx) = (y as isize - dy, x as isize - dx);
            image[y * w + x] = if (0..h as isize).contains(&sy) && (0..w as isize).contains(&sx) {
                source[sy as usize * w + sx as usize]
            } else {
                fill
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DRAWS: Draws = Draws {
        seed: 42,
        data: 0,
        epoch: 0,
    };

    #[test]
    fn translate_moves_pixels_and_fills_with_black() {
        // torchvision.transforms.functional.affine(img, angle=0, translate=[1, -1],
        // scale=1, shear=0, fill=0) on 1..=9 as a 3x3 image (translate is (x, y)).
        let mut image: Vec<f32> = (1..=9).map(|v| v as f32).collect();
        translate(&mut image, 3, 3, -1, 1, 0.0);
        assert_eq!(image, [0.0, 4.0, 5.0, 0.0, 7.0, 8.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn rotations_match_torchvision_pixel_for_pixel() {
        // torchvision 0.29: F.rotate(torch.arange(1, h * w + 1.).reshape(1, h, w), angle,
        // interpolation=InterpolationMode.NEAREST, fill=0); positive is counter-clockwise.
        // (Also checked on 1,854 random angles and sizes up to 32x32: all equal. The same
        // rotation in f64, rounding half away from zero, differed in 10 of them.)
        let cases: [(usize, usize, f64, &[u8]); 6] = [
            (
                5,
                7,
                30.0,
                &[
                    0, 0, 4, 5, 13, 14, 0, 2, 3, 11, 12, 19, 20, 28, 1, 9, 17, 18, 19, 27, 35, 8,
                    16, 17, 24, 25, 33, 34, 0, 22, 23, 31, 32, 0, 0,
                ],
            ),
            (
                5,
                7,
                -45.0,
                &[
                    0, 15, 9, 10, 3, 0, 0, 22, 23, 17, 10, 11, 5, 0, 30, 24, 24, 18, 12, 12, 6, 0,
                    31, 25, 26, 19, 13, 14, 0, 0, 33, 26, 27, 21, 0,
                ],
            ),
            // An odd width: source columns fall exactly between two pixels.
            (
                5,
                7,
                90.0,
                &[
                    0, 6, 13, 20, 27, 34, 0, 0, 5, 12, 19, 26, 33, 0, 0, 4, 11, 18, 25, 32, 0, 0,
                    3, 10, 17, 24, 31, 0, 0, 2, 9, 16, 23, 30, 0,
                ],
            ),
            (
                6,
                6,
                90.0,
                &[
                    6, 12, 18, 24, 30, 36, 5, 11, 17, 23, 29, 35, 4, 10, 16, 22, 28, 34, 3, 9, 15,
                    21, 27, 33, 2, 8, 14, 20, 26, 32, 1, 7, 13, 19, 25, 31,
                ],
            ),
            (
                6,
                6,
                12.5,
                &[
                    2, 3, 4, 5, 6, 12, 1, 8, 9, 10, 11, 18, 7, 14, 15, 16, 17, 24, 13, 20, 21, 22,
                    23, 30, 19, 26, 27, 28, 29, 36, 25, 31, 32, 33, 34, 35,
                ],
            ),
            (
                6,
                6,
                -170.0,
                &[
                    36, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17,
                    16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1,
                ],
            ),
        ];
        for (h, w, angle, expected) in cases {
            let mut image: Vec<f32> = (1..=h * w).map(|v| v as f32).collect();
            rotate(&mut image, h, w, angle, 0.0);
            let expected: Vec<f32> = expected.iter().map(|&v| f32::from(v)).collect();
            assert_eq!(image, expected, "{h}x{w} by {angle} degrees");
        }
    }

    #[test]
    fn rotation_angles_are_drawn_within_the_range_and_fill_with_black() {
        // No rotation keeps the image; each example is rotated by the first draw of its own
        // generator, within [-20, 20], both ways; a corner beyond 10 degrees turns black.
        let original: Vec<f32> = (1..=64).map(|v| v as f32).collect();
        let mut same = original.clone();
        rotate(&mut same, 8, 8, 0.0, -1.0);
        assert_eq!(same, original);
        let ops = [Augment::Rotation { degrees: 20.0 }];
        let mut signs = [false; 2];
        for index in 0..50 {
            let mut row = original.clone();
            apply(&ops, &mut row, &[1, 8, 8], &[-1.0], DRAWS, index);
            let angle = DRAWS.rng(index).gen_range(-20.0..=20.0);
            assert!((-20.0..=20.0).contains(&angle));
            let mut reference = original.clone();
            rotate(&mut reference, 8, 8, angle, -1.0);
            assert_eq!(row, reference);
            signs[usize::from(angle > 0.0)] = true;
            if angle.abs() > 10.0 {
                assert_eq!(row[0], -1.0, "a corner is uncovered at {angle} degrees");
            }
        }
        assert_eq!(signs, [true, true], "both directions occur");
    }

    #[test]
    fn cutout_blacks_out_a_clipped_square_as_the_reference_does() {
        // The reference (uoguelph-mlrg/Cutout): y1 = clip(y - length // 2, 0, h),
        // y2 = clip(y + length // 2, 0, h); for an even length that is `length` rows.
        let mut image = vec![1.0f32; 16];
        cutout(&mut image, 4, 4, (0, 3), 2, 0.0);
        assert_eq!(
            image,
            [1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
        );
        let mut image = vec![1.0f32; 16];
        cutout(&mut image, 4, 4, (2, 2), 2, 0.0);
        let zeros: Vec<usize> = (0..16).filter(|&i| image[i] == 0.0).collect();
        assert_eq!(zeros, [5, 6, 9, 10]);
        // An odd length covers one less, as in the reference: 3 → rows 1..3 around 2.
        let mut image = vec![1.0f32; 16];
        cutout(&mut image, 4, 4, (2, 2), 3, 0.0);
        let zeros: Vec<usize> = (0..16).filter(|&i| image[i] == 0.0).collect();
        assert_eq!(zeros, [5, 6, 9, 10]);
    }

    #[test]
    fn a_padded_crop_is_a_shift_of_at_most_the_padding() {
        // torchvision's RandomCrop(4, padding=1) on a 4x4 image: pad to 6x6 with zeros,
        // crop 4x4 at (i, j) in 0..=2, i.e. a shift by (1 - i, 1 - j).
        let ops = [Augment::Crop { padding: 1 }];
        let mut seen = std::collections::BTreeSet::new();
        for index in 0..200 {
            let mut row: Vec<f32> = (1..=16).map(|v| v as f32).collect();
            apply(&ops, &mut row, &[4, 4], &[0.0], DRAWS, index);
            let found = (-1..=1)
                .flat_map(|dy| (-1..=1).map(move |dx| (dy, dx)))
                .find(|&(dy, dx)| {
                    let mut reference: Vec<f32> = (1..=16).map(|v| v as f32).collect();
                    translate(&mut reference, 4, 4, dy, dx, 0.0);
                    reference == row
                });
            seen.insert(found.expect("every crop is a shift within the padding"));
        }
        assert_eq!(seen.len(), 9, "every offset occurs: {seen:?}");
    }

    #[test]
    fn flips_mirror_rows_and_columns_of_every_channel() {
        let ops = [Augment::Flip {
            horizontal: true,
            vertical: true,
        }];
        // Find an example whose draws flip both ways, then check it against the reference.
        let index = (0..64)
            .find(|&i| {
                let mut rng = DRAWS.rng(i);
                rng.gen_bool(0.5) && rng.gen_bool(0.5)
            })
            .unwrap();
        let mut row: Vec<f32> = (0..12).map(|v| v as f32).collect();
        apply(&ops, &mut row, &[2, 2, 3], &[0.0], DRAWS, index);
        // Each 2x3 channel rotated by 180 degrees.
        assert_eq!(
            row,
            [5.0, 4.0, 3.0, 2.0, 1.0, 0.0, 11.0, 10.0, 9.0, 8.0, 7.0, 6.0]
        );
    }

    #[test]
    fn each_channel_fills_with_its_own_black() {
        // A cutout of side 8 covers a whole 4x4 image wherever it is drawn: every pixel
        // becomes its channel's black (a 0 byte normalized by that channel's numbers).
        let mut row = vec![0.5f32; 32];
        apply(
            &[Augment::Cutout { size: 8 }],
            &mut row,
            &[2, 4, 4],
            &[-1.0, -2.0],
            DRAWS,
            3,
        );
        assert_eq!(row[..16], [-1.0; 16]);
        assert_eq!(row[16..], [-2.0; 16]);
    }

    #[test]
    fn draws_depend_on_seed_epoch_and_example_only() {
        let ops = [
            Augment::Translate { fraction: 0.3 },
            Augment::Noise { std: 0.1 },
        ];
        let run = |draws: Draws, index: usize| {
            let mut row: Vec<f32> = (0..100).map(|v| v as f32).collect();
            apply(&ops, &mut row, &[10, 10], &[0.0], draws, index);
            row
        };
        assert_eq!(run(DRAWS, 3), run(DRAWS, 3));
        assert_ne!(run(DRAWS, 3), run(DRAWS, 4));
        let next_epoch = Draws { epoch: 1, ..DRAWS };
        assert_ne!(run(DRAWS, 3), run(next_epoch, 3));
        let other_seed = Draws { seed: 7, ..DRAWS };
        assert_ne!(run(DRAWS, 3), run(other_seed, 3));
    }

    #[test]
    fn shifts_cover_the_range_evenly() {
        let mut counts = [0usize; 7];
        for i in 0..7000 {
            let s = shift(&mut DRAWS.rng(i), 0.1, 28); // round(2.8) = 3: -3..=3
            counts[(s + 3) as usize] += 1;
        }
        for c in counts {
            assert!((850..=1150).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn noise_has_the_asked_standard_deviation() {
        let mut row = vec![0.0f32; 100_000];
        apply(
            &[Augment::Noise { std: 0.5 }],
            &mut row,
            &[100_000],
            &[0.0],
            DRAWS,
            0,
        );
        let n = row.len() as f64;
        let mean = row.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = row
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n;
        assert!(mean.abs() < 0.01, "{mean}");
        assert!((var.sqrt() - 0.5).abs() < 0.01, "{}", var.sqrt());
    }
}
