//! What can go wrong when reading, finding or downloading a data set.
//!
//! Every variant names the file (or URL) involved and what was expected, because the user has to
//! act on it: replace a file, set `EXPR_DATA`, or point `EXPR_MNIST_MIRROR` elsewhere.

use std::path::{Path, PathBuf};

use miette::Diagnostic;
use thiserror::Error;

/// Result alias for the data layer.
pub type DataResult<T> = Result<T, DataError>;

/// A data set file that could not be read, found or fetched.
#[derive(Debug, Error, Diagnostic)]
pub enum DataError {
    #[error("cannot find {what} at `{}`", path.display())]
    #[diagnostic(
        code(expr::data::missing_file),
        help("check the path, or set `EXPR_DATA` to a folder holding `mnist/` with the IDX files")
    )]
    MissingFile { path: PathBuf, what: String },

    #[error("cannot read `{}`: {source}", path.display())]
    #[diagnostic(
        code(expr::data::io),
        help("check that the file is readable and the disk is not full")
    )]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A FIFO, a device, a directory, or a file past the size any IDX file can have:
    /// refused before reading, so nothing blocks or fills memory.
    #[error("cannot read {what} `{}`: {reason}", path.display())]
    #[diagnostic(
        code(expr::data::not_a_data_file),
        help("point the experiment at the IDX file itself (gzipped or not); a symlink to one is fine")
    )]
    NotAFile {
        path: PathBuf,
        what: String,
        reason: String,
    },

    #[error("`{}` is empty", path.display())]
    #[diagnostic(
        code(expr::data::empty_file),
        help("the file was probably cut short while copying; fetch it again")
    )]
    EmptyFile { path: PathBuf },

    #[error("`{}` is neither gzip nor an IDX file (it starts with bytes {found})", path.display())]
    #[diagnostic(
        code(expr::data::not_idx),
        help("give the IDX file itself (magic 2049 or 2051) or its `.gz`, not some other format")
    )]
    NotIdx { path: PathBuf, found: String },

    #[error("`{}` is a truncated gzip file: the compressed stream ends early", path.display())]
    #[diagnostic(
        code(expr::data::truncated_gzip),
        help("the download or copy was interrupted; delete the file and fetch it again")
    )]
    TruncatedGzip { path: PathBuf },

    #[error("`{}` is a corrupt gzip file: {reason}", path.display())]
    #[diagnostic(
        code(expr::data::corrupt_gzip),
        help("delete the file and fetch it again")
    )]
    CorruptGzip { path: PathBuf, reason: String },

    #[error("`{}` has magic number {found}, expected {expected} ({what})", path.display())]
    #[diagnostic(
        code(expr::data::wrong_magic),
        help("2051 marks an IDX image file and 2049 a label file; check that the two were not swapped")
    )]
    WrongMagic {
        path: PathBuf,
        what: &'static str,
        expected: u32,
        found: u32,
    },

    #[error("`{}` is truncated: its header says {expected} bytes, it holds {found}", path.display())]
    #[diagnostic(
        code(expr::data::truncated_idx),
        help("the file was cut short; delete it and fetch it again")
    )]
    TruncatedIdx {
        path: PathBuf,
        expected: u64,
        found: u64,
    },

    #[error("`{}` is longer than its header says: expected {expected} bytes, found more", path.display())]
    #[diagnostic(
        code(expr::data::trailing_bytes),
        help("the file is not a well-formed IDX file; fetch a fresh copy")
    )]
    TrailingBytes { path: PathBuf, expected: u64 },

    #[error("`{}` has an impossible header: it claims {claimed} elements, but the file can hold at most {limit}", path.display())]
    #[diagnostic(
        code(expr::data::absurd_header),
        help("the header is corrupt; fetch a fresh copy of the file")
    )]
    AbsurdHeader {
        path: PathBuf,
        claimed: u128,
        limit: u64,
    },

    #[error("`{}` holds no examples (its header dimensions are {dims:?})", path.display())]
    #[diagnostic(
        code(expr::data::no_examples),
        help("a data set needs at least one example of non-zero size")
    )]
    NoExamples { path: PathBuf, dims: Vec<u32> },

    #[error(
        "`{}` holds {image_count} images but `{}` holds {label_count} labels",
        images.display(),
        labels.display()
    )]
    #[diagnostic(
        code(expr::data::count_mismatch),
        help("each image needs exactly one label; check that both files come from the same split")
    )]
    CountMismatch {
        images: PathBuf,
        labels: PathBuf,
        image_count: usize,
        label_count: usize,
    },

    #[error("`EXPR_DATA` is set to `{}`, but it lacks the mnist files; tried: {}", dir.display(), list_paths(tried))]
    #[diagnostic(
        code(expr::data::expr_data_incomplete),
        help("put the four mnist IDX files (`.gz` or uncompressed) into `{}`, or unset `EXPR_DATA` to use the cache and download", dir.join("mnist").display())
    )]
    ExprDataIncomplete { dir: PathBuf, tried: Vec<PathBuf> },

    #[error("cannot tell where the user cache is: neither `XDG_CACHE_HOME` nor `HOME` is set")]
    #[diagnostic(
        code(expr::data::no_cache_dir),
        help("set `EXPR_DATA` to a folder holding `mnist/`, or set `XDG_CACHE_HOME`")
    )]
    NoCacheDir,

    #[error("`EXPR_MNIST_MIRROR` is set but names no URL")]
    #[diagnostic(
        code(expr::data::empty_mirror_list),
        help("give one or more base URLs separated by commas or spaces, or unset it to use the default mirrors")
    )]
    EmptyMirrorList,

    #[error("the mirror settings list no checksum for `{file}`")]
    #[diagnostic(
        code(expr::data::no_checksum),
        help("add `{file}` with the sha-256 of its decompressed content to `Mirror::files`")
    )]
    NoChecksum { file: String },

    #[error("cannot download `{file}`: every mirror failed")]
    #[diagnostic(
        code(expr::data::download_failed),
        help(
            "check the network or point `EXPR_MNIST_MIRROR` at a working mirror; or set `EXPR_DATA` to a folder holding `mnist/{file}.gz`, or place the file in `{}` yourself",
            cache_dir.display()
        )
    )]
    DownloadFailed {
        file: String,
        cache_dir: PathBuf,
        #[related]
        attempts: Vec<DownloadError>,
    },

    #[error("interrupted by {signal} while {during}")]
    #[diagnostic(
        code(expr::data::interrupted),
        help("training had not started: no checkpoint of this run exists and nothing of it was written; run the same command again")
    )]
    Interrupted {
        signal: &'static str,
        /// `reading `path``, `downloading `url``.
        during: String,
    },

    #[error("`{var}` is `{value}`: {expected}")]
    #[diagnostic(
        code(expr::data::download_limit),
        help("unset `{var}` for the default, or give a whole number")
    )]
    BadDownloadLimit {
        var: &'static str,
        value: String,
        expected: &'static str,
    },

    // NumPy files (`numpy.rs`): a `.npy` file, or one array of a `.npz` archive (`key`).
    #[error("cannot find the NumPy file `{}`", path.display())]
    #[diagnostic(
        code(expr::data::numpy::missing),
        help("check the path: a `.npy` file written by `np.save`, or a `.npz` archive written by `np.savez`")
    )]
    NumpyMissing { path: PathBuf },

    #[error("cannot read the NumPy file `{}`: {reason}", path.display())]
    #[diagnostic(
        code(expr::data::numpy::not_a_file),
        help("point the experiment at the `.npy` or `.npz` file itself; a symlink to one is fine")
    )]
    NumpyNotAFile { path: PathBuf, reason: String },

    #[error("{} is not a NumPy array: it starts with {found}, not `\\x93NUMPY`", array_at(path, key.as_deref()))]
    #[diagnostic(code(expr::data::numpy::not_npy), help("{hint}"))]
    NotNpy {
        path: PathBuf,
        key: Option<String>,
        found: String,
        hint: &'static str,
    },

    #[error("{} has NumPy format version {version}; expr reads versions 1.0, 2.0 and 3.0", array_at(path, key.as_deref()))]
    #[diagnostic(
        code(expr::data::numpy::version),
        help("save it again with `np.save`, which writes version 1.0 unless it must write a later one")
    )]
    NumpyVersion {
        path: PathBuf,
        key: Option<String>,
        version: String,
    },

    #[error("{} has a malformed header: {reason}", array_at(path, key.as_deref()))]
    #[diagnostic(
        code(expr::data::numpy::bad_header),
        help(
            "the file is corrupt or was not written by NumPy; save the array again with `np.save`"
        )
    )]
    NumpyHeader {
        path: PathBuf,
        key: Option<String>,
        reason: String,
    },

    #[error("{} holds {what} (dtype `{dtype}`), which expr cannot read", array_at(path, key.as_deref()))]
    #[diagnostic(
        code(expr::data::numpy::dtype),
        help("{advice}; expr reads arrays of booleans, integers and floats (`u8` stays `u8`, the rest becomes `f32`)")
    )]
    NumpyDtype {
        path: PathBuf,
        key: Option<String>,
        dtype: String,
        what: &'static str,
        advice: &'static str,
    },

    #[error("{} is truncated: its header ({layout}) needs {expected} bytes of data, it holds {found}", array_at(path, key.as_deref()))]
    #[diagnostic(
        code(expr::data::numpy::truncated),
        help("the file was cut short, or its header lies about the shape; save the array again")
    )]
    NumpyTruncated {
        path: PathBuf,
        key: Option<String>,
        /// "shape [2, 3], dtype `<f4`".
        layout: String,
        expected: u64,
        found: u64,
    },

    #[error("{} is longer than its header says: {layout} is {expected} bytes of data, it holds {found}", array_at(path, key.as_deref()))]
    #[diagnostic(
        code(expr::data::numpy::trailing_bytes),
        help("the header does not describe the data that follows it; save the array again with `np.save`")
    )]
    NumpyTrailing {
        path: PathBuf,
        key: Option<String>,
        /// "shape [2, 3], dtype `<f4`".
        layout: String,
        expected: u64,
        found: u64,
    },

    #[error("{} holds {value} {}", array_at(path, key.as_deref()), place(index, *flat))]
    #[diagnostic(
        code(expr::data::numpy::not_finite),
        help("training on it would give NaN losses; clean the array before saving it, e.g. drop the rows with `x[np.isfinite(x).all(axis=tuple(range(1, x.ndim)))]` or replace the values with `np.nan_to_num`")
    )]
    NumpyNotFinite {
        path: PathBuf,
        key: Option<String>,
        index: Vec<usize>,
        flat: usize,
        value: String,
    },

    #[error("{} holds {value} at flat index {flat}, which is not a class index (a whole number from 0)", array_at(path, key.as_deref()))]
    #[diagnostic(
        code(expr::data::numpy::not_class_index),
        help("class labels are the numbers 0, 1, 2, ...: map other labels to them first, e.g. `np.unique(y, return_inverse=True)[1]`")
    )]
    NumpyNotClassIndex {
        path: PathBuf,
        key: Option<String>,
        flat: usize,
        value: String,
    },

    #[error("`{}` is not a readable `.npz` archive: {reason}", path.display())]
    #[diagnostic(
        code(expr::data::numpy::corrupt_npz),
        help("write the archive again with `np.savez` or `np.savez_compressed`")
    )]
    NpzCorrupt { path: PathBuf, reason: String },

    #[error("`{}` holds no array `{key}`", path.display())]
    #[diagnostic(code(expr::data::numpy::missing_key), help("{}", known_keys(keys)))]
    NpzMissingKey {
        path: PathBuf,
        key: String,
        keys: Vec<String>,
    },
}

/// Why one mirror did not give a good copy of one file; the temporary file is gone in every case.
#[derive(Debug, Error, Diagnostic)]
pub enum DownloadError {
    #[error("`{url}` answered http status {status}")]
    #[diagnostic(code(expr::data::download::http_status))]
    HttpStatus { url: String, status: u16 },

    #[error("`{url}` could not be reached: {reason}")]
    #[diagnostic(code(expr::data::download::transport))]
    Transport { url: String, reason: String },

    #[error("`{url}` closed the connection after {received} of {expected} bytes")]
    #[diagnostic(code(expr::data::download::interrupted))]
    Interrupted {
        url: String,
        received: u64,
        expected: u64,
    },

    #[error("`{url}` sent more than {limit} bytes, more than any mnist file")]
    #[diagnostic(code(expr::data::download::too_large))]
    TooLarge { url: String, limit: u64 },

    #[error("`{url}` gave content with sha-256 {found}, expected {expected}")]
    #[diagnostic(code(expr::data::download::checksum))]
    Checksum {
        url: String,
        expected: String,
        found: String,
    },

    #[error("`{url}` gave a file that does not decompress: {reason}")]
    #[diagnostic(code(expr::data::download::bad_gzip))]
    BadGzip { url: String, reason: String },

    #[error("`{url}` sent nothing for {seconds} s after {received} bytes: the download stalled")]
    #[diagnostic(
        code(expr::data::download::stalled),
        help("the mirror stopped sending; try again later or another mirror (`EXPR_MNIST_MIRROR`); a link that pauses longer can raise `EXPR_DOWNLOAD_STALL` (seconds)")
    )]
    Stalled {
        url: String,
        received: u64,
        seconds: u64,
    },

    #[error("`{url}` sent {window_bytes} bytes in {seconds} s ({received} in all), below the minimum of {min_rate} bytes/s")]
    #[diagnostic(
        code(expr::data::download::too_slow),
        help("the mirror is too slow to finish in reasonable time; try another mirror (`EXPR_MNIST_MIRROR`), or on a slow link lower `EXPR_DOWNLOAD_MIN_RATE` (bytes/s, 0 for none)")
    )]
    TooSlow {
        url: String,
        received: u64,
        window_bytes: u64,
        seconds: u64,
        min_rate: u64,
    },

    #[error("`{url}` did not finish within {seconds} s ({received} bytes received)")]
    #[diagnostic(
        code(expr::data::download::deadline),
        help("try another mirror (`EXPR_MNIST_MIRROR`), or on a slow link raise `EXPR_DOWNLOAD_DEADLINE` (seconds)")
    )]
    Deadline {
        url: String,
        received: u64,
        seconds: u64,
    },

    #[error("cannot write `{}` while downloading `{url}`: {source}", path.display())]
    #[diagnostic(code(expr::data::download::io))]
    Io {
        url: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn list_paths(paths: &[PathBuf]) -> String {
    let shown: Vec<String> = paths.iter().map(|p| format!("`{}`", p.display())).collect();
    shown.join(", ")
}

/// A NumPy file, or one array of a `.npz` archive, in words: "`x.npy`", "`d.npz` (array `x`)".
fn array_at(path: &Path, key: Option<&str>) -> String {
    match key {
        Some(key) => format!("`{}` (array `{key}`)", path.display()),
        None => format!("`{}`", path.display()),
    }
}

fn known_keys(keys: &[String]) -> String {
    if keys.is_empty() {
        return "the archive holds no arrays at all (no `.npy` member)".to_string();
    }
    let shown: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
    format!("the arrays it holds: {}", shown.join(", "))
}

/// Where a value is in an array: "at index [12, 3] (row 12, flat index 339)".
fn place(index: &[usize], flat: usize) -> String {
    match index {
        [] => "as its only value (a 0-d array)".to_string(),
        [row] => format!("at index {row}"),
        [row, ..] => format!("at index {index:?} (row {row}, flat index {flat})"),
    }
}
