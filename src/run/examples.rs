//! The data sets of a run, read before anything is created: each source once, and checked
//! against what its declaration promised.

use std::sync::Arc;

use rand::SeedableRng;

use super::RunError;
use crate::check::plan::{Action, DataSet, DataSource, Experiment, Labels, Scaling, Subset};
use crate::data::{self, Examples};

/// A source and the selection made of it: what two data sets must share to share memory.
type Selection = (DataSource, Vec<Subset>);

/// Every data set of `exp`, by index. Each source is read once; two data sets over the same
/// source and selection share one copy in memory.
pub fn load(exp: &Experiment) -> Result<Vec<Arc<Examples>>, RunError> {
    let mut loader = Loader {
        exp,
        sources: Vec::new(),
        selected: Vec::new(),
        by_index: vec![None; exp.datasets.len()],
        finished: vec![None; exp.datasets.len()],
        stats: Vec::new(),
    };
    let examples: Vec<Arc<Examples>> = (0..exp.datasets.len())
        .map(|i| loader.finished(i))
        .collect::<Result<_, _>>()?;
    check_prompts(exp, &examples)?;
    Ok(examples)
}

/// What a run says about each data set it streams from disk rather than holding in memory
/// (`images(..., stream = ...)`), so that a user sees which way `auto` went and why.
pub fn streaming_notices(exp: &Experiment, examples: &[Arc<Examples>]) -> Vec<String> {
    exp.datasets
        .iter()
        .zip(examples)
        .filter_map(|(d, e)| {
            let data::Inputs::Files(files) = &e.inputs else {
                return None;
            };
            let decoded = files.paths.len() as u128 * files.features() as u128;
            let why = match &d.source {
                DataSource::Images(spec) if spec.stream == data::Stream::Always => {
                    "`stream = always`".to_string()
                }
                _ => format!(
                    "`stream = auto`: decoded, they would take {}, over the {} it keeps in memory (a quarter of the memory, or `${}`)",
                    human(decoded),
                    human(data::memory_budget()),
                    data::MEMORY_ENV
                ),
            };
            Some(format!(
                "data `{}`: {} images streamed from disk, decoded batch by batch ahead of the step ({why})",
                d.name,
                files.paths.len()
            ))
        })
        .collect()
}

fn human(bytes: u128) -> String {
    crate::output::space::human(u64::try_from(bytes).unwrap_or(u64::MAX))
}

/// Every `sample` action's prompt must be written in its text's vocabulary, which only the
/// text knows: checked as soon as it is read, before anything trains.
fn check_prompts(exp: &Experiment, examples: &[Arc<Examples>]) -> Result<(), RunError> {
    let h = &exp.hooks;
    let actions = exp
        .after
        .iter()
        .chain(&h.epoch_end)
        .chain(h.improved.iter().flat_map(|i| &i.actions));
    for action in actions {
        if let Action::Sample { data, .. } = action {
            let vocabulary = super::sample::Vocabulary::of(&examples[*data].encoding);
            if let Err(outside) = super::sample::check_prompt(action, &vocabulary) {
                return Err(RunError::DataMismatch {
                    data: exp.datasets[*data].name.clone(),
                    problem: format!("cannot sample: {outside}"),
                    help: "write the prompt with characters (or, with `tokens = bytes`, bytes) of the text only".into(),
                });
            }
        }
    }
    Ok(())
}

/// What [`load`] has read so far. A data set is read when first asked for: a `concat`
/// asks for its parts, finished, and a `standardize(from = f)` for `f`'s selection.
struct Loader<'a> {
    exp: &'a Experiment,
    sources: Vec<(DataSource, Arc<Examples>)>,
    selected: Vec<(Selection, Arc<Examples>)>,
    /// Each data set's examples as its `take`, `skip` and `split` selected them.
    by_index: Vec<Option<Arc<Examples>>>,
    /// ... and standardized: what its batches are made of.
    finished: Vec<Option<Arc<Examples>>>,
    /// The statistics of each `from` data set, computed once however many use them
    /// (a training set standardizes itself and its validation and test sets).
    stats: Vec<(usize, Arc<data::ColumnStats>)>,
}

impl Loader<'_> {
    /// Data set `i`'s examples, standardized where it says so.
    fn finished(&mut self, i: usize) -> Result<Arc<Examples>, RunError> {
        if let Some(e) = &self.finished[i] {
            return Ok(e.clone());
        }
        let d = &self.exp.datasets[i];
        let selected = self.selected(i)?;
        let out = match &d.standardize {
            // `standardize(from = f)`: by the statistics of `f`'s examples as selected,
            // before `f` is standardized itself. The checker refuses a `from` that reads
            // this data set through a `concat`, which would need it first.
            Some(from) => match self.exp.datasets.iter().position(|s| s.name == from.from) {
                Some(f) => {
                    let stats = self.stats_of(f)?;
                    Arc::new(selected.in_memory()?.standardized(&stats))
                }
                None => selected,
            },
            None => selected,
        };
        self.finished[i] = Some(out.clone());
        Ok(out)
    }

    fn stats_of(&mut self, f: usize) -> Result<Arc<data::ColumnStats>, RunError> {
        if let Some((_, s)) = self.stats.iter().find(|(j, _)| *j == f) {
            return Ok(s.clone());
        }
        let s = Arc::new(self.selected(f)?.in_memory()?.column_stats());
        self.stats.push((f, s.clone()));
        Ok(s)
    }

    /// Data set `i`'s examples as its source gave them and its subsets kept them.
    fn selected(&mut self, i: usize) -> Result<Arc<Examples>, RunError> {
        if let Some(e) = &self.by_index[i] {
            return Ok(e.clone());
        }
        let d = &self.exp.datasets[i];
        let key = (d.source.clone(), d.subsets.clone());
        let examples = if let Some((_, e)) = self.selected.iter().find(|(k, _)| *k == key) {
            e.clone()
        } else {
            let source = self.source(d)?;
            let examples = select(&source, d, self.exp.seed)?;
            validate_for(&examples, d)?;
            self.selected.push((key, examples.clone()));
            examples
        };
        self.by_index[i] = Some(examples.clone());
        Ok(examples)
    }

    /// The examples of `d`'s source, before any selection: read once per source.
    fn source(&mut self, d: &DataSet) -> Result<Arc<Examples>, RunError> {
        if let Some((_, e)) = self.sources.iter().find(|(s, _)| *s == d.source) {
            return Ok(e.clone());
        }
        let e = Arc::new(match &d.source {
            DataSource::Mnist { train } => data::load_mnist(data::Split::of(*train))?,
            DataSource::Cifar10 { train } => data::load_cifar10(data::Split::of(*train))?,
            DataSource::Idx { images, labels } => data::load_idx_pair(images, labels)?,
            source @ (DataSource::Csv(_)
            | DataSource::Arrays(_)
            | DataSource::Images(_)
            | DataSource::Text(_)
            | DataSource::TextClasses(_)) => data::sources::read(source)?,
            DataSource::Concat(names) => self.concat(d, names)?,
            DataSource::AddingProblem {
                length,
                examples,
                seed,
            } => data::synthetic::adding_problem(*length, *examples, *seed),
        });
        self.sources.push((d.source.clone(), e.clone()));
        Ok(e)
    }

    /// `concat(a, b, ...)`: every part's finished examples, in turn. Parts that scale their
    /// values alike keep their stored values (the data set scales them as they did);
    /// otherwise each part's values are stored as its scaling makes them.
    fn concat(&mut self, d: &DataSet, names: &[String]) -> Result<Examples, RunError> {
        let exp = self.exp;
        let index = |name: &String| {
            exp.datasets
                .iter()
                .position(|s| s.name == *name)
                .unwrap_or_else(|| unreachable!("the checker resolved part `{name}`"))
        };
        let indices: Vec<usize> = names.iter().map(index).collect();
        let sets: Vec<&DataSet> = indices.iter().map(|&j| &exp.datasets[j]).collect();
        let shared = DataSet::shared_scaling(&sets).is_some();
        let mut parts = Vec::new();
        for (&j, set) in indices.iter().zip(&sets) {
            // A streamed part is decoded: a concatenation is held in memory.
            let examples = self.finished(j)?.in_memory()?;
            let scaling = (!shared).then(|| set.scaling.clone());
            parts.push((examples, scaling));
        }
        let borrowed: Vec<(&Examples, Option<&Scaling>)> = parts
            .iter()
            .map(|(e, s)| (e.as_ref(), s.as_ref()))
            .collect();
        Examples::concat(&borrowed).map_err(|problem| RunError::DataMismatch {
            data: d.name.clone(),
            problem,
            help: "concatenate data sets that encode their examples alike: the same columns, categories and class names (`classes = (...)` on each source fixes their order)".into(),
        })
    }
}

/// The examples of `source` that `d`'s `take`, `skip` and `split` keep, in order.
fn select(source: &Arc<Examples>, d: &DataSet, seed: u64) -> Result<Arc<Examples>, RunError> {
    if d.subsets.is_empty() {
        return Ok(source.clone());
    }
    let indices = subset_indices(source.len(), &d.subsets, seed);
    if indices.is_empty() {
        return Err(RunError::DataMismatch {
            data: d.name.clone(),
            problem: format!(
                "no example of the {} in {} is left after `take`, `skip` and `split`",
                source.len(),
                source.source
            ),
            help: "keep at least one example: a smaller `skip`, a larger `take`, or another `split` fraction".into(),
        });
    }
    Ok(Arc::new(source.select(&indices)))
}

/// The indices of `0..n` that `subsets` keep, in order. A shuffled `split` permutes with a
/// generator seeded by the experiment's seed (and the position in the pipeline), so both
/// parts of one source see the same permutation and share no example.
pub fn subset_indices(n: usize, subsets: &[Subset], seed: u64) -> Vec<usize> {
    let mut kept: Vec<usize> = (0..n).collect();
    for (position, subset) in subsets.iter().enumerate() {
        kept = match *subset {
            Subset::Take(count) => kept.into_iter().take(count).collect(),
            Subset::Skip(count) => kept.into_iter().skip(count).collect(),
            Subset::Split {
                fraction,
                right,
                shuffle,
            } => {
                if shuffle {
                    // A stream of its own, apart from the shuffle and dropout streams.
                    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
                    rng.set_stream(0x5350_4c49_5400_0000 | position as u64);
                    let order = data::shuffle_order(kept.len(), kept.len(), &mut rng);
                    kept = order.into_iter().map(|i| kept[i]).collect();
                }
                // Keras' `split_dataset`: Python's `round(left_size * total_length)`, ties to
                // even. fraction is in [0, 1), so the result is in [0, len].
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let left =
                    ((fraction * kept.len() as f64).round_ties_even() as usize).min(kept.len());
                if right {
                    kept.split_off(left)
                } else {
                    kept.truncate(left);
                    kept
                }
            }
        };
    }
    kept
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
    let Labels::Classes { classes, .. } = d.labels else {
        return Ok(());
    };
    if examples.num_classes() > classes {
        // The labels are in the label file, not the image file `examples.source` names.
        let labels = match &d.source {
            DataSource::Idx { labels, .. } => labels.display().to_string(),
            DataSource::Arrays(a) => a.y.display().to_string(),
            DataSource::Mnist { .. }
            | DataSource::Cifar10 { .. }
            | DataSource::Csv(_)
            | DataSource::Images(_)
            | DataSource::Text(_)
            | DataSource::TextClasses(_)
            | DataSource::Concat(_)
            | DataSource::AddingProblem { .. } => examples.source.clone(),
        };
        return Err(RunError::DataMismatch {
            data: d.name.clone(),
            problem: format!(
                "{labels} has labels up to {}, but {} classes are declared",
                examples.num_classes() - 1,
                classes
            ),
            help: format!(
                "set `classes = {}` (and the model's last layer to match)",
                examples.num_classes()
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(fraction: f64, right: bool, shuffle: bool) -> Subset {
        Subset::Split {
            fraction,
            right,
            shuffle,
        }
    }

    #[test]
    fn take_and_skip_are_tf_data_s() {
        assert_eq!(subset_indices(5, &[Subset::Take(3)], 0), [0, 1, 2]);
        assert_eq!(subset_indices(5, &[Subset::Take(9)], 0), [0, 1, 2, 3, 4]);
        assert_eq!(subset_indices(5, &[Subset::Skip(3)], 0), [3, 4]);
        assert!(subset_indices(5, &[Subset::Skip(9)], 0).is_empty());
        let both = [Subset::Skip(1), Subset::Take(2)];
        assert_eq!(subset_indices(5, &both, 0), [1, 2]);
    }

    #[test]
    fn split_rounds_as_keras_and_keeps_the_rest_on_the_right() {
        // keras.utils.split_dataset(range(10), left_size=0.75): round(7.5) = 8 and 2;
        // left_size=0.65: round(6.5) = 6 and 4 (Python rounds ties to even).
        assert_eq!(subset_indices(10, &[split(0.75, false, false)], 0).len(), 8);
        assert_eq!(subset_indices(10, &[split(0.75, true, false)], 0), [8, 9]);
        assert_eq!(subset_indices(10, &[split(0.65, false, false)], 0).len(), 6);
        assert_eq!(
            subset_indices(1000, &[split(0.8, false, false)], 0).len(),
            800
        );
    }

    #[test]
    fn shuffled_parts_are_disjoint_cover_everything_and_follow_the_seed() {
        let left = subset_indices(100, &[split(0.8, false, true)], 42);
        let right = subset_indices(100, &[split(0.8, true, true)], 42);
        assert_eq!((left.len(), right.len()), (80, 20));
        let mut all: Vec<usize> = left.iter().chain(&right).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        assert_ne!(left, (0..80).collect::<Vec<_>>(), "permuted");
        assert_eq!(left, subset_indices(100, &[split(0.8, false, true)], 42));
        assert_ne!(left, subset_indices(100, &[split(0.8, false, true)], 43));
    }
}
