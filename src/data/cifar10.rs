//! The built-in `cifar10` data set, in the binary version of the official archive
//! (`cifar-10-binary.tar.gz`): from `$EXPR_DATA/cifar10/`, else the user cache, else
//! downloaded, checked against the archive's published SHA-256 and unpacked into the cache.
//!
//! A batch file is a run of 3,073-byte records: one label byte (0 to 9), then the 32x32
//! image as 1,024 red, 1,024 green and 1,024 blue bytes, each plane row by row. That is
//! already the (channels, rows, cols) layout image layers read, so a record's pixels are
//! copied as they are. The official files hold 10,000 records each; a file of fewer whole
//! records is read as it is (a cut-down copy for a quick try, or a test's), which the run
//! record keeps apart from the real thing by each file's SHA-256.

use std::io::Read;
use std::path::{Path, PathBuf};

use ndarray::Array2;

use super::download::{download, DownloadLimits, Hashed, Remote};
use super::error::{DataError, DataResult};
use super::examples::{Encoding, Examples, Inputs, Targets};
use super::mnist::Split;
use super::places::{data_dir_from_env, dataset_cache_dir, mirror_list_from_env};
use crate::files::ReadRefused;

mod archive;

/// One record: a label byte and 3 x 32 x 32 pixel bytes.
pub const RECORD_BYTES: usize = 1 + 3 * 32 * 32;
/// Records in each official batch file.
pub const RECORDS_PER_BATCH: usize = 10_000;
/// The shape of one image, channels first.
pub const IMAGE_SHAPE: [usize; 3] = [3, 32, 32];
/// Labels are 0 to 9: airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck.
pub const CLASSES: usize = 10;

/// The training batches, read in this order, and the test batch.
pub const TRAIN_BATCHES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
pub const TEST_BATCH: &str = "test_batch.bin";

/// The official archive, the folder it unpacks to, and its SHA-256 (the published MD5 is
/// c32a1d4ab5d03f1284b67883e8d87530; 170,052,171 bytes).
pub const ARCHIVE: &str = "cifar-10-binary.tar.gz";
pub const ARCHIVE_FOLDER: &str = "cifar-10-batches-bin";
pub const ARCHIVE_SHA256: &str = "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd";
/// A mirror sending more than this is broken.
const ARCHIVE_MAX_BYTES: u64 = 256 << 20;

/// Where the archive is downloaded from, in order.
pub const DEFAULT_MIRRORS: [&str; 1] = ["https://www.cs.toronto.edu/~kriz/"];
/// Overrides [`DEFAULT_MIRRORS`]: base URLs separated by commas or whitespace.
pub const MIRROR_ENV: &str = "EXPR_CIFAR10_MIRROR";

/// The batch files of `split`, in the order their examples are read.
pub fn batch_names(split: Split) -> &'static [&'static str] {
    match split {
        Split::Train => &TRAIN_BATCHES,
        Split::Test => std::slice::from_ref(&TEST_BATCH),
    }
}

/// Where to download the archive from and what it must hash to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cifar10Mirror {
    /// Tried in order; `<base>/cifar-10-binary.tar.gz` is fetched.
    pub base_urls: Vec<String>,
    /// The SHA-256 of the archive's bytes.
    pub sha256: String,
    pub limits: DownloadLimits,
}

impl Cifar10Mirror {
    /// The official site and the archive's checksum.
    pub fn official() -> Self {
        Cifar10Mirror {
            base_urls: DEFAULT_MIRRORS.iter().map(|u| (*u).to_string()).collect(),
            sha256: ARCHIVE_SHA256.to_string(),
            limits: DownloadLimits::default(),
        }
    }

    /// [`Cifar10Mirror::official`], with the URLs replaced by `$EXPR_CIFAR10_MIRROR` when it
    /// is set and the limits by `$EXPR_DOWNLOAD_DEADLINE`, `_STALL` and `_MIN_RATE`.
    pub fn from_env() -> DataResult<Self> {
        let mut mirror = Self::official();
        mirror.limits = DownloadLimits::from_env()?;
        if let Some(urls) = mirror_list_from_env(MIRROR_ENV)? {
            mirror.base_urls = urls;
        }
        Ok(mirror)
    }
}

/// `$XDG_CACHE_HOME/expr/datasets/cifar10`, else `~/.cache/expr/datasets/cifar10`.
pub fn cifar10_cache_dir() -> DataResult<PathBuf> {
    dataset_cache_dir("cifar10")
}

/// The batch files of `split`: from `data_dir/cifar10/` when `data_dir` (`$EXPR_DATA`) is
/// given, else from `cache_dir`, where the archive is downloaded and unpacked first if the
/// files are not there yet.
pub fn locate_cifar10_in(
    split: Split,
    data_dir: Option<&Path>,
    mirror: &Cifar10Mirror,
    cache_dir: &Path,
) -> DataResult<Vec<PathBuf>> {
    if let Some(found) = find_cifar10_in(split, data_dir, cache_dir)? {
        return Ok(found);
    }
    let archive = cache_dir.join(ARCHIVE);
    // An archive already in the cache was put there by hand (a download is unpacked and
    // deleted at once): it is checked as a download would be.
    let verified = !archive.is_file();
    if verified {
        let remote = Remote {
            url_name: ARCHIVE,
            name: ARCHIVE,
            sha256: &mirror.sha256,
            hashed: Hashed::Bytes,
            max_bytes: ARCHIVE_MAX_BYTES,
            mirror_env: MIRROR_ENV,
            in_data_dir: "cifar10/data_batch_1.bin, ...",
        };
        download(&mirror.base_urls, &remote, cache_dir, &mirror.limits)?;
    }
    let expected = (!verified).then_some(mirror.sha256.as_str());
    let folder = archive::unpack(&archive, expected, cache_dir, ARCHIVE_MAX_BYTES)?;
    // The batches are what is read from now on; the archive would only take 170 MB.
    let _ = std::fs::remove_file(&archive);
    files_in(split, &folder, None, &cache_place(cache_dir))
}

/// The batch files of `split` where they already are, without downloading: `None` when
/// `$EXPR_DATA` is unset and the cache does not hold them yet. A folder that holds some of
/// them but not all is an error naming the missing one.
pub fn find_cifar10_in(
    split: Split,
    data_dir: Option<&Path>,
    cache_dir: &Path,
) -> DataResult<Option<Vec<PathBuf>>> {
    if let Some(dir) = data_dir {
        let root = dir.join("cifar10");
        let place = Place {
            what: format!("`EXPR_DATA` (`{}`)", dir.display()),
            fix: format!(
                "put the files of `{ARCHIVE}` (`data_batch_1.bin` to `data_batch_5.bin`, `{TEST_BATCH}`) into `{}`, or unset `EXPR_DATA` to use the cache and download",
                root.display()
            ),
        };
        // The archive unpacked in place, else the files copied into `cifar10/` itself.
        let unpacked = root.join(ARCHIVE_FOLDER);
        return if unpacked.is_dir() {
            files_in(split, &unpacked, None, &place).map(Some)
        } else {
            files_in(split, &root, Some(&unpacked), &place).map(Some)
        };
    }
    let folder = cache_dir.join(ARCHIVE_FOLDER);
    if !folder.is_dir() {
        return Ok(None);
    }
    files_in(split, &folder, None, &cache_place(cache_dir)).map(Some)
}

/// [`find_cifar10_in`] with `$EXPR_DATA` and the user cache.
pub fn find_cifar10(split: Split) -> DataResult<Option<Vec<PathBuf>>> {
    match data_dir_from_env() {
        Some(dir) => find_cifar10_in(split, Some(&dir), Path::new("")),
        None => find_cifar10_in(split, None, &cifar10_cache_dir()?),
    }
}

/// Loads a split of CIFAR-10 from wherever [`locate_cifar10_in`] finds it, with `$EXPR_DATA`,
/// the user cache and `$EXPR_CIFAR10_MIRROR`.
pub fn load_cifar10(split: Split) -> DataResult<Examples> {
    let files = match find_cifar10(split)? {
        Some(files) => files,
        // The mirror settings only matter, and only have to be valid, for a download.
        None => locate_cifar10_in(
            split,
            None,
            &Cifar10Mirror::from_env()?,
            &cifar10_cache_dir()?,
        )?,
    };
    let mut examples = read_cifar10_batches(&files)?;
    let folder = files[0].parent().unwrap_or(Path::new(""));
    let name = match split {
        Split::Train => "train",
        Split::Test => "test",
    };
    examples.source = format!("cifar10 {name} (`{}`)", folder.display());
    Ok(examples)
}

/// Reads CIFAR-10 batch files, in order, into one data set of (3, 32, 32) images.
pub fn read_cifar10_batches(paths: &[PathBuf]) -> DataResult<Examples> {
    // Sized from the files' lengths before reading, so that the pixels are never moved to a
    // larger buffer: growing by doubling, the training set's 154 MB reached a 246 MB buffer
    // while its 123 MB predecessor was still held, which made loading CIFAR-10 the peak of a
    // ResNet-20 run's memory (416 MB).
    let records = paths
        .iter()
        .map(|path| cifar10_batch_records(path))
        .sum::<DataResult<usize>>()?;
    let mut pixels = Vec::with_capacity(records * (RECORD_BYTES - 1));
    let mut labels = Vec::with_capacity(records);
    for path in paths {
        read_batch(path, &mut pixels, &mut labels)?;
    }
    let features = RECORD_BYTES - 1;
    let images = Array2::from_shape_vec((labels.len(), features), pixels)
        .unwrap_or_else(|_| unreachable!("each record adds one label and {features} pixels"));
    Ok(Examples {
        inputs: Inputs::U8(images),
        element_shape: IMAGE_SHAPE.to_vec(),
        targets: Targets::Classes(labels.into_iter().map(u32::from).collect()),
        encoding: Encoding::default(),
        source: paths
            .first()
            .map_or_else(String::new, |p| p.display().to_string()),
    })
}

/// The number of records in a batch file, from its length, which must be a whole number of
/// records, 1 to 10,000 of them; nothing else is read. What `expr check` verifies.
pub fn cifar10_batch_records(path: &Path) -> DataResult<usize> {
    open_batch(path).map(|(_, len)| len / RECORD_BYTES)
}

/// Opens a batch file, refusing anything but a regular file of a whole number of records
/// (at most [`RECORDS_PER_BATCH`], which also bounds what is read into memory).
fn open_batch(path: &Path) -> DataResult<(std::fs::File, usize)> {
    let most = (RECORDS_PER_BATCH * RECORD_BYTES) as u64;
    let (file, len) = crate::files::open_regular(path, most).map_err(|refused| match refused {
        ReadRefused::TooLarge { size, .. } => DataError::Cifar10Length {
            path: path.to_path_buf(),
            len: size,
        },
        ReadRefused::Io(source) if source.kind() == std::io::ErrorKind::NotFound => {
            DataError::MissingFile {
                path: path.to_path_buf(),
                what: "a CIFAR-10 batch file".into(),
            }
        }
        ReadRefused::Io(source) => DataError::Io {
            path: path.to_path_buf(),
            source,
        },
        refused @ ReadRefused::NotRegular { .. } => DataError::NotAFile {
            path: path.to_path_buf(),
            what: "a CIFAR-10 batch file".into(),
            reason: refused.to_string(),
        },
    })?;
    check_length(path, len)?;
    Ok((file, len as usize))
}

fn check_length(path: &Path, len: u64) -> DataResult<()> {
    if len == 0 || !len.is_multiple_of(RECORD_BYTES as u64) {
        return Err(DataError::Cifar10Length {
            path: path.to_path_buf(),
            len,
        });
    }
    Ok(())
}

/// Appends the records of one batch file: labels to `labels`, pixels to `pixels`.
fn read_batch(path: &Path, pixels: &mut Vec<u8>, labels: &mut Vec<u8>) -> DataResult<()> {
    let (file, len) = open_batch(path)?;
    let mut bytes = Vec::with_capacity(len);
    // `take`: a file that grows while it is read still stops at the length checked.
    file.take(len as u64)
        .read_to_end(&mut bytes)
        .map_err(|source| DataError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    // A file cut while it was read.
    check_length(path, bytes.len() as u64)?;
    pixels.reserve(bytes.len() / RECORD_BYTES * (RECORD_BYTES - 1));
    labels.reserve(bytes.len() / RECORD_BYTES);
    for (record, chunk) in bytes.chunks_exact(RECORD_BYTES).enumerate() {
        let label = chunk[0];
        if usize::from(label) >= CLASSES {
            return Err(DataError::Cifar10Label {
                path: path.to_path_buf(),
                record,
                offset: (record * RECORD_BYTES) as u64,
                label,
            });
        }
        labels.push(label);
        pixels.extend_from_slice(&chunk[1..]);
    }
    Ok(())
}

/// Where a folder's files were looked for, and what to do when one is missing.
struct Place {
    what: String,
    fix: String,
}

fn cache_place(cache_dir: &Path) -> Place {
    let folder = cache_dir.join(ARCHIVE_FOLDER);
    Place {
        what: format!("the cache (`{}`)", cache_dir.display()),
        fix: format!(
            "delete `{}`: the next run downloads and unpacks the archive again",
            folder.display()
        ),
    }
}

/// The files of `split` in `folder`, each of which must exist; `also` is the other folder
/// that was looked at, named when one is missing.
fn files_in(
    split: Split,
    folder: &Path,
    also: Option<&Path>,
    place: &Place,
) -> DataResult<Vec<PathBuf>> {
    batch_names(split)
        .iter()
        .map(|name| {
            let path = folder.join(name);
            if path.exists() {
                return Ok(path);
            }
            let mut tried = vec![path];
            tried.extend(also.map(|other| other.join(name)));
            Err(DataError::Cifar10Missing {
                place: place.what.clone(),
                file: name,
                tried,
                fix: place.fix.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
