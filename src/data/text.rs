//! `text(path, block, stride)`: a text file as a character-level language-modelling set,
//! as nanoGPT's `shakespeare_char` prepares one. The vocabulary is the file's distinct
//! characters (Unicode scalar values), sorted; a character's token id is its place there.
//! Example `i` is the `block` ids from character `i * stride` as inputs and the `block`
//! ids one character later as targets: every position predicts the next character.

use std::io::Read;
use std::path::Path;

use ndarray::Array2;

use super::error::{DataError, DataResult};
use super::examples::{Encoding, Examples, Inputs, Targets};
use crate::check::plan::{Labels, TextSpec};

/// Larger texts than this are refused before reading (a corpus for a character model on
/// a CPU is megabytes; this keeps a wrong path to a disk image from filling memory).
const MAX_TEXT_BYTES: u64 = 1 << 30;

/// A text read and tokenised.
pub struct Text {
    /// The distinct characters, sorted: token id `i` is `vocabulary[i]`.
    pub vocabulary: Vec<char>,
    /// The text as token ids.
    pub ids: Vec<u32>,
}

impl Text {
    /// The token ids of `s`, or the first character outside the vocabulary.
    pub fn encode(vocabulary: &[char], s: &str) -> Result<Vec<u32>, char> {
        s.chars()
            .map(|c| {
                vocabulary
                    .binary_search(&c)
                    .map(|i| i as u32)
                    .map_err(|_| c)
            })
            .collect()
    }
}

/// Reads and tokenises the file `path` (gunzipped first if its name ends in `.gz`).
pub fn read_text(path: &Path) -> DataResult<Text> {
    let bytes = read_maybe_gzipped(path, "the text file")?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let valid = &e.as_bytes()[..at];
        let line = valid.split(|&b| b == b'\n').count();
        DataError::Contents {
            path: path.to_path_buf(),
            place: format!("line {line} (byte {at})"),
            problem: "is not UTF-8 text".to_string(),
            help: Some("convert the file to UTF-8 (e.g. `iconv -f latin1 -t utf-8`)".to_string()),
        }
    })?;
    let mut vocabulary: Vec<char> = text.chars().collect();
    vocabulary.sort_unstable();
    vocabulary.dedup();
    let ids = Text::encode(&vocabulary, &text)
        .unwrap_or_else(|c| unreachable!("{c:?} is in the text's own vocabulary"));
    Ok(Text { vocabulary, ids })
}

/// The bytes of `path`, gunzipped first if its name ends in `.gz`; `what` names the file
/// in the error when it cannot be opened.
pub(super) fn read_maybe_gzipped(path: &Path, what: &str) -> DataResult<Vec<u8>> {
    let (file, _) = crate::files::open_regular(path, MAX_TEXT_BYTES)
        .map_err(|refused| DataError::opening(path, what, refused))?;
    let mut bytes = Vec::new();
    let gzipped = path.extension().is_some_and(|e| e == "gz");
    let read = if gzipped {
        flate2::read::GzDecoder::new(file)
            .take(MAX_TEXT_BYTES)
            .read_to_end(&mut bytes)
    } else {
        std::io::BufReader::new(file).read_to_end(&mut bytes)
    };
    read.map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof if gzipped => DataError::TruncatedGzip {
            path: path.to_path_buf(),
        },
        std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData if gzipped => {
            DataError::CorruptGzip {
                path: path.to_path_buf(),
                reason: e.to_string(),
            }
        }
        _ => DataError::Io {
            path: path.to_path_buf(),
            source: e,
        },
    })?;
    Ok(bytes)
}

/// How many examples of `spec` a text of `len` characters holds: windows of `block + 1`
/// characters (inputs and the targets one later) starting every `stride` characters.
fn examples_in(spec: &TextSpec, len: usize) -> usize {
    match len.checked_sub(spec.block + 1) {
        Some(room) => room / spec.stride + 1,
        None => 0,
    }
}

/// The text's element shape and labels, checking that it holds at least one example.
pub fn describe_text(spec: &TextSpec) -> DataResult<(Vec<usize>, Labels)> {
    let text = read_text(&spec.path)?;
    too_short(spec, &text)?;
    let labels = Labels::Tokens {
        classes: text.vocabulary.len(),
        length: spec.block,
    };
    Ok((vec![spec.block], labels))
}

fn too_short(spec: &TextSpec, text: &Text) -> DataResult<()> {
    if examples_in(spec, text.ids.len()) == 0 {
        return Err(DataError::Contents {
            path: spec.path.clone(),
            place: String::new(),
            problem: format!(
                "has {} characters, but an example of `block = {}` needs {}",
                text.ids.len(),
                spec.block,
                spec.block + 1
            ),
            help: Some("give a longer text, or a smaller `block`".to_string()),
        });
    }
    Ok(())
}

/// The examples of `spec`: token ids as inputs (`f32`, exact below 2^24) and the next ids
/// as targets, with the vocabulary as the class names.
pub fn read_text_examples(spec: &TextSpec) -> DataResult<Examples> {
    let text = read_text(&spec.path)?;
    too_short(spec, &text)?;
    let n = examples_in(spec, text.ids.len());
    let block = spec.block;
    let ids = &text.ids;
    let window = |offset: usize| {
        Array2::from_shape_fn((n, block), |(i, j)| ids[i * spec.stride + j + offset])
    };
    let inputs = window(0).mapv(|id| id as f32);
    let targets = window(1);
    Ok(Examples {
        inputs: Inputs::F32(inputs),
        element_shape: vec![block],
        targets: Targets::Tokens(targets),
        source: spec.path.display().to_string(),
        encoding: Encoding {
            classes: text.vocabulary.iter().map(char::to_string).collect(),
            ..Encoding::default()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(path: &Path, block: usize, stride: usize) -> TextSpec {
        TextSpec {
            path: path.to_path_buf(),
            block,
            stride,
        }
    }

    fn write(name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("expr-text-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn windows_and_next_characters_as_nanogpt_prepares_them() {
        let path = write("abc.txt", "hello world".as_bytes());
        let e = read_text_examples(&spec(&path, 4, 3)).unwrap();
        // Sorted distinct characters: ' ', d, e, h, l, o, r, w.
        assert_eq!(e.encoding.classes, [" ", "d", "e", "h", "l", "o", "r", "w"]);
        // 11 characters, windows of 5 every 3: starts 0, 3, 6.
        let Inputs::F32(x) = &e.inputs else { panic!() };
        assert_eq!(x.nrows(), 3);
        // "hell" -> "ello", "lo w" -> "o wo", "worl" -> "orld".
        assert_eq!(x.row(0).to_vec(), [3.0, 2.0, 4.0, 4.0]);
        let Targets::Tokens(y) = &e.targets else {
            panic!()
        };
        assert_eq!(y.row(0).to_vec(), [2, 4, 4, 5]);
        assert_eq!(y.row(1).to_vec(), [5, 0, 7, 5]);
        assert_eq!(y.row(2).to_vec(), [5, 6, 4, 1]);
    }

    #[test]
    fn gzipped_and_unicode_texts() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all("é a é".as_bytes()).unwrap();
        let path = write("u.txt.gz", &gz.finish().unwrap());
        let t = read_text(&path).unwrap();
        assert_eq!(t.vocabulary, [' ', 'a', 'é']);
        assert_eq!(t.ids, [2, 0, 1, 0, 2]);
        assert_eq!(Text::encode(&t.vocabulary, "a é"), Ok(vec![1, 0, 2]));
        assert_eq!(Text::encode(&t.vocabulary, "ab"), Err('b'));
    }

    #[test]
    fn bad_texts_say_what_and_where() {
        let path = write("latin1.txt", b"ok\nd\xe9j\xe0");
        let err = read_text(&path).err().unwrap().to_string();
        assert!(
            err.contains("line 2 (byte 4)") && err.contains("not UTF-8"),
            "{err}"
        );
        let short = write("short.txt", b"abc");
        let err = describe_text(&spec(&short, 3, 3))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("has 3 characters") && err.contains("needs 4"),
            "{err}"
        );
        let missing = describe_text(&spec(Path::new("/nonexistent/t.txt"), 3, 3)).err();
        assert!(matches!(missing, Some(DataError::MissingFile { .. })));
    }
}
