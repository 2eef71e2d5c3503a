//! What the checker learns from the files a data source reads. A CSV table's columns decide
//! its element shape and its classes, and only the file knows them; the checker asks
//! through [`DataFiles`], which `data::preflight::OnDisk` answers from disk, so that the
//! rest of `check` reads no file and its tests can describe tables that do not exist.

use super::error::CheckError;
use super::plan::{DataSource, Labels};
use crate::source::Span;

/// Reads what a source's files say about its examples.
pub trait DataFiles {
    /// The element shape and labels of `source`'s examples, or a diagnostic on `span`
    /// (the string naming the file). Asked only of sources whose files decide them.
    fn describe(&self, source: &DataSource, span: Span) -> Result<Described, Box<CheckError>>;
}

/// One example's shape and labels, as a source's files give them.
#[derive(Debug, Clone, PartialEq)]
pub struct Described {
    pub element_shape: Vec<usize>,
    pub labels: Labels,
}
