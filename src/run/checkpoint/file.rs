//! The checkpoint file itself: a safetensors file whose metadata carries the SHA-256 of
//! the whole file (the digest's own 64 characters read as zeros).
//!
//! Writing hashes each block of bytes as it goes to the file, then puts the digest in the
//! place its zeros held: one pass over the data, not a second one on the training path.
//! Reading refuses from the header alone (its 8-byte length, then the JSON) anything the
//! caller does not expect, before the tensor data is read or any room made for it; then it
//! reads the file's real bytes, which must be exactly what the header declares, and checks
//! the digest.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use ::safetensors::tensor::{Metadata, SafeTensors};
use sha2::{Digest, Sha256};

use crate::output::model_file::{f32_tensors, F32View, NamedTensor};
use crate::output::{write_atomic, OutputError};

/// The metadata key of the file's digest.
pub const DIGEST_KEY: &str = "expr.checkpoint_sha256";
/// What the digest is computed over in its own place.
const ZEROS: [u8; 64] = [b'0'; 64];
/// The largest header read: names, shapes and the loop state's YAML (with every epoch's
/// metrics) fit in far less.
pub const MAX_HEADER: u64 = 16 << 20;
/// Blocks hashed and written in turn.
const BLOCK: usize = 1 << 16;

/// Writes `tensors` and `metadata` (plus the digest) to `path`, atomically.
pub fn write(
    path: &Path,
    tensors: &[NamedTensor],
    metadata: BTreeMap<String, String>,
) -> Result<(), OutputError> {
    let failed = |message: String| OutputError::Write {
        path: path.to_path_buf(),
        source: io::Error::other(message),
    };
    let mut info: HashMap<String, String> = metadata.into_iter().collect();
    info.insert(
        DIGEST_KEY.to_string(),
        String::from_utf8_lossy(&ZEROS).into_owned(),
    );
    let views = tensors.iter().map(|t| (t.name.as_str(), F32View(t)));
    let bytes = ::safetensors::serialize(views, &Some(info)).map_err(|e| failed(e.to_string()))?;
    let at = digest_offset(&bytes).ok_or_else(|| failed("no place for the digest".into()))?;
    write_atomic(path, |w| {
        let mut hasher = Sha256::new();
        for block in bytes.chunks(BLOCK) {
            hasher.update(block);
            w.write_all(block)?;
        }
        w.seek(SeekFrom::Start(at as u64))?;
        w.write_all(hex::encode(hasher.finalize()).as_bytes())
    })
}

/// Where the digest's 64 characters are in a whole file's bytes.
fn digest_offset(bytes: &[u8]) -> Option<usize> {
    let len = usize::try_from(u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?)).ok()?;
    let header = bytes.get(8..8usize.checked_add(len)?)?;
    let needle = format!("\"{DIGEST_KEY}\":\"");
    let start = header
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())?
        + needle.len();
    header.get(start..start + 64)?;
    Some(8 + start)
}

/// A checkpoint file whose header has been read, and nothing else yet.
pub struct Opened {
    file: File,
    size: u64,
    header: Vec<u8>,
    pub metadata: Metadata,
}

/// Opens `path` (a regular file of at most `limit` bytes: a FIFO or a device is refused
/// without blocking) and reads its header. Every problem is said in words.
pub fn open(path: &Path, limit: u64) -> Result<Opened, String> {
    let (mut file, size) =
        crate::files::open_regular(path, limit).map_err(|e| format!("cannot read it: {e}"))?;
    let mut len = [0u8; 8];
    file.read_exact(&mut len)
        .map_err(|_| "the file is too short to hold its header".to_string())?;
    let len = u64::from_le_bytes(len);
    if len > MAX_HEADER || len > size - 8 {
        return Err(format!(
            "its header claims {len} bytes, the file has {size} in all"
        ));
    }
    let mut header = vec![0u8; usize::try_from(len).map_err(|e| e.to_string())?];
    file.read_exact(&mut header)
        .map_err(|e| format!("cannot read its header: {e}"))?;
    let metadata: Metadata = serde_json::from_slice(&header)
        .map_err(|e| format!("the header is not safetensors JSON: {e}"))?;
    Ok(Opened {
        file,
        size,
        header,
        metadata,
    })
}

impl Opened {
    /// The header's metadata value for `key`.
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.metadata
            .metadata()
            .as_ref()?
            .get(key)
            .map(String::as_str)
    }

    /// Reads the tensor data (which must be exactly what the header declares), checks the
    /// digest, and returns the tensors in name order.
    pub fn read_tensors(mut self) -> Result<Vec<NamedTensor>, String> {
        let declared = self
            .metadata
            .tensors()
            .values()
            .map(|t| t.data_offsets.1)
            .max()
            .unwrap_or(0) as u64;
        let head = 8 + self.header.len() as u64;
        if head + declared != self.size {
            return Err(format!(
                "its header declares {declared} bytes of tensor data, the file holds {}",
                self.size - head
            ));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(self.size).map_err(|e| e.to_string())?);
        bytes.extend_from_slice(&(self.header.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&self.header);
        Read::by_ref(&mut self.file)
            .take(declared)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read its tensor data: {e}"))?;
        if bytes.len() as u64 != self.size {
            return Err("the file shrank while it was read".into());
        }
        let stored = self
            .meta(DIGEST_KEY)
            .ok_or_else(|| format!("no `{DIGEST_KEY}` in its metadata"))?
            .to_string();
        let at = digest_offset(&bytes)
            .ok_or_else(|| format!("`{DIGEST_KEY}` is not where expr writes it"))?;
        let mut hasher = Sha256::new();
        hasher.update(&bytes[..at]);
        hasher.update(ZEROS);
        hasher.update(&bytes[at + 64..]);
        let actual = hex::encode(hasher.finalize());
        if actual != stored {
            return Err(format!(
                "its contents do not match its digest (`{DIGEST_KEY}` {}…, the bytes hash to {}…): the file was changed or damaged after it was written",
                &stored[..stored.len().min(12)],
                &actual[..12]
            ));
        }
        let file = SafeTensors::deserialize(&bytes)
            .map_err(|e| format!("not a safetensors file: {e:?}"))?;
        f32_tensors(&file).map_err(|(name, dtype)| format!("`{name}` holds {dtype:?}, not F32"))
    }
}
