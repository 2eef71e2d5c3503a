//! The checked experiment: every name resolved, every value in range, every
//! shape known. `lower` and `run` take this, never the AST.

use std::path::PathBuf;

use crate::source::Span;

#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    pub name: String,
    pub seed: u64,
    /// Worker threads; `None` uses every core.
    pub threads: Option<usize>,
    pub epochs: usize,
    /// What to do when a loss or gradient is NaN or infinite.
    pub on_non_finite: NonFinitePolicy,
    /// `train { max_time = "2h" }`: the time (training and evaluation, across resumes)
    /// after which the run stops cleanly.
    pub max_time: Option<std::time::Duration>,
    pub checkpoints: CheckpointSettings,
    /// When the loop stops before its last epoch.
    pub stop: Option<EarlyStopping>,
    /// `train { ema = ema(MODEL, decay) }`: models whose weights are also averaged.
    pub averages: Vec<Average>,
    pub datasets: Vec<DataSet>,
    pub models: Vec<Model>,
    pub losses: Vec<Loss>,
    pub optimizers: Vec<Optimizer>,
    /// Steps that update parameters run first each epoch, then the others.
    pub steps: Vec<Step>,
    /// The metrics with a value each epoch (the history, the log, monitors).
    pub metrics: Vec<Metric>,
    /// The metrics written to files each epoch (`confusion_matrix`).
    pub matrices: Vec<Metric>,
    pub hooks: Hooks,
    pub before: Vec<Action>,
    pub after: Vec<Action>,
}

/// `train { stop = early_stopping(...) }`: Keras' `EarlyStopping`, on a metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EarlyStopping {
    /// Index into `Experiment::metrics`.
    pub metric: usize,
    /// `mode = max` (or `auto` on a metric that goes up): larger is better.
    pub maximize: bool,
    /// Epochs without improvement before the loop stops (at least 1).
    pub patience: usize,
    /// The least change that counts as an improvement.
    pub min_delta: f64,
    /// Whether the best epoch's weights are put back when training ends.
    pub restore_best: bool,
    /// Epochs (from 0) before this one are not monitored.
    pub start_from_epoch: usize,
}

/// `train { checkpoint_steps = 500  checkpoint_epochs = 1  checkpoint_keep = 3 }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointSettings {
    /// Every N training steps; 0 for never.
    pub every_steps: u64,
    /// Every N epochs; 0 for never.
    pub every_epochs: usize,
    /// How many of the newest checkpoints to keep.
    pub keep: usize,
}

impl Default for CheckpointSettings {
    fn default() -> Self {
        CheckpointSettings {
            every_steps: 0,
            every_epochs: 1,
            keep: 3,
        }
    }
}

/// `ema(MODEL, decay = 0.999)`: after each update of model `model`, its average becomes
/// `decay * average + (1 - decay) * weights` (timm's `ModelEmaV2`), starting from the
/// initial weights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Average {
    pub model: usize,
    pub decay: f64,
}

/// `train { on_nan = stop | skip_batch | restore_last }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NonFinitePolicy {
    /// Stop the run with an error naming the epoch, step and value.
    #[default]
    Stop,
    /// Skip the update and go on with the next batch (`skip_batch`, or `skip`).
    Skip,
    /// Skip the update, put back the weights and optimizer state of the last checkpoint
    /// (or of the start), and go on with the next batch.
    RestoreLast,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DataSet {
    pub name: String,
    pub source: DataSource,
    /// When a batch is built, each stored value becomes `value * scale + shift` (`scale`
    /// and `normalize` fold into these numbers, one pair or one per channel).
    pub scaling: Scaling,
    /// Each input column scaled to mean 0 and standard deviation 1 by the statistics of
    /// another data set's examples (or this one's), before any other transform.
    pub standardize: Option<Standardize>,
    /// Which of the source's examples the data set keeps (`take`, `skip`, `split`), in
    /// order; applied once, before any shuffling.
    pub subsets: Vec<Subset>,
    /// Random flips, translations, rotations and noise, drawn anew for each example each epoch
    /// (`data::augment`), in the pipeline's order, after the scalings.
    pub augment: Vec<Augment>,
    /// Shape of one element after the transforms, e.g. `[1, 28, 28]`.
    pub element_shape: Vec<usize>,
    /// What each example is labelled with.
    pub labels: Labels,
    /// Shuffle buffer size; `None` keeps the file order.
    pub shuffle: Option<usize>,
    pub batch: usize,
    pub span: Span,
    /// The source's call (`cifar10(split = "train")`), for diagnostics about its data.
    pub source_span: Span,
    /// The strings naming the source's files, in `DataSource::files` order, for
    /// diagnostics about the files themselves.
    pub file_spans: Vec<Span>,
}

impl DataSet {
    /// The scaling every part of a `concat` shares, if they all scale their stored values
    /// alike: the concatenation then keeps the stored values and scales them so. `None`
    /// when they differ: each part's values are then stored scaled (as `f32`).
    pub fn shared_scaling(parts: &[&DataSet]) -> Option<Scaling> {
        let first = parts.first()?;
        parts
            .iter()
            .all(|d| d.scaling.same_bits(&first.scaling))
            .then(|| first.scaling.clone())
    }
}

/// `value * scale + shift` for each stored value: one pair for all of an element's values,
/// or one per channel (`normalize` with a mean and deviation per channel), channel `c`
/// being the `c`-th of as many equal runs of the flattened element (channels first).
#[derive(Debug, Clone, PartialEq)]
pub struct Scaling {
    pub scale: Vec<f32>,
    pub shift: Vec<f32>,
}

impl Default for Scaling {
    fn default() -> Self {
        Scaling {
            scale: vec![1.0],
            shift: vec![0.0],
        }
    }
}

impl Scaling {
    /// One pair for every value.
    pub fn uniform(scale: f32, shift: f32) -> Scaling {
        Scaling {
            scale: vec![scale],
            shift: vec![shift],
        }
    }

    /// `scale(factor)` on top of this scaling.
    pub fn times(&mut self, factor: f32) {
        self.scale.iter_mut().for_each(|s| *s *= factor);
        self.shift.iter_mut().for_each(|s| *s *= factor);
    }

    /// `normalize(mean, std)` on top of this scaling: one pair, or one per channel (the
    /// checker makes their count the channels'). A single pair scaled per channel
    /// becomes one pair per channel.
    pub fn normalize(&mut self, mean: &[f32], std: &[f32]) {
        let n = mean.len().max(self.scale.len());
        let at = |v: &[f32], c: usize| v[c.min(v.len() - 1)];
        let (scale, shift) = (0..n)
            .map(|c| {
                let (m, s) = (at(mean, c), at(std, c));
                (at(&self.scale, c) / s, (at(&self.shift, c) - m) / s)
            })
            .unzip();
        (self.scale, self.shift) = (scale, shift);
    }

    /// Equal to the bit, so that two data sets scaled alike by different spellings are told
    /// apart only where the numbers differ.
    pub fn same_bits(&self, other: &Scaling) -> bool {
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        bits(&self.scale) == bits(&other.scale) && bits(&self.shift) == bits(&other.shift)
    }
}

/// `standardize(from = d)`: by the column statistics of data set `from`'s examples.
#[derive(Debug, Clone, PartialEq)]
pub struct Standardize {
    /// The data set whose examples give the statistics (its name; this one's by default).
    pub from: String,
    pub span: Span,
}

/// What a data set's examples are labelled with, as a step's `y` sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Labels {
    /// A class index in `0..classes` (10 for MNIST); as a one-hot row of `classes` values
    /// with `one_hot()`.
    Classes { classes: usize, one_hot: bool },
    /// `width` numbers per example: regression targets.
    Values { width: usize },
    /// A class index in `0..classes` at each of `length` positions (a language model's
    /// next tokens, from `text`).
    Tokens { classes: usize, length: usize },
}

impl Labels {
    /// The width of `y` as the batch holds it in rows of numbers (one-hot rows or
    /// values); `None` for class indices.
    pub fn dense_width(self) -> Option<usize> {
        match self {
            Labels::Classes { one_hot: false, .. } | Labels::Tokens { .. } => None,
            Labels::Classes { classes, .. } => Some(classes),
            Labels::Values { width } => Some(width),
        }
    }
}

/// One augmentation, applied in the pipeline's order to each example.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Augment {
    /// Mirror left-right (`horizontal`) and/or upside-down (`vertical`), each with
    /// probability 1/2: Keras' `RandomFlip`.
    Flip { horizontal: bool, vertical: bool },
    /// Shift by a whole number of pixels, drawn uniformly from `-round(fraction * size)`
    /// to `+round(fraction * size)` in each direction, the uncovered pixels filled with
    /// the value of a 0 byte (black): torchvision's `RandomAffine(degrees=0, translate=(f, f))`.
    Translate { fraction: f64 },
    /// Pads each side with `padding` pixels of black and crops back to the image's size at
    /// a uniform offset: torchvision's `RandomCrop(size, padding)`, the CIFAR standard. The
    /// same as a shift drawn uniformly from `-padding..=padding` each way.
    Crop { padding: usize },
    /// Blacks out a square of side `size` around a uniform pixel (clipped at the edges):
    /// `Cutout` (`DeVries` and Taylor, 2017), as their code computes it (`data::augment::cutout`).
    Cutout { size: usize },
    /// Rotates about the image's centre by an angle drawn uniformly from `-degrees` to
    /// `+degrees` (positive is counter-clockwise), sampling the nearest pixel and filling the
    /// uncovered corners with black: torchvision's `RandomRotation(degrees)` on a tensor
    /// (`data::augment::rotate`).
    Rotation { degrees: f64 },
    /// Adds normal noise of this standard deviation to every value: Keras' `GaussianNoise`.
    Noise { std: f64 },
}

/// A selection of examples, applied to the source's examples in file order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Subset {
    /// The first n (all, if there are fewer).
    Take(usize),
    /// All but the first n.
    Skip(usize),
    /// The first `round(fraction * n)` examples (ties to even, as Keras), or (`right`) the
    /// others; with `shuffle`,
    /// after a permutation seeded by the experiment's seed, so that two data sets over the
    /// same source with `left` and `right` share no example.
    Split {
        fraction: f64,
        right: bool,
        shuffle: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum DataSource {
    Mnist {
        train: bool,
    },
    /// CIFAR-10's five training batches, or its test batch.
    Cifar10 {
        train: bool,
    },
    Idx {
        images: PathBuf,
        labels: PathBuf,
    },
    Csv(TableSpec),
    /// `npy(x, y)` or `npz(path, x = key, y = key)`: NumPy arrays, one example per row.
    Arrays(ArraySpec),
    /// `images(dir, size, color, on_error, stream)`: one sub-folder of images per class.
    Images(ImageSpec),
    /// `text(path, block, stride)`: windows of a text's characters and the next ones.
    Text(TextSpec),
    /// `text_classes(path, text, target, length)`: labelled texts of a CSV file as byte
    /// tokens.
    TextClasses(TextClassesSpec),
    /// `concat(a, b, ...)`: the examples of other data sets (by name), all of each in turn,
    /// as their pipelines left them.
    Concat(Vec<String>),
    /// `adding_problem(length, examples, seed)`: sequences generated from the seed
    /// (`data::synthetic`).
    AddingProblem {
        length: usize,
        examples: usize,
        seed: u64,
    },
}

/// A text as a character-level language-modelling set.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TextSpec {
    pub path: PathBuf,
    /// Tokens per example.
    pub block: usize,
    /// Tokens between the starts of consecutive examples.
    pub stride: usize,
    /// `tokens = bytes`: a token per byte of the file, not per character.
    pub bytes: bool,
}

/// A CSV file of labelled texts as padded byte-token sequences and classes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TextClassesSpec {
    pub path: PathBuf,
    /// The column of texts.
    pub text: String,
    /// The column of labels.
    pub target: String,
    /// Tokens per example: longer texts are cut, shorter ones padded with 0s.
    pub length: usize,
    /// `classes = (...)`: the labels in class order; empty for the file's labels, sorted.
    pub classes: Vec<String>,
}

/// Inputs and targets from NumPy arrays: `.npy` files, or arrays of one `.npz` archive.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ArraySpec {
    /// The inputs' file; for `npz`, the archive.
    pub x: PathBuf,
    /// The targets' file; for `npz`, the archive again.
    pub y: PathBuf,
    /// For `npz`: the arrays' names in the archive.
    pub keys: Option<(String, String)>,
    pub task: Task,
}

impl ArraySpec {
    /// The `.npz` key of the inputs (`true`) or targets, if the arrays are in an archive.
    pub fn key(&self, inputs: bool) -> Option<&str> {
        self.keys
            .as_ref()
            .map(|(x, y)| if inputs { x.as_str() } else { y.as_str() })
    }
}

/// A folder of images, one sub-folder per class, as Keras' `image_dataset_from_directory`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageSpec {
    pub dir: PathBuf,
    /// (height, width) every image is resized to.
    pub size: (usize, usize),
    pub color: crate::data::Color,
    pub on_error: crate::data::OnError,
    /// `stream = auto | always | never`: decoded into memory once, or file by file as
    /// batches need them.
    pub stream: crate::data::Stream,
    /// `classes = (...)`: the class folders to read, in label order; empty for every
    /// sub-folder, sorted by name.
    pub classes: Vec<String>,
}

/// `csv(path, target = ..., ...)`: the columns of a CSV file, each row an example.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableSpec {
    pub path: PathBuf,
    /// The target columns: one class column, or (`task = regression`) one or more value
    /// columns.
    pub targets: Vec<String>,
    /// The input columns, in this order; empty for every column but the targets and
    /// `exclude`, in the file's order.
    pub features: Vec<String>,
    pub exclude: Vec<String>,
    /// `classes = (...)`: a text target's classes in label order; empty for the values the
    /// file holds, sorted.
    pub classes: Vec<String>,
    /// Whether the first row names the columns (else they are named `0`, `1`, ...).
    pub header: bool,
    pub delimiter: u8,
    pub missing: Missing,
    pub task: Task,
    /// Columns of text become one column per category (`one_hot`), else one of indices.
    pub categories: Categories,
}

/// What a missing cell (empty, `NA`, `NaN`, ... as pandas reads them) becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Missing {
    /// An error naming the file, line and column.
    Error,
    /// The mean of the column's other values.
    Mean,
    Zero,
    /// The row is left out.
    Drop,
}

/// What a table's target columns hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Task {
    /// One column of classes: whole numbers from 0 (the class index), or text (the
    /// categories, sorted).
    Classification,
    /// Columns of numbers, predicted as they are.
    Regression,
}

/// How a feature column of text goes into the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Categories {
    OneHot,
    Index,
}

impl DataSource {
    /// The files the source names, as written (or as resolved by
    /// [`Experiment::resolve_paths`]).
    pub fn files(&self) -> Vec<&PathBuf> {
        match self {
            DataSource::Mnist { .. }
            | DataSource::Cifar10 { .. }
            | DataSource::Concat(_)
            | DataSource::AddingProblem { .. } => Vec::new(),
            DataSource::Idx { images, labels } => vec![images, labels],
            DataSource::Csv(table) => vec![&table.path],
            DataSource::Arrays(a) => vec![&a.x, &a.y],
            DataSource::Images(i) => vec![&i.dir],
            DataSource::Text(t) => vec![&t.path],
            DataSource::TextClasses(t) => vec![&t.path],
        }
    }

    /// Makes the source's relative paths relative to `base` (absolute paths are kept).
    pub fn rebase(&mut self, base: &std::path::Path) {
        for p in self.files_mut() {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
    }

    fn files_mut(&mut self) -> Vec<&mut PathBuf> {
        match self {
            DataSource::Mnist { .. }
            | DataSource::Cifar10 { .. }
            | DataSource::Concat(_)
            | DataSource::AddingProblem { .. } => Vec::new(),
            DataSource::Idx { images, labels } => vec![images, labels],
            DataSource::Csv(table) => vec![&mut table.path],
            DataSource::Arrays(a) => vec![&mut a.x, &mut a.y],
            DataSource::Images(i) => vec![&mut i.dir],
            DataSource::Text(t) => vec![&mut t.path],
            DataSource::TextClasses(t) => vec![&mut t.path],
        }
    }
}

impl Experiment {
    /// Makes every relative path the experiment reads (data files, `load(from = ...)`)
    /// relative to `base`, the folder of the `.exp` file, so that `expr run dir/e.exp`
    /// reads the same files from any working directory. Absolute paths are kept.
    pub fn resolve_paths(&mut self, base: &std::path::Path) {
        let rebase = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        for data in &mut self.datasets {
            data.source.rebase(base);
        }
        for action in &mut self.before {
            if let Action::Load { path, .. } = action {
                rebase(path);
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub name: String,
    /// Shape of one input element (without the batch axis).
    pub input_shape: Vec<usize>,
    /// Every layer, in the order written (a graph's too): names, parameters, summary rows.
    pub layers: Vec<Layer>,
    pub span: Span,
    /// How a graph model's layers are wired; `None` for a stack, whose layers run in order.
    pub graph: Option<Graph>,
}

/// A graph model's wiring. Values are numbered: the inputs first, then one per node.
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    pub inputs: Vec<GraphInput>,
    /// In the order written: each reads values computed before it.
    pub nodes: Vec<Node>,
    /// The values the model returns, in order.
    pub outputs: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GraphInput {
    pub name: String,
    pub shape: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub op: NodeOp,
    /// Value numbers this node reads.
    pub inputs: Vec<usize>,
    pub output_shape: Vec<usize>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeOp {
    /// `Model::layers[i]`.
    Layer(usize),
    /// Elementwise sum (Keras' `Add`).
    Add,
    /// Elementwise product (Keras' `Multiply`).
    Multiply,
    /// Joined along `axis` of the element shape (Keras' `Concatenate`).
    Concat { axis: usize },
    /// Output `index` (from 1) of the layer of several outputs whose node computes the
    /// node's input: `h` and `c` of `y, h, c = x | lstm(8, return_state = true)`.
    Output { index: usize },
}

impl Graph {
    /// The shape of value `v`.
    pub fn shape(&self, v: usize) -> &[usize] {
        match v.checked_sub(self.inputs.len()) {
            None => &self.inputs[v].shape,
            Some(n) => &self.nodes[n].output_shape,
        }
    }
}

impl Model {
    /// The shape of the (first) output.
    pub fn output_shape(&self) -> &[usize] {
        if let Some(g) = &self.graph {
            return g.shape(g.outputs[0]);
        }
        self.layers
            .last()
            .map_or(&self.input_shape, |l| &l.output_shape)
    }

    /// The input shapes, one per input.
    pub fn input_shapes(&self) -> Vec<Vec<usize>> {
        match &self.graph {
            Some(g) => g.inputs.iter().map(|i| i.shape.clone()).collect(),
            None => vec![self.input_shape.clone()],
        }
    }

    /// The output shapes, one per output.
    pub fn output_shapes(&self) -> Vec<Vec<usize>> {
        match &self.graph {
            Some(g) => g.outputs.iter().map(|&v| g.shape(v).to_vec()).collect(),
            None => vec![self.output_shape().to_vec()],
        }
    }

    pub fn parameter_count(&self) -> usize {
        self.layers.iter().map(Layer::parameter_count).sum()
    }

    /// Keras' non-trainable parameters: frozen layers' parameters and layer state (batch
    /// norm's running statistics).
    pub fn non_trainable_count(&self) -> usize {
        self.layers.iter().map(Layer::non_trainable_count).sum()
    }

    /// Trained parameters and layer state together: Keras' "Total params".
    pub fn total_count(&self) -> usize {
        self.layers.iter().map(Layer::total_count).sum()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    /// Unique within the model, Keras style: `conv2d`, `dense`, `dense_1`.
    pub name: String,
    pub kind: LayerKind,
    /// False when frozen (`trainable = false`): no optimizer updates its parameters.
    pub trainable: bool,
    pub input_shape: Vec<usize>,
    pub output_shape: Vec<usize>,
    pub span: Span,
}

impl Layer {
    /// Shapes of this layer's parameters (weight first, then bias), in storage layout.
    pub fn parameter_shapes(&self) -> Vec<Vec<usize>> {
        self.kind.parameter_shapes(&self.input_shape)
    }

    pub fn parameter_count(&self) -> usize {
        self.parameter_shapes()
            .iter()
            .map(|s| s.iter().product::<usize>())
            .sum()
    }

    /// Values of layer state Keras counts as non-trainable parameters.
    pub fn state_count(&self) -> usize {
        self.kind.state_count(&self.input_shape)
    }

    /// Keras' non-trainable parameters of the layer: its state, and its parameters if frozen.
    pub fn non_trainable_count(&self) -> usize {
        let frozen = if self.trainable {
            0
        } else {
            self.parameter_count()
        };
        frozen + self.state_count()
    }

    /// Keras' "Param #": parameters and counted state.
    pub fn total_count(&self) -> usize {
        self.parameter_count() + self.state_count()
    }
}

/// What a layer is: one variant per layer file under `src/layers/`.
pub use crate::layers::LayerKind;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    Linear,
    Relu,
    Sigmoid,
    Tanh,
    Softmax,
    LeakyRelu { alpha: f32 },
    Gelu,
    Elu { alpha: f32 },
    Selu,
    Swish,
    Softplus,
    LogSoftmax,
    HardSigmoid,
}

/// How a weight starts (`kernel_init`, `bias_init`): Keras' initializers (`lower/init.rs`
/// has the formulas) and PyTorch's default for its layers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    GlorotUniform,
    GlorotNormal,
    HeUniform,
    HeNormal,
    LecunUniform,
    LecunNormal,
    Zeros,
    Ones,
    Normal { std: f64 },
    Uniform { limit: f64 },
    Torch,
}

/// A penalty on a layer's weight, `l1 * sum(abs(w)) + l2 * sum(w ** 2)` (Keras' `L1L2`),
/// added to the loss of every update that trains the layer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Regularizer {
    pub l1: f64,
    pub l2: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    Valid,
    Same,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolKind {
    Max,
    Avg,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Loss {
    pub name: String,
    pub kind: LossKind,
    pub reduction: Reduction,
    /// One weight per class (PyTorch's `weight`), on the losses of class indices.
    pub class_weight: Option<ClassWeight>,
}

/// How a loss reduces its examples' losses to one number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduction {
    /// Their mean (Keras' `sum_over_batch_size`; with class weights, PyTorch's weighted mean).
    Mean,
    /// Their sum.
    Sum,
}

/// `class_weight = (...)`: each example's loss is multiplied by its label's weight, and the
/// mean divides by the sum of those weights, as PyTorch's `CrossEntropyLoss(weight=...)`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassWeight {
    pub values: Vec<f64>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LossKind {
    SparseCategoricalCrossentropy {
        from_logits: bool,
        label_smoothing: f64,
    },
    /// Log-probabilities against class indices (PyTorch's `nll_loss`).
    Nll,
    CategoricalCrossentropy {
        from_logits: bool,
        label_smoothing: f64,
    },
    BinaryCrossentropy {
        from_logits: bool,
        label_smoothing: f64,
    },
    MeanSquaredError,
    MeanAbsoluteError,
    Huber {
        delta: f64,
    },
    KlDivergence,
    CosineSimilarity,
    Hinge,
    SquaredHinge,
    LogCosh,
    Poisson,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Optimizer {
    pub name: String,
    pub kind: OptimizerKind,
    pub lr: f64,
    /// Gradients of this many updates are averaged and applied once (1: each is applied).
    pub accumulate: usize,
    /// Indices into `Experiment::models` whose parameters this optimizer updates.
    pub models: Vec<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptimizerKind {
    /// `weight_decay` here and on `Adam` is PyTorch's coupled L2: added to the gradient.
    Sgd {
        momentum: f64,
        nesterov: bool,
        weight_decay: f64,
    },
    Adam {
        beta1: f64,
        beta2: f64,
        epsilon: f64,
        weight_decay: f64,
    },
    AdamW {
        beta1: f64,
        beta2: f64,
        epsilon: f64,
        weight_decay: f64,
    },
    RmsProp {
        rho: f64,
        momentum: f64,
        epsilon: f64,
    },
    Adadelta {
        rho: f64,
        epsilon: f64,
    },
    Adagrad {
        initial_accumulator_value: f64,
        epsilon: f64,
    },
    Nadam {
        beta1: f64,
        beta2: f64,
        epsilon: f64,
    },
    Adamax {
        beta1: f64,
        beta2: f64,
        epsilon: f64,
    },
    Lion {
        beta1: f64,
        beta2: f64,
    },
}

/// One pass over a data set: the statements run on every batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Index into `Experiment::datasets`.
    pub data: usize,
    pub x: String,
    pub y: String,
    pub stmts: Vec<StepStmt>,
}

impl Step {
    pub fn trains(&self) -> bool {
        self.all_stmts()
            .iter()
            .any(|s| matches!(s, StepStmt::Update { .. }))
    }

    /// Every statement, those of `every` blocks in their place (the blocks themselves left
    /// out).
    pub fn all_stmts(&self) -> Vec<&StepStmt> {
        self.active_stmts(None)
    }

    /// The statements that run on training step `number` (from 1): those outside `every`
    /// blocks, and those of each block whose period divides it; all of them for `None`.
    pub fn active_stmts(&self, number: Option<u64>) -> Vec<&StepStmt> {
        fn walk<'a>(stmts: &'a [StepStmt], number: Option<u64>, out: &mut Vec<&'a StepStmt>) {
            for s in stmts {
                match s {
                    StepStmt::Every { steps, body } => {
                        if number.is_none_or(|n| n.is_multiple_of(*steps)) {
                            walk(body, number, out);
                        }
                    }
                    other => out.push(other),
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.stmts, number, &mut out);
        out
    }

    /// How often the value `name` is computed: the period of the `every` block that binds
    /// it, 1 for a name bound outside any (or not bound by the step: `x`, `y`).
    pub fn period_of(&self, name: &str) -> u64 {
        self.stmts
            .iter()
            .find_map(|s| match s {
                StepStmt::Every { steps, body } => {
                    body.iter().any(|b| b.binds(name)).then_some(*steps)
                }
                _ => None,
            })
            .unwrap_or(1)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum StepStmt {
    Let {
        name: String,
        value: TensorExpr,
    },
    Update {
        optimizer: usize,
        loss: TensorExpr,
    },
    /// `clip_weights(model, min = A, max = B)`: every parameter of the model clamped to
    /// `[min, max]` where the step reaches it, after the updates before it (WGAN's critic).
    ClipWeights {
        model: usize,
        min: f32,
        max: f32,
    },
    /// `every N steps { ... }`: statements that run on the training steps whose number,
    /// counted from 1 over the whole run, is a multiple of `steps`.
    Every {
        steps: u64,
        body: Vec<StepStmt>,
    },
}

impl StepStmt {
    /// The expression a statement computes: a binding's value, an update's loss.
    pub fn expr(&self) -> Option<&TensorExpr> {
        match self {
            StepStmt::Let { value, .. } => Some(value),
            StepStmt::Update { loss, .. } => Some(loss),
            StepStmt::ClipWeights { .. } | StepStmt::Every { .. } => None,
        }
    }

    fn binds(&self, name: &str) -> bool {
        matches!(self, StepStmt::Let { name: n, .. } if n == name)
    }
}

/// A tensor-valued expression inside a step. Tensors hold a batch: `rows` of
/// elements of a per-element shape (`check` tracks both); scalars are losses and reductions.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorExpr {
    /// A name bound earlier in the step (or the step's `x`, `y`).
    Var(String),
    /// A number, broadcast against the tensor it meets.
    Const(f64),
    CallModel {
        model: usize,
        /// One per model input (a stack has one).
        inputs: Vec<TensorExpr>,
        training: bool,
    },
    /// Output `index` of a model with several (`a, b = encoder(x)`): `call` is the
    /// `CallModel`, computed once per scope, its outputs bound to `names` together.
    ModelOutput {
        call: Box<TensorExpr>,
        index: usize,
        names: Vec<String>,
    },
    CallLoss {
        loss: usize,
        target: Box<TensorExpr>,
        prediction: Box<TensorExpr>,
    },
    /// `exp(t)`, `relu(t)`, `-t`, ...: elementwise.
    Unary(UnaryFn, Box<TensorExpr>),
    /// `a + b`, `a * 0.5`: elementwise on equal shapes, numbers and scalars broadcast.
    Binary(TensorOp, Box<TensorExpr>, Box<TensorExpr>),
    /// `t ** 2`: a number exponent.
    Pow(Box<TensorExpr>, f64),
    /// `mean(t)`, `sum(t)`: over everything (a scalar), or over the last axis of a
    /// flat tensor (`axis = 1`), keeping it with size 1.
    Reduce {
        op: Reduce,
        axis: bool,
        input: Box<TensorExpr>,
    },
    /// `detach(t)`: the same values, through which no gradient flows.
    Detach(Box<TensorExpr>),
    /// `normal(100)`, `uniform(100)`: a fresh batch of noise per step, drawn once
    /// per step even when several updates read it. `id` numbers the draws of a step.
    Noise {
        kind: Noise,
        shape: Vec<usize>,
        id: usize,
    },
    /// `ones_like(t)` (1.0) and `zeros_like(t)` (0.0): constants of `t`'s shape.
    Fill(f32, Box<TensorExpr>),
    /// `concat(a, b)`: `a`'s rows, then `b`'s.
    Concat(Box<TensorExpr>, Box<TensorExpr>),
    /// `l1(model)`, `l2(model)`: the penalty over the model's weights (its layers' kernels,
    /// not their biases), a scalar: `sum(abs(w))` or `sum(w ** 2)`.
    Penalty { model: usize, reg: Regularizer },
    /// `flatten(t)`: each element as a vector.
    Flatten(Box<TensorExpr>),
    /// `a + b` between batched tensors whose element shapes differ but broadcast
    /// (NumPy's rules: equal ranks, each axis equal or 1): `shapes` are the two
    /// element shapes (the batch axis excluded), the result has the larger of each axis.
    Broadcast {
        op: TensorOp,
        a: Box<TensorExpr>,
        b: Box<TensorExpr>,
        shapes: [Vec<usize>; 2],
    },
    /// `sum(t, axis = (1, 2), keepdims = false)`, `max(t)`: a reduction over `axes`,
    /// numbered with the batch as axis 0; `shape` is the input's element shape. Axes
    /// holding 0 hold every axis (a scalar). What `Reduce` computes goes through `Reduce`,
    /// so that today's steps keep their bits.
    ReduceAxes {
        op: Reduce,
        input: Box<TensorExpr>,
        shape: Vec<usize>,
        axes: Vec<usize>,
        keepdims: bool,
    },
    /// `softmax(t, axis = 1)` (`log` false) and `log_softmax(t, axis = 1)` over one
    /// element axis (`axis` counts the batch as 0), of a tensor of element `shape`.
    Softmax {
        input: Box<TensorExpr>,
        shape: Vec<usize>,
        axis: usize,
        log: bool,
    },
    /// `clip_by_value(t, lo, hi)`: elementwise, gradient 1 inside `[lo, hi]`, 0 outside.
    Clip {
        input: Box<TensorExpr>,
        lo: f32,
        hi: f32,
    },
    /// `reshape(t, (4, 8))`: each element's values (of element shape `from`) in a new
    /// element `shape`, in order.
    Reshape {
        input: Box<TensorExpr>,
        from: Vec<usize>,
        shape: Vec<usize>,
    },
    /// `transpose(t, (0, 2, 1))`: the axes of a tensor of element `shape` permuted,
    /// `perm` numbering the batch as 0 (which stays first).
    Transpose {
        input: Box<TensorExpr>,
        shape: Vec<usize>,
        perm: Vec<usize>,
    },
    /// `matmul(a, b)`: each row's matrix product, NumPy's `matmul` on elements of rank
    /// 1 or 2 (`shapes`, the batch axis excluded).
    MatMul {
        a: Box<TensorExpr>,
        b: Box<TensorExpr>,
        shapes: [Vec<usize>; 2],
    },
    /// `argmax(t, axis = -1)`: the index of the largest value along `axis` (batch = 0),
    /// as a value; no gradient flows through it.
    ArgMax {
        input: Box<TensorExpr>,
        shape: Vec<usize>,
        axis: usize,
        keepdims: bool,
    },
    /// `equal(a, b)`: 1 where the values are equal, else 0; no gradient flows through it.
    Equal(Box<TensorExpr>, Box<TensorExpr>),
    /// The step's class labels as values (one per row), where `equal` compares with them.
    ClassIndices,
    /// `t[:, 2:5]`, `slice(t, axis = 1, start = 2, end = 5)`: the elements' positions
    /// `start..end` along `axis` (batch = 0) of a tensor of element `shape`, the axis
    /// dropped when `drop` (an index, `t[:, 3]`).
    Slice {
        input: Box<TensorExpr>,
        shape: Vec<usize>,
        axis: usize,
        start: usize,
        end: usize,
        drop: bool,
    },
}

impl TensorExpr {
    /// The expressions this one reads directly.
    pub fn children(&self) -> Vec<&TensorExpr> {
        match self {
            TensorExpr::Var(_)
            | TensorExpr::Const(_)
            | TensorExpr::Noise { .. }
            | TensorExpr::Penalty { .. }
            | TensorExpr::ClassIndices => Vec::new(),
            TensorExpr::CallModel { inputs, .. } => inputs.iter().collect(),
            TensorExpr::ModelOutput { call, .. } => vec![call],
            TensorExpr::Unary(_, input)
            | TensorExpr::Pow(input, _)
            | TensorExpr::Reduce { input, .. }
            | TensorExpr::Detach(input)
            | TensorExpr::Fill(_, input)
            | TensorExpr::Flatten(input)
            | TensorExpr::ReduceAxes { input, .. }
            | TensorExpr::Softmax { input, .. }
            | TensorExpr::Clip { input, .. }
            | TensorExpr::Reshape { input, .. }
            | TensorExpr::Transpose { input, .. }
            | TensorExpr::ArgMax { input, .. }
            | TensorExpr::Slice { input, .. } => vec![input],
            TensorExpr::CallLoss {
                target, prediction, ..
            } => vec![target, prediction],
            TensorExpr::Binary(_, a, b)
            | TensorExpr::Concat(a, b)
            | TensorExpr::Broadcast { a, b, .. }
            | TensorExpr::MatMul { a, b, .. }
            | TensorExpr::Equal(a, b) => vec![a, b],
        }
    }

    /// Whether this expression or one below it satisfies `f`.
    pub fn any(&self, f: &dyn Fn(&TensorExpr) -> bool) -> bool {
        f(self) || self.children().into_iter().any(|c| c.any(f))
    }

    /// The names this expression reads, in order, with repeats.
    pub fn vars(&self) -> Vec<&str> {
        match self {
            TensorExpr::Var(n) => vec![n.as_str()],
            other => other
                .children()
                .into_iter()
                .flat_map(TensorExpr::vars)
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryFn {
    Neg,
    Exp,
    Log,
    Sqrt,
    Abs,
    Relu,
    Sigmoid,
    Tanh,
    Square,
    Elu,
    Selu,
    Swish,
    Softplus,
    HardSigmoid,
}

impl UnaryFn {
    pub const NAMES: &'static [(&'static str, UnaryFn)] = &[
        ("exp", UnaryFn::Exp),
        ("log", UnaryFn::Log),
        ("sqrt", UnaryFn::Sqrt),
        ("abs", UnaryFn::Abs),
        ("relu", UnaryFn::Relu),
        ("sigmoid", UnaryFn::Sigmoid),
        ("tanh", UnaryFn::Tanh),
        ("square", UnaryFn::Square),
        // The elementwise activations, as the layers compute them (elu with alpha 1).
        ("elu", UnaryFn::Elu),
        ("selu", UnaryFn::Selu),
        ("swish", UnaryFn::Swish),
        ("silu", UnaryFn::Swish),
        ("softplus", UnaryFn::Softplus),
        ("hard_sigmoid", UnaryFn::HardSigmoid),
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorOp {
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduce {
    Mean,
    Sum,
    Max,
    Min,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Noise {
    Normal { mean: f32, std: f32 },
    Uniform { low: f32, high: f32 },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: String,
    /// Index into `Experiment::steps`.
    pub step: usize,
    /// It reads values of an `every N steps` block: it is computed on those steps only.
    pub every: u64,
    pub kind: MetricKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MetricKind {
    /// The mean over the epoch of a scalar the step computes, weighted by batch size.
    Mean(TensorExpr),
    /// Fraction of rows whose arg-max matches the label (class index or one-hot); with
    /// `top_k`, whose label is among the `k` largest predictions (ties in, as Keras'
    /// `in_top_k`).
    Accuracy {
        labels: TensorExpr,
        predictions: TensorExpr,
        top_k: Option<usize>,
    },
    /// Fraction of outputs on the right side of 0.5 (or of 0 for logits).
    BinaryAccuracy {
        labels: TensorExpr,
        predictions: TensorExpr,
        threshold: f32,
    },
    /// How close predicted values are to target values, over the epoch's examples.
    Regression {
        metric: RegressionMetric,
        labels: TensorExpr,
        predictions: TensorExpr,
    },
    /// Keras' `Precision`, `Recall`, `F1Score` and `AUC`, and the confusion matrix: counts
    /// over the epoch's examples, never averaged over batches.
    Classification {
        metric: ClassMetric,
        labels: TensorExpr,
        predictions: TensorExpr,
        decision: Decision,
    },
}

impl MetricKind {
    /// A metric written to files at each epoch's end (the confusion matrix), not a number
    /// of the log, the history or a monitor.
    pub fn is_file(&self) -> bool {
        matches!(
            self,
            MetricKind::Classification {
                metric: ClassMetric::ConfusionMatrix,
                ..
            }
        )
    }
}

/// The classification metrics, each over the counts of the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassMetric {
    Precision(ClassAverage),
    Recall(ClassAverage),
    F1(ClassAverage),
    /// Keras' `AUC` with `summation_method = 'interpolation'`: counts at `thresholds`
    /// evenly spaced thresholds (the first below 0, the last above 1). Over several
    /// columns (one-hot classes or several labels), `multi_label` scores each column and
    /// takes the mean; otherwise the columns' scores are pooled into one curve.
    Auc {
        curve: Curve,
        thresholds: usize,
        from_logits: bool,
        multi_label: bool,
    },
    /// Counts of (true class, predicted class), written as CSV and PNG each epoch.
    ConfusionMatrix,
}

/// How per-class scores become one number (scikit-learn's `average`, `zero_division = 0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassAverage {
    /// The positive class (1) of a binary output.
    Binary,
    /// The unweighted mean over the classes present in the labels or the predictions.
    Macro,
    /// Over the pooled counts of every class.
    Micro,
    /// The mean over classes weighted by each class's true examples.
    Weighted,
    /// One class against the rest (Keras' `class_id`).
    Class(usize),
}

/// Keras' `AUC(curve = ...)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    Roc,
    Pr,
}

/// How a classification metric reads its predictions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    /// One score per example, positive when above `threshold`; a label is positive when
    /// above 0.5 (as `binary_accuracy`).
    Binary { threshold: f32 },
    /// `classes` scores per example, the class their arg-max (the first on ties, as
    /// `tf.argmax`); labels class indices or one-hot rows.
    Classes { classes: usize },
    /// `labels` independent scores per example (`multi_label = true`), each a binary
    /// decision above `threshold`; labels a 0/1 column per label (positive above 0.5).
    Labels { labels: usize, threshold: f32 },
}

/// Keras' regression metrics, each over every example of the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegressionMetric {
    /// `MeanAbsoluteError`: the mean of `abs(target - prediction)`.
    Mae,
    /// `RootMeanSquaredError`: the square root of the mean of `(target - prediction) ** 2`.
    Rmse,
    /// `R2Score`: `1 - SS_res / SS_tot` per output, averaged over outputs.
    R2,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Hooks {
    /// After gradients are computed, before the optimizer applies them.
    pub on_step: Vec<Action>,
    pub epoch_start: Vec<Action>,
    pub epoch_end: Vec<Action>,
    /// `(every, actions)`: after each `every`-th training step.
    pub every_steps: Vec<(usize, Vec<Action>)>,
    /// `on improved(metric)`: after an epoch whose metric beats every earlier epoch's.
    pub improved: Vec<Improved>,
    /// The `reduce_on_plateau(...)` calls of every hook, each a rule of its own.
    pub plateaus: Vec<Plateau>,
}

/// `reduce_on_plateau(monitor, factor, patience, mode, min_delta, cooldown, min_lr,
/// initial)`: Keras' `ReduceLROnPlateau` as a value, `initial` times `factor` at each
/// plateau of `patience` epochs, never below `min_lr`.
#[derive(Debug, Clone, PartialEq)]
pub struct Plateau {
    /// Index into `Experiment::metrics`.
    pub metric: usize,
    /// Larger is better (`mode = max`, or `auto` on a metric that goes up).
    pub maximize: bool,
    pub factor: f64,
    pub patience: usize,
    pub min_delta: f64,
    pub cooldown: usize,
    pub min_lr: f64,
    pub initial: f64,
}

/// `on improved(test_loss, mode = min) { ... }`: Keras' `ModelCheckpoint(save_best_only =
/// True)`'s test, for any actions.
#[derive(Debug, Clone, PartialEq)]
pub struct Improved {
    /// Index into `Experiment::metrics`.
    pub metric: usize,
    /// Larger is better (`mode = max`, or `auto` on a metric that goes up).
    pub maximize: bool,
    pub actions: Vec<Action>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Clip gradients of the given optimizers' parameters.
    Clip {
        clip: Clip,
        optimizers: Vec<usize>,
    },
    /// `OPT.lr = value`; `span` is the statement's, for the run-time check that the value
    /// is a finite number above 0.
    SetLr {
        optimizer: usize,
        value: ScalarExpr,
        span: Span,
    },
    Log(Format),
    Plot {
        metrics: Vec<usize>,
        path: PathBuf,
    },
    Save {
        model: usize,
        path: PathBuf,
    },
    Load {
        model: usize,
        path: PathBuf,
        span: Span,
    },
    /// `grid(t, ..., count = 64, on = DATA, to = "f_{epoch}.png")`: each tensor's first
    /// `count` rows as `tile`-sized greyscale images; one tensor fills a square grid, several
    /// make one row each. With `step`, names are the values that step bound for the
    /// epoch's first batch.
    Grid {
        exprs: Vec<TensorExpr>,
        step: Option<usize>,
        x: String,
        y: String,
        count: usize,
        tile: (usize, usize),
        /// `{epoch}` is replaced by the 1-based epoch number.
        path: String,
    },
    /// `sample(model, from = DATA, ...)`: `length` characters generated after `prompt`, each
    /// drawn from the model's scores at the last position it read, divided by `temperature`,
    /// among the `top_k` best (all, with 0), in the vocabulary of data set `data`.
    Sample {
        model: usize,
        data: usize,
        prompt: String,
        length: usize,
        temperature: f64,
        top_k: usize,
        /// `{epoch}` is replaced by the 1-based epoch number.
        path: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Clip {
    /// Each gradient tensor to this L2 norm (`tf.clip_by_norm`).
    Norm(f32),
    /// All gradient tensors together to this L2 norm (`tf.clip_by_global_norm`).
    GlobalNorm(f32),
    /// Each element to [-v, v].
    Value(f32),
}

/// A number computed in a hook from the loop's state.
#[derive(Debug, Clone, PartialEq)]
pub enum ScalarExpr {
    Const(f64),
    /// 0-based epoch index.
    Epoch,
    /// The number of epochs the run trains for (`train { epochs }`).
    Epochs,
    /// Number of training steps taken so far (0-based), across epochs.
    GlobalStep,
    /// Steps per epoch of the (first) training data set.
    StepsPerEpoch,
    /// The current learning rate of an optimizer.
    Lr(usize),
    /// The current value of a metric (over the epoch so far).
    Metric(usize),
    /// The value of `reduce_on_plateau` rule `i` of `Hooks::plateaus`, as of the last
    /// epoch's end.
    Plateau(usize),
    Neg(Box<ScalarExpr>),
    Binary(ScalarOp, Box<ScalarExpr>, Box<ScalarExpr>),
    Call(ScalarFn, Vec<ScalarExpr>),
}

/// The arithmetic of a scalar expression. The plan names its own operators, so nothing after
/// `check` reads the syntax tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

/// Functions usable in scalar expressions: maths and named learning-rate schedules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarFn {
    Exp,
    Log,
    Sqrt,
    Floor,
    Min,
    Max,
    Cos,
    /// `exponential(initial, rate, steps)` = initial * rate ^ (step / steps).
    Exponential,
    /// `step_decay(initial, factor, every)` = initial * factor ^ floor(epoch / every).
    StepDecay,
    /// `cosine(initial, steps, alpha)`: Keras CosineDecay over `steps` training steps.
    Cosine,
    /// `warmup(target, steps)`: linear from 0 to `target` over `steps` steps, then `target`.
    Warmup,
    /// `polynomial_decay(initial, steps, end, power)`: Keras' `PolynomialDecay`.
    PolynomialDecay,
    /// `one_cycle(max_lr, steps, pct_start, div_factor, final_div_factor)`: PyTorch's
    /// `OneCycleLR` with cosine annealing.
    OneCycle,
}

/// A log format string: text and `{expr:spec}` holes.
#[derive(Debug, Clone, PartialEq)]
pub struct Format {
    pub pieces: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Text(String),
    Hole { value: ScalarExpr, spec: FormatSpec },
}

/// Python-style format spec subset: `.4f`, `.2e`, `d`, `.1%`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FormatSpec {
    pub precision: Option<usize>,
    pub style: FormatStyle,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FormatStyle {
    /// Integers as integers, others with Rust's shortest round-trip form.
    #[default]
    General,
    Fixed,
    Exponent,
    Integer,
    Percent,
}
