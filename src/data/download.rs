//! Downloading one file into the cache so that only a verified file ever appears there.
//!
//! The body goes to a temporary file in the cache folder itself (a rename across file systems
//! would not be atomic), is hashed after decompression, synced, and only then renamed to its
//! final name. Any failure removes the temporary file, so an interrupted download never leaves
//! something that looks like a data set.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use flate2::read::MultiGzDecoder;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sha2::{Digest, Sha256};

use super::error::{DataError, DataResult, DownloadError};
use super::mnist::MnistFile;

/// No MNIST file is larger than 47 MB even uncompressed; a mirror sending more is broken.
const MAX_DOWNLOAD: u64 = 128 << 20;

/// Fetches `<base>/<file.name>.gz` from each base URL in turn until one gives content whose
/// SHA-256 matches, and returns the path it now has in `cache_dir`.
pub fn download_verified(
    base_urls: &[String],
    file: &MnistFile,
    cache_dir: &Path,
) -> DataResult<PathBuf> {
    fs::create_dir_all(cache_dir).map_err(|source| DataError::Io {
        path: cache_dir.to_path_buf(),
        source,
    })?;
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(30))
        .timeout_read(Duration::from_mins(1))
        .build();
    let mut attempts = Vec::new();
    for base in base_urls {
        let url = format!("{}/{}.gz", base.trim_end_matches('/'), file.name);
        match fetch(&agent, &url, file, cache_dir) {
            Ok(path) => return Ok(path),
            Err(error) => attempts.push(error),
        }
    }
    Err(DataError::DownloadFailed {
        file: file.name.clone(),
        cache_dir: cache_dir.to_path_buf(),
        attempts,
    })
}

/// A temporary file that is deleted unless it was renamed into place.
struct Partial {
    path: PathBuf,
    kept: bool,
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.kept {
            // Nothing more can be done about a failed removal, and the name marks it as partial.
            let _ = fs::remove_file(&self.path);
        }
    }
}

fn fetch(
    agent: &ureq::Agent,
    url: &str,
    file: &MnistFile,
    cache_dir: &Path,
) -> Result<PathBuf, DownloadError> {
    let response = agent.get(url).call().map_err(|error| match error {
        ureq::Error::Status(status, _) => DownloadError::HttpStatus {
            url: url.to_string(),
            status,
        },
        ureq::Error::Transport(t) => DownloadError::Transport {
            url: url.to_string(),
            reason: t.to_string(),
        },
    })?;
    let expected_len = response
        .header("Content-Length")
        .and_then(|v| v.trim().parse::<u64>().ok());

    // The process id keeps two concurrent downloads of the same file apart.
    let mut partial = Partial {
        path: cache_dir.join(format!(".{}.{}.part", file.name, std::process::id())),
        kept: false,
    };
    let io_err = |source| DownloadError::Io {
        url: url.to_string(),
        path: partial.path.clone(),
        source,
    };
    let out = File::create(&partial.path).map_err(io_err)?;
    let bar = progress_bar(expected_len, &file.name);
    let received = copy_body(response.into_reader(), &out, url, &bar, expected_len)?;
    bar.finish_and_clear();
    if let Some(expected) = expected_len.filter(|&e| received < e) {
        return Err(DownloadError::Interrupted {
            url: url.to_string(),
            received,
            expected,
        });
    }
    out.sync_all().map_err(io_err)?;
    drop(out);

    let (found, gzipped) = content_sha256(&partial.path).map_err(|e| match e.kind() {
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => {
            DownloadError::BadGzip {
                url: url.to_string(),
                reason: e.to_string(),
            }
        }
        _ => io_err(e),
    })?;
    if !found.eq_ignore_ascii_case(&file.sha256) {
        return Err(DownloadError::Checksum {
            url: url.to_string(),
            expected: file.sha256.clone(),
            found,
        });
    }
    // A mirror that applied Content-Encoding was decoded by ureq: keep the name true to the bytes.
    let name = if gzipped {
        format!("{}.gz", file.name)
    } else {
        file.name.clone()
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

fn copy_body(
    mut body: impl Read,
    out: &File,
    url: &str,
    bar: &ProgressBar,
    expected_len: Option<u64>,
) -> Result<u64, DownloadError> {
    let mut writer = BufWriter::new(out);
    let mut buf = vec![0u8; 64 * 1024];
    let mut received = 0u64;
    loop {
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
                });
            }
            Err(e) => {
                return Err(DownloadError::Transport {
                    url: url.to_string(),
                    reason: e.to_string(),
                })
            }
        };
        received += n as u64;
        if received > MAX_DOWNLOAD {
            return Err(DownloadError::TooLarge {
                url: url.to_string(),
                limit: MAX_DOWNLOAD,
            });
        }
        writer
            .write_all(&buf[..n])
            .map_err(|source| write_error(url, &source))?;
        bar.inc(n as u64);
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

/// The hex SHA-256 of the file's content after gzip decompression (if it is gzip), and whether
/// it was gzip.
fn content_sha256(path: &Path) -> io::Result<(String, bool)> {
    let mut reader = BufReader::new(File::open(path)?);
    let mut magic = [0u8; 2];
    let gzipped = reader.read_exact(&mut magic).is_ok() && magic == [0x1f, 0x8b];
    let mut reader = BufReader::new(File::open(path)?);
    let mut hasher = Sha256::new();
    if gzipped {
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
