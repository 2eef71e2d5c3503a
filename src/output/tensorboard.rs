//! TensorBoard's events files, so that `tensorboard --logdir runs` shows runs side by side:
//! each run writes `tb/events.out.tfevents.*` beside its record, with the metrics of every
//! epoch and of every logged step as scalars, its image grids as images, and the experiment
//! and its text samples as text.
//!
//! A file is only ever appended to, a record at a time, so that TensorBoard can follow it
//! while the run goes on. A resumed run starts a file of its own and first reads the run's
//! earlier files: a value the killed process already wrote (the steps after the checkpoint
//! are run again, to the same bits) is not written twice.

pub mod proto;
mod tfrecord;

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use prost::Message;
use proto::{Event, Kind, Summary, Value, What};

/// The folder of a run directory that holds its events files.
pub const DIR: &str = "tb";

/// What every events file's name contains; TensorBoard reads the files that have it.
const MARK: &str = "events.out.tfevents.";

/// An events file being written, and every `(tag, step)` the run's files already hold.
pub struct EventsWriter {
    file: std::fs::File,
    path: PathBuf,
    written: HashSet<(String, i64)>,
}

impl EventsWriter {
    /// A new events file in `run_dir/tb` (created if need be), its first event the file
    /// version, as TensorFlow's writer starts one.
    ///
    /// # Errors
    /// The folder or the file cannot be created, or an earlier file cannot be read.
    pub fn open(run_dir: &Path) -> std::io::Result<Self> {
        let dir = run_dir.join(DIR);
        std::fs::create_dir_all(&dir)?;
        let written = read_dir(&dir)?
            .into_iter()
            .filter_map(|e| match e.what {
                Some(What::Summary(s)) => Some((s, e.step)),
                _ => None,
            })
            .flat_map(|(s, step)| s.value.into_iter().map(move |v| (v.tag, step)))
            .collect();
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        // Sorted by start time, as TensorBoard reads a run's files; the pid keeps two
        // processes of one second apart, `create_new` anything else.
        let mut n = 0;
        let (file, path) = loop {
            let path = dir.join(format!("{MARK}{seconds:010}.{}.{n}", std::process::id()));
            match std::fs::File::options()
                .append(true)
                .create_new(true)
                .open(&path)
            {
                Ok(file) => break (file, path),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 100 => n += 1,
                Err(e) => return Err(e),
            }
        };
        let mut writer = EventsWriter {
            file,
            path,
            written,
        };
        writer.append(0, What::FileVersion("brain.Event:2".into()))?;
        Ok(writer)
    }

    /// The file this writer appends to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `value` as scalar `tag` at `step`, unless the run's files hold it already.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn scalar(&mut self, tag: &str, step: i64, value: f64) -> std::io::Result<()> {
        // TensorBoard's scalars are f32, as Keras' callback writes them.
        #[allow(clippy::cast_possible_truncation)]
        let kind = Kind::SimpleValue(value as f32);
        self.value(tag, step, None, kind)
    }

    /// A PNG file's bytes as image `tag` at `step`.
    ///
    /// # Errors
    /// The file cannot be written, or `png` is not a PNG.
    pub fn png(&mut self, tag: &str, step: i64, png: &[u8]) -> std::io::Result<()> {
        let bad = |e: png::DecodingError| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
        let reader = png::Decoder::new(png).read_info().map_err(bad)?;
        let info = reader.info();
        let colorspace = match info.color_type {
            png::ColorType::Grayscale | png::ColorType::Indexed => 1,
            png::ColorType::GrayscaleAlpha => 2,
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
        };
        let image = proto::Image {
            height: i32::try_from(info.height).unwrap_or(i32::MAX),
            width: i32::try_from(info.width).unwrap_or(i32::MAX),
            colorspace,
            encoded_image_string: png.to_vec(),
        };
        self.value(tag, step, None, Kind::Image(image))
    }

    /// `text` (Markdown, as TensorBoard's text plugin renders it) as `tag` at `step`.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn text(&mut self, tag: &str, step: i64, text: &str) -> std::io::Result<()> {
        let metadata = proto::SummaryMetadata {
            plugin_data: Some(proto::PluginData {
                plugin_name: "text".into(),
                content: Vec::new(),
            }),
        };
        let tensor = proto::TensorProto {
            dtype: proto::DT_STRING,
            tensor_shape: Some(proto::TensorShape {}),
            string_val: vec![text.as_bytes().to_vec()],
        };
        self.value(tag, step, Some(metadata), Kind::Tensor(tensor))
    }

    fn value(
        &mut self,
        tag: &str,
        step: i64,
        metadata: Option<proto::SummaryMetadata>,
        kind: Kind,
    ) -> std::io::Result<()> {
        if !self.written.insert((tag.to_string(), step)) {
            return Ok(());
        }
        let summary = Summary {
            value: vec![Value {
                tag: tag.to_string(),
                metadata,
                kind: Some(kind),
            }],
        };
        self.append(step, What::Summary(summary))
    }

    /// One event, framed, in one write (a kill leaves at most a torn last record, which
    /// readers skip).
    fn append(&mut self, step: i64, what: What) -> std::io::Result<()> {
        let event = Event {
            wall_time: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
            step,
            what: Some(what),
        };
        self.file
            .write_all(&tfrecord::frame(&event.encode_to_vec()))?;
        self.file.flush()
    }
}

/// Every event of the events files in `dir`, file by file in name order (a file's torn end
/// is left out).
///
/// # Errors
/// The folder or a file cannot be read, or a whole record is not an event.
pub fn read_dir(dir: &Path) -> std::io::Result<Vec<Event>> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(MARK))
            })
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    files.sort();
    let mut events = Vec::new();
    for path in files {
        let bytes = std::fs::read(&path)?;
        for record in tfrecord::records(&bytes).0 {
            let event = Event::decode(record).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            })?;
            events.push(event);
        }
    }
    Ok(events)
}

/// The scalars of `events`: `(tag, step, value)` in file order.
pub fn scalars(events: &[Event]) -> Vec<(String, i64, f32)> {
    events
        .iter()
        .filter_map(|e| match &e.what {
            Some(What::Summary(s)) => Some((s, e.step)),
            _ => None,
        })
        .flat_map(|(s, step)| {
            s.value.iter().filter_map(move |v| match v.kind {
                Some(Kind::SimpleValue(x)) => Some((v.tag.clone(), step, x)),
                _ => None,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
