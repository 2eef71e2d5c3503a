//! TFRecord framing, the container of TensorBoard's events files: each record is its length
//! (u64, little-endian), the masked CRC-32C of those 8 bytes, the data, and the masked
//! CRC-32C of the data.

/// TFRecord's masked CRC-32C (`crc32c.py`'s `mask`): stored CRCs of data that holds CRCs
/// would otherwise be prone to collide.
fn masked_crc(bytes: &[u8]) -> u32 {
    let crc = crc32c::crc32c(bytes);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// `data` framed as one record.
pub fn frame(data: &[u8]) -> Vec<u8> {
    let length = (data.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(data.len() + 16);
    out.extend_from_slice(&length);
    out.extend_from_slice(&masked_crc(&length).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc(data).to_le_bytes());
    out
}

/// The records of `bytes`, in order, up to the first one that is cut short or fails its
/// checksum (the torn end of a file whose writer was killed), and whether all were whole.
pub fn records(bytes: &[u8]) -> (Vec<&[u8]>, bool) {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let Some(record) = next(rest) else {
            return (out, false);
        };
        out.push(record);
        rest = &rest[record.len() + 16..];
    }
    (out, true)
}

fn next(bytes: &[u8]) -> Option<&[u8]> {
    let length: [u8; 8] = bytes.get(..8)?.try_into().ok()?;
    let stored = u32::from_le_bytes(bytes.get(8..12)?.try_into().ok()?);
    if stored != masked_crc(&length) {
        return None;
    }
    let n = usize::try_from(u64::from_le_bytes(length)).ok()?;
    let data = bytes.get(12..12usize.checked_add(n)?)?;
    let crc = bytes.get(12 + n..16 + n)?;
    (u32::from_le_bytes(crc.try_into().ok()?) == masked_crc(data)).then_some(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes `tf.io.TFRecordWriter` (TensorFlow 2.21) writes for the records `b""` and
    /// `b"one"`: framing and masked CRCs equal, and they read back.
    #[test]
    fn frames_are_tensorflows_and_read_back() {
        let tensorflow = "000000000000000029039807d8ea82a2\
                          0300000000000000b099490e6f6e6501405508";
        let mut ours = frame(b"");
        ours.extend(frame(b"one"));
        assert_eq!(hex::encode(&ours), tensorflow);
        assert_eq!(records(&ours), (vec![&b""[..], &b"one"[..]], true));
        let torn = &ours[..ours.len() - 1];
        assert_eq!(records(torn), (vec![&b""[..]], false));
        let mut bad = ours.clone();
        bad[20] ^= 1;
        assert!(!records(&bad).1);
    }
}
