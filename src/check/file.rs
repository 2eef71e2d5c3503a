//! The file as a whole, in phases: declarations collected into tables,
//! optimizers resolved against the models, the `experiment` header, the
//! `train` block and the steps, metrics and hooks, then the checks that need
//! all of them (a model never called). Each phase reports into the same list;
//! `check` sorts it by position afterwards.

use super::data::check_data;
use super::error::CheckError;
use super::graph::{read_graph, read_stack_with_blocks, Blocks};
use super::model::{read_layers, ModelDraft};
use super::optimizers::{read_loss, read_optimizer};
use super::plan::{DataSet, DataSource, Experiment, Hooks, Labels, Loss, Model, Optimizer, Step};
use super::sources::DataFiles;
use super::steps::{self, StepCx};
use super::train::{self, TrainSettings};
use super::{evaluation, first_decl_span, grid, hooks, metrics, stopping, Table};
use crate::source::Span;
use crate::syntax::ast::{
    Call, DeclKind, File, Graph, Ident, LayerItem, Setting, MAX_LAYERS, MAX_REPEAT,
};

pub fn check_file(
    file: &File,
    files: &dyn DataFiles,
    errors: &mut Vec<CheckError>,
) -> Option<Experiment> {
    let decls = Decls::collect(file, files, errors);
    check_standardize_sources(&decls.datasets, errors);
    let optimizers = resolve_optimizers(&decls.optimizers, &decls.models, errors);
    let (name, seed, threads) = header(decls.experiment, errors);

    let mut cx = StepCx {
        datasets: &decls.datasets,
        models: &decls.models,
        losses: &decls.losses,
        optimizers: &optimizers,
        inferred: vec![None; decls.models.items.len()],
        failed_data: Vec::new(),
        poisoned: Vec::new(),
        incomplete: false,
        producers: std::collections::HashMap::new(),
        envs: std::collections::HashMap::new(),
        failed_names: Vec::new(),
        matrices: Vec::new(),
    };
    let mut standard = Vec::new();
    let settings = match decls.train {
        Some((settings, span)) => {
            train::check_train(settings, span, &mut cx, &mut standard, errors)
        }
        None => {
            errors.push(CheckError::missing(
                "no `train` block",
                "the experiment never says how long to train".into(),
                first_decl_span(file, |_| true),
                "add `train { epochs = 5 }` (and `model`, `data`, `loss`, `optimizer` for the standard step)",
            ));
            TrainSettings::default()
        }
    };
    let plan_steps = check_steps(file, decls.train.map(|t| t.1), standard, &mut cx, errors);

    let (matrices, metrics): (Vec<_>, Vec<_>) =
        metrics::check_metrics(file, &plan_steps, &mut cx, errors)
            .into_iter()
            .partition(|m| m.kind.is_file());
    cx.matrices = matrices.iter().map(|m| m.name.clone()).collect();
    let stop = settings
        .stop
        .as_ref()
        .and_then(|s| stopping::check_stop(s, &metrics, &cx, errors));
    if let (0, Some(span)) = (settings.epochs, settings.epochs_span) {
        let every: Vec<_> = metrics.iter().chain(&matrices).cloned().collect();
        evaluation::check_evaluation_only(file, span, &plan_steps, &every, errors);
        if let Some(rule) = &settings.stop {
            errors.push(
                CheckError::invalid(
                    "an evaluation-only run has no training to stop".into(),
                    "a stopping rule".into(),
                    rule.span,
                )
                .with_related(span, "no training: `epochs = 0`")
                .with_help("remove `stop`, or train for at least 1 epoch"),
            );
        }
    }
    let mut hooks = Hooks::default();
    grid::infer_grid_models(file, &mut cx, &plan_steps);
    let (before, after) = hooks::check_hooks(file, &cx, &plan_steps, &metrics, &mut hooks, errors);

    report_unused_models(&decls.models, &cx, errors);
    check_vocabularies(&decls.datasets, &cx.inferred, errors);
    let models = cx.inferred.into_iter().collect::<Option<Vec<_>>>()?;
    Some(Experiment {
        name,
        seed,
        threads,
        epochs: settings.epochs,
        on_non_finite: settings.on_non_finite,
        max_time: settings.max_time,
        checkpoints: settings.checkpoints,
        stop,
        averages: settings.averages,
        datasets: decls.datasets.items.into_iter().map(|(_, d)| d).collect(),
        models,
        losses: decls.losses.items.into_iter().map(|(_, l)| l).collect(),
        optimizers: optimizers.items.into_iter().map(|(_, o)| o).collect(),
        steps: plan_steps,
        metrics,
        matrices,
        hooks,
        before,
        after,
    })
}

/// The top-level declarations that need no other: data sets, models and
/// losses checked on their own, and where the rest are, for later phases.
struct Decls<'a> {
    datasets: Table<DataSet>,
    models: Table<(ModelDraft, Span)>,
    losses: Table<Loss>,
    /// Resolved once every model is known: `for` may name a later one.
    optimizers: Vec<(&'a Ident, &'a Call, &'a [Ident])>,
    experiment: Option<(&'a Ident, &'a [Setting])>,
    train: Option<(&'a [Setting], Span)>,
}

impl<'a> Decls<'a> {
    fn collect(file: &'a File, files: &dyn DataFiles, errors: &mut Vec<CheckError>) -> Self {
        let mut decls = Decls {
            datasets: Table::default(),
            models: Table::default(),
            losses: Table::default(),
            optimizers: Vec::new(),
            experiment: None,
            train: None,
        };
        let blocks = collect_blocks(file, errors);
        decls.datasets = collect_datasets(file, files, errors);
        for decl in &file.decls {
            match &decl.kind {
                DeclKind::Experiment { name, settings } => {
                    decls.add_experiment(name, settings, errors);
                }
                DeclKind::Model { name, layers } => {
                    decls.add_model(name, layers, decl.span, &blocks, errors);
                }
                DeclKind::GraphModel { name, graph } => {
                    decls.add_graph_model(name, graph, decl.span, &blocks, errors);
                }
                DeclKind::Loss { name, call } => decls.add_loss(name, call, errors),
                DeclKind::Optimizer {
                    name,
                    call,
                    models: for_models,
                } => decls.optimizers.push((name, call, for_models)),
                DeclKind::Train { settings } => decls.add_train(settings, decl.span, errors),
                DeclKind::Metrics { .. }
                | DeclKind::Data { .. }
                | DeclKind::Block { .. }
                | DeclKind::Step { .. }
                | DeclKind::Hook { .. }
                | DeclKind::Before { .. }
                | DeclKind::After { .. }
                | DeclKind::Sweep { .. } => {}
            }
        }
        decls
    }

    fn add_experiment(
        &mut self,
        name: &'a Ident,
        settings: &'a [Setting],
        errors: &mut Vec<CheckError>,
    ) {
        if let Some((first, _)) = self.experiment {
            errors.push(CheckError::duplicate(
                "experiment",
                &name.name,
                name.span,
                first.span,
            ));
        } else {
            self.experiment = Some((name, settings));
        }
    }

    fn add_model(
        &mut self,
        name: &Ident,
        items: &[LayerItem],
        span: Span,
        blocks: &Blocks<'_>,
        errors: &mut Vec<CheckError>,
    ) {
        let errors_before = errors.len();
        if !check_repeats(items, errors) {
            self.models.insert_broken(name);
            self.models
                .insert("model", name, (ModelDraft::Stack(Vec::new()), span), errors);
            return;
        }
        let layers = LayerItem::expand(items);
        let layers = layers.as_slice();
        if layers.iter().any(|c| blocks.contains_key(&c.name.name)) {
            // A stack that uses a block is a graph of one input.
            match read_stack_with_blocks(layers, span, blocks, errors) {
                Some(g) => self
                    .models
                    .insert("model", name, (ModelDraft::Graph(g), span), errors),
                None => {
                    self.models.insert_broken(name);
                    self.models.insert(
                        "model",
                        name,
                        (ModelDraft::Stack(Vec::new()), span),
                        errors,
                    );
                }
            }
            return;
        }
        let drafts = read_layers(layers, errors);
        for d in &drafts {
            if let Some(&(value, span)) = d.kind.more_inputs().first() {
                errors.push(super::graph::second_input_in_stack(value, span));
            }
            if !d.kind.more_outputs().is_empty() {
                errors.push(super::graph::several_outputs_in_stack(&d.kind, d.span));
            }
        }
        if layers.is_empty() {
            errors.push(CheckError::missing(
                "no layers",
                format!("model `{}` has no layers", name.name),
                name.span,
                "list its layers between the braces, e.g. `dense(units = 10)`",
            ));
        }
        // A model with a bad layer has no shapes to infer: its callers stay quiet.
        if errors.len() > errors_before {
            self.models.insert_broken(name);
        }
        self.models
            .insert("model", name, (ModelDraft::Stack(drafts), span), errors);
    }

    fn add_graph_model(
        &mut self,
        name: &Ident,
        graph: &Graph,
        span: Span,
        blocks: &Blocks<'_>,
        errors: &mut Vec<CheckError>,
    ) {
        match read_graph(graph, blocks, errors) {
            Some(g) => self
                .models
                .insert("model", name, (ModelDraft::Graph(g), span), errors),
            None => {
                // Its callers stay quiet; a placeholder keeps the name known.
                self.models.insert_broken(name);
                self.models
                    .insert("model", name, (ModelDraft::Stack(Vec::new()), span), errors);
            }
        }
    }

    fn add_loss(&mut self, name: &Ident, call: &Call, errors: &mut Vec<CheckError>) {
        if let Some(loss) = read_loss(&name.name, call, errors) {
            self.losses.insert("loss", name, loss, errors);
        } else {
            self.losses.insert_broken(name);
        }
    }

    fn add_train(&mut self, settings: &'a [Setting], span: Span, errors: &mut Vec<CheckError>) {
        if let Some((_, first)) = self.train {
            errors.push(
                CheckError::duplicate(
                    "block",
                    "train",
                    keyword(span, "train"),
                    keyword(first, "train"),
                )
                .with_help("merge the two `train` blocks"),
            );
        } else {
            self.train = Some((settings, span));
        }
    }
}

/// Reads each optimizer and the models it updates (all of them without `for`).
fn resolve_optimizers(
    decls: &[(&Ident, &Call, &[Ident])],
    models: &Table<(ModelDraft, Span)>,
    errors: &mut Vec<CheckError>,
) -> Table<Optimizer> {
    let mut optimizers = Table::default();
    for &(name, call, for_models) in decls {
        let model_ids: Vec<usize> = if for_models.is_empty() {
            (0..models.items.len()).collect()
        } else {
            for_models
                .iter()
                .filter_map(|m| models.resolve("model", m, errors))
                .collect()
        };
        frozen_models_only(name, &model_ids, models, errors);
        if let Some(read) = read_optimizer(call, errors) {
            let opt = Optimizer {
                name: name.name.clone(),
                kind: read.kind,
                lr: read.lr,
                accumulate: read.accumulate,
                models: model_ids,
            };
            optimizers.insert("optimizer", name, opt, errors);
        } else {
            optimizers.insert_broken(name);
        }
    }
    optimizers
}

/// Reports an optimizer whose models have layers with parameters, every one of them frozen
/// (`trainable = false`): it would update nothing.
fn frozen_models_only(
    name: &Ident,
    model_ids: &[usize],
    models: &Table<(ModelDraft, Span)>,
    errors: &mut Vec<CheckError>,
) {
    let mut freezable = model_ids
        .iter()
        .flat_map(|&m| models.items[m].1 .0.layers())
        .filter(|(kind, _)| kind.entry().params.iter().any(|p| p.name == "trainable"))
        .peekable();
    if freezable.peek().is_none() || freezable.any(|(_, trainable)| trainable) {
        return;
    }
    let names: Vec<String> = model_ids
        .iter()
        .map(|&m| format!("`{}`", models.items[m].0.name))
        .collect();
    errors.push(
        CheckError::invalid(
            format!(
                "optimizer `{}` has nothing to update: every layer of {} is frozen",
                name.name,
                names.join(", ")
            ),
            "this optimizer updates only frozen layers".into(),
            name.span,
        )
        .with_help(
            "remove `trainable = false` from the layers it should train, or remove this optimizer",
        ),
    );
}

/// The most worker threads a run may ask for: 4 × this machine's cores. More only adds
/// contention (and `threads = 1000000` would try to spawn them all).
pub fn max_threads() -> usize {
    4 * std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// The experiment's name, seed and thread count.
fn header(
    experiment: Option<(&Ident, &[Setting])>,
    errors: &mut Vec<CheckError>,
) -> (String, u64, Option<usize>) {
    match experiment {
        Some((name, settings)) => {
            let (seed, threads) = experiment_settings(settings, errors);
            (name.name.clone(), seed, threads)
        }
        None => {
            errors.push(CheckError::missing(
                "the file starts here",
                "no `experiment` declaration".into(),
                Span::new(0, 0),
                "start the file with `experiment NAME { seed = 42 }`",
            ));
            (String::new(), 0, None)
        }
    }
}

fn experiment_settings(settings: &[Setting], errors: &mut Vec<CheckError>) -> (u64, Option<usize>) {
    let mut seed = 0;
    let mut threads = None;
    for s in settings {
        match s.name.name.as_str() {
            "seed" => {
                if let Some(v) = super::args::whole(&s.value, "seed", 0, u64::MAX, errors) {
                    seed = v;
                }
            }
            "threads" => {
                let max = max_threads() as u64;
                let before = errors.len();
                // At most `max_threads()`, a usize.
                #[allow(clippy::cast_possible_truncation)]
                let capped =
                    super::args::whole(&s.value, "threads", 1, max, errors).map(|v| v as usize);
                threads = capped;
                if let Some(e) = errors.get_mut(before).filter(|e| e.code == "out_of_range") {
                    e.help = Some(format!(
                        "the limit is 4 × this machine's {} cores; more threads only contend",
                        max / 4
                    ));
                }
            }
            other => errors.push(CheckError::unknown_parameter(
                "experiment",
                other,
                s.name.span,
                &["seed", "threads"],
            )),
        }
    }
    (seed, threads)
}

/// The `step` declarations, after the standard steps `train { }` desugared
/// (`standard`), and the checks over all of them: one step per data set, and
/// something trained at all. `train` is the `train` block's span.
fn check_steps(
    file: &File,
    train: Option<Span>,
    mut plan_steps: Vec<(Step, Span)>,
    cx: &mut StepCx<'_>,
    errors: &mut Vec<CheckError>,
) -> Vec<Step> {
    for decl in &file.decls {
        if let DeclKind::Step { data, x, y, body } = &decl.kind {
            if let Some(step) = steps::check_step(cx, data, x, y, body, errors) {
                plan_steps.push((step, decl.span));
            }
        }
    }
    steps::check_step_data_unique(&plan_steps, cx, errors);
    let plan_steps: Vec<_> = plan_steps.into_iter().map(|(s, _)| s).collect();
    if plan_steps.is_empty() && train.is_some() && cx.failed_data.is_empty() && !cx.incomplete {
        errors.push(CheckError::missing(
            "no training step",
            "nothing is trained".into(),
            train.map_or(Span::new(0, 0), |t| keyword(t, "train")),
            "set `model`, `data`, `loss` and `optimizer` in `train { }`, or write a `step on DATA (x, y) { ... }`",
        ));
    }
    plan_steps
}

/// Each `repeat`'s count is a whole number from 1 to `MAX_REPEAT`, and the stack expands to
/// at most `MAX_LAYERS` layers; false after reporting.
pub fn check_repeats(items: &[LayerItem], errors: &mut Vec<CheckError>) -> bool {
    fn walk(items: &[LayerItem], errors: &mut Vec<CheckError>) -> bool {
        let mut ok = true;
        for item in items {
            if let LayerItem::Repeat { count, items, .. } = item {
                let fine = matches!(count.kind, crate::syntax::ast::ExprKind::Int(n) if (1..=MAX_REPEAT).contains(&n));
                if !fine {
                    errors.push(CheckError::out_of_range(
                        "`repeat`",
                        count.kind.literal().unwrap_or_default(),
                        &format!("a whole number from 1 to {MAX_REPEAT}"),
                        count.span,
                    ));
                    ok = false;
                }
                ok &= walk(items, errors);
            }
        }
        ok
    }
    if !walk(items, errors) {
        return false;
    }
    if LayerItem::expanded_len(items) > MAX_LAYERS as u128 {
        let span = items.first().map_or(Span::new(0, 0), LayerItem::span);
        errors.push(
            CheckError::invalid(
                format!("the layers repeat to more than {MAX_LAYERS}"),
                "repeated here".into(),
                span,
            )
            .with_help("repeat fewer times"),
        );
        return false;
    }
    true
}

/// The blocks declared in the file, by name (a second declaration of a name is reported).
fn collect_blocks<'a>(file: &'a File, errors: &mut Vec<CheckError>) -> Blocks<'a> {
    let mut blocks = Blocks::new();
    for decl in &file.decls {
        if let DeclKind::Block { name, params, body } = &decl.kind {
            if let Some((first, ..)) = blocks.get(&name.name) {
                errors.push(CheckError::duplicate(
                    "block", &name.name, name.span, first.span,
                ));
                continue;
            }
            if <crate::catalog::Layer as crate::catalog::Catalogued>::named(&name.name).is_some() {
                errors.push(
                    CheckError::invalid(
                        format!("block `{}` has the name of a layer", name.name),
                        "a layer's name".into(),
                        name.span,
                    )
                    .with_help("name the block apart from the layers"),
                );
                continue;
            }
            blocks.insert(name.name.clone(), (name, params.as_slice(), body));
        }
    }
    blocks
}

/// A model no step calls has no input shape: report it, unless an earlier
/// error already explains why (a failed step, a broken model, a shape error).
fn report_unused_models(
    models: &Table<(ModelDraft, Span)>,
    cx: &StepCx<'_>,
    errors: &mut Vec<CheckError>,
) {
    for (i, (name, _)) in models.items.iter().enumerate() {
        if cx.inferred[i].is_none()
            && cx.failed_data.is_empty()
            && !cx.incomplete
            && !models.is_broken(&name.name)
            && !errors.iter().any(|e| e.code == "shape")
        {
            errors.push(CheckError::missing(
                "never called",
                format!("model `{}` is never used by a step", name.name),
                name.span,
                "call it in a step, or set `model = ...` in `train { }`",
            ));
        }
    }
}

/// The `data` declarations, each checked after the data sets its `concat` reads (in file
/// order otherwise). A `concat` that reads itself, directly or through others, is reported.
fn collect_datasets(
    file: &File,
    files: &dyn DataFiles,
    errors: &mut Vec<CheckError>,
) -> Table<DataSet> {
    let decls: Vec<(&Ident, &[Call], Span)> = file
        .decls
        .iter()
        .filter_map(|d| match &d.kind {
            DeclKind::Data { name, pipeline } => Some((name, pipeline.as_slice(), d.span)),
            _ => None,
        })
        .collect();
    let parts: Vec<Vec<&Ident>> = decls.iter().map(|(_, p, _)| concat_parts(p)).collect();
    let read_by_concat = |name: &str| parts.iter().flatten().any(|p| p.name == name);
    let mut done = vec![false; decls.len()];
    let pending = |done: &[bool], part: &Ident| {
        decls
            .iter()
            .zip(done)
            .any(|((name, _, _), &done)| name.name == part.name && !done)
    };
    let mut table = Table::default();
    loop {
        let mut progress = false;
        for (i, &(name, pipeline, span)) in decls.iter().enumerate() {
            if done[i] || parts[i].iter().any(|p| pending(&done, p)) {
                continue;
            }
            let part = read_by_concat(&name.name);
            match check_data(name, pipeline, span, files, &table, part, errors) {
                Some(data) => table.insert("data", name, data, errors),
                // Its files could not say what it holds: what reads it is not
                // checked against a guess.
                None => table.insert_broken(name),
            }
            done[i] = true;
            progress = true;
        }
        if !progress {
            break;
        }
    }
    // What is left concatenates itself: one diagnostic per cycle, on its first declaration.
    let mut reported = vec![false; decls.len()];
    for start in 0..decls.len() {
        if done[start] || reported[start] {
            continue;
        }
        let mut path = vec![start];
        let mut at = start;
        let first_pending = |at: usize| {
            let part = parts[at].iter().find(|p| pending(&done, p))?;
            let next = decls.iter().position(|(n, _, _)| n.name == part.name)?;
            Some((*part, next))
        };
        let mut closing = None;
        while let Some((part, next)) = first_pending(at) {
            if reported[next] {
                // It reads a cycle reported already: one mistake, one diagnostic.
                break;
            }
            if let Some(k) = path.iter().position(|&p| p == next) {
                closing = Some((part, k));
                break;
            }
            path.push(next);
            at = next;
        }
        let Some((part, k)) = closing else {
            continue;
        };
        let cycle = &path[k..];
        let names: Vec<String> = cycle
            .iter()
            .chain(std::iter::once(&cycle[0]))
            .map(|&i| format!("`{}`", decls[i].0.name))
            .collect();
        let title = if cycle.len() == 1 {
            format!("data `{}` concatenates itself", decls[cycle[0]].0.name)
        } else {
            format!(
                "data sets concatenate each other in a cycle: {}",
                names.join(" → ")
            )
        };
        errors.push(
            CheckError::invalid(title, "read here, before it exists".into(), part.span)
                .with_help("a data set cannot contain itself: join the sources' own `data` declarations, e.g. `concat(train_raw, test_raw)`"),
        );
        for &i in &path {
            reported[i] = true;
        }
        for &i in cycle {
            table.insert_broken(decls[i].0);
        }
    }
    for (i, (name, _, _)) in decls.iter().enumerate() {
        if !done[i] && !table.is_broken(&name.name) {
            table.insert_broken(name);
        }
    }
    table
}

/// Whether `data` is `name` or reads it through `concat`s, however deep.
fn concatenates(datasets: &Table<DataSet>, data: &DataSet, name: &str) -> bool {
    let crate::check::plan::DataSource::Concat(parts) = &data.source else {
        return false;
    };
    parts.iter().any(|p| {
        p == name
            || datasets
                .index(p)
                .is_some_and(|i| concatenates(datasets, &datasets.items[i].1, name))
    })
}

/// The data names a pipeline starting with `concat(...)` reads; none for any other source.
fn concat_parts(pipeline: &[Call]) -> Vec<&Ident> {
    match pipeline.first() {
        Some(call)
            if call.name.name
                == crate::catalog::Catalogued::entry(crate::catalog::Source::Concat).name =>
        {
            call.args
                .iter()
                .filter(|a| a.name.is_none())
                .filter_map(|a| match &a.value.kind {
                    crate::syntax::ast::ExprKind::Name(id) => Some(id),
                    _ => None,
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

/// The span of a declaration's leading keyword, for diagnostics about a whole block.
pub(super) fn keyword(decl: Span, word: &str) -> Span {
    Span::new(decl.start, decl.start + word.len())
}

/// `standardize(from = d)`: `d` is a data set of as many values per example.
fn check_standardize_sources(datasets: &Table<DataSet>, errors: &mut Vec<CheckError>) {
    for (_, data) in &datasets.items {
        let Some(standardize) = &data.standardize else {
            continue;
        };
        let Some(from) = datasets.index(&standardize.from) else {
            if !datasets.is_broken(&standardize.from) {
                errors.push(CheckError::unknown(
                    "data",
                    &standardize.from,
                    standardize.span,
                    &datasets.names(),
                ));
            }
            continue;
        };
        let source = &datasets.items[from].1;
        if source.name != data.name && concatenates(datasets, source, &data.name) {
            errors.push(
                CheckError::invalid(
                    format!(
                        "data `{}` is standardized by `{}`, which concatenates it",
                        data.name, source.name
                    ),
                    format!("statistics of `{}`", source.name),
                    standardize.span,
                )
                .with_help("standardize the concatenation instead, or each part by a data set apart from it"),
            );
            continue;
        }
        let values = |d: &DataSet| d.element_shape.iter().product::<usize>();
        if values(source) != values(data) {
            errors.push(CheckError::shape(
                format!(
                    "data `{}` has {} values per example, `{}` {}",
                    data.name,
                    values(data),
                    source.name,
                    values(source)
                ),
                format!("statistics of `{}`", source.name),
                standardize.span,
                "standardize by a data set of the same columns, such as the training part of the same file",
            ));
        }
    }
}

/// A model that starts with an `embedding` has a row for each token id `0..input_dim`: every
/// text data set it can read (of its input shape) must have no more tokens than that, or the
/// ids past the table would have no vector.
fn check_vocabularies(
    datasets: &Table<DataSet>,
    models: &[Option<Model>],
    errors: &mut Vec<CheckError>,
) {
    use crate::layers::{embedding::Embedding, LayerKind};
    for model in models.iter().flatten() {
        let Some(first) = model.layers.first() else {
            continue;
        };
        let LayerKind::Embedding(Embedding { input_dim, .. }) = first.kind else {
            continue;
        };
        for (name, data) in &datasets.items {
            let (classes, what) = match (&data.labels, &data.source) {
                (Labels::Tokens { classes, .. }, DataSource::Text(_)) => {
                    (*classes, "distinct characters")
                }
                (_, DataSource::TextClasses(_)) => (
                    crate::data::text_classes::VOCABULARY,
                    "ids: 256 bytes and the padding",
                ),
                _ => continue,
            };
            if classes > input_dim && data.element_shape == model.input_shape {
                errors.push(
                    CheckError::shape(
                        format!("data `{}` has a vocabulary of {classes} tokens, but `embedding` of model `{}` has rows for {input_dim}", name.name, model.name),
                        format!("input_dim = {input_dim}"),
                        first.span,
                        format!("set `input_dim = {classes}`, the data's vocabulary"),
                    )
                    .with_related(data.source_span, format!("{classes} {what}")),
                );
                // One diagnostic per model: the fix is the same for every data set.
                break;
            }
        }
    }
}
