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

    #[error("{}", cifar10_length(path, *len))]
    #[diagnostic(
        code(expr::data::cifar10_length),
        help("the file was cut short, or is not from `cifar-10-binary.tar.gz` (the binary version, not the Python or MATLAB one): replace it with the file of that name from the archive")
    )]
    Cifar10Length { path: PathBuf, len: u64 },

    #[error(
        "`{}`: record {} (at byte {}) has label {label}, but CIFAR-10's labels are 0 to 9",
        path.display(),
        crate::check::summary::group(*record),
        crate::check::summary::group(*offset as usize)
    )]
    #[diagnostic(
        code(expr::data::cifar10_label),
        help("the file is corrupt, or not CIFAR-10's (CIFAR-100's binary records have two label bytes): replace it with the file of that name from `cifar-10-binary.tar.gz`")
    )]
    Cifar10Label {
        path: PathBuf,
        /// Counted from 0, as the records of the file.
        record: usize,
        offset: u64,
        label: u8,
    },

    #[error("{place} lacks CIFAR-10's `{file}`; tried: {}", list_paths(tried))]
    #[diagnostic(code(expr::data::cifar10_missing), help("{fix}"))]
    Cifar10Missing {
        /// "`EXPR_DATA` (`/data`)", "the cache".
        place: String,
        file: &'static str,
        tried: Vec<PathBuf>,
        fix: String,
    },

    #[error("`{}` is not a usable CIFAR-10 archive: {reason}", path.display())]
    #[diagnostic(
        code(expr::data::cifar10_archive),
        help("delete it: the next run downloads the archive again, or place the official `cifar-10-binary.tar.gz` there")
    )]
    Cifar10Archive { path: PathBuf, reason: String },

    #[error("cannot tell where the user cache is: neither `XDG_CACHE_HOME` nor `HOME` is set")]
    #[diagnostic(
        code(expr::data::no_cache_dir),
        help("set `EXPR_DATA` to a folder holding the data set (`mnist/`, `cifar10/`), or set `XDG_CACHE_HOME`")
    )]
    NoCacheDir,

    #[error("`{var}` is set but names no URL")]
    #[diagnostic(
        code(expr::data::empty_mirror_list),
        help("give one or more base URLs separated by commas or spaces, or unset it to use the default mirrors")
    )]
    EmptyMirrorList { var: &'static str },

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
            "check the network or point `{mirror_env}` at a working mirror; or set `EXPR_DATA` to a folder holding `{in_data_dir}`, or place `{file}` in `{}` yourself",
            cache_dir.display()
        )
    )]
    DownloadFailed {
        /// The name the URLs end with (`train-images-idx3-ubyte.gz`).
        file: String,
        cache_dir: PathBuf,
        /// The variable naming other mirrors, and where the file goes under `EXPR_DATA`.
        mirror_env: &'static str,
        in_data_dir: String,
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

    /// A data file whose contents do not fit its declaration: a CSV table's missing or
    /// non-numeric cell, row of the wrong length or unknown column; arrays of different
    /// lengths. `place` is "line 17, column 4 (\`bmi\`)", "array \`y\`", or empty for
    /// the file as a whole.
    #[error("`{}`{}{place}: {problem}", path.display(), if place.is_empty() { "" } else { " " })]
    #[diagnostic(code(expr::data::contents))]
    Contents {
        path: PathBuf,
        place: String,
        problem: String,
        #[help]
        help: Option<String>,
    },

    // Image folders (`data::images`).
    #[error("cannot find the image folder `{}`", dir.display())]
    #[diagnostic(
        code(expr::data::missing_image_folder),
        help("check the path: an image folder holds one sub-folder of images per class, e.g. `cat/1.png`, `dog/1.png`")
    )]
    MissingImageFolder { dir: PathBuf },

    /// Not a folder, or a folder that cannot be listed (permissions, I/O).
    #[error("cannot list the image folder `{}`: {reason}", dir.display())]
    #[diagnostic(
        code(expr::data::unreadable_image_folder),
        help("give a readable folder holding one sub-folder of images per class")
    )]
    UnreadableImageFolder { dir: PathBuf, reason: String },

    #[error("`{}` has no class sub-folders", dir.display())]
    #[diagnostic(
        code(expr::data::no_class_folders),
        help("put each class's images in a sub-folder named after the class (`cat/1.png`, `dog/1.png`); images directly in the folder, and folders whose names start with `.`, are not read")
    )]
    NoClassFolders { dir: PathBuf },

    #[error("class folder `{}` holds no images", dir.display())]
    #[diagnostic(
        code(expr::data::empty_class_folder),
        help("every sub-folder is a class: add its images (files ending in .png, .jpg, .jpeg, .bmp or .gif) or remove the folder")
    )]
    EmptyClassFolder { dir: PathBuf },

    /// One image that cannot be used: unreadable, empty, not an image, corrupt, or larger
    /// than the decoding limits.
    #[error("cannot read image `{}`: {reason}", path.display())]
    #[diagnostic(
        code(expr::data::bad_image),
        help("replace or delete the file, or read the folder with `on_error = skip` to leave out the images that cannot be read (they are counted and listed)")
    )]
    BadImage { path: PathBuf, reason: String },

    #[error("none of the {count} images in `{}` could be read", dir.display())]
    #[diagnostic(
        code(expr::data::no_image_read),
        help("the first one: `{}`: {first_reason}", first.display())
    )]
    NoImageRead {
        dir: PathBuf,
        count: usize,
        first: PathBuf,
        first_reason: String,
    },

    #[error("{count} images of {channels} x {height} x {width} bytes do not fit in memory")]
    #[diagnostic(
        code(expr::data::images_too_large),
        help("choose a smaller `size`, or fewer images")
    )]
    ImagesTooLarge {
        count: usize,
        channels: usize,
        height: usize,
        width: usize,
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

impl DataError {
    /// Why `path` (a `what`, for messages) could not be opened: missing, not a regular
    /// file (or too large), or another I/O error.
    pub fn opening(path: &std::path::Path, what: &str, refused: crate::files::ReadRefused) -> Self {
        use crate::files::ReadRefused;
        match refused {
            ReadRefused::Io(source) if source.kind() == std::io::ErrorKind::NotFound => {
                DataError::MissingFile {
                    path: path.to_path_buf(),
                    what: what.to_string(),
                }
            }
            ReadRefused::Io(source) => DataError::Io {
                path: path.to_path_buf(),
                source,
            },
            refused => DataError::NotAFile {
                path: path.to_path_buf(),
                what: what.to_string(),
                reason: refused.to_string(),
            },
        }
    }

    /// Whether the data itself is at fault (a file missing, cut short, of another format,
    /// a label out of range): the user has to fix the files, as after a diagnostic of
    /// `expr check`. Not the network, the disk, the settings or an interrupt.
    pub fn is_bad_data(&self) -> bool {
        !matches!(
            self,
            DataError::Io { .. }
                | DataError::NoCacheDir
                | DataError::EmptyMirrorList { .. }
                | DataError::NoChecksum { .. }
                | DataError::DownloadFailed { .. }
                | DataError::Interrupted { .. }
                | DataError::BadDownloadLimit { .. }
        )
    }
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

    #[error("`{url}` sent more than {limit} bytes, more than the file can be")]
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
        help("the mirror stopped sending; try again later or another mirror (`EXPR_MNIST_MIRROR`, `EXPR_CIFAR10_MIRROR`); a link that pauses longer can raise `EXPR_DOWNLOAD_STALL` (seconds)")
    )]
    Stalled {
        url: String,
        received: u64,
        seconds: u64,
    },

    #[error("`{url}` sent {window_bytes} bytes in {seconds} s ({received} in all), below the minimum of {min_rate} bytes/s")]
    #[diagnostic(
        code(expr::data::download::too_slow),
        help("the mirror is too slow to finish in reasonable time; try another mirror (`EXPR_MNIST_MIRROR`, `EXPR_CIFAR10_MIRROR`), or on a slow link lower `EXPR_DOWNLOAD_MIN_RATE` (bytes/s, 0 for none)")
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
        help("try another mirror (`EXPR_MNIST_MIRROR`, `EXPR_CIFAR10_MIRROR`), or on a slow link raise `EXPR_DOWNLOAD_DEADLINE` (seconds)")
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

/// Why a CIFAR-10 batch file's length is wrong, naming the record it cuts (records count
/// from 0, as [`DataError::Cifar10Label`]'s).
fn cifar10_length(path: &std::path::Path, len: u64) -> String {
    use super::cifar10::{RECORDS_PER_BATCH, RECORD_BYTES};
    use crate::check::summary::group;
    let official = format!(
        "{} records of {} bytes ({})",
        group(RECORDS_PER_BATCH),
        group(RECORD_BYTES),
        group(RECORDS_PER_BATCH * RECORD_BYTES)
    );
    let name = path.display();
    let (len, record) = (len as usize, RECORD_BYTES);
    if len == 0 {
        format!("`{name}` is empty (0 bytes); a CIFAR-10 batch is {official}")
    } else if len > RECORDS_PER_BATCH * record {
        format!(
            "`{name}` is {} bytes, more than a CIFAR-10 batch: {official}",
            group(len)
        )
    } else {
        format!(
            "`{name}` is {} bytes, which cuts record {} (at byte {}) short: {} of its {} bytes; a CIFAR-10 batch is {official}",
            group(len),
            group(len / record),
            group(len / record * record),
            group(len % record),
            group(record),
        )
    }
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
