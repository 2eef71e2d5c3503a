//! Where the built-in `mnist` data set comes from: `$EXPR_DATA`, the user cache, or a mirror.
//!
//! Files found on disk are only checked structurally when read (magic, dimensions, length),
//! which is cheap; the SHA-256 is checked once, when a file is downloaded, because the atomic
//! write into the cache means nothing unverified ever appears there.

use std::path::{Path, PathBuf};

use super::download::{download_verified, DownloadLimits};
use super::error::{DataError, DataResult};
use super::examples::{load_idx_pair, Examples};
use super::places::{data_dir_from_env, dataset_cache_dir, mirror_list_from_env};

/// Mirrors tried in order when the files are neither in `$EXPR_DATA` nor in the cache.
pub const DEFAULT_MIRRORS: [&str; 2] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
];

/// The four MNIST files and the SHA-256 of their decompressed content. Mirrors wrap them in
/// different gzip headers, so the compressed bytes cannot be compared.
pub const MNIST_CHECKSUMS: [(&str, &str); 4] = [
    (
        "train-images-idx3-ubyte",
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    (
        "train-labels-idx1-ubyte",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    (
        "t10k-images-idx3-ubyte",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    (
        "t10k-labels-idx1-ubyte",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
];

/// Overrides [`DEFAULT_MIRRORS`]: base URLs separated by commas or whitespace.
pub const MIRROR_ENV: &str = "EXPR_MNIST_MIRROR";

/// Which half of MNIST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Train,
    Test,
}

impl Split {
    /// The training split when `train`, else the test split.
    pub fn of(train: bool) -> Self {
        if train {
            Split::Train
        } else {
            Split::Test
        }
    }

    /// The standard file names (without `.gz`) of this split's images and labels.
    pub fn file_names(self) -> (&'static str, &'static str) {
        match self {
            Split::Train => ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
            Split::Test => ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
        }
    }
}

/// One downloadable file: its standard name (without `.gz`) and the SHA-256 of its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MnistFile {
    pub name: String,
    pub sha256: String,
}

/// Where to download from and what the files must hash to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    /// Tried in order; each is a folder URL, `<base>/<name>.gz` is fetched.
    pub base_urls: Vec<String>,
    pub files: Vec<MnistFile>,
    /// The deadline and minimum rate of each file's download.
    pub limits: DownloadLimits,
}

impl Mirror {
    /// The public mirrors and the published checksums.
    pub fn mnist_default() -> Self {
        Mirror {
            base_urls: DEFAULT_MIRRORS.iter().map(|u| (*u).to_string()).collect(),
            files: MNIST_CHECKSUMS
                .iter()
                .map(|(name, sha)| MnistFile {
                    name: (*name).to_string(),
                    sha256: (*sha).to_string(),
                })
                .collect(),
            limits: DownloadLimits::default(),
        }
    }

    /// [`Mirror::mnist_default`], with the URLs replaced by `$EXPR_MNIST_MIRROR` when it is set
    /// and the limits by `$EXPR_DOWNLOAD_DEADLINE`, `_STALL` and `_MIN_RATE`.
    pub fn from_env() -> DataResult<Self> {
        let mut mirror = Self::mnist_default();
        mirror.limits = DownloadLimits::from_env()?;
        if let Some(urls) = mirror_list_from_env(MIRROR_ENV)? {
            mirror.base_urls = urls;
        }
        Ok(mirror)
    }

    fn file(&self, name: &str) -> DataResult<&MnistFile> {
        self.files
            .iter()
            .find(|f| f.name == name)
            .ok_or_else(|| DataError::NoChecksum {
                file: name.to_string(),
            })
    }
}

/// `$XDG_CACHE_HOME/expr/datasets/mnist`, else `~/.cache/expr/datasets/mnist`.
pub fn default_cache_dir() -> DataResult<PathBuf> {
    dataset_cache_dir("mnist")
}

/// Paths of the images and labels of `split`: from `$EXPR_DATA` when set, else from
/// `cache_dir`, downloading what is missing there.
pub fn locate_mnist(
    split: Split,
    mirror: &Mirror,
    cache_dir: &Path,
) -> DataResult<(PathBuf, PathBuf)> {
    locate_mnist_in(split, data_dir_from_env().as_deref(), mirror, cache_dir)
}

/// [`locate_mnist`] with the `$EXPR_DATA` folder given explicitly, so that tests and callers
/// do not depend on the process environment.
pub fn locate_mnist_in(
    split: Split,
    data_dir: Option<&Path>,
    mirror: &Mirror,
    cache_dir: &Path,
) -> DataResult<(PathBuf, PathBuf)> {
    if let Some(dir) = data_dir {
        return find_in_data_dir(split, dir);
    }
    let (images, labels) = split.file_names();
    let fetch = |name: &str| match find_file(cache_dir, name) {
        Ok(path) => Ok(path),
        Err(_) => download_verified(
            &mirror.base_urls,
            mirror.file(name)?,
            cache_dir,
            &mirror.limits,
        ),
    };
    Ok((fetch(images)?, fetch(labels)?))
}

/// Loads a split of MNIST from wherever [`locate_mnist`] finds it.
pub fn load_mnist(split: Split) -> DataResult<Examples> {
    let (images, labels) = match data_dir_from_env() {
        // The cache and mirror settings only matter, and only have to be valid, without EXPR_DATA.
        Some(dir) => find_in_data_dir(split, &dir)?,
        None => locate_mnist_in(split, None, &Mirror::from_env()?, &default_cache_dir()?)?,
    };
    let mut examples = load_idx_pair(&images, &labels)?;
    examples.source = format!("mnist {} (`{}`)", split.label(), images.display());
    Ok(examples)
}

fn find_in_data_dir(split: Split, dir: &Path) -> DataResult<(PathBuf, PathBuf)> {
    let folder = dir.join("mnist");
    let (images, labels) = split.file_names();
    match (find_file(&folder, images), find_file(&folder, labels)) {
        (Ok(images), Ok(labels)) => Ok((images, labels)),
        (images, labels) => {
            let tried = [images, labels]
                .into_iter()
                .filter_map(Result::err)
                .flatten()
                .collect();
            Err(DataError::ExprDataIncomplete {
                dir: dir.to_path_buf(),
                tried,
            })
        }
    }
}

/// `<folder>/<name>.gz`, else `<folder>/<name>`; on failure, the paths that were tried.
fn find_file(folder: &Path, name: &str) -> Result<PathBuf, Vec<PathBuf>> {
    let candidates = [folder.join(format!("{name}.gz")), folder.join(name)];
    match candidates.iter().find(|p| p.is_file()) {
        Some(found) => Ok(found.clone()),
        None => Err(candidates.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_mirror_has_a_checksum_for_every_file_of_both_splits() {
        let mirror = Mirror::mnist_default();
        for split in [Split::Train, Split::Test] {
            let (images, labels) = split.file_names();
            assert!(mirror.file(images).is_ok() && mirror.file(labels).is_ok());
        }
        assert!(matches!(
            mirror.file("nope"),
            Err(DataError::NoChecksum { .. })
        ));
    }
}
