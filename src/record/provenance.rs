//! Where a run came from: the git commit, the data files' hashes, versions, the machine.
//!
//! Every probe here is best effort: no git, an unreadable hostname or a data file that moved
//! leaves a field empty rather than stopping a training run.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

use super::schema::{DataFile, GitInfo, Machine, Versions};
use crate::check::plan::{DataSource, Experiment};
use crate::data::{self, Split};

/// The dfdx release the engine is built on. `Cargo.toml` pins it; a test checks `Cargo.lock`.
pub const DFDX_VERSION: &str = "0.13.0";

pub fn versions() -> Versions {
    Versions {
        expr: env!("CARGO_PKG_VERSION").to_string(),
        dfdx: DFDX_VERSION.to_string(),
    }
}

pub fn machine() -> Machine {
    Machine {
        hostname: hostname(),
        os: std::env::consts::OS.to_string(),
        arch: std::env::consts::ARCH.to_string(),
        cpus: std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
        pid: std::process::id(),
    }
}

fn hostname() -> String {
    // /etc/hostname is absent in some containers; the kernel always knows.
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".to_string())
}

/// The commit checked out where `dir` lives, and whether the work tree has changes.
/// `None` outside a repository or without git.
pub fn git_info(dir: &Path) -> Option<GitInfo> {
    let commit = git(dir, &["rev-parse", "HEAD"])?;
    let status = git(dir, &["status", "--porcelain", "--untracked-files=no"])?;
    Some(GitInfo {
        commit: commit.trim().to_string(),
        dirty: !status.trim().is_empty(),
    })
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    String::from_utf8(output.stdout).ok()
}

/// SHA-256 of a file's bytes, streamed. The file is a data file the experiment names, so
/// it is opened as every such read is (`files::open_regular`): a FIFO or a device is
/// refused, not read for ever, and a file that grows while it is read is hashed up to the
/// size it had when opened.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let (file, size) = crate::files::open_regular(path, u64::MAX).map_err(|e| match e {
        crate::files::ReadRefused::Io(e) => e,
        refused => std::io::Error::new(std::io::ErrorKind::InvalidInput, refused.to_string()),
    })?;
    let mut file = file.take(size);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// SHA-256 of an image folder: of each image file the scan finds (every class, in the
/// scan's order), its path below the folder and its bytes' SHA-256. An image edited, added,
/// removed or moved to another class changes it; other files, which are never read, do not.
/// `None` when the folder cannot be listed or an image read (loading it says why).
pub fn folder_sha256(dir: &Path) -> Option<String> {
    let scan = data::scan_image_folder(dir).ok()?;
    let mut hasher = Sha256::new();
    for (path, _) in &scan.files {
        let below = path.strip_prefix(dir).unwrap_or(path);
        hasher.update(below.to_string_lossy().as_bytes());
        hasher.update([0]);
        hasher.update(sha256_file(path).ok()?.as_bytes());
        hasher.update([b'\n']);
    }
    Some(hex::encode(hasher.finalize()))
}

pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// SHA-256 over the bits of every parameter, so two runs can be compared bit for bit.
pub fn parameters_sha256(models: &[Vec<Vec<f32>>]) -> String {
    let mut hasher = Sha256::new();
    for tensor in models.iter().flatten() {
        hasher.update((tensor.len() as u64).to_le_bytes());
        for v in tensor {
            hasher.update(v.to_bits().to_le_bytes());
        }
    }
    hex::encode(hasher.finalize())
}

/// The files each data set read, hashed once each. Called after the data loaded, so the
/// MNIST and CIFAR-10 files are where `data` found them and nothing is downloaded here.
pub fn data_files(exp: &Experiment) -> Vec<DataFile> {
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut out = Vec::new();
    for d in &exp.datasets {
        if let DataSource::Images(spec) = &d.source {
            if !seen.contains(&spec.dir) {
                if let Some(sha256) = folder_sha256(&spec.dir) {
                    out.push(DataFile {
                        data: d.name.clone(),
                        path: spec.dir.display().to_string(),
                        sha256,
                    });
                }
                seen.push(spec.dir.clone());
            }
            continue;
        }
        for path in source_paths(&d.source) {
            if seen.contains(&path) {
                continue;
            }
            if let Ok(sha256) = sha256_file(&path) {
                out.push(DataFile {
                    data: d.name.clone(),
                    path: path.display().to_string(),
                    sha256,
                });
            }
            seen.push(path);
        }
    }
    out
}

fn source_paths(source: &DataSource) -> Vec<PathBuf> {
    match source {
        DataSource::Idx { images, labels } => vec![images.clone(), labels.clone()],
        DataSource::Csv(table) => vec![table.path.clone()],
        DataSource::Arrays(a) => vec![a.x.clone(), a.y.clone()],
        DataSource::Text(t) => vec![t.path.clone()],
        DataSource::TextClasses(t) => vec![t.path.clone()],
        // A folder is hashed as a whole (`folder_sha256`). A concatenation's parts are
        // data sets of their own: their files are listed under their names.
        DataSource::Images(_) | DataSource::Concat(_) | DataSource::AddingProblem { .. } => {
            Vec::new()
        }
        DataSource::Mnist { train } => {
            let located = data::Mirror::from_env().and_then(|mirror| {
                data::locate_mnist(Split::of(*train), &mirror, &data::default_cache_dir()?)
            });
            located.map_or_else(|_| Vec::new(), |(i, l)| vec![i, l])
        }
        DataSource::Cifar10 { train } => data::cifar10::find_cifar10(Split::of(*train))
            .ok()
            .flatten()
            .unwrap_or_default(),
    }
}

/// Now, RFC 3339 in UTC with milliseconds.
pub fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dfdx_version_matches_the_lock_file() {
        let lock = include_str!("../../Cargo.lock");
        let pinned = format!("name = \"dfdx\"\nversion = \"{DFDX_VERSION}\"");
        assert!(lock.contains(&pinned), "Cargo.lock has another dfdx");
    }

    #[test]
    fn parameter_hash_sees_every_bit_and_the_tensor_boundaries() {
        let a = parameters_sha256(&[vec![vec![1.0, 2.0], vec![3.0]]]);
        assert_eq!(a, parameters_sha256(&[vec![vec![1.0, 2.0], vec![3.0]]]));
        assert_ne!(a, parameters_sha256(&[vec![vec![1.0], vec![2.0, 3.0]]]));
        assert_ne!(
            a,
            parameters_sha256(&[vec![
                vec![1.0, f32::from_bits(2.0f32.to_bits() + 1)],
                vec![3.0]
            ]])
        );
    }

    #[test]
    fn file_hash_is_the_sha256_of_its_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"abc").unwrap();
        assert_eq!(
            sha256_file(&path).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
