//! The data sets of a run, read before anything is created: each source once, and checked
//! against what its declaration promised.

use std::sync::Arc;

use super::RunError;
use crate::check::plan::{DataSource, Experiment};
use crate::data::{self, Examples};

/// Every data set of `exp`, by index; two over the same source share one copy in memory.
pub fn load(exp: &Experiment) -> Result<Vec<Arc<Examples>>, RunError> {
    let mut loaded: Vec<(DataSource, Arc<Examples>)> = Vec::new();
    let mut out = Vec::new();
    for d in &exp.datasets {
        // Two data sets over the same source share one copy in memory.
        if let Some((_, e)) = loaded.iter().find(|(s, _)| *s == d.source) {
            out.push(e.clone());
            continue;
        }
        let examples = Arc::new(match &d.source {
            DataSource::Mnist { train } => data::load_mnist(if *train {
                data::Split::Train
            } else {
                data::Split::Test
            })?,
            DataSource::Idx { images, labels } => data::load_idx_pair(images, labels)?,
        });
        validate_for(&examples, d)?;
        loaded.push((d.source.clone(), examples.clone()));
        out.push(examples);
    }
    Ok(out)
}

/// The files must hold what the declaration promised: element size and label range.
fn validate_for(examples: &Examples, d: &crate::check::plan::DataSet) -> Result<(), RunError> {
    let declared: usize = d.element_shape.iter().product();
    if examples.features() != declared {
        return Err(RunError::DataMismatch {
            data: d.name.clone(),
            problem: format!(
                "{} has {} values per element, the declaration {declared} ({:?})",
                examples.source,
                examples.features(),
                d.element_shape
            ),
            help: "fix `shape = (...)` in the source, or `reshape(...)`".into(),
        });
    }
    if examples.num_classes() > d.classes {
        // The labels are in the label file, not the image file `examples.source` names.
        let labels = match &d.source {
            DataSource::Idx { labels, .. } => labels.display().to_string(),
            DataSource::Mnist { .. } => examples.source.clone(),
        };
        return Err(RunError::DataMismatch {
            data: d.name.clone(),
            problem: format!(
                "{labels} has labels up to {}, but {} classes are declared",
                examples.num_classes() - 1,
                d.classes
            ),
            help: format!(
                "set `classes = {}` (and the model's last layer to match)",
                examples.num_classes()
            ),
        });
    }
    Ok(())
}
