//! `text_classes(path, text, target, length)`: a CSV file of labelled texts (a column of
//! text, a column of labels) as a classification set of token sequences, as a Keras user
//! gets from `TextVectorization(output_sequence_length = length)` or a PyTorch user from a
//! tokenizer with `padding = "max_length", truncation = True`.
//!
//! The tokens are the text's UTF-8 bytes, each `byte + 1`, so that id 0 is left for the
//! padding (`ByT5`'s byte tokens, with one special id): the vocabulary is the same 257 ids
//! for every file, so separate training and test files always agree, and there is none to
//! record. A text is cut after `length` bytes, or right-padded with 0s to `length`
//! (`embedding(mask_zero = true)` masks those). The labels are classes as `csv(...)`'s text
//! targets are: sorted, or in the order `classes` gives.

use std::collections::BTreeSet;

use ndarray::{Array1, Array2};

use super::error::{DataError, DataResult};
use super::examples::{Encoding, Examples, Inputs, Targets};
use super::table::{csv_error, find_column, not_utf8, place, table_error};
use crate::check::plan::{Labels, TextClassesSpec};

/// Token ids run from 0 (padding) to 256 (byte 255): an `embedding` needs this many rows.
pub const VOCABULARY: usize = 257;

/// The texts of a file as padded token rows, with their class indices.
struct Read {
    tokens: Array2<f32>,
    labels: Vec<u32>,
    classes: Vec<String>,
}

/// The element shape and labels: the whole file is read, since its labels are the classes.
pub fn describe_text_classes(spec: &TextClassesSpec) -> DataResult<(Vec<usize>, Labels)> {
    let read = read(spec)?;
    let labels = Labels::Classes {
        classes: read.classes.len(),
        one_hot: false,
    };
    Ok((vec![spec.length], labels))
}

/// The examples of `spec`: token ids as inputs (`f32`), class indices as targets, with the
/// class names in the encoding (the run record lists them).
pub fn read_text_classes(spec: &TextClassesSpec) -> DataResult<Examples> {
    let read = read(spec)?;
    let rows = read.labels.len();
    Ok(Examples {
        inputs: Inputs::F32(read.tokens),
        element_shape: vec![spec.length],
        targets: Targets::Classes(Array1::from_vec(read.labels)),
        source: format!("`{}` ({rows} texts)", spec.path.display()),
        encoding: Encoding {
            classes: read.classes,
            ..Encoding::default()
        },
    })
}

/// `text`'s bytes as `length` token ids: each byte plus one, cut or right-padded with 0s.
pub fn tokens(text: &str, length: usize) -> impl Iterator<Item = f32> + '_ {
    text.bytes()
        .map(|b| f32::from(b) + 1.0)
        .chain(std::iter::repeat(0.0))
        .take(length)
}

fn read(spec: &TextClassesSpec) -> DataResult<Read> {
    let path = spec.path.as_path();
    let bytes = super::text::read_maybe_gzipped(path, "the CSV file")?;
    if bytes.is_empty() {
        return Err(DataError::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        // A short row is reported below, naming the line and the missing column.
        .flexible(true)
        .from_reader(&bytes[..]);
    let names: Vec<String> = rdr
        .headers()
        .map_err(|e| csv_error(path, &e))?
        .iter()
        .map(str::to_string)
        .collect();
    let text_column = find_column(path, &spec.text, &names)?;
    let label_column = find_column(path, &spec.target, &names)?;
    if text_column == label_column {
        return Err(table_error(
            path,
            String::new(),
            format!("`{}` is both the text and the target", spec.text),
            Some("a model must not see its labels: name two different columns"),
        ));
    }
    let mut tokens = Vec::new();
    let mut labels = Vec::new();
    let mut record = csv::ByteRecord::new();
    while rdr
        .read_byte_record(&mut record)
        .map_err(|e| csv_error(path, &e))?
    {
        let line = record.position().map_or(0, csv::Position::line);
        let cell = |c: usize| -> DataResult<&str> {
            std::str::from_utf8(record.get(c).unwrap_or_default())
                .map_err(|_| not_utf8(path, line, c))
        };
        let text = cell(text_column)?;
        if text.is_empty() {
            return Err(table_error(
                path,
                place(line, text_column, &names),
                "the text is empty".into(),
                Some("leave the row out of the file: an empty text has nothing to classify"),
            ));
        }
        let label = cell(label_column)?.trim();
        if label.is_empty() {
            return Err(table_error(
                path,
                place(line, label_column, &names),
                "the label is missing".into(),
                Some("give every row a label, or leave the row out of the file"),
            ));
        }
        tokens.extend(self::tokens(text, spec.length));
        labels.push((line, label.to_string()));
    }
    if labels.is_empty() {
        return Err(table_error(
            path,
            String::new(),
            "the file has no rows of data".into(),
            Some("a header line, then one line per text"),
        ));
    }
    let classes = if spec.classes.is_empty() {
        let set: BTreeSet<&str> = labels.iter().map(|(_, l)| l.as_str()).collect();
        set.into_iter().map(str::to_string).collect()
    } else {
        spec.classes.clone()
    };
    let indices = labels
        .iter()
        .map(
            |(line, label)| match classes.iter().position(|k| k == label) {
                Some(i) => Ok(u32::try_from(i).unwrap_or_else(|_| unreachable!("few classes"))),
                None => Err(table_error(
                    path,
                    place(*line, label_column, &names),
                    format!(
                        "the class `{label}` is not one of `classes` ({})",
                        classes.join(", ")
                    ),
                    Some("add it to `classes = (...)`, or leave the row out of the file"),
                )),
            },
        )
        .collect::<DataResult<Vec<u32>>>()?;
    let rows = indices.len();
    let tokens = Array2::from_shape_vec((rows, spec.length), tokens)
        .unwrap_or_else(|_| unreachable!("each row has `length` tokens"));
    Ok(Read {
        tokens,
        labels: indices,
        classes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn spec(path: PathBuf, length: usize, classes: &[&str]) -> TextClassesSpec {
        TextClassesSpec {
            path,
            text: "text".into(),
            target: "label".into(),
            length,
            classes: classes.iter().map(|c| (*c).to_string()).collect(),
        }
    }

    fn write(name: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        (dir, path)
    }

    fn error(spec: &TextClassesSpec) -> String {
        let e = read_text_classes(spec).expect_err("an error");
        format!(
            "{e} {}",
            miette::Diagnostic::help(&e).map_or(String::new(), |h| h.to_string())
        )
    }

    #[test]
    fn bytes_plus_one_cut_or_padded_and_sorted_classes() {
        let (_d, path) = write(
            "t.csv",
            "id,text,label\n1,ab,rust\n2,\"x, \"\"é\"\"\",python\n3,abcdef,rust\n".as_bytes(),
        );
        let e = read_text_classes(&spec(path, 4, &[])).unwrap();
        assert_eq!(e.encoding.classes, ["python", "rust"]);
        let Inputs::F32(x) = &e.inputs else { panic!() };
        assert_eq!(x.row(0).to_vec(), [98.0, 99.0, 0.0, 0.0]);
        // `x, "é"`: 'x' ',' ' ' '"' then é's first byte is cut off.
        assert_eq!(x.row(1).to_vec(), [121.0, 45.0, 33.0, 35.0]);
        assert_eq!(x.row(2).to_vec(), [98.0, 99.0, 100.0, 101.0]);
        let Targets::Classes(y) = &e.targets else {
            panic!()
        };
        assert_eq!(y.to_vec(), [1, 0, 1]);
        assert_eq!(e.element_shape, [4]);
        // é is two bytes, 0xC3 0xA9: ids 196 and 170, the largest id 256.
        assert_eq!(
            tokens("é\u{ff}", 5).collect::<Vec<_>>(),
            [196.0, 170.0, 196.0, 192.0, 0.0]
        );
    }

    #[test]
    fn given_classes_fix_the_order_and_gzip_is_read() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"text,label\nfn main,rust\n").unwrap();
        let (_d, path) = write("t.csv.gz", &gz.finish().unwrap());
        let e = read_text_classes(&spec(path.clone(), 2, &["python", "rust"])).unwrap();
        let Targets::Classes(y) = &e.targets else {
            panic!()
        };
        assert_eq!(y.to_vec(), [1]);
        let (shape, labels) = describe_text_classes(&spec(path, 2, &["python", "rust"])).unwrap();
        assert_eq!(shape, [2]);
        assert_eq!(
            labels,
            Labels::Classes {
                classes: 2,
                one_hot: false
            }
        );
    }

    #[test]
    fn bad_rows_name_the_file_the_line_and_the_column() {
        let cases: &[(&[u8], &[&str], &str)] = &[
            (
                b"text,label\nok,a\n,b\n",
                &[],
                "line 3, column 1 (`text`): the text is empty",
            ),
            (
                b"text,label\nok,a\nfine\n",
                &[],
                "line 3, column 2 (`label`): the label is missing",
            ),
            (
                b"text,label\nok,a\nd\xe9j\xe0,b\n",
                &[],
                "line 3, column 1: this cell is not UTF-8",
            ),
            (
                b"text,label\nok,a\nok,cow\n",
                &["a", "b"],
                "line 3, column 2 (`label`): the class `cow` is not one of `classes` (a, b)",
            ),
            (b"text,labels\nok,a\n", &[], "there is no column `label`"),
            (b"text,label\n", &[], "the file has no rows of data"),
            (b"", &[], "is empty"),
        ];
        for (bytes, classes, expected) in cases {
            let (_d, path) = write("bad.csv", bytes);
            let message = error(&spec(path.clone(), 8, classes));
            assert!(message.contains(expected), "{message}");
            assert!(
                message.contains("bad.csv") || message.contains("is empty"),
                "{message}"
            );
        }
        let (_d, path) = write("bad.csv", b"text,labels\nok,a\n");
        assert!(error(&spec(path, 8, &[])).contains("did you mean `labels`?"));
    }
}
