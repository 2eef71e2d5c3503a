//! `csv(...)`: a table of examples from a CSV file, one row each, read as pandas'
//! `read_csv` reads it.
//!
//! A column is numbers when every cell that is not missing parses as one, else text.
//! Missing cells are the ones pandas counts as missing by default (empty, `NA`, `NaN`,
//! `null`...), and an error unless the declaration says what they become; an infinite
//! number is always an error. Text feature columns become one column per category (or one
//! of category indices); a text target column becomes class indices. The categories are
//! sorted, so the same file always gives the same encoding, and returned so that the run
//! record can list them.
//!
//! The file is read into memory once and parsed twice at most: once for every cell as a
//! number, and again only for the columns that turned out to hold text.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;

use ndarray::{Array1, Array2};
use rayon::prelude::*;

use super::error::{DataError, DataResult};
use super::examples::{Encoding, Examples, Inputs, Targets};
use crate::check::plan::{Categories, Missing, TableSpec, Task};

/// The largest CSV file read, so that a mistaken path to a disk image fails at once.
pub const MAX_CSV_BYTES: u64 = 16 << 30;

/// The cells pandas' `read_csv` reads as missing by default (`na_values`).
const MISSING: &[&str] = &[
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
];

/// A table read and encoded for training.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// `(rows, columns.len())`.
    pub inputs: Array2<f32>,
    pub targets: Targets,
    /// The names of the input columns after encoding: a one-hot column is `name=category`.
    pub columns: Vec<String>,
    /// The categories of each text column (feature or target), in encoding order.
    pub categories: Vec<(String, Vec<String>)>,
    /// The number of classes (classification), or of target values per row (regression).
    pub classes_or_width: usize,
    /// Rows left out by `missing = drop`.
    pub dropped: usize,
}

impl Table {
    /// The table as examples of a data set.
    pub fn into_examples(self, spec: &TableSpec) -> Examples {
        let columns = self.inputs.ncols();
        // A text target's categories are its classes; the others, features' categories.
        let target = spec.targets.first();
        let (classes, categories): (Vec<_>, Vec<_>) = self
            .categories
            .into_iter()
            .partition(|(name, _)| Some(name) == target);
        Examples {
            inputs: Inputs::F32(self.inputs),
            element_shape: vec![columns],
            targets: self.targets,
            source: spec.path.display().to_string(),
            encoding: Encoding {
                columns: self.columns,
                categories: categories.into_iter().collect(),
                classes: classes.into_iter().flat_map(|(_, c)| c).collect(),
                ..Encoding::default()
            },
        }
    }
}

/// Reads the table `spec` describes.
pub fn read_table(spec: &TableSpec) -> DataResult<Table> {
    let path = spec.path.as_path();
    let bytes = read_file(path)?;
    let mut raw = parse(spec, &bytes)?;
    let chosen = choose_columns(spec, &raw.names)?;
    for &c in chosen.features.iter().chain(&chosen.targets) {
        // Numbers and text in one column: a typo in a column of numbers, far more often
        // than categories that happen to look like numbers. pandas would make the whole
        // column text and one-hot every number in it.
        if let (Some((line, text)), true) = (&raw.columns[c].first_text, raw.columns[c].numbers > 0)
        {
            return Err(table_error(
                path,
                place(*line, c, &raw.names),
                format!(
                    "`{text}` is not a number, but {} other cells of this column are",
                    raw.columns[c].numbers
                ),
                Some("fix the cell, or make it a missing value (empty or `NA`); a column of categories must hold no numbers"),
            ));
        }
    }
    let text_columns: Vec<usize> = chosen
        .features
        .iter()
        .chain(&chosen.targets)
        .copied()
        .filter(|&c| raw.columns[c].first_text.is_some())
        .collect();
    let texts = if text_columns.is_empty() {
        Vec::new()
    } else {
        read_texts(spec, &bytes, &text_columns)?
    };
    // Freed before the inputs are allocated, so that the allocator hands them the pages the
    // file was read into instead of fresh ones the kernel must zero.
    drop(bytes);
    let text_of = |c: usize| text_columns.iter().position(|&t| t == c).map(|i| &texts[i]);
    // Rows to keep: all, or (`missing = drop`) those with no missing cell in a used column.
    let used: Vec<usize> = chosen
        .features
        .iter()
        .chain(&chosen.targets)
        .copied()
        .collect();
    // Sized for every row at once: grown by doubling, it would take twice the fresh memory.
    let mut keep: Vec<usize> = Vec::with_capacity(raw.rows);
    keep.extend((0..raw.rows).filter(|&r| {
        spec.missing != Missing::Drop
            || used.iter().all(|&c| match text_of(c) {
                Some(t) => t[r].is_some(),
                None => !raw.value(r, c).is_nan(),
            })
    }));
    let dropped = raw.rows - keep.len();
    if keep.is_empty() {
        return Err(table_error(
            path,
            String::new(),
            format!(
                "no row is left to train on ({} rows, {dropped} with a missing cell)",
                raw.rows
            ),
            Some("fill the missing cells, or choose `missing = mean` or `zero`"),
        ));
    }

    let mut categories = Vec::new();
    let mut columns = Vec::new();
    let mut encoded: Vec<Encoded> = Vec::new();
    for &c in &chosen.features {
        let name = raw.names[c].clone();
        match text_of(c) {
            Some(cells) => {
                let cats = category_list(cells, &keep);
                let missing_row = keep.iter().find(|&&r| cells[r].is_none());
                if let Some(&r) = missing_row {
                    return Err(missing_error(path, &raw, r, c, "a column of text"));
                }
                let index_of = |r: usize| {
                    let cell = cells[r].as_deref().unwrap_or_default();
                    cats.binary_search_by(|k| k.as_str().cmp(cell))
                        .unwrap_or_else(|_| unreachable!("every kept cell is a category"))
                };
                match spec.categories {
                    Categories::Index => {
                        columns.push(name.clone());
                        encoded.push(Encoded::Values(
                            keep.iter().map(|&r| index_of(r) as f32).collect(),
                        ));
                    }
                    Categories::OneHot => {
                        for (k, cat) in cats.iter().enumerate() {
                            columns.push(format!("{name}={cat}"));
                            encoded.push(Encoded::Values(
                                keep.iter()
                                    .map(|&r| if index_of(r) == k { 1.0 } else { 0.0 })
                                    .collect(),
                            ));
                        }
                    }
                }
                categories.push((name, cats));
            }
            None => {
                fill_missing(spec, path, &mut raw, c, &keep)?;
                columns.push(name);
                encoded.push(Encoded::Raw(c));
            }
        }
    }

    let (targets, classes_or_width) = match spec.task {
        Task::Classification => {
            let &[c] = chosen.targets.as_slice() else {
                return Err(table_error(
                    path,
                    String::new(),
                    format!(
                        "a classification has one target column, not {}",
                        chosen.targets.len()
                    ),
                    Some("name one column of classes, or set `task = regression`"),
                ));
            };
            let missing = match text_of(c) {
                Some(t) => keep.iter().copied().find(|&r| t[r].is_none()),
                None => raw.first_missing(c, &keep),
            };
            if let Some(r) = missing {
                return Err(missing_error(path, &raw, r, c, "the target"));
            }
            match text_of(c) {
                Some(cells) if !spec.classes.is_empty() => {
                    let classes = named_classes(spec, &raw, c, cells, &keep)?;
                    let n = spec.classes.len();
                    categories.push((raw.names[c].clone(), spec.classes.clone()));
                    (Targets::Classes(Array1::from_vec(classes)), n)
                }
                None if !spec.classes.is_empty() => {
                    return Err(table_error(
                        path,
                        format!("column {} (`{}`)", c + 1, raw.names[c]),
                        "`classes` names text classes, but the target holds only numbers".into(),
                        Some("leave `classes` out: numeric classes are 0, 1, 2, ... already"),
                    ));
                }
                Some(cells) => {
                    let cats = category_list(cells, &keep);
                    let classes = keep
                        .iter()
                        .map(|&r| {
                            let cell = cells[r].as_deref().unwrap_or_default();
                            cats.binary_search_by(|k| k.as_str().cmp(cell)).unwrap_or(0) as u32
                        })
                        .collect::<Vec<_>>();
                    let n = cats.len();
                    categories.push((raw.names[c].clone(), cats));
                    (Targets::Classes(Array1::from_vec(classes)), n)
                }
                None => {
                    let classes = class_indices(path, &raw, c, &keep)?;
                    let n = classes.iter().max().map_or(0, |&m| m as usize + 1);
                    (Targets::Classes(Array1::from_vec(classes)), n)
                }
            }
        }
        Task::Regression => {
            for &c in &chosen.targets {
                if let Some((line, text)) = &raw.columns[c].first_text {
                    return Err(table_error(
                        path,
                        place(*line, c, &raw.names),
                        format!("`{text}` is not a number, and a regression target must be"),
                        Some("give a column of numbers as the target, or use `task = classification` for classes"),
                    ));
                }
                if let Some(r) = raw.first_missing(c, &keep) {
                    return Err(missing_error(path, &raw, r, c, "the target"));
                }
            }
            let width = chosen.targets.len();
            let values = Array2::from_shape_fn((keep.len(), width), |(r, t)| {
                raw.value(keep[r], chosen.targets[t])
            });
            (Targets::Values(values), width)
        }
    };
    // Last: the inputs take the place of the cells where they fit.
    let inputs = encode_rows(raw, &encoded, &keep, columns.len());
    Ok(Table {
        inputs,
        targets,
        columns,
        categories,
        classes_or_width,
        dropped,
    })
}

/// An input column after encoding: a numeric column of the file as read (rows not yet
/// picked by `keep`), or values computed for the kept rows.
enum Encoded {
    Raw(usize),
    Values(Vec<f32>),
}

/// The inputs, written row after row as they are laid out in memory: over the cells when
/// a row of inputs is no wider than a row of the file (the buffer is the largest of a
/// table, and fresh memory costs more than parsing), else into a new buffer.
fn encode_rows(raw: Raw, encoded: &[Encoded], keep: &[usize], width: usize) -> Array2<f32> {
    let columns = raw.names.len();
    let row = |i: usize, r: usize, cells: &[f32], out: &mut [f32]| {
        for (o, e) in out.iter_mut().zip(encoded) {
            *o = match e {
                Encoded::Raw(c) => cells[r * columns + c],
                Encoded::Values(v) => v[i],
            };
        }
    };
    let data = if width <= columns {
        let mut cells = raw.values;
        let mut scratch = vec![0.0; width];
        // Kept row `i` is file row `r >= i`, so its place ends before any later row's
        // cells start; its own are read before it is written.
        for (i, &r) in keep.iter().enumerate() {
            row(i, r, &cells, &mut scratch);
            cells[i * width..(i + 1) * width].copy_from_slice(&scratch);
        }
        cells.truncate(keep.len() * width);
        cells
    } else {
        let mut data = vec![0.0; keep.len() * width];
        for (i, (&r, out)) in keep.iter().zip(data.chunks_exact_mut(width)).enumerate() {
            row(i, r, &raw.values, out);
        }
        data
    };
    Array2::from_shape_vec((keep.len(), width), data)
        .unwrap_or_else(|_| unreachable!("each kept row has one value per input column"))
}

/// A CSV file's bytes: mapped where the system allows (the page cache's own pages: nothing
/// copied, no fresh memory zeroed, a third of the time of reading a 100 MB table), else
/// read.
enum FileBytes {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl std::ops::Deref for FileBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            FileBytes::Mapped(map) => map,
            FileBytes::Read(bytes) => bytes,
        }
    }
}

fn read_file(path: &Path) -> DataResult<FileBytes> {
    let (mut file, size) = crate::files::open_regular(path, MAX_CSV_BYTES)
        .map_err(|refused| DataError::opening(path, "the CSV file", refused))?;
    if size == 0 {
        return Err(DataError::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    // SAFETY: read-only, read as bytes while the table is parsed and then dropped; a file
    // truncated by another program meanwhile is the one hazard, as for every reader of
    // mapped data (`data::numpy::mapped`).
    if let Ok(map) = unsafe { memmap2::Mmap::map(&file) } {
        return Ok(FileBytes::Mapped(map));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.read_to_end(&mut bytes)
        .map_err(|source| DataError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    if bytes.is_empty() {
        return Err(DataError::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    Ok(FileBytes::Read(bytes))
}

/// Every cell of a table as a number, NaN where missing or text, row after row.
struct Raw {
    names: Vec<String>,
    columns: Vec<CellCounts>,
    /// `rows x names.len()`.
    values: Vec<f32>,
    rows: usize,
    /// The line each row starts on, for messages.
    lines: Vec<u64>,
}

impl Raw {
    fn value(&self, r: usize, c: usize) -> f32 {
        self.values[r * self.names.len() + c]
    }

    /// The first of the rows `keep` whose cell of column `c` is NaN (missing, or text).
    fn first_missing(&self, c: usize, keep: &[usize]) -> Option<usize> {
        // A column of numbers only has none: skip reading it across every row.
        if self.columns[c].numbers == self.rows {
            return None;
        }
        keep.iter().copied().find(|&r| self.value(r, c).is_nan())
    }

    fn column(&self, c: usize) -> impl Iterator<Item = &f32> {
        self.values.iter().skip(c).step_by(self.names.len())
    }

    fn column_mut(&mut self, c: usize) -> impl Iterator<Item = &mut f32> {
        let n = self.names.len();
        self.values.iter_mut().skip(c).step_by(n)
    }
}

/// What a column's cells are: how many are numbers, and the first that is text.
#[derive(Default)]
struct CellCounts {
    /// How many cells are numbers.
    numbers: usize,
    /// The first cell that is not a number, with its line: the column is text.
    first_text: Option<(u64, String)>,
}

fn reader<'b>(spec: &TableSpec, bytes: &'b [u8]) -> csv::Reader<&'b [u8]> {
    csv::ReaderBuilder::new()
        .has_headers(spec.header)
        .delimiter(spec.delimiter)
        // Rows of another length are reported by `parse`, naming the line and the counts.
        .flexible(true)
        .from_reader(bytes)
}

/// A file's rows after its first are parsed in parallel when there are at least this many
/// bytes of them, no quote among them and no `\r` but before a `\n`: every line is then a
/// row, so the file can be cut at line ends into pieces that parse alone (a quoted cell may
/// hold a line end, and is read in one piece by the csv crate). pandas' C parser reads on
/// one core.
const PARALLEL_BYTES: usize = 4 << 20;

fn parse(spec: &TableSpec, bytes: &[u8]) -> DataResult<Raw> {
    let path = spec.path.as_path();
    let mut rdr = reader(spec, bytes);
    let mut record = csv::ByteRecord::new();
    let mut names: Vec<String> = if spec.header {
        let header = rdr.byte_headers().map_err(|e| csv_error(path, &e))?;
        header
            .iter()
            .enumerate()
            .map(|(i, h)| {
                std::str::from_utf8(h)
                    .map(|s| s.trim().to_string())
                    .map_err(|_| not_utf8(path, 1, i))
            })
            .collect::<DataResult<_>>()?
    } else {
        Vec::new()
    };
    // The first row: the columns' names when there is no header, and a guess at the number
    // of rows from its length, so that the columns rarely grow (and copy) while reading.
    if !rdr
        .read_byte_record(&mut record)
        .map_err(|e| csv_error(path, &e))?
    {
        return Err(table_error(
            path,
            String::new(),
            "the file has no rows of data".into(),
            Some(if spec.header {
                "the first row is read as the column names (`header = true`); add rows below it"
            } else {
                "add rows to the file"
            }),
        ));
    }
    if names.is_empty() {
        names = (0..record.len()).map(|i| i.to_string()).collect();
    }
    let next = rdr.position().clone();
    let rest = &bytes[usize::try_from(next.byte()).unwrap_or(bytes.len())..];
    let in_pieces = rest.len() >= PARALLEL_BYTES
        && memchr::memchr(b'"', rest).is_none()
        && carriage_returns_end_lines(rest);
    // Read in pieces, the columns are allocated once their length is known.
    let expected = if in_pieces {
        1
    } else {
        bytes.len() / (record.as_slice().len() + record.len()).max(1) + 1
    };
    let mut raw = Rows::new(names.len(), expected);
    let cx = RowContext {
        spec,
        names: &names,
        line_offset: 0,
    };
    cx.push(&record, &mut raw)?;
    if in_pieces {
        parse_pieces(&cx, rest, next.line() - 1, &mut raw)?;
    } else {
        while rdr
            .read_byte_record(&mut record)
            .map_err(|e| csv_error(path, &e))?
        {
            cx.push(&record, &mut raw)?;
        }
    }
    Ok(Raw {
        names,
        rows: raw.lines.len(),
        columns: raw.columns,
        values: raw.values,
        lines: raw.lines,
    })
}

/// Parses `rest`, the rows after the first `lines_before` lines, in pieces of whole lines
/// on every core, into `rows`. The cells are allocated once, a row per line of `rest`, and
/// each piece writes its rows into its own part of them: rows read per piece and then
/// joined took twice the fresh memory, which costs more than the parsing. Empty lines are
/// no rows; the parts are moved together after. The first error in the file is the first
/// piece's that has one.
fn parse_pieces(
    cx: &RowContext<'_>,
    rest: &[u8],
    lines_before: u64,
    rows: &mut Rows,
) -> DataResult<()> {
    let pieces = line_pieces(rest, 4 * rayon::current_num_threads());
    let ends: Vec<usize> = pieces
        .par_iter()
        .map(|piece| memchr::memchr_iter(b'\n', piece).count())
        .collect();
    // A row per line at most, a last line without its `\n` included.
    let room: Vec<usize> = pieces
        .iter()
        .zip(&ends)
        .map(|(piece, &n)| n + usize::from(!piece.ends_with(b"\n")))
        .collect();
    let width = rows.columns.len();
    let before = rows.lines.len();
    let total = before + room.iter().sum::<usize>();
    let mut values = vec![0.0; total * width];
    values[..before * width].copy_from_slice(&rows.values);
    let mut lines = vec![0; total];
    lines[..before].copy_from_slice(&rows.lines);
    let read: Vec<DataResult<(usize, Vec<CellCounts>)>> = {
        let mut cells = &mut values[before * width..];
        let mut starts = &mut lines[before..];
        let parts: Vec<Part<'_>> = room
            .iter()
            .map(|&n| {
                let (values, later) = std::mem::take(&mut cells).split_at_mut(n * width);
                let (lines, later_lines) = std::mem::take(&mut starts).split_at_mut(n);
                (cells, starts) = (later, later_lines);
                Part {
                    values,
                    width,
                    lines,
                    rows: 0,
                    plain: 0,
                    stats: (0..width).map(|_| CellCounts::default()).collect(),
                }
            })
            .collect();
        pieces
            .par_iter()
            .zip(parts)
            .enumerate()
            .map(|(k, (piece, mut part))| {
                let cx = RowContext {
                    line_offset: lines_before + ends[..k].iter().sum::<usize>() as u64,
                    ..*cx
                };
                split_rows(&cx, piece, &mut part)?;
                for column in &mut part.stats {
                    column.numbers += part.plain;
                }
                Ok((part.rows, part.stats))
            })
            .collect()
    };
    // The parts in file order, moved together over the room empty lines left.
    let (mut at, mut start) = (before, before);
    for (result, &n) in read.into_iter().zip(&room) {
        let (count, stats) = result?;
        if at != start {
            values.copy_within(start * width..(start + count) * width, at * width);
            lines.copy_within(start..start + count, at);
        }
        for (column, part) in rows.columns.iter_mut().zip(stats) {
            column.numbers += part.numbers;
            if column.first_text.is_none() {
                column.first_text = part.first_text;
            }
        }
        at += count;
        start += n;
    }
    values.truncate(at * width);
    lines.truncate(at);
    (rows.values, rows.lines) = (values, lines);
    Ok(())
}

/// Where a piece's rows go: its part of the cells and of the lines, sized ahead, and what
/// its columns' cells are.
struct Part<'a> {
    values: &'a mut [f32],
    width: usize,
    lines: &'a mut [u64],
    /// Rows written so far.
    rows: usize,
    /// Of them, rows of plain decimals only: a number in every column, counted once here.
    plain: usize,
    stats: Vec<CellCounts>,
}

/// Where the cells of rows read go: [`Rows`], growing, or a piece's [`Part`]. Each row
/// gives every column's cell in order, then ends.
trait Sink {
    /// The cell of column `c` read as `value` (NaN where missing or text).
    fn cell(&mut self, c: usize, value: f32);
    /// What column `c`'s cells are.
    fn stats(&mut self, c: usize) -> &mut CellCounts;
    /// The row read ends; it starts on line `line`.
    fn end_row(&mut self, line: u64);
}

impl Sink for Rows {
    fn cell(&mut self, _: usize, value: f32) {
        self.values.push(value);
    }

    fn stats(&mut self, c: usize) -> &mut CellCounts {
        &mut self.columns[c]
    }

    fn end_row(&mut self, line: u64) {
        self.lines.push(line);
    }
}

impl Sink for Part<'_> {
    fn cell(&mut self, c: usize, value: f32) {
        self.values[self.rows * self.width + c] = value;
    }

    fn stats(&mut self, c: usize) -> &mut CellCounts {
        &mut self.stats[c]
    }

    fn end_row(&mut self, line: u64) {
        self.lines[self.rows] = line;
        self.rows += 1;
    }
}

/// Reads the rows of `piece`, whole lines holding no quote, into `rows`, as the csv crate
/// reads them: a line ends at `\n`, a `\r` before it is dropped, and an empty line is no
/// row. A row of plain decimals (nearly every row of a table of numbers) is read in one
/// pass over its bytes, each number as it is cut ([`plain_row`]); any other line is cut at
/// its delimiters and read cell by cell, as the csv crate's records are.
fn split_rows(cx: &RowContext<'_>, piece: &[u8], rows: &mut Part<'_>) -> DataResult<()> {
    let delimiter = cx.spec.delimiter;
    let width = rows.width;
    let mut cells: Vec<&[u8]> = Vec::with_capacity(width);
    let (mut line, mut at) = (1, 0);
    while at < piece.len() {
        // Straight into the row's place; a line read otherwise writes over it.
        let place = &mut rows.values[rows.rows * width..][..width];
        if let Some(next) = plain_row(piece, at, delimiter, place) {
            rows.plain += 1;
            rows.end_row(cx.line_offset + line);
            at = next;
        } else {
            let end = memchr::memchr(b'\n', &piece[at..]).map_or(piece.len(), |i| at + i);
            let text = &piece[at..end];
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            if !text.is_empty() {
                cells.clear();
                cells.extend(text.split(|&b| b == delimiter));
                cx.push_cells(cells.iter().copied(), cells.len(), line, rows)?;
            }
            at = end + 1;
        }
        line += 1;
    }
    Ok(())
}

/// The row starting at `at` when its cells are as many plain decimals ([`decimal_prefix`])
/// as `values` holds: their values in `values`, and where the next line starts.
fn plain_row(piece: &[u8], mut at: usize, delimiter: u8, values: &mut [f32]) -> Option<usize> {
    let last = values.len().checked_sub(1)?;
    for (c, value) in values.iter_mut().enumerate() {
        let (v, len) = decimal_prefix(&piece[at..])?;
        *value = v as f32;
        at += len;
        match piece.get(at) {
            Some(&b) if b == delimiter && c < last => at += 1,
            Some(b'\n') if c == last => return Some(at + 1),
            Some(b'\r') if c == last && piece.get(at + 1) == Some(&b'\n') => return Some(at + 2),
            None if c == last => return Some(at),
            _ => return None,
        }
    }
    None
}

/// Whether every `\r` of `bytes` ends a line (`\r\n`): a lone one ends a row for the csv
/// crate, which [`split_rows`] would not see.
fn carriage_returns_end_lines(bytes: &[u8]) -> bool {
    memchr::memchr_iter(b'\r', bytes).all(|at| bytes.get(at + 1) == Some(&b'\n'))
}

/// `bytes` cut into about `n` pieces of whole lines.
fn line_pieces(bytes: &[u8], n: usize) -> Vec<&[u8]> {
    let size = bytes.len().div_ceil(n.max(1)).max(1);
    let mut pieces = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let end = match memchr::memchr(b'\n', &bytes[(at + size).min(bytes.len())..]) {
            Some(i) => at + size + i + 1,
            None => bytes.len(),
        };
        pieces.push(&bytes[at..end]);
        at = end;
    }
    pieces
}

/// Rows read so far: their cells row after row, what each column's are, and the line each
/// row starts on.
struct Rows {
    columns: Vec<CellCounts>,
    values: Vec<f32>,
    lines: Vec<u64>,
}

impl Rows {
    fn new(columns: usize, expected: usize) -> Self {
        Rows {
            columns: (0..columns).map(|_| CellCounts::default()).collect(),
            values: Vec::with_capacity(expected * columns),
            lines: Vec::with_capacity(expected),
        }
    }
}

/// What reading a row needs besides the row.
#[derive(Clone, Copy)]
struct RowContext<'a> {
    spec: &'a TableSpec,
    names: &'a [String],
    /// Lines before the reader's first, for a piece of the file parsed alone.
    line_offset: u64,
}

impl RowContext<'_> {
    /// Reads `record`'s cells into `rows`.
    fn push(&self, record: &csv::ByteRecord, rows: &mut Rows) -> DataResult<()> {
        let line = record.position().map_or(0, csv::Position::line);
        self.push_cells(record.iter(), record.len(), line, rows)
    }

    /// Reads the `count` `cells` of the row on the reader's line `line` into `rows`.
    fn push_cells<'c>(
        &self,
        cells: impl Iterator<Item = &'c [u8]>,
        count: usize,
        line: u64,
        rows: &mut impl Sink,
    ) -> DataResult<()> {
        let (path, names) = (self.spec.path.as_path(), self.names);
        let line = self.line_offset + line;
        if count != names.len() {
            return Err(table_error(
                path,
                format!("line {line}"),
                format!(
                    "this row has {} cells, the {} {}",
                    count,
                    if self.spec.header { "header" } else { "first row" },
                    names.len()
                ),
                Some("every row needs a cell for every column (an empty cell is a missing value); check for a stray or missing delimiter"),
            ));
        }
        for (c, cell) in cells.enumerate() {
            if let Some(v) = simple_decimal(cell) {
                rows.stats(c).numbers += 1;
                rows.cell(c, v as f32);
                continue;
            }
            let column = rows.stats(c);
            let text = std::str::from_utf8(cell).map_err(|_| not_utf8(path, line, c))?;
            let trimmed = text.trim();
            // Numbers first: they are nearly every cell, and most cells are not missing.
            let value = match trimmed.parse::<f64>() {
                Ok(v) if v.is_finite() && v.abs() <= f64::from(f32::MAX) => {
                    column.numbers += 1;
                    v as f32
                }
                Ok(v) if !v.is_nan() => {
                    return Err(table_error(
                        path,
                        place(line, c, names),
                        format!("`{trimmed}` is infinite (or beyond what a 32-bit float holds)"),
                        Some("fix or remove the value: training on it would make every weight it reaches infinite"),
                    ));
                }
                _ if MISSING.contains(&trimmed) => f32::NAN,
                _ => {
                    if column.first_text.is_none() {
                        column.first_text = Some((line, trimmed.to_string()));
                    }
                    f32::NAN
                }
            };
            rows.cell(c, value);
        }
        rows.end_row(line);
        Ok(())
    }
}

/// The value of a cell written as plain decimal digits (`-12.375`, `+4.`, `.5`, `7`) with
/// at most 15 significant digits, exactly as `str::parse::<f64>` reads it; `None` for
/// anything else (exponents, whitespace, longer numbers, text), left to `str::parse`.
///
/// Nearly every cell of a table of numbers takes this path. The digits form an integer
/// below 2^53 and the divisor a power of ten up to 10^22, both exact in an `f64`, so the
/// one division is correctly rounded: the same bits as `parse` (Clinger's fast path).
fn simple_decimal(cell: &[u8]) -> Option<f64> {
    decimal_prefix(cell).and_then(|(v, len)| (len == cell.len()).then_some(v))
}

/// [`simple_decimal`] of the longest start of `bytes` made of a sign, digits and one point:
/// its value and length; `None` without a digit or past 15 of them.
fn decimal_prefix(bytes: &[u8]) -> Option<(f64, usize)> {
    const POWERS: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    let (negative, sign) = match bytes.first() {
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        _ => (false, 0),
    };
    let mut mantissa: u64 = 0;
    let mut digits = 0_usize;
    let mut fraction_digits = 0_usize;
    let mut seen_point = false;
    let mut len = sign;
    for &b in &bytes[sign..] {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(b - b'0');
                digits += 1;
                if seen_point {
                    fraction_digits += 1;
                }
                // Leading zeros count too: a conservative bound that keeps the integer exact.
                if digits > 15 {
                    return None;
                }
            }
            b'.' if !seen_point => seen_point = true,
            _ => break,
        }
        len += 1;
    }
    if digits == 0 {
        return None;
    }
    // Below 10^15 < 2^53, so exact as an f64; fraction_digits <= 15 indexes POWERS.
    let value = mantissa as f64 / POWERS[fraction_digits];
    Some((if negative { -value } else { value }, len))
}

/// The columns `spec` reads, by position in the file.
struct Chosen {
    features: Vec<usize>,
    targets: Vec<usize>,
}

fn choose_columns(spec: &TableSpec, names: &[String]) -> DataResult<Chosen> {
    let path = spec.path.as_path();
    let find = |name: &String| find_column(path, name, names);
    let targets = spec
        .targets
        .iter()
        .map(find)
        .collect::<DataResult<Vec<_>>>()?;
    let excluded = spec
        .exclude
        .iter()
        .map(find)
        .collect::<DataResult<Vec<_>>>()?;
    let features = if spec.features.is_empty() {
        (0..names.len())
            .filter(|c| !targets.contains(c) && !excluded.contains(c))
            .collect()
    } else {
        spec.features
            .iter()
            .map(find)
            .collect::<DataResult<Vec<_>>>()?
    };
    if let Some(&c) = features.iter().find(|c| targets.contains(c)) {
        return Err(table_error(
            path,
            String::new(),
            format!("`{}` is both a feature and the target", names[c]),
            Some("a model must not see its target: leave it out of `features`"),
        ));
    }
    if features.is_empty() {
        return Err(table_error(
            path,
            String::new(),
            "no column is left as a feature".into(),
            Some("name the input columns with `features = (...)`, or exclude fewer"),
        ));
    }
    Ok(Chosen { features, targets })
}

/// The position of the column `name` among `names`, or an error naming the file, with a
/// suggestion and the columns there are.
pub(super) fn find_column(path: &Path, name: &str, names: &[String]) -> DataResult<usize> {
    names.iter().position(|n| n == name).ok_or_else(|| {
        let known: Vec<&str> = names.iter().map(String::as_str).collect();
        let suggestion = crate::suggest::did_you_mean(name, &known)
            .map_or(String::new(), |s| format!("did you mean `{s}`? "));
        table_error(
            path,
            String::new(),
            format!("there is no column `{name}`"),
            Some(&format!(
                "{suggestion}the columns are {}",
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        )
    })
}

/// The cells of `columns` as text (`None` where missing), row after row.
fn read_texts(
    spec: &TableSpec,
    bytes: &[u8],
    columns: &[usize],
) -> DataResult<Vec<Vec<Option<String>>>> {
    let mut rdr = reader(spec, bytes);
    let mut out: Vec<Vec<Option<String>>> = vec![Vec::new(); columns.len()];
    let mut record = csv::StringRecord::new();
    while rdr
        .read_record(&mut record)
        .map_err(|e| csv_error(&spec.path, &e))?
    {
        for (cells, &c) in out.iter_mut().zip(columns) {
            let cell = record.get(c).unwrap_or_default().trim();
            cells.push((!MISSING.contains(&cell)).then(|| cell.to_string()));
        }
    }
    Ok(out)
}

/// The sorted categories of the kept rows' cells.
fn category_list(cells: &[Option<String>], keep: &[usize]) -> Vec<String> {
    let set: BTreeSet<&str> = keep.iter().filter_map(|&r| cells[r].as_deref()).collect();
    set.into_iter().map(str::to_string).collect()
}

/// Replaces the missing cells of numeric column `c` in the kept rows, as `spec` says.
fn fill_missing(
    spec: &TableSpec,
    path: &Path,
    raw: &mut Raw,
    c: usize,
    keep: &[usize],
) -> DataResult<()> {
    let Some(first) = raw.first_missing(c, keep) else {
        return Ok(());
    };
    let fill = match spec.missing {
        Missing::Error | Missing::Drop => {
            return Err(missing_error(path, raw, first, c, "a feature"));
        }
        Missing::Zero => 0.0,
        Missing::Mean => {
            let present: Vec<f64> = raw
                .column(c)
                .filter(|v| !v.is_nan())
                .map(|&v| f64::from(v))
                .collect();
            if present.is_empty() {
                return Err(table_error(
                    path,
                    format!("column {} (`{}`)", c + 1, raw.names[c]),
                    "every cell is missing, so there is no mean to fill them with".into(),
                    Some("leave the column out with `exclude = (...)`"),
                ));
            }
            (present.iter().sum::<f64>() / present.len() as f64) as f32
        }
    };
    for v in raw.column_mut(c) {
        if v.is_nan() {
            *v = fill;
        }
    }
    Ok(())
}

/// The class index of each kept row of text column `c`: its value's position in `classes`;
/// a value not there is an error naming the line and the value.
fn named_classes(
    spec: &TableSpec,
    raw: &Raw,
    c: usize,
    cells: &[Option<String>],
    keep: &[usize],
) -> DataResult<Vec<u32>> {
    keep.iter()
        .map(|&r| {
            let cell = cells[r].as_deref().unwrap_or_default();
            match spec.classes.iter().position(|k| k == cell) {
                Some(i) => Ok(u32::try_from(i).unwrap_or_else(|_| unreachable!("few classes"))),
                None => Err(table_error(
                    &spec.path,
                    place(raw.lines[r], c, &raw.names),
                    format!(
                        "the class `{cell}` is not one of `classes` ({})",
                        spec.classes.join(", ")
                    ),
                    Some("add it to `classes = (...)`, or drop the row from the file"),
                )),
            }
        })
        .collect()
}

/// The class index of each kept row of numeric column `c`: whole numbers from 0.
fn class_indices(path: &Path, raw: &Raw, c: usize, keep: &[usize]) -> DataResult<Vec<u32>> {
    // Sized at once: a `Result` collected grows by doubling (fresh memory, see `parse_pieces`).
    let mut classes = Vec::with_capacity(keep.len());
    for &r in keep {
        let v = raw.value(r, c);
        if !(v >= 0.0 && v.fract() == 0.0 && v < 16_777_216.0) {
            return Err(table_error(
                path,
                place(raw.lines[r], c, &raw.names),
                format!("the class `{v}` is not a whole number from 0"),
                Some("classes are 0, 1, 2, ... (or text, such as `cat`); for a target of numbers to predict, set `task = regression`"),
            ));
        }
        classes.push(v as u32);
    }
    Ok(classes)
}

pub(super) fn place(line: u64, c: usize, names: &[String]) -> String {
    format!("line {line}, column {} (`{}`)", c + 1, names[c])
}

fn missing_error(path: &Path, raw: &Raw, r: usize, c: usize, what: &str) -> DataError {
    let help = if what == "a feature" {
        "fill it in the file, or say what a missing value becomes: `missing = mean`, `zero` or `drop` (the row)"
    } else {
        "fill it in the file, or leave such rows out with `missing = drop`"
    };
    table_error(
        path,
        place(raw.lines[r], c, &raw.names),
        format!("missing value in {what}"),
        Some(help),
    )
}

pub(super) fn not_utf8(path: &Path, line: u64, c: usize) -> DataError {
    table_error(
        path,
        format!("line {line}, column {}", c + 1),
        "this cell is not UTF-8 text".into(),
        Some("save the file as UTF-8 (in pandas: `df.to_csv(path, encoding=\"utf-8\")`)"),
    )
}

pub(super) fn csv_error(path: &Path, e: &csv::Error) -> DataError {
    let line = e.position().map(csv::Position::line);
    match e.kind() {
        csv::ErrorKind::Io(err) => DataError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(err.kind(), err.to_string()),
        },
        csv::ErrorKind::Utf8 { err, .. } => not_utf8(path, line.unwrap_or(0), err.field()),
        _ => table_error(
            path,
            line.map_or(String::new(), |l| format!("line {l}")),
            e.to_string(),
            Some("check the file's quoting and delimiter"),
        ),
    }
}

pub(super) fn table_error(
    path: &Path,
    place: String,
    problem: String,
    help: Option<&str>,
) -> DataError {
    DataError::Contents {
        path: path.to_path_buf(),
        place,
        problem,
        help: help.map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn spec(path: PathBuf, target: &str) -> TableSpec {
        TableSpec {
            path,
            targets: vec![target.to_string()],
            features: Vec::new(),
            exclude: Vec::new(),
            classes: Vec::new(),
            header: true,
            delimiter: b',',
            missing: Missing::Error,
            task: Task::Classification,
            categories: Categories::OneHot,
        }
    }

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    fn message(e: &DataError) -> String {
        use miette::Diagnostic;
        format!(
            "{e} | {}",
            e.help().map(|h| h.to_string()).unwrap_or_default()
        )
    }

    #[test]
    fn numbers_text_and_targets_encode_as_pandas_get_dummies() {
        let (_d, path) = write("a,color,y\n1.5,red,1\n-2,blue,0\n3e2,red,2\n");
        let t = read_table(&spec(path, "y")).unwrap();
        assert_eq!(t.columns, ["a", "color=blue", "color=red"]);
        assert_eq!(
            t.inputs,
            ndarray::array![[1.5, 0.0, 1.0], [-2.0, 1.0, 0.0], [300.0, 0.0, 1.0]]
        );
        assert_eq!(t.targets, Targets::Classes(ndarray::array![1, 0, 2]));
        assert_eq!(t.classes_or_width, 3);
        assert_eq!(
            t.categories,
            [("color".to_string(), vec!["blue".into(), "red".into()])]
        );
    }

    #[test]
    fn text_targets_become_sorted_class_indices() {
        let (_d, path) = write("x,species\n1,virginica\n2,setosa\n3,virginica\n");
        let t = read_table(&spec(path, "species")).unwrap();
        assert_eq!(t.targets, Targets::Classes(ndarray::array![1, 0, 1]));
        assert_eq!(t.categories[0].1, ["setosa", "virginica"]);
    }

    #[test]
    fn given_classes_fix_the_order_whatever_values_the_file_holds() {
        let (_d, path) = write("x,species\n1,virginica\n2,setosa\n3,virginica\n");
        let mut s = spec(path, "species");
        s.classes = vec!["virginica".into(), "versicolor".into(), "setosa".into()];
        let t = read_table(&s).unwrap();
        assert_eq!(t.targets, Targets::Classes(ndarray::array![0, 2, 0]));
        assert_eq!(t.classes_or_width, 3, "a class the file lacks still counts");
        assert_eq!(t.categories[0].1, s.classes);
    }

    #[test]
    fn a_value_outside_the_given_classes_names_file_line_and_value() {
        let (_d, path) = write("x,species\n1,virginica\n2,setosa\n3,Setosa\n");
        let mut s = spec(path, "species");
        s.classes = vec!["setosa".into(), "virginica".into()];
        let m = message(&read_table(&s).unwrap_err());
        assert!(m.contains("t.csv"), "{m}");
        assert!(m.contains("line 4, column 2 (`species`)"), "{m}");
        assert!(
            m.contains("the class `Setosa` is not one of `classes` (setosa, virginica)"),
            "{m}"
        );
        // Numeric classes have their order already.
        let (_d, path) = write("x,y\n1,0\n2,1\n");
        let mut s = spec(path, "y");
        s.classes = vec!["a".into(), "b".into()];
        let m = message(&read_table(&s).unwrap_err());
        assert!(m.contains("`classes` names text classes"), "{m}");
    }

    #[test]
    fn regression_targets_are_values() {
        let (_d, path) = write("x,y,z\n1,0.5,2\n2,1.5,3\n");
        let mut s = spec(path, "y");
        s.task = Task::Regression;
        s.targets.push("z".into());
        let t = read_table(&s).unwrap();
        assert_eq!(
            t.targets,
            Targets::Values(ndarray::array![[0.5, 2.0], [1.5, 3.0]])
        );
        assert_eq!(t.inputs, ndarray::array![[1.0], [2.0]]);
    }

    #[test]
    fn missing_cells_are_an_error_naming_line_and_column_unless_a_policy_says() {
        let text = "a,b,y\n1,2,0\n3,,1\n5,NA,0\n";
        let (_d, path) = write(text);
        let e = read_table(&spec(path.clone(), "y")).unwrap_err();
        let m = message(&e);
        assert!(m.contains("line 3, column 2 (`b`): missing value"), "{m}");
        assert!(m.contains("missing = mean"), "{m}");

        let mut s = spec(path, "y");
        s.missing = Missing::Mean;
        assert_eq!(
            read_table(&s).unwrap().inputs.column(1).to_vec(),
            [2.0, 2.0, 2.0]
        );
        s.missing = Missing::Zero;
        assert_eq!(
            read_table(&s).unwrap().inputs.column(1).to_vec(),
            [2.0, 0.0, 0.0]
        );
        s.missing = Missing::Drop;
        let t = read_table(&s).unwrap();
        assert_eq!((t.inputs.nrows(), t.dropped), (1, 2));
    }

    #[test]
    fn bad_files_name_the_file_and_the_place() {
        let cases = [
            (
                "a,y\n1,0\n2\n",
                "line 3: this row has 1 cells, the header 2",
            ),
            (
                "a,y\n1,0\ninf,1\n",
                "line 3, column 1 (`a`): `inf` is infinite",
            ),
            ("a,y\n1,0\n2,-1\n", "line 3, column 2 (`y`): the class `-1`"),
            ("a,y\n1,0\n2,0.5\n", "the class `0.5` is not a whole number"),
            (
                "a,y\n1,0\n2x,1\n",
                "line 3, column 1 (`a`): `2x` is not a number, but 1 other cells",
            ),
            ("a,y\n", "the file has no rows of data"),
            ("b,y\n1,0\n", "there is no column `a`"),
        ];
        for (text, want) in cases {
            let (_d, path) = write(text);
            let mut s = spec(path, "y");
            if text.starts_with('b') {
                s.features = vec!["a".into()];
            }
            let m = message(&read_table(&s).unwrap_err());
            assert!(m.contains(want), "{text:?}: {m}");
            assert!(m.contains("t.csv"), "{m}");
        }
    }

    #[test]
    fn invalid_utf8_and_zero_byte_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.csv");
        std::fs::write(&path, b"a,y\n\xff,0\n").unwrap();
        let m = message(&read_table(&spec(path.clone(), "y")).unwrap_err());
        assert!(
            m.contains("line 2, column 1") && m.contains("not UTF-8"),
            "{m}"
        );
        std::fs::write(&path, b"").unwrap();
        let m = message(&read_table(&spec(path, "y")).unwrap_err());
        assert!(m.contains("is empty"), "{m}");
    }

    /// A table of `rows` rows of three numbers and a class, over `PARALLEL_BYTES`; `last`
    /// ends it.
    fn big_table(rows: usize, last: &str) -> String {
        use std::fmt::Write;
        let mut text = String::from("a,b,c,label\n");
        for r in 0..rows {
            let (a, b) = ((r * 7919) % 10007, (r * 31) % 977);
            // Mostly plain decimals (read as they are cut), some with an exponent (cell by
            // cell).
            let c = if r % 7 == 0 {
                format!("{r}e-3")
            } else {
                format!("{r}.{b}")
            };
            let _ = writeln!(text, "{a}.{b:03},-{b}.5,{c},{}", r % 3);
        }
        text.push_str(last);
        text
    }

    #[test]
    fn a_large_file_parses_in_pieces_as_in_one() {
        // Lines ended by `\r\n` read as the csv crate reads them.
        let text = big_table(200_000, "1.5,2,3,0\r\n4,5,6,1\r\n");
        assert!(text.len() > PARALLEL_BYTES);
        // A quote anywhere after the first row: the file is read in one piece.
        let quoted = big_table(200_000, "\"1.5\",2,3,0\r\n4,5,6,1\r\n");
        let (_d1, path) = write(&text);
        let (_d2, quoted_path) = write(&quoted);
        let pieces = parse(&spec(path, "label"), text.as_bytes()).unwrap();
        let whole = parse(&spec(quoted_path, "label"), quoted.as_bytes()).unwrap();
        assert_eq!(pieces.rows, 200_002);
        // The csv crate numbers lines ended by `\r\n` from the first such line on as if
        // they were one; the pieces number them as an editor does.
        let n = pieces.lines.len();
        assert_eq!(pieces.lines[..n - 1], whole.lines[..n - 1]);
        assert_eq!(pieces.lines[n - 2..], [200_002, 200_003]);
        assert_eq!(pieces.lines[123_456], 123_458);
        let bits = |r: &Raw| r.values.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&pieces), bits(&whole));
        for (a, b) in pieces.columns.iter().zip(&whole.columns) {
            assert_eq!(a.numbers, b.numbers);
        }
        // An empty line is no row, and the lines after it are numbered as an editor
        // numbers them (the csv crate's count leaves empty lines out).
        let blank = big_table(200_000, "\n1.5,2,3,0\n");
        let (_d3, blank_path) = write(&blank);
        let raw = parse(&spec(blank_path, "label"), blank.as_bytes()).unwrap();
        assert_eq!((raw.rows, raw.lines[200_000]), (200_001, 200_003));
    }

    /// A last line without its line end, ending with an empty cell: a row as in one piece.
    #[test]
    fn a_last_line_without_its_end_is_a_row() {
        for last in ["1,2,3,", "1,2,3,1", "1,2,3,1\r"] {
            let text = big_table(200_000, last);
            // Its first cell quoted: the file is read in one piece, by the csv crate.
            let quoted = big_table(200_000, &format!("\"1\"{}", &last[1..]));
            let (_d1, path) = write(&text);
            let (_d2, quoted_path) = write(&quoted);
            let pieces = parse(&spec(path, "label"), text.as_bytes()).unwrap();
            let whole = parse(&spec(quoted_path, "label"), quoted.as_bytes()).unwrap();
            assert_eq!((pieces.rows, whole.rows), (200_001, 200_001), "{last:?}");
            let bits = |r: &Raw| r.values.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&pieces), bits(&whole), "{last:?}");
        }
    }

    /// Blank lines in several pieces (parts moved together over the gaps) and missing cells
    /// whose rows are dropped, features in another order than the file's (inputs written over
    /// the cells): the same table as the file read in one piece (a quote at its end).
    #[test]
    fn a_large_file_with_gaps_encodes_as_in_one_piece() {
        let mut text = big_table(200_000, "");
        for k in [1_000, 60_000, 60_001, 120_003, 199_000] {
            let at = text.match_indices('\n').nth(k).unwrap().0 + 1;
            text.insert_str(at, if k % 2 == 0 { "\n" } else { "NA,1,2,1\n" });
        }
        let quoted = format!("{text}\"7\",8,9,2\n");
        text.push_str("7,8,9,2\n");
        let read = |text: &str| {
            let (_d, path) = write(text);
            let spec = TableSpec {
                features: vec!["c".into(), "a".into()],
                missing: Missing::Drop,
                ..spec(path, "label")
            };
            read_table(&spec).unwrap()
        };
        let (pieces, whole) = (read(&text), read(&quoted));
        assert_eq!(pieces.inputs.dim(), (200_001, 2));
        assert_eq!(pieces.dropped, 2);
        let bits = |t: &Table| t.inputs.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&pieces), bits(&whole));
        assert_eq!(pieces.targets, whole.targets);
        assert_eq!(pieces.inputs.row(200_000).to_vec(), [9.0, 7.0]);
    }

    #[test]
    fn an_error_deep_in_a_large_file_names_its_line() {
        let mut text = big_table(200_000, "");
        let at = text.match_indices('\n').nth(150_000).unwrap().0 + 1;
        text.insert_str(at, "1,2,3\n");
        let (_d, path) = write(&text);
        let Err(e) = parse(&spec(path, "label"), text.as_bytes()) else {
            panic!("a short row is an error")
        };
        assert!(
            message(&e).contains("line 150002") && message(&e).contains("this row has 3 cells"),
            "{}",
            message(&e)
        );
    }

    #[test]
    fn plain_decimals_read_exactly_as_str_parse_reads_them() {
        let cells = [
            "0",
            "-0",
            "+0",
            "-0.0",
            "1",
            "-1.5",
            "+2.25",
            ".5",
            "-.5",
            "5.",
            "+5.",
            "0.1",
            "0.3",
            "-0.700000",
            "1.234567",
            "123456789012345",
            "999999999999999",
            "0.000000000000001",
            "12345.678901234",
            "000000000000001.5",
            "3.141592653589793",
            "1e5",
            "2.5E-3",
            "-1e+300",
            "1e400",
            "  7.5",
            "7.5 ",
            "\t1",
            "1,5",
            "1..5",
            ".",
            "-",
            "+",
            "",
            "--1",
            "1-",
            "0x10",
            "inf",
            "-inf",
            "NaN",
            "1_000",
            "١",
            "1234567890123456789",
            "0.1234567890123456789",
        ];
        for cell in cells {
            let want = cell.trim().parse::<f64>().ok();
            match simple_decimal(cell.as_bytes()) {
                Some(got) => {
                    let want = want.unwrap();
                    assert_eq!(got.to_bits(), want.to_bits(), "{cell:?}");
                    assert_eq!((got as f32).to_bits(), (want as f32).to_bits(), "{cell:?}");
                }
                // Left to `str::parse`, which must then see something other than a plain
                // decimal of at most 15 digits.
                None => assert!(
                    want.is_none()
                        || cell
                            .bytes()
                            .any(|b| !b.is_ascii_digit() && b != b'.' && b != b'-' && b != b'+')
                        || cell.len() > 15,
                    "{cell:?}"
                ),
            }
        }
        // Many random decimals as `numpy.savetxt` and `%.6f` write them.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let digits = (state % 1_000_000_000_000) as i64 - 500_000_000_000;
            let places = (state >> 40) % 13;
            let text = format!("{}", digits as f64 / 10f64.powi(places as i32));
            let cell = format!("{:.*}", places as usize, text.parse::<f64>().unwrap());
            let want = cell.parse::<f64>().unwrap();
            if let Some(got) = simple_decimal(cell.as_bytes()) {
                assert_eq!(got.to_bits(), want.to_bits(), "{cell:?}");
            }
        }
    }

    #[test]
    fn a_headerless_file_names_its_columns_by_position() {
        let (_d, path) = write("1;2;0\n3;4;1\n");
        let mut s = spec(path, "2");
        s.header = false;
        s.delimiter = b';';
        let t = read_table(&s).unwrap();
        assert_eq!(t.columns, ["0", "1"]);
        assert_eq!(t.targets, Targets::Classes(ndarray::array![0, 1]));
    }
}
