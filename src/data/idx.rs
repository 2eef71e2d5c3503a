//! Readers for the IDX format of MNIST, gzipped or raw.
//!
//! IDX is a big-endian header (`00 00 type ndim`, then one u32 per dimension) followed by the
//! elements. Compression is recognised by the gzip magic bytes, never by the file name, so a
//! `.gz` that was unpacked in place (or a raw file named `.gz`) still reads. Every length the
//! header claims is checked against what the file can hold before anything is allocated for it.

use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;
use ndarray::{Array1, Array2};

use super::error::{DataError, DataResult};

/// Magic number of an IDX file of unsigned bytes with 3 dimensions (count, rows, cols).
pub const IMAGES_MAGIC: u32 = 0x0803;
/// Magic number of an IDX file of unsigned bytes with 1 dimension (count).
pub const LABELS_MAGIC: u32 = 0x0801;

/// Deflate cannot expand its input by more than about 1032:1, so a gzip file of `n` bytes never
/// decompresses to more than this many times `n`; a header claiming more is corrupt.
const MAX_GZIP_RATIO: u64 = 1032;

/// Initial capacity cap for the body: a lying header can only make the vector grow as real data
/// arrives, never reserve memory up front.
const MAX_RESERVE: u64 = 256 << 20;

/// The largest IDX file opened, 16 GiB: MNIST's largest is 47 MB, and the whole data
/// set is held in memory.
const MAX_IDX_BYTES: u64 = 16 << 30;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Which of a data set's two IDX files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdxKind {
    Images,
    Labels,
}

impl IdxKind {
    fn magic(self) -> u32 {
        match self {
            IdxKind::Images => IMAGES_MAGIC,
            IdxKind::Labels => LABELS_MAGIC,
        }
    }

    pub fn what(self) -> &'static str {
        match self {
            IdxKind::Images => "an IDX image file",
            IdxKind::Labels => "an IDX label file",
        }
    }
}

/// A decoded IDX file: its dimensions and its elements in row-major order.
struct Idx {
    dims: Vec<usize>,
    body: Vec<u8>,
}

/// Reads an IDX image file: an `(n, features)` array and the shape of one element (`[28, 28]`).
pub fn read_idx_images(path: &Path) -> DataResult<(Array2<u8>, Vec<usize>)> {
    let Idx { dims, body } = read_idx(path, IdxKind::Images, Extent::Everything)?;
    let element_shape = dims[1..].to_vec();
    let features = element_shape.iter().product();
    match Array2::from_shape_vec((dims[0], features), body) {
        Ok(images) => Ok((images, element_shape)),
        Err(_) => unreachable!("read_idx returns exactly the elements its header counts"),
    }
}

/// Reads an IDX label file: one byte per example.
pub fn read_idx_labels(path: &Path) -> DataResult<Array1<u8>> {
    let Idx { body, .. } = read_idx(path, IdxKind::Labels, Extent::Everything)?;
    Ok(Array1::from_vec(body))
}

/// The dimensions an IDX file's header declares (`[60000, 28, 28]`), checked as far as
/// the header allows without reading the elements: the file is a regular file, its magic
/// number is `kind`'s, no dimension is 0, and the elements fit in the file (exactly, for
/// a raw file). What `expr check` verifies before anything trains.
pub fn read_idx_dims(path: &Path, kind: IdxKind) -> DataResult<Vec<usize>> {
    read_idx(path, kind, Extent::Header).map(|idx| idx.dims)
}

/// How much of an IDX file to read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Extent {
    Header,
    Everything,
}

fn read_idx(path: &Path, kind: IdxKind, read: Extent) -> DataResult<Idx> {
    let io_err = |source: io::Error| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    // Regular files only, opened without blocking (a FIFO would wait for a writer for
    // ever) and sized before reading; the header checks below bound what is read.
    let (file, file_len) = crate::files::open_regular(path, MAX_IDX_BYTES)
        .map_err(|refused| DataError::opening(path, kind.what(), refused))?;
    if file_len == 0 {
        return Err(DataError::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    let mut reader = BufReader::new(file);
    let is_gzip = reader.fill_buf().map_err(io_err)?.starts_with(&GZIP_MAGIC);
    if is_gzip {
        let limit = file_len.saturating_mul(MAX_GZIP_RATIO);
        decode(
            MultiGzDecoder::new(reader),
            path,
            kind,
            Container::Gzip { limit },
            read,
        )
    } else {
        decode(reader, path, kind, Container::Raw { file_len }, read)
    }
}

#[derive(Clone, Copy)]
enum Container {
    /// The body must fill the rest of the file exactly.
    Raw { file_len: u64 },
    /// The body can be at most `limit` bytes once decompressed.
    Gzip { limit: u64 },
}

fn decode(
    mut reader: impl Read,
    path: &Path,
    kind: IdxKind,
    container: Container,
    read: Extent,
) -> DataResult<Idx> {
    let read_err = |source: io::Error| match container {
        Container::Raw { .. } => DataError::Io {
            path: path.to_path_buf(),
            source,
        },
        Container::Gzip { .. } => gzip_error(path, source),
    };
    let mut magic = [0u8; 4];
    let got = read_up_to(&mut reader, &mut magic).map_err(read_err)?;
    if magic[..2] != [0, 0] || got < 2 {
        // A prefix that could still be `00 00` is a cut-off header, anything else is foreign.
        if got < 2 && magic[..got].iter().all(|&b| b == 0) {
            return Err(truncated(path, 4, got));
        }
        return Err(DataError::NotIdx {
            path: path.to_path_buf(),
            found: hex_bytes(&magic[..got]),
        });
    }
    if got < 4 {
        return Err(truncated(path, 4, got));
    }
    let found = u32::from_be_bytes(magic);
    if found != kind.magic() {
        return Err(DataError::WrongMagic {
            path: path.to_path_buf(),
            what: kind.what(),
            expected: kind.magic(),
            found,
        });
    }

    let ndim = usize::from(magic[3]);
    let header_len = 4 + 4 * ndim;
    let mut raw_dims = vec![0u8; 4 * ndim];
    let got = read_up_to(&mut reader, &mut raw_dims).map_err(read_err)?;
    if got < raw_dims.len() {
        return Err(truncated(path, header_len as u64, 4 + got));
    }
    let dims: Vec<u32> = raw_dims
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    if dims.contains(&0) {
        return Err(DataError::NoExamples {
            path: path.to_path_buf(),
            dims,
        });
    }
    let claimed: u128 = dims.iter().map(|&d| u128::from(d)).product();

    let body_len = match container {
        Container::Raw { file_len } => {
            let present = file_len.saturating_sub(header_len as u64);
            if claimed > u128::from(present) {
                return Err(truncated_body(path, header_len, claimed, present));
            }
            if claimed < u128::from(present) {
                return Err(trailing(path, header_len, claimed));
            }
            present
        }
        Container::Gzip { limit } => match u64::try_from(claimed) {
            Ok(len) if len <= limit => len,
            _ => {
                return Err(DataError::AbsurdHeader {
                    path: path.to_path_buf(),
                    claimed,
                    limit,
                })
            }
        },
    };
    if usize::try_from(body_len).is_err() {
        return Err(DataError::AbsurdHeader {
            path: path.to_path_buf(),
            claimed,
            limit: usize::MAX as u64,
        });
    }
    if read == Extent::Header {
        return Ok(Idx {
            dims: dims.into_iter().map(|d| d as usize).collect(),
            body: Vec::new(),
        });
    }

    // Reading one byte past the claimed length tells a longer file from an exact one, and for
    // gzip drives the decoder to the end of the stream, where it checks the CRC.
    let mut body = Vec::with_capacity(body_len.min(MAX_RESERVE) as usize);
    Interruptible(reader)
        .take(body_len + 1)
        .read_to_end(&mut body)
        .map_err(|e| match Stopped::signal(&e) {
            Some(signal) => DataError::Interrupted {
                signal,
                during: format!("reading `{}`", path.display()),
            },
            None => read_err(e),
        })?;
    let present = body.len() as u64;
    if present < body_len {
        return Err(truncated_body(path, header_len, claimed, present));
    }
    if present > body_len {
        return Err(trailing(path, header_len, claimed));
    }
    let dims = dims.into_iter().map(|d| d as usize).collect();
    Ok(Idx { dims, body })
}

/// A reader that stops when the user interrupts (Ctrl-C, SIGTERM, SIGHUP): a large file
/// decodes for seconds, and the interrupt must be honoured within a fraction of one. Each
/// read is capped at [`INTERRUPT_CHUNK`] so that the flags are polled often enough.
struct Interruptible<R>(R);

/// At most this much is read between two polls: a few milliseconds of gzip decoding.
const INTERRUPT_CHUNK: usize = 1 << 20;

/// The error an interrupted read ends with; `read_to_end` retries `ErrorKind::Interrupted`
/// (that is EINTR), so it is an `Other` error carrying the signal.
#[derive(Debug)]
struct Stopped(&'static str);

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted by {}", self.0)
    }
}

impl std::error::Error for Stopped {}

impl Stopped {
    fn signal(e: &io::Error) -> Option<&'static str> {
        e.get_ref()?.downcast_ref::<Stopped>().map(|s| s.0)
    }
}

impl<R: Read> Read for Interruptible<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(signal) = crate::run::interrupt::requested() {
            return Err(io::Error::other(Stopped(signal)));
        }
        let n = buf.len().min(INTERRUPT_CHUNK);
        self.0.read(&mut buf[..n])
    }
}

/// Fills as much of `buf` as the stream has; fewer bytes than asked means end of stream.
pub(super) fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn gzip_error(path: &Path, source: io::Error) -> DataError {
    match source.kind() {
        io::ErrorKind::UnexpectedEof => DataError::TruncatedGzip {
            path: path.to_path_buf(),
        },
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => DataError::CorruptGzip {
            path: path.to_path_buf(),
            reason: source.to_string(),
        },
        _ => DataError::Io {
            path: path.to_path_buf(),
            source,
        },
    }
}

fn truncated(path: &Path, expected: u64, found: usize) -> DataError {
    DataError::TruncatedIdx {
        path: path.to_path_buf(),
        expected,
        found: found as u64,
    }
}

fn truncated_body(path: &Path, header_len: usize, claimed: u128, present: u64) -> DataError {
    let header = header_len as u64;
    DataError::TruncatedIdx {
        path: path.to_path_buf(),
        expected: u64::try_from(claimed)
            .unwrap_or(u64::MAX)
            .saturating_add(header),
        found: present + header,
    }
}

fn trailing(path: &Path, header_len: usize, claimed: u128) -> DataError {
    // `claimed` is below a length that fits in u64 here, so the conversion cannot saturate.
    let body = u64::try_from(claimed).unwrap_or(u64::MAX);
    DataError::TrailingBytes {
        path: path.to_path_buf(),
        expected: body.saturating_add(header_len as u64),
    }
}

fn hex_bytes(bytes: &[u8]) -> String {
    let shown: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    shown.join(" ")
}
