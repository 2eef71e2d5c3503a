//! Downloading one file into the cache so that only a verified file ever appears there:
//! MNIST's gzipped IDX files, CIFAR-10's archive.
//!
//! The body goes to a temporary file in the cache folder itself (a rename across file systems
//! would not be atomic), is hashed after decompression, synced, and only then renamed to its
//! final name. Any failure removes the temporary file, so an interrupted download never leaves
//! something that looks like a data set.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use flate2::read::MultiGzDecoder;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sha2::{Digest, Sha256};

use super::error::{DataError, DataResult, DownloadError};
use super::mnist::MnistFile;
use crate::run::interrupt;

mod limits;

pub use limits::DownloadLimits;
use limits::Pace;

/// No MNIST file is larger than 47 MB even uncompressed; a mirror sending more is broken.
const MAX_MNIST_DOWNLOAD: u64 = 128 << 20;

/// What the SHA-256 of a download is taken over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hashed {
    /// The content after gzip decompression (when it is gzip): mirrors wrap MNIST's files in
    /// different gzip headers, so only the content can be compared.
    Content,
    /// The bytes as sent: an archive whose published checksum is of the archive itself.
    Bytes,
}

/// One file to download and what it must hash to.
#[derive(Debug, Clone, Copy)]
pub struct Remote<'a> {
    /// The name the URL ends with, after the base URL (`cifar-10-binary.tar.gz`).
    pub url_name: &'a str,
    /// The name of the verified file in the cache (without `.gz` for [`Hashed::Content`],
    /// which adds it when the reply was gzip).
    pub name: &'a str,
    pub sha256: &'a str,
    pub hashed: Hashed,
    /// More bytes than this and the mirror is broken.
    pub max_bytes: u64,
    /// The variable naming other mirrors (`EXPR_MNIST_MIRROR`) and where the file goes under
    /// `EXPR_DATA` (`mnist/train-images-idx3-ubyte.gz`), for the help of a failed download.
    pub mirror_env: &'static str,
    pub in_data_dir: &'a str,
}

/// [`download`] of an MNIST file: `<base>/<file.name>.gz`, whose content (after gzip
/// decompression) must hash to `file.sha256`.
pub fn download_verified(
    base_urls: &[String],
    file: &MnistFile,
    cache_dir: &Path,
    limits: &DownloadLimits,
) -> DataResult<PathBuf> {
    let url_name = format!("{}.gz", file.name);
    let in_data_dir = format!("mnist/{url_name}");
    let remote = Remote {
        url_name: &url_name,
        name: &file.name,
        sha256: &file.sha256,
        hashed: Hashed::Content,
        max_bytes: MAX_MNIST_DOWNLOAD,
        mirror_env: super::mnist::MIRROR_ENV,
        in_data_dir: &in_data_dir,
    };
    download(base_urls, &remote, cache_dir, limits)
}

/// Fetches `<base>/<remote.url_name>` from each base URL in turn until one gives bytes that
/// hash as `remote` says, and returns the path it now has in `cache_dir`. An interrupt
/// (Ctrl-C, SIGTERM, SIGHUP) ends it within a tenth of a second, leaving no partial file.
pub fn download(
    base_urls: &[String],
    remote: &Remote,
    cache_dir: &Path,
    limits: &DownloadLimits,
) -> DataResult<PathBuf> {
    fs::create_dir_all(cache_dir).map_err(|source| DataError::Io {
        path: cache_dir.to_path_buf(),
        source,
    })?;
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(30).min(limits.deadline))
        // Not ureq's overall `timeout`: it would override the read timeout, the stall limit.
        // The deadline is kept by `transfer` and `Pace`.
        .timeout_read(limits.stall)
        .build();
    let mut attempts = Vec::new();
    for base in base_urls {
        let url = format!("{}/{}", base.trim_end_matches('/'), remote.url_name);
        match fetch(&agent, &url, remote, cache_dir, limits) {
            Ok(path) => return Ok(path),
            Err(Failed::Mirror(error)) => attempts.push(error),
            Err(Failed::Interrupted(signal)) => {
                return Err(DataError::Interrupted {
                    signal,
                    during: format!("downloading `{url}`"),
                })
            }
        }
    }
    Err(DataError::DownloadFailed {
        file: remote.url_name.to_string(),
        cache_dir: cache_dir.to_path_buf(),
        mirror_env: remote.mirror_env,
        in_data_dir: remote.in_data_dir.to_string(),
        attempts,
    })
}

/// Why a fetch ended without a file: this mirror failed, or the user asked to stop.
enum Failed {
    Mirror(DownloadError),
    Interrupted(&'static str),
}

impl From<DownloadError> for Failed {
    fn from(e: DownloadError) -> Self {
        Failed::Mirror(e)
    }
}

/// A temporary file (or folder) that is deleted unless it was renamed into place.
pub(super) struct Partial {
    pub path: PathBuf,
    pub kept: bool,
    pub folder: bool,
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.kept {
            // Nothing more can be done about a failed removal, and the name marks it as partial.
            let _ = if self.folder {
                fs::remove_dir_all(&self.path)
            } else {
                fs::remove_file(&self.path)
            };
        }
    }
}

fn fetch(
    agent: &ureq::Agent,
    url: &str,
    remote: &Remote,
    cache_dir: &Path,
    limits: &DownloadLimits,
) -> Result<PathBuf, Failed> {
    // The process id keeps two concurrent downloads of the same file apart. The file is
    // created (and owned) here, before the transfer starts, so that returning on an
    // interrupt removes it even while the transfer thread is still blocked in a read.
    let mut partial = Partial {
        path: cache_dir.join(format!(".{}.{}.part", remote.name, std::process::id())),
        kept: false,
        folder: false,
    };
    let io_err = |source| DownloadError::Io {
        url: url.to_string(),
        path: partial.path.clone(),
        source,
    };
    let out = File::create(&partial.path).map_err(io_err)?;
    let writer = out.try_clone().map_err(io_err)?;
    transfer(agent, url, remote, writer, limits)?;
    out.sync_all().map_err(io_err)?;
    drop(out);

    let (found, gzipped) = sha256_of(&partial.path, remote.hashed).map_err(|e| match e.kind() {
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => {
            DownloadError::BadGzip {
                url: url.to_string(),
                reason: e.to_string(),
            }
        }
        _ => io_err(e),
    })?;
    if !found.eq_ignore_ascii_case(remote.sha256) {
        return Err(DownloadError::Checksum {
            url: url.to_string(),
            expected: remote.sha256.to_string(),
            found,
        }
        .into());
    }
    // A mirror that applied Content-Encoding was decoded by ureq: keep the name true to the bytes.
    let name = match remote.hashed {
        Hashed::Content if gzipped => format!("{}.gz", remote.name),
        Hashed::Content => remote.name.to_string(),
        Hashed::Bytes => remote.url_name.to_string(),
    };
    let target = cache_dir.join(name);
    fs::rename(&partial.path, &target).map_err(io_err)?;
    partial.kept = true;
    // Persist the rename itself; not every platform can open a directory, so this is best effort.
    if let Ok(dir) = File::open(cache_dir) {
        let _ = dir.sync_all();
    }
    Ok(target)
}

/// The request and the body, on a thread of their own: a read may block until the stall
/// limit, and an interrupt must not wait that long. This thread polls the interrupt flags
/// every 100 ms; on an interrupt it returns at once and the transfer thread, abandoned,
/// stops after its current read (it polls the flags too).
fn transfer(
    agent: &ureq::Agent,
    url: &str,
    remote: &Remote,
    out: File,
    limits: &DownloadLimits,
) -> Result<u64, Failed> {
    let start = Instant::now();
    let received = Arc::new(AtomicU64::new(0));
    let (send, receive) = mpsc::channel();
    let (agent, url_owned, name, copied, limits_copy) = (
        agent.clone(),
        url.to_string(),
        (remote.name.to_string(), remote.max_bytes),
        Arc::clone(&received),
        *limits,
    );
    std::thread::Builder::new()
        .name("download".into())
        .spawn(move || {
            let result = request_and_copy(&agent, &url_owned, &name, &out, &limits_copy, &copied);
            let _ = send.send(result);
        })
        .map_err(|e| DownloadError::Transport {
            url: url.to_string(),
            reason: format!("cannot start the download thread: {e}"),
        })?;
    loop {
        if let Some(signal) = interrupt::requested() {
            return Err(Failed::Interrupted(signal));
        }
        // Also while the request or its headers are under way, where reads never end early.
        if start.elapsed() >= limits.deadline {
            return Err(DownloadError::Deadline {
                url: url.to_string(),
                received: received.load(Ordering::Relaxed),
                seconds: limits.deadline.as_secs(),
            }
            .into());
        }
        match receive.recv_timeout(Duration::from_millis(100)) {
            Ok(result) => return result,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(DownloadError::Transport {
                    url: url.to_string(),
                    reason: "the download thread ended without a result".into(),
                }
                .into())
            }
        }
    }
}

fn request_and_copy(
    agent: &ureq::Agent,
    url: &str,
    (name, max_bytes): &(String, u64),
    out: &File,
    limits: &DownloadLimits,
    progress: &AtomicU64,
) -> Result<u64, Failed> {
    let start = Instant::now();
    let response = agent.get(url).call().map_err(|error| match error {
        ureq::Error::Status(status, _) => DownloadError::HttpStatus {
            url: url.to_string(),
            status,
        },
        ureq::Error::Transport(_) if start.elapsed() >= limits.deadline => {
            DownloadError::Deadline {
                url: url.to_string(),
                received: 0,
                seconds: limits.deadline.as_secs(),
            }
        }
        ureq::Error::Transport(t) => DownloadError::Transport {
            url: url.to_string(),
            reason: t.to_string(),
        },
    })?;
    let expected_len = response
        .header("Content-Length")
        .and_then(|v| v.trim().parse::<u64>().ok());
    let bar = progress_bar(expected_len, name);
    let mut pace = Pace::new(limits, start);
    let received = copy_body(
        response.into_reader(),
        out,
        url,
        (&mut pace, progress),
        &bar,
        (expected_len, *max_bytes),
    )?;
    bar.finish_and_clear();
    if let Some(expected) = expected_len.filter(|&e| received < e) {
        return Err(DownloadError::Interrupted {
            url: url.to_string(),
            received,
            expected,
        }
        .into());
    }
    Ok(received)
}

/// Copies a response body to `out`, polling the interrupt flags and the limits per read.
fn copy_body(
    mut body: impl Read,
    out: &File,
    url: &str,
    (pace, progress): (&mut Pace, &AtomicU64),
    bar: &ProgressBar,
    (expected_len, max_bytes): (Option<u64>, u64),
) -> Result<u64, Failed> {
    let mut writer = BufWriter::new(out);
    let mut buf = vec![0u8; 64 * 1024];
    let mut received = 0u64;
    loop {
        if let Some(signal) = interrupt::requested() {
            return Err(Failed::Interrupted(signal));
        }
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                let expected = expected_len.unwrap_or(received);
                return Err(DownloadError::Interrupted {
                    url: url.to_string(),
                    received,
                    expected,
                }
                .into());
            }
            Err(e) => return Err(pace.read_failed(url, &e, received).into()),
        };
        received += n as u64;
        progress.store(received, Ordering::Relaxed);
        if received > max_bytes {
            return Err(DownloadError::TooLarge {
                url: url.to_string(),
                limit: max_bytes,
            }
            .into());
        }
        writer
            .write_all(&buf[..n])
            .map_err(|source| write_error(url, &source))?;
        bar.inc(n as u64);
        pace.after_read(url, n as u64, received)?;
    }
    writer.flush().map_err(|source| write_error(url, &source))?;
    Ok(received)
}

fn write_error(url: &str, source: &io::Error) -> DownloadError {
    DownloadError::Transport {
        url: url.to_string(),
        reason: format!("writing the download failed: {source}"),
    }
}

/// The hex SHA-256 of the file (of its content after gzip decompression, if it is gzip and
/// `hashed` says so), and whether it was gzip.
fn sha256_of(path: &Path, hashed: Hashed) -> io::Result<(String, bool)> {
    let mut reader = BufReader::new(File::open(path)?);
    let mut magic = [0u8; 2];
    let gzipped = reader.read_exact(&mut magic).is_ok() && magic == [0x1f, 0x8b];
    let mut reader = BufReader::new(File::open(path)?);
    let mut hasher = Sha256::new();
    if gzipped && hashed == Hashed::Content {
        io::copy(&mut MultiGzDecoder::new(&mut reader), &mut hasher)?;
    } else {
        io::copy(&mut reader, &mut hasher)?;
    }
    Ok((hex::encode(hasher.finalize()), gzipped))
}

fn progress_bar(len: Option<u64>, name: &str) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
    let template = "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}";
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(format!("downloading {name}"));
    bar
}
