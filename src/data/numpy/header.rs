//! The `.npy` header: magic, version, and the Python dict literal that describes the array.
//!
//! The format (numpy.lib.format): `\x93NUMPY`, a major and a minor version byte, the header's
//! length (u16 little-endian in version 1.0, u32 in 2.0 and 3.0), then the header itself, a
//! dict literal such as `{'descr': '<f4', 'fortran_order': False, 'shape': (60000, 784), }`
//! padded with spaces and ended by a newline. The parser accepts exactly what NumPy writes
//! (keys in any order, either quote, a trailing comma, Python 2's `5L`) and nothing else:
//! this is a stranger's file, and NumPy's own reader refuses the same inputs.

use super::dtype::Dtype;
use super::Source;
use crate::data::error::{DataError, DataResult};

/// The magic string every `.npy` file starts with.
pub(super) const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// The longest header read. NumPy writes a few dozen bytes (its own reader refuses more
/// than 10,000 by default); more is kept only so that a structured dtype with many fields
/// still gets its own diagnostic.
const MAX_HEADER_LEN: usize = 1 << 20;

/// What a `.npy` header says, as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NpyHeader {
    /// The dtype as in the file: `<f4`, `|u1`, `>i8`.
    pub dtype: String,
    /// The array's shape; `[]` for a 0-d array (one value).
    pub shape: Vec<usize>,
    /// Whether the data is stored column-major; it is read into C order either way.
    pub fortran_order: bool,
}

impl NpyHeader {
    /// How many values the array holds (1 for a 0-d array). The header was checked to
    /// describe data that fits in the file, so this cannot overflow.
    pub fn element_count(&self) -> usize {
        self.shape.iter().product()
    }
}

/// A header as read: what it says, its dtype understood, and how many bytes it and the data take.
pub(super) struct Parsed {
    pub header: NpyHeader,
    pub dtype: Dtype,
    /// Bytes from the start of the file to the first byte of data.
    pub header_len: u64,
    /// Bytes of data the shape and dtype need.
    pub data_len: u64,
}

/// Reads the header at the start of `reader`, leaving it at the first byte of data.
pub(super) fn read_header(reader: &mut impl std::io::Read, src: Source) -> DataResult<Parsed> {
    let mut prefix = [0u8; 10];
    let got = super::read_up_to(reader, &mut prefix).map_err(|e| src.read_error(e))?;
    if got < MAGIC.len() || prefix[..MAGIC.len()] != MAGIC[..] {
        return Err(src.not_npy(&prefix[..got]));
    }
    if got < prefix.len() {
        return Err(src.bad_header("the file ends inside the header's length"));
    }
    let (major, minor) = (prefix[6], prefix[7]);
    let (len_bytes, prefix_len) = match major {
        1 => (2, 10),
        2 | 3 => (4, 12),
        _ => {
            return Err(DataError::NumpyVersion {
                path: src.path.to_path_buf(),
                key: src.key(),
                version: format!("{major}.{minor}"),
            })
        }
    };
    let mut len = [0u8; 4];
    len[..2].copy_from_slice(&prefix[8..10]);
    if len_bytes == 4 {
        let got = super::read_up_to(reader, &mut len[2..]).map_err(|e| src.read_error(e))?;
        if got < 2 {
            return Err(src.bad_header("the file ends inside the header's length"));
        }
    }
    let header_len = u32::from_le_bytes(len) as usize;
    if header_len > MAX_HEADER_LEN {
        return Err(src.bad_header(&format!(
            "it claims a header of {header_len} bytes, more than the {MAX_HEADER_LEN} read"
        )));
    }
    let mut text = vec![0u8; header_len];
    let got = super::read_up_to(reader, &mut text).map_err(|e| src.read_error(e))?;
    if got < header_len {
        return Err(src.bad_header(&format!(
            "the file ends inside the header ({got} of its {header_len} bytes)"
        )));
    }
    // Versions 1.0 and 2.0 are latin-1, 3.0 is UTF-8; the dict's syntax is ASCII either way,
    // and only strings (the dtype) could hold anything else.
    let text: String = if major == 3 {
        String::from_utf8(text).map_err(|_| src.bad_header("version 3.0 but not UTF-8"))?
    } else {
        text.iter().map(|&b| char::from(b)).collect()
    };
    let dict = parse_dict(&text).map_err(|reason| src.bad_header(&reason))?;
    let dtype = Dtype::parse(&dict.descr, src)?;
    let data_len = data_len(&dict.shape, dtype.size())
        .ok_or_else(|| src.bad_header(&format!("shape {:?} is too large", dict.shape)))?;
    Ok(Parsed {
        header: NpyHeader {
            dtype: dict.descr,
            shape: dict.shape,
            fortran_order: dict.fortran_order,
        },
        dtype,
        header_len: (prefix_len + header_len) as u64,
        data_len,
    })
}

/// Bytes of data for `shape` at `size` bytes a value, if the count fits in memory at all.
fn data_len(shape: &[usize], size: usize) -> Option<u64> {
    let count = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))?;
    let bytes = count.checked_mul(size)?;
    u64::try_from(bytes).ok()
}

/// The three entries of a header's dict.
#[derive(Debug, PartialEq, Eq)]
struct Dict {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
}

/// Parses the header text: `{'descr': ..., 'fortran_order': ..., 'shape': (...)}`, then
/// spaces and a newline. A structured dtype's `descr` (a list) is kept as its source text.
fn parse_dict(text: &str) -> Result<Dict, String> {
    let mut p = Parser { text, pos: 0 };
    p.expect('{')?;
    let (mut descr, mut fortran_order, mut shape) = (None, None, None);
    loop {
        p.skip_spaces();
        if p.eat('}') {
            break;
        }
        let key = p.string()?;
        p.skip_spaces();
        p.expect(':')?;
        p.skip_spaces();
        let fresh = match key.as_str() {
            "descr" => descr.replace(p.descr()?).is_none(),
            "fortran_order" => fortran_order.replace(p.boolean()?).is_none(),
            "shape" => shape.replace(p.shape()?).is_none(),
            other => return Err(format!("unknown key `{other}`")),
        };
        if !fresh {
            return Err(format!("key `{key}` appears twice"));
        }
        p.skip_spaces();
        if !p.eat(',') {
            p.skip_spaces();
            p.expect('}')?;
            break;
        }
    }
    p.skip_spaces();
    if !p.rest().is_empty() {
        return Err(format!("unexpected `{}` after the dict", clip(p.rest())));
    }
    let missing = |key: &str| format!("the key `{key}` is missing");
    Ok(Dict {
        descr: descr.ok_or_else(|| missing("descr"))?,
        fortran_order: fortran_order.ok_or_else(|| missing("fortran_order"))?,
        shape: shape.ok_or_else(|| missing("shape"))?,
    })
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn skip_spaces(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start_matches([' ', '\t', '\n', '\r']).len();
    }

    fn eat(&mut self, c: char) -> bool {
        let found = self.rest().starts_with(c);
        if found {
            self.pos += c.len_utf8();
        }
        found
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.expected(&format!("`{c}`")))
        }
    }

    fn expected(&self, what: &str) -> String {
        match self.rest() {
            "" => format!("expected {what}, the header ends"),
            rest => format!("expected {what}, found `{}`", clip(rest)),
        }
    }

    /// A quoted string without escapes: NumPy's keys and dtype strings never need one.
    fn string(&mut self) -> Result<String, String> {
        let Some(quote) = self
            .rest()
            .chars()
            .next()
            .filter(|c| *c == '\'' || *c == '"')
        else {
            return Err(self.expected("a quoted string"));
        };
        let body = &self.text[self.pos + 1..];
        match body.find([quote, '\\', '\n']) {
            Some(end) if body[end..].starts_with(quote) => {
                self.pos += end + 2;
                Ok(body[..end].to_string())
            }
            _ => Err(self.expected("a simple quoted string")),
        }
    }

    /// A dtype: a string, or a structured dtype's list of fields, kept as written.
    fn descr(&mut self) -> Result<String, String> {
        if !self.rest().starts_with('[') {
            return self.string();
        }
        let start = self.pos;
        let mut depth = 0usize;
        let mut quote = None;
        for (i, c) in self.rest().char_indices() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (None, '\'' | '"') => quote = Some(c),
                (None, '[' | '(') => depth += 1,
                (None, ']' | ')') => {
                    depth -= 1;
                    if depth == 0 {
                        self.pos += i + 1;
                        return Ok(self.text[start..self.pos].to_string());
                    }
                }
                _ => {}
            }
        }
        Err(self.expected("the end of the dtype's list"))
    }

    fn boolean(&mut self) -> Result<bool, String> {
        for (word, value) in [("True", true), ("False", false)] {
            if self.rest().starts_with(word) {
                self.pos += word.len();
                return Ok(value);
            }
        }
        Err(self.expected("`True` or `False`"))
    }

    /// A tuple of whole numbers: `()`, `(5,)`, `(60000, 28, 28)`.
    fn shape(&mut self) -> Result<Vec<usize>, String> {
        self.expect('(')?;
        let mut dims = Vec::new();
        loop {
            self.skip_spaces();
            if self.eat(')') {
                // `(5)` is a number in Python, not a tuple: NumPy writes `(5,)`.
                return Ok(dims);
            }
            dims.push(self.dimension()?);
            self.skip_spaces();
            if !self.eat(',') {
                if dims.len() == 1 {
                    return Err(self.expected("`,` (a 1-tuple is written `(n,)`)"));
                }
                self.expect(')')?;
                return Ok(dims);
            }
        }
    }

    fn dimension(&mut self) -> Result<usize, String> {
        let digits = self.rest().len()
            - self
                .rest()
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .len();
        if digits == 0 {
            return Err(self.expected("a dimension (a whole number)"));
        }
        let text = &self.rest()[..digits];
        let value = text
            .parse::<usize>()
            .map_err(|_| format!("dimension {text} is too large"))?;
        self.pos += digits;
        self.eat('L'); // Python 2 wrote longs so.
        Ok(value)
    }
}

/// The start of `text`, for a message.
fn clip(text: &str) -> String {
    let mut shown = String::new();
    for c in text.chars().take(24) {
        if c.is_control() {
            shown.extend(c.escape_debug());
        } else {
            shown.push(c);
        }
    }
    if text.chars().count() > 24 {
        format!("{shown}...")
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dict(descr: &str, fortran_order: bool, shape: &[usize]) -> Dict {
        Dict {
            descr: descr.to_string(),
            fortran_order,
            shape: shape.to_vec(),
        }
    }

    #[test]
    fn numpy_headers_parse() {
        let cases = [
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (60000, 28, 28), }        \n",
                dict("<f4", false, &[60000, 28, 28]),
            ),
            (
                "{'descr': '|u1', 'fortran_order': True, 'shape': (5,), }\n",
                dict("|u1", true, &[5]),
            ),
            (
                "{'descr': '<i8', 'fortran_order': False, 'shape': (), }\n",
                dict("<i8", false, &[]),
            ),
            // Other key orders, double quotes, no trailing comma, Python 2's longs.
            (
                "{\"shape\": (3L, 4L), \"fortran_order\": False, \"descr\": \">f8\"}\n",
                dict(">f8", false, &[3, 4]),
            ),
            (
                "{'descr': [('a', '<i4'), ('b', '<f8', (2,))], 'fortran_order': False, 'shape': (2,), }",
                dict("[('a', '<i4'), ('b', '<f8', (2,))]", false, &[2]),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse_dict(text).unwrap(), want, "{text}");
        }
    }

    #[test]
    fn malformed_headers_say_what_they_expected() {
        let cases = [
            ("", "expected `{`, the header ends"),
            (
                "{'descr': '<f4', 'fortran_order': False}",
                "the key `shape` is missing",
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (5), }",
                "expected `,` (a 1-tuple is written `(n,)`), found `), }`",
            ),
            (
                "{'descr': '<f4', 'fortran_order': 0, 'shape': (5,), }",
                "expected `True` or `False`, found `0, 'shape': (5,), }`",
            ),
            (
                "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (5,), }",
                "key `descr` appears twice",
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), 'x': 1}",
                "unknown key `x`",
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (-5,), }",
                "expected a dimension (a whole number), found `-5,), }`",
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }",
                "dimension 99999999999999999999999 is too large",
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), } junk",
                "unexpected `junk` after the dict",
            ),
            (
                "{'descr': '<f\\x34', 'fortran_order': False, 'shape': (5,), }",
                "expected a simple quoted string, found `'<f\\x34', 'fortran_order...`",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse_dict(text).unwrap_err(), want, "{text}");
        }
    }

    #[test]
    fn data_length_overflow_is_caught() {
        assert_eq!(data_len(&[60000, 28, 28], 4), Some(188_160_000));
        assert_eq!(data_len(&[], 8), Some(8));
        assert_eq!(data_len(&[0, 5], 8), Some(0));
        assert_eq!(data_len(&[usize::MAX, 2], 1), None);
        assert_eq!(data_len(&[usize::MAX / 2, 1], 4), None);
    }
}
