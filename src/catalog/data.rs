//! Data pipelines: a source, then transforms applied left to right to each example.

use super::layers::param;
use super::{Catalogued, Default, Entry, Kind, Param, Type, Value};

/// What starts a pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Mnist,
    Cifar10,
    Idx,
    Csv,
    Npy,
    Npz,
    Images,
    Text,
    TextClasses,
    Concat,
    AddingProblem,
}

/// A step of a pipeline after its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transform {
    Take,
    Skip,
    Split,
    Scale,
    Normalize,
    Standardize,
    RandomFlip,
    RandomTranslate,
    RandomCrop,
    RandomRotation,
    Cutout,
    RandomNoise,
    ChannelAxis,
    Reshape,
    OneHot,
    Shuffle,
    Batch,
}

impl Catalogued for Source {
    const ALL: &'static [Self] = &[
        Source::Mnist,
        Source::Cifar10,
        Source::Idx,
        Source::Csv,
        Source::Npy,
        Source::Npz,
        Source::Images,
        Source::Text,
        Source::TextClasses,
        Source::Concat,
        Source::AddingProblem,
    ];

    fn entry(self) -> &'static Entry {
        match self {
            Source::Mnist => &MNIST,
            Source::Cifar10 => &CIFAR10,
            Source::Idx => &IDX,
            Source::Csv => &CSV,
            Source::Npy => &NPY,
            Source::Npz => &NPZ,
            Source::Images => &IMAGES,
            Source::Text => &TEXT,
            Source::TextClasses => &TEXT_CLASSES,
            Source::Concat => &CONCAT,
            Source::AddingProblem => &ADDING_PROBLEM,
        }
    }
}

impl Catalogued for Transform {
    const ALL: &'static [Self] = &[
        Transform::Take,
        Transform::Skip,
        Transform::Split,
        Transform::Scale,
        Transform::Normalize,
        Transform::Standardize,
        Transform::RandomFlip,
        Transform::RandomTranslate,
        Transform::RandomCrop,
        Transform::RandomRotation,
        Transform::Cutout,
        Transform::RandomNoise,
        Transform::ChannelAxis,
        Transform::Reshape,
        Transform::OneHot,
        Transform::Shuffle,
        Transform::Batch,
    ];

    fn entry(self) -> &'static Entry {
        match self {
            Transform::Take => &TAKE,
            Transform::Skip => &SKIP,
            Transform::Split => &SPLIT,
            Transform::Scale => &SCALE,
            Transform::Normalize => &NORMALIZE,
            Transform::Standardize => &STANDARDIZE,
            Transform::RandomFlip => &RANDOM_FLIP,
            Transform::RandomTranslate => &RANDOM_TRANSLATE,
            Transform::RandomCrop => &RANDOM_CROP,
            Transform::RandomRotation => &RANDOM_ROTATION,
            Transform::Cutout => &CUTOUT,
            Transform::RandomNoise => &RANDOM_NOISE,
            Transform::ChannelAxis => &CHANNEL_AXIS,
            Transform::Reshape => &RESHAPE,
            Transform::OneHot => &ONE_HOT,
            Transform::Shuffle => &SHUFFLE,
            Transform::Batch => &BATCH,
        }
    }
}

/// An entry whose summary and override name is its own name (sources, transforms,
/// functions and schedules).
pub(super) const fn entry(
    name: &'static str,
    kind: Kind,
    params: &'static [Param],
    class_name: Option<&'static str>,
    doc: &'static str,
) -> Entry {
    Entry {
        name,
        kind,
        aliases: &[],
        params,
        rest: None,
        base_name: name,
        class_name,
        doc,
    }
}

const fn required(name: &'static str, ty: Type, placeholder: Value) -> Param {
    Param {
        name,
        ty,
        default: Default::Required(placeholder),
    }
}

const COUNT: Type = Type::Count { min: 1 };

/// The one parameter of the built-in data sets.
const SPLIT_PARAMS: &[Param] = &[required(
    "split",
    Type::Text(&["train", "test"]),
    Value::Text("train"),
)];

static MNIST: Entry = entry(
    "mnist",
    Kind::Source,
    SPLIT_PARAMS,
    None,
    "the MNIST digits (60,000 to train, 10,000 to test), downloaded once and cached",
);

static CIFAR10: Entry = entry(
    "cifar10",
    Kind::Source,
    SPLIT_PARAMS,
    None,
    "the CIFAR-10 photos, (3, 32, 32) images in 10 classes (50,000 to train, 10,000 to test), from the binary version of the official archive, downloaded once and cached",
);

static IDX: Entry = entry(
    "idx",
    Kind::Source,
    &[
        required("images", Type::Text(&[]), Value::Text("")),
        required("labels", Type::Text(&[]), Value::Text("")),
        required("shape", Type::Pair, Value::Pair(28, 28)),
        required("classes", COUNT, Value::Count(10)),
    ],
    None,
    "images and labels read from IDX files, MNIST's format",
);

static CSV: Entry = entry(
    "csv",
    Kind::Source,
    &[
        required("path", Type::Text(&[]), Value::Text("")),
        required("target", Type::Texts, Value::Text("")),
        param("features", Type::Texts, Default::Is(Value::Text(""))),
        param("exclude", Type::Texts, Default::Is(Value::Text(""))),
        param("header", Type::Bool, Default::Is(Value::Bool(true))),
        param("delimiter", Type::Text(&[]), Default::Is(Value::Text(","))),
        param(
            "missing",
            Type::Name(&["error", "mean", "zero", "drop"]),
            Default::Is(Value::Name("error")),
        ),
        task(),
        param(
            "categorical",
            Type::Name(&["one_hot", "index"]),
            Default::Is(Value::Name("one_hot")),
        ),
        CLASSES,
    ],
    None,
    "the rows of a CSV file as examples: the `features` columns (all but the target and `exclude`, by default) as inputs, the `target` column as classes (whole numbers from 0, or text: sorted, or in the order `classes` gives, any other value an error) or, with `task = regression`, the `target` columns as values; text features become one-hot columns (or indices); missing cells are an error unless `missing` says what they become",
);

/// The class names in label order, for the sources whose classes are text: the same order
/// for separate training and test files, whatever values each holds.
const CLASSES: Param = param("classes", Type::Texts, Default::Is(Value::Text("")));

/// Whether targets are classes or values to predict, for the sources that can hold either.
const fn task() -> Param {
    param(
        "task",
        Type::Name(&["classification", "regression"]),
        Default::Is(Value::Name("classification")),
    )
}

static NPY: Entry = entry(
    "npy",
    Kind::Source,
    &[
        required("x", Type::Text(&[]), Value::Text("")),
        required("y", Type::Text(&[]), Value::Text("")),
        task(),
    ],
    None,
    "inputs and targets from two `.npy` files (`np.save`), one example per row of each: the inputs of any numeric dtype (bytes kept as bytes, the rest as f32; a `uint8` or little-endian `float32` file in C order memory-mapped rather than read), the targets whole numbers from 0 (classes) or, with `task = regression`, values",
);

static NPZ: Entry = entry(
    "npz",
    Kind::Source,
    &[
        required("path", Type::Text(&[]), Value::Text("")),
        param("x", Type::Text(&[]), Default::Is(Value::Text("x"))),
        param("y", Type::Text(&[]), Default::Is(Value::Text("y"))),
        task(),
    ],
    None,
    "inputs and targets from the arrays `x` and `y` of a `.npz` archive (`np.savez` or `np.savez_compressed`), read as `npy` reads its files (mapped where `np.savez` stored them uncompressed)",
);

static IMAGES: Entry = entry(
    "images",
    Kind::Source,
    &[
        required("dir", Type::Text(&[]), Value::Text("")),
        required("size", Type::Pair, Value::Pair(28, 28)),
        param(
            "color",
            Type::Name(&["rgb", "gray"]),
            Default::Is(Value::Name("rgb")),
        ),
        param(
            "on_error",
            Type::Name(&["fail", "skip"]),
            Default::Is(Value::Name("fail")),
        ),
        CLASSES,
        param(
            "stream",
            Type::Name(&["auto", "always", "never"]),
            Default::Is(Value::Name("auto")),
        ),
    ],
    None,
    "PNG, JPEG, BMP and GIF images, one sub-folder per class (classes sorted by name, or the sub-folders `classes` names, in its order, as Keras' `class_names`), as Keras' `image_dataset_from_directory`: resized to `size` (TensorFlow's bilinear) as (channels, height, width) bytes, `rgb` or `gray` (PIL's `convert(\"L\")`); an unreadable image is an error naming it, or with `on_error = skip` left out and counted; `stream = always` reads the files batch by batch, decoded ahead of the step, instead of decoding them all into memory first (`auto`: when they would take more than a quarter of the memory, or `$EXPR_DATA_MEMORY`)",
);

static TEXT: Entry = entry(
    "text",
    Kind::Source,
    &[
        required("path", Type::Text(&[]), Value::Text("")),
        param("block", COUNT, Default::Is(Value::Count(64))),
        param("stride", COUNT, Default::SameAs("block")),
        param(
            "tokens",
            Type::Name(&["chars", "bytes"]),
            Default::Is(Value::Name("chars")),
        ),
    ],
    None,
    "a UTF-8 text file (or a gzipped one, `.gz`) as a character-level language-modelling set, as nanoGPT's `shakespeare_char`: the vocabulary is the file's distinct characters, sorted (recorded in the run record); example `i` is the `block` token ids from character `i * stride` as inputs and the `block` ids one character later as targets, a class per position. With `tokens = bytes`, a token is a byte of the file (which need not be UTF-8), the vocabulary its distinct bytes",
);

static TEXT_CLASSES: Entry = entry(
    "text_classes",
    Kind::Source,
    &[
        required("path", Type::Text(&[]), Value::Text("")),
        param("text", Type::Text(&[]), Default::Is(Value::Text("text"))),
        param("target", Type::Text(&[]), Default::Is(Value::Text("label"))),
        param("length", COUNT, Default::Is(Value::Count(128))),
        CLASSES,
    ],
    None,
    "labelled texts, one per row of a CSV file (or a gzipped one, `.gz`) with a header naming the `text` and `target` columns: each text as `length` byte tokens (UTF-8 byte + 1, cut after `length` bytes or right-padded with the id 0, which `embedding(mask_zero = true)` masks; 257 ids), each label a class (sorted, or in the order `classes` gives); an empty text, a missing label or a cell that is not UTF-8 is an error naming the line",
);

/// Its arguments are the parts, data names, as many as there are (as `reshape`'s
/// dimensions): PyTorch's `ConcatDataset` takes a list, tf.data's `concatenate` two.
static CONCAT: Entry = Entry {
    rest: Some("parts"),
    ..entry(
        "concat",
        Kind::Source,
        &[],
        None,
        "the examples of two or more other `data` sets, all of the first, then all of the second, and so on (as tf.data's `concatenate`), each as its own pipeline left it (`take`, `skip`, `split`, `standardize`, `scale`, `normalize`); their element shapes and labels must agree. A part needs no `batch` of its own",
    )
};

static ADDING_PROBLEM: Entry = entry(
    "adding_problem",
    Kind::Source,
    &[
        param(
            "length",
            Type::Count { min: 2 },
            Default::Is(Value::Count(50)),
        ),
        param("examples", COUNT, Default::Is(Value::Count(10_000))),
        param(
            "seed",
            Type::Count { min: 0 },
            Default::Is(Value::Count(0)),
        ),
    ],
    None,
    "Hochreiter and Schmidhuber's adding problem, generated from `seed`: each example a (2, `length`) sequence, its first row values uniform in [0, 1), its second 1 at one step of each half and 0 elsewhere; the target the sum of the two marked values (a regression target of width 1)",
);

static TAKE: Entry = entry(
    "take",
    Kind::Transform,
    &[required("count", COUNT, Value::Count(1))],
    None,
    "the first `count` examples (all of them, if there are fewer), as tf.data's `take`",
);

static SKIP: Entry = entry(
    "skip",
    Kind::Transform,
    &[required("count", COUNT, Value::Count(1))],
    None,
    "every example after the first `count`, as tf.data's `skip`",
);

static SPLIT: Entry = entry(
    "split",
    Kind::Transform,
    &[
        required("fraction", Type::Fraction, Value::Number(0.8)),
        param(
            "part",
            Type::Name(&["left", "right"]),
            Default::Is(Value::Name("left")),
        ),
        param("shuffle", Type::Bool, Default::Is(Value::Bool(false))),
    ],
    None,
    "the first `round(fraction * n)` examples (`part = left`) or the rest (`right`), as `keras.utils.split_dataset`; with `shuffle = true` the examples are first permuted by the experiment's seed, the same permutation for both parts",
);

static NORMALIZE: Entry = entry(
    "normalize",
    Kind::Transform,
    &[
        required(
            "mean",
            Type::Channels { positive: false },
            Value::Number(0.0),
        ),
        required(
            "std",
            Type::Channels { positive: true },
            Value::Number(1.0),
        ),
    ],
    Some("Normalization"),
    "each value becomes `(value - mean) / std`, after the scalings before it; with a tuple of one number per channel, each channel by its own (torchvision's `Normalize`), on (channels, rows, cols) images",
);

static STANDARDIZE: Entry = entry(
    "standardize",
    Kind::Transform,
    &[param("from", Type::DataName, Default::Is(Value::Text("")))],
    Some("Normalization"),
    "each input column becomes `(value - mean) / std`, with the mean and (population) standard deviation of each column over the examples of the data set `from` (this one, by default), as scikit-learn's `StandardScaler`; a column that never varies is only centred. Give a validation or test set `from = <the training data>`, so that it is scaled by the training statistics",
);

static RANDOM_FLIP: Entry = entry(
    "random_flip",
    Kind::Transform,
    &[
        param("horizontal", Type::Bool, Default::Is(Value::Bool(true))),
        param("vertical", Type::Bool, Default::Is(Value::Bool(false))),
    ],
    Some("RandomFlip"),
    "mirrors each image left-right (and, with `vertical = true`, upside-down), each with probability 1/2, drawn anew each epoch",
);

static RANDOM_TRANSLATE: Entry = entry(
    "random_translate",
    Kind::Transform,
    &[required("fraction", Type::Fraction, Value::Number(0.1))],
    None,
    "shifts each image by whole pixels, up to `round(fraction * size)` each way, filling with black, drawn anew each epoch, as torchvision's `RandomAffine(degrees=0, translate=(f, f))`",
);

static RANDOM_CROP: Entry = entry(
    "random_crop",
    Kind::Transform,
    &[required("padding", COUNT, Value::Count(4))],
    None,
    "pads each side with `padding` black pixels and crops back to the image's size at a random offset, drawn anew each epoch, as torchvision's `RandomCrop(size, padding)`",
);

static RANDOM_ROTATION: Entry = entry(
    "random_rotation",
    Kind::Transform,
    &[required("degrees", Type::NonNegative, Value::Number(10.0))],
    None,
    "rotates each image about its centre by an angle drawn uniformly from `-degrees` to `+degrees` (positive is counter-clockwise), nearest pixel, filling the corners with black, drawn anew each epoch, as torchvision's `RandomRotation(degrees)`",
);

static CUTOUT: Entry = entry(
    "cutout",
    Kind::Transform,
    &[required("size", COUNT, Value::Count(8))],
    None,
    "blacks out a square of side `size` around a random pixel of each image (clipped at the edges), drawn anew each epoch, as DeVries and Taylor's Cutout code",
);

static RANDOM_NOISE: Entry = entry(
    "random_noise",
    Kind::Transform,
    &[required("std", Type::Positive, Value::Number(0.1))],
    Some("GaussianNoise"),
    "adds normal noise of standard deviation `std` to every value, drawn anew each epoch",
);

static SCALE: Entry = entry(
    "scale",
    Kind::Transform,
    &[required("factor", Type::Number, Value::Number(1.0))],
    Some("Rescaling"),
    "multiplies each pixel by `factor`",
);

static CHANNEL_AXIS: Entry = entry(
    "channel_axis",
    Kind::Transform,
    &[],
    None,
    "images become (1, rows, cols), as image layers need",
);

/// Also the `reshape` layer's entry (`layers::reshape`): one name, in a pipeline or a model.
pub static RESHAPE: Entry = Entry {
    rest: Some("dimensions"),
    ..entry(
        "reshape",
        Kind::Transform,
        &[],
        Some("Reshape"),
        "each element to the shape `(d1, d2, ...)`, of as many values",
    )
};

static ONE_HOT: Entry = entry(
    "one_hot",
    Kind::Transform,
    &[],
    None,
    "labels become one-hot vectors",
);

static SHUFFLE: Entry = entry(
    "shuffle",
    Kind::Transform,
    &[required("buffer", COUNT, Value::Count(1))],
    None,
    "each epoch, examples in a random order drawn from a buffer of `buffer` examples",
);

static BATCH: Entry = entry(
    "batch",
    Kind::Transform,
    &[required("size", COUNT, Value::Count(32))],
    None,
    "groups `size` examples into a batch; the last batch of an epoch may be smaller",
);
