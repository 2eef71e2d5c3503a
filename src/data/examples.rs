//! A labelled data set held in memory, turned into `f32` batches on demand.
//!
//! Images stay `u8`, a quarter of the memory of `f32` (47 MB instead of 188 MB for the MNIST
//! training images), and the scaling is a multiply per element while a batch is copied anyway.
//! Tables and arrays of other types are held as `f32`.

use std::path::Path;

use ndarray::{Array1, Array2, Axis};

use super::error::{DataError, DataResult};
use super::idx::{read_idx_images, read_idx_labels};
use super::images::ImageFiles;
use super::numpy::MappedRows;
use crate::check::plan::Scaling;

/// The inputs of a data set, one flattened element per row: `(n, features)`.
#[derive(Debug, Clone, PartialEq)]
pub enum Inputs {
    /// Bytes, as images are stored.
    U8(Array2<u8>),
    /// Anything else: table columns, arrays of other types.
    F32(Array2<f32>),
    /// Image files decoded as batches read them (a streamed folder): bytes too, once
    /// decoded.
    Files(ImageFiles),
    /// A memory-mapped `.npy` file of `u8` or `f32` values (`numpy::map_npy`).
    Mapped(MappedRows),
}

impl Inputs {
    pub fn nrows(&self) -> usize {
        match self {
            Inputs::U8(a) => a.nrows(),
            Inputs::F32(a) => a.nrows(),
            Inputs::Files(f) => f.len(),
            Inputs::Mapped(m) => m.nrows(),
        }
    }

    pub fn ncols(&self) -> usize {
        match self {
            Inputs::U8(a) => a.ncols(),
            Inputs::F32(a) => a.ncols(),
            Inputs::Files(f) => f.features(),
            Inputs::Mapped(m) => m.ncols(),
        }
    }

    /// The rows at `indices`, in that order.
    #[must_use]
    pub fn select(&self, indices: &[usize]) -> Inputs {
        match self {
            Inputs::U8(a) => Inputs::U8(a.select(Axis(0), indices)),
            Inputs::F32(a) => Inputs::F32(a.select(Axis(0), indices)),
            Inputs::Files(f) => Inputs::Files(f.select(indices)),
            // A selection (`take`, `split`) is copied: only its rows are.
            Inputs::Mapped(m) if m.is_u8() => Inputs::U8(m.select_u8(indices)),
            Inputs::Mapped(m) => Inputs::F32(m.select_f32(indices)),
        }
    }

    /// The bytes, where the inputs are bytes in memory.
    pub fn as_u8(&self) -> Option<&Array2<u8>> {
        match self {
            Inputs::U8(a) => Some(a),
            Inputs::F32(_) | Inputs::Files(_) | Inputs::Mapped(_) => None,
        }
    }

    /// Whether the inputs are files decoded batch by batch.
    pub fn streamed(&self) -> bool {
        matches!(self, Inputs::Files(_))
    }
}

/// What each example is labelled with.
#[derive(Debug, Clone, PartialEq)]
pub enum Targets {
    /// A class index per example.
    Classes(Array1<u32>),
    /// Values per example, `(n, width)`: regression targets.
    Values(Array2<f32>),
    /// A class index at each position, `(n, positions)`: a language model's next tokens.
    Tokens(Array2<u32>),
}

impl Targets {
    pub fn len(&self) -> usize {
        match self {
            Targets::Classes(c) => c.len(),
            Targets::Values(v) => v.nrows(),
            Targets::Tokens(t) => t.nrows(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rows at `indices`, in that order.
    #[must_use]
    pub fn select(&self, indices: &[usize]) -> Targets {
        match self {
            Targets::Classes(c) => Targets::Classes(c.select(Axis(0), indices)),
            Targets::Values(v) => Targets::Values(v.select(Axis(0), indices)),
            Targets::Tokens(t) => Targets::Tokens(t.select(Axis(0), indices)),
        }
    }

    /// The class indices, where the targets are classes.
    pub fn classes(&self) -> Option<&Array1<u32>> {
        match self {
            Targets::Classes(c) => Some(c),
            Targets::Values(_) | Targets::Tokens(_) => None,
        }
    }
}

/// Inputs and their targets, one row of each per example.
#[derive(Debug, Clone)]
pub struct Examples {
    pub inputs: Inputs,
    /// The shape of one element before flattening, e.g. `[28, 28]` from the IDX header.
    pub element_shape: Vec<usize>,
    pub targets: Targets,
    /// Where the examples came from, for messages.
    pub source: String,
    /// How the files' contents became numbers, for the run record.
    pub encoding: Encoding,
}

/// How a source's contents became the numbers a model sees, where the files alone do not
/// say: what a run record keeps so that the same encoding can be applied at inference.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Encoding {
    /// The input columns' names, after one-hot encoding (`color=red`): tables only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    /// The categories of each text column, in encoding order.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub categories: std::collections::BTreeMap<String, Vec<String>>,
    /// The class names, by class index (text targets, image folders).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<String>,
    /// `standardize(...)`: the statistics each input column was scaled by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standardized: Option<ColumnStats>,
    /// `text(tokens = bytes)`: the classes are bytes, byte `b` the character `U+00bb`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bytes: bool,
}

impl Encoding {
    pub fn is_empty(&self) -> bool {
        *self == Encoding::default()
    }
}

impl Examples {
    /// The number of examples.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// Whether there are no examples at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of values in one flattened element (784 for MNIST).
    pub fn features(&self) -> usize {
        self.inputs.ncols()
    }

    /// Writes `inputs[indices]` as `value * scale + shift` into `out` (len = `indices.len() *
    /// features`). With `shift` 0 the values are exactly `value * scale`. Only streamed
    /// inputs can fail: the first unreadable file in `indices`' order is the error.
    ///
    /// # Panics
    /// If `out` has the wrong length or an index is out of range: both are bugs of the
    /// caller, which sizes its batch buffer and draws indices from `0..len()`.
    pub fn fill_batch(
        &self,
        indices: &[usize],
        scaling: &Scaling,
        out: &mut [f32],
    ) -> DataResult<()> {
        self.fill(indices, scaling, out, true)
    }

    /// [`Self::fill_batch`] on the calling thread alone: for a prefetch worker, which
    /// must not hand work to the pool the step computes on.
    pub fn fill_batch_here(
        &self,
        indices: &[usize],
        scaling: &Scaling,
        out: &mut [f32],
    ) -> DataResult<()> {
        self.fill(indices, scaling, out, false)
    }

    fn fill(
        &self,
        indices: &[usize],
        scaling: &Scaling,
        out: &mut [f32],
        parallel: bool,
    ) -> DataResult<()> {
        use rayon::prelude::*;

        let features = self.features();
        assert_eq!(
            out.len(),
            indices.len() * features,
            "batch buffer must hold {} examples of {features} values",
            indices.len()
        );
        if features == 0 {
            return Ok(());
        }
        let fill = |(out, indices): (&mut [f32], &[usize])| match &self.inputs {
            Inputs::U8(a) => {
                fill_rows(a, indices, scaling, out);
                Ok(())
            }
            Inputs::F32(a) => {
                fill_rows(a, indices, scaling, out);
                Ok(())
            }
            Inputs::Files(f) => fill_files(f, indices, scaling, out),
            // The batch's rows copied out of the map, then filled as rows in memory are.
            Inputs::Mapped(m) => {
                let all: Vec<usize> = (0..indices.len()).collect();
                if m.is_u8() {
                    fill_rows(&m.select_u8(indices), &all, scaling, out);
                } else {
                    fill_rows(&m.select_f32(indices), &all, scaling, out);
                }
                Ok(())
            }
        };
        // Rows are independent: a batch is split over the threads (on the step's critical
        // path, the other thread would otherwise wait), in chunks of a few examples.
        let per_task = (4096 / features).max(1);
        if parallel {
            let outcomes: Vec<DataResult<()>> = out
                .par_chunks_mut(features * per_task)
                .zip(indices.par_chunks(per_task))
                .map(fill)
                .collect();
            outcomes.into_iter().collect()
        } else {
            out.chunks_mut(features * per_task)
                .zip(indices.chunks(per_task))
                .try_for_each(fill)
        }
    }

    /// Replaces the contents of `out` with `targets[indices]` as class indices.
    ///
    /// # Panics
    /// If the targets are values: the checker gives such data no class labels.
    /// Token targets give each example's positions in turn.
    pub fn fill_labels(&self, indices: &[usize], out: &mut Vec<usize>) {
        out.clear();
        match &self.targets {
            Targets::Classes(classes) => out.extend(indices.iter().map(|&i| classes[i] as usize)),
            Targets::Tokens(tokens) => {
                for &i in indices {
                    out.extend(tokens.row(i).iter().map(|&c| c as usize));
                }
            }
            Targets::Values(_) => {
                unreachable!("check gives data with value targets no class labels")
            }
        }
    }

    /// The target values at `indices`, row after row, where the targets are values.
    pub fn target_values(&self, indices: &[usize]) -> Option<Vec<f32>> {
        let Targets::Values(values) = &self.targets else {
            return None;
        };
        let mut out = Vec::with_capacity(indices.len() * values.ncols());
        for &i in indices {
            out.extend(values.row(i).iter());
        }
        Some(out)
    }

    /// The examples at `indices`, in that order, as a data set of their own.
    #[must_use]
    pub fn select(&self, indices: &[usize]) -> Examples {
        Examples {
            inputs: self.inputs.select(indices),
            element_shape: self.element_shape.clone(),
            targets: self.targets.select(indices),
            source: self.source.clone(),
            encoding: self.encoding.clone(),
        }
    }

    /// The number of classes, taken as the largest label plus one (0 when there are no labels
    /// or the targets are values).
    pub fn num_classes(&self) -> usize {
        let most = match &self.targets {
            Targets::Classes(c) => c.iter().max(),
            Targets::Tokens(t) => t.iter().max(),
            Targets::Values(_) => None,
        };
        most.map_or(0, |&m| m as usize + 1)
    }
}

impl Examples {
    /// The examples of `parts`, all of the first, then all of the second, ...: tf.data's
    /// `concatenate`. A part with a `(scale, shift)` is stored as `value * scale + shift` in
    /// `f32`; bytes stay bytes only when every part is bytes kept as they are. `Err` says how
    /// two parts disagree: values per element, kind of targets, or encoding (a table's
    /// columns and categories, the class names).
    pub fn concat(parts: &[(&Examples, Option<&Scaling>)]) -> Result<Examples, String> {
        let Some(&(first, _)) = parts.first() else {
            return Err("`concat` has no part".into());
        };
        let same_encoding = |e: &Encoding| Encoding {
            standardized: None,
            ..e.clone()
        };
        for &(part, _) in &parts[1..] {
            if part.features() != first.features() {
                return Err(format!(
                    "{} has {} values per element, {} {}",
                    part.source,
                    part.features(),
                    first.source,
                    first.features()
                ));
            }
            let kinds = (&part.targets, &first.targets);
            let alike = match kinds {
                (Targets::Classes(_), Targets::Classes(_)) => true,
                (Targets::Values(a), Targets::Values(b)) => a.ncols() == b.ncols(),
                (Targets::Tokens(a), Targets::Tokens(b)) => a.ncols() == b.ncols(),
                _ => false,
            };
            if !alike {
                return Err(format!(
                    "{} and {} have different kinds of targets",
                    part.source, first.source
                ));
            }
            if same_encoding(&part.encoding) != same_encoding(&first.encoding) {
                let what = if part.encoding.classes == first.encoding.classes {
                    "columns or categories".to_string()
                } else {
                    format!(
                        "class names ({:?} and {:?})",
                        part.encoding.classes, first.encoding.classes
                    )
                };
                return Err(format!(
                    "{} and {} encode their examples with other {what}",
                    part.source, first.source
                ));
            }
        }
        let bytes = parts
            .iter()
            .all(|(p, scaling)| scaling.is_none() && p.inputs.as_u8().is_some());
        let rows: usize = parts.iter().map(|(p, _)| p.len()).sum();
        let features = first.features();
        let inputs = if bytes {
            let mut all = Vec::with_capacity(rows * features);
            for (p, _) in parts {
                let a = p
                    .inputs
                    .as_u8()
                    .unwrap_or_else(|| unreachable!("all bytes"));
                all.extend(a.iter());
            }
            Inputs::U8(Array2::from_shape_vec((rows, features), all).map_err(|e| e.to_string())?)
        } else {
            let mut all = vec![0.0f32; rows * features];
            let mut at = 0;
            for (p, scaling) in parts {
                let n = p.len() * features;
                let indices: Vec<usize> = (0..p.len()).collect();
                let scaling = scaling.cloned().unwrap_or_default();
                p.fill_batch(&indices, &scaling, &mut all[at..at + n])
                    .map_err(|e| e.to_string())?;
                at += n;
            }
            Inputs::F32(Array2::from_shape_vec((rows, features), all).map_err(|e| e.to_string())?)
        };
        let targets = match &first.targets {
            Targets::Classes(_) => Targets::Classes(
                parts
                    .iter()
                    .flat_map(|(p, _)| p.targets.classes().into_iter().flatten().copied())
                    .collect(),
            ),
            Targets::Values(v) => {
                Targets::Values(stack_rows(rows, v.ncols(), parts, |t| match t {
                    Targets::Values(v) => Some(v),
                    _ => None,
                })?)
            }
            Targets::Tokens(v) => {
                Targets::Tokens(stack_rows(rows, v.ncols(), parts, |t| match t {
                    Targets::Tokens(v) => Some(v),
                    _ => None,
                })?)
            }
        };
        let sources: Vec<&str> = parts.iter().map(|(p, _)| p.source.as_str()).collect();
        Ok(Examples {
            inputs,
            element_shape: first.element_shape.clone(),
            targets,
            source: sources.join(" + "),
            encoding: same_encoding(&first.encoding),
        })
    }
}

/// Why `column_stats` and `standardized` never see streamed inputs.
const STREAMED: &str =
    "the loader reads a streamed folder or a mapped file into memory before it standardizes it";

impl Examples {
    /// The examples with streamed or mapped inputs read into memory (the others as they
    /// are): for the transforms that read every example at once.
    pub fn in_memory(self: &std::sync::Arc<Self>) -> DataResult<std::sync::Arc<Examples>> {
        let inputs = match &self.inputs {
            Inputs::Files(files) => Inputs::U8(files.decode_all()?),
            Inputs::Mapped(m) => m.select_all(),
            Inputs::U8(_) | Inputs::F32(_) => return Ok(self.clone()),
        };
        Ok(std::sync::Arc::new(Examples {
            inputs,
            ..(**self).clone()
        }))
    }
}

/// Per input column: mean and (population) standard deviation, as scikit-learn's
/// `StandardScaler` computes them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ColumnStats {
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
}

impl Examples {
    /// The mean and standard deviation of each input column, summed in f64 in row order
    /// (the same numbers on every machine and thread count).
    pub fn column_stats(&self) -> ColumnStats {
        let n = self.len().max(1) as f64;
        let features = self.features();
        let mut sum = vec![0.0f64; features];
        let mut sum_sq = vec![0.0f64; features];
        let mut add_row = |row: &mut dyn Iterator<Item = f64>| {
            for ((s, q), v) in sum.iter_mut().zip(sum_sq.iter_mut()).zip(row) {
                *s += v;
                *q += v * v;
            }
        };
        match &self.inputs {
            Inputs::U8(a) => a
                .rows()
                .into_iter()
                .for_each(|r| add_row(&mut r.iter().map(|&v| f64::from(v)))),
            Inputs::F32(a) => a
                .rows()
                .into_iter()
                .for_each(|r| add_row(&mut r.iter().map(|&v| f64::from(v)))),
            Inputs::Files(_) | Inputs::Mapped(_) => unreachable!("{STREAMED}"),
        }
        let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
        let std = sum_sq
            .iter()
            .zip(&mean)
            .map(|(q, m)| (q / n - m * m).max(0.0).sqrt())
            .collect();
        ColumnStats { mean, std }
    }

    /// The examples with each input column as `(value - mean) / std`, in `f32`; a column
    /// of standard deviation 0 is only centred (scikit-learn's choice).
    #[must_use]
    pub fn standardized(&self, stats: &ColumnStats) -> Examples {
        let scale: Vec<f64> = stats
            .std
            .iter()
            .map(|&s| if s > 0.0 { 1.0 / s } else { 1.0 })
            .collect();
        let column = |c: usize, v: f64| ((v - stats.mean[c]) * scale[c]) as f32;
        let inputs = match &self.inputs {
            Inputs::U8(a) => {
                Array2::from_shape_fn(a.dim(), |(r, c)| column(c, f64::from(a[[r, c]])))
            }
            Inputs::F32(a) => {
                Array2::from_shape_fn(a.dim(), |(r, c)| column(c, f64::from(a[[r, c]])))
            }
            Inputs::Files(_) | Inputs::Mapped(_) => unreachable!("{STREAMED}"),
        };
        Examples {
            inputs: Inputs::F32(inputs),
            encoding: Encoding {
                standardized: Some(stats.clone()),
                ..self.encoding.clone()
            },
            ..self.clone()
        }
    }
}

/// A stored value as `f32`.
trait Stored: Copy {
    fn to_f32(self) -> f32;
}

impl Stored for u8 {
    fn to_f32(self) -> f32 {
        f32::from(self)
    }
}

impl Stored for f32 {
    fn to_f32(self) -> f32 {
        self
    }
}

/// [`Examples::fill_batch`] for some of the batch's examples, in order.
fn fill_rows<T: Stored>(rows: &Array2<T>, indices: &[usize], scaling: &Scaling, out: &mut [f32]) {
    let features = rows.ncols();
    // Channel c is the c-th of as many equal runs of a row (channels first); one pair of
    // numbers covers the whole row.
    let run = (features / scaling.scale.len()).max(1);
    for (dst, &i) in out.chunks_exact_mut(features).zip(indices) {
        let row = rows.row(i);
        // Rows of arrays built by the readers are contiguous; the iterator path only serves
        // arrays a caller built in another layout.
        match row.as_slice() {
            Some(src) => {
                for ((dst, src), (&scale, &shift)) in dst
                    .chunks_mut(run)
                    .zip(src.chunks(run))
                    .zip(scaling.scale.iter().zip(&scaling.shift))
                {
                    for (d, &s) in dst.iter_mut().zip(src) {
                        *d = s.to_f32() * scale + shift;
                    }
                }
            }
            None => {
                for (j, (d, &s)) in dst.iter_mut().zip(row.iter()).enumerate() {
                    let c = j / run;
                    *d = s.to_f32() * scaling.scale[c] + scaling.shift[c];
                }
            }
        }
    }
}

/// [`Examples::fill_batch`] for streamed images: each file decoded into bytes, then scaled
/// as bytes in memory are, so the values are those of a cached folder.
fn fill_files(
    files: &ImageFiles,
    indices: &[usize],
    scaling: &Scaling,
    out: &mut [f32],
) -> DataResult<()> {
    let features = files.features();
    let mut bytes = Array2::<u8>::zeros((1, features));
    for (dst, &i) in out.chunks_exact_mut(features).zip(indices) {
        let row = bytes
            .as_slice_mut()
            .unwrap_or_else(|| unreachable!("a new array is contiguous"));
        files.decode(i, row)?;
        fill_rows(&bytes, &[0], scaling, dst);
    }
    Ok(())
}

/// Reads an IDX image file and its label file into [`Examples`]; their counts must agree.
pub fn load_idx_pair(images: &Path, labels: &Path) -> DataResult<Examples> {
    let (image_rows, element_shape) = read_idx_images(images)?;
    let label_rows = read_idx_labels(labels)?;
    if image_rows.nrows() != label_rows.len() {
        return Err(DataError::CountMismatch {
            images: images.to_path_buf(),
            labels: labels.to_path_buf(),
            image_count: image_rows.nrows(),
            label_count: label_rows.len(),
        });
    }
    Ok(Examples {
        inputs: Inputs::U8(image_rows),
        element_shape,
        targets: Targets::Classes(label_rows.mapv(u32::from)),
        source: images.display().to_string(),
        encoding: Encoding::default(),
    })
}

/// The `rows` rows of `width` targets of every part, in turn, as `which` finds them.
fn stack_rows<T: Copy>(
    rows: usize,
    width: usize,
    parts: &[(&Examples, Option<&Scaling>)],
    which: impl Fn(&Targets) -> Option<&Array2<T>>,
) -> Result<Array2<T>, String> {
    let mut all = Vec::with_capacity(rows * width);
    for (p, _) in parts {
        if let Some(v) = which(&p.targets) {
            all.extend(v.iter().copied());
        }
    }
    Array2::from_shape_vec((rows, width), all).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, s};

    fn tiny() -> Examples {
        Examples {
            inputs: Inputs::U8(array![[0u8, 255, 10], [1, 2, 3], [200, 100, 50]]),
            element_shape: vec![3],
            targets: Targets::Classes(array![4, 0, 7]),
            source: "tiny".to_string(),
            encoding: Encoding::default(),
        }
    }

    #[test]
    fn fill_batch_gathers_and_scales_rows_in_index_order() {
        let ex = tiny();
        let mut out = vec![f32::NAN; 6];
        let half = Scaling::uniform(0.5, 0.0);
        ex.fill_batch(&[2, 0], &half, &mut out).unwrap();
        assert_eq!(out, [100.0, 50.0, 25.0, 0.0, 127.5, 5.0]);
    }

    #[test]
    fn fill_batch_reads_non_contiguous_rows() {
        // Every second column of a wider array: the rows are strided, not slices.
        let wide = Array2::from_shape_fn((3, 6), |(r, c)| u8::try_from(r * 10 + c).unwrap());
        let ex = Examples {
            inputs: Inputs::U8(wide.slice_move(s![.., ..;2])),
            ..tiny()
        };
        assert!(ex.inputs.as_u8().unwrap().row(1).as_slice().is_none());
        let mut out = vec![0.0; 3];
        let twice = Scaling::uniform(2.0, 0.0);
        ex.fill_batch(&[1], &twice, &mut out).unwrap();
        assert_eq!(out, [20.0, 24.0, 28.0]);
    }

    #[test]
    fn fill_labels_replaces_previous_contents() {
        let ex = tiny();
        let mut out = vec![9, 9, 9, 9];
        ex.fill_labels(&[1, 2], &mut out);
        assert_eq!(out, [0, 7]);
    }

    #[test]
    fn num_classes_is_largest_label_plus_one() {
        assert_eq!(tiny().num_classes(), 8);
        let mut empty = tiny();
        empty.targets = Targets::Classes(Array1::from_vec(vec![]));
        assert_eq!(empty.num_classes(), 0);
        assert!(empty.is_empty());
    }
}
