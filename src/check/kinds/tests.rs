//! Every catalogue entry read by `check`, with every parameter given and with only the
//! required ones: no getter disagrees with the catalogue, and the kind read maps back to
//! the entry it came from.

use super::super::data::check_data;
use super::super::model::read_layers;
use super::super::optimizers::{read_loss, read_optimizer};
use super::super::plan::{
    Activation, DataSource, Labels, LayerKind, OptimizerKind, Padding, ScalarExpr,
};
use super::super::sources::{DataFiles, Described};
use super::super::{CheckError, Table};
use crate::catalog::{self, Catalogued, Default, Entry, Param, Type};
use crate::layers::activation::ActivationLayer;
use crate::layers::conv2d::Conv2d;
use crate::layers::dense::Dense;
use crate::layers::pool2d::Pool2d;
use crate::layers::weights::Weights;
use crate::syntax::ast::{Call, ExprKind};
use crate::syntax::parse_expr_at;

/// A value of the parameter's type, unlike its default where possible.
fn sample(p: &Param) -> String {
    match p.ty {
        Type::Count { min } => (min + 2).to_string(),
        Type::Pair => "(2, 3)".into(),
        Type::Number
        | Type::Positive
        | Type::NonNegative
        | Type::Fraction
        | Type::Scalar
        | Type::Channels { .. } => "0.5".into(),
        Type::Bool => "false".into(),
        Type::Activation => "gelu".into(),
        Type::Initializer => "normal(0.5)".into(),
        Type::Regularizer => "l1_l2(0.5, 0.25)".into(),
        Type::Name(names) => names[names.len() - 1].into(),
        Type::Text(&[]) if p.name == "delimiter" => "\";\"".into(),
        Type::Text(&[]) => "\"file\"".into(),
        Type::Text(names) => format!("\"{}\"", names[names.len() - 1]),
        Type::Texts => "(\"a\", \"b\")".into(),
        Type::Numbers => "(1.0, 2.5)".into(),
        Type::DataName | Type::ValueName => "d".into(),
        Type::ValueNames => "(d, e)".into(),
    }
}

/// Describes every file as a table of 3 columns and 2 classes, without reading it.
struct Tables;

impl DataFiles for Tables {
    fn describe(
        &self,
        _: &DataSource,
        _: crate::source::Span,
    ) -> Result<Described, Box<CheckError>> {
        Ok(Described {
            element_shape: vec![3],
            labels: Labels::Classes {
                classes: 2,
                one_hot: false,
            },
        })
    }
}

/// `name(p = v, ...)` with every parameter, or with the required ones; an entry with a
/// rest of positional values (`reshape`) gets one.
fn call_text(e: &Entry, all: bool) -> String {
    let rest = e.rest.map(|_| "2".to_string());
    let args: Vec<String> = rest
        .into_iter()
        .chain(
            e.params
                .iter()
                .filter(|p| all || matches!(p.default, Default::Required(_)))
                .map(|p| format!("{} = {}", p.name, sample(p))),
        )
        .collect();
    format!("{}({})", e.name, args.join(", "))
}

fn call(text: &str) -> Call {
    match parse_expr_at(text, 0).unwrap().kind {
        ExprKind::Call(call) => call,
        other => panic!("{text} is {other:?}"),
    }
}

fn read<T>(text: &str, f: impl Fn(&Call, &mut Vec<CheckError>) -> T) -> T {
    let mut errors = Vec::new();
    let read = f(&call(text), &mut errors);
    assert!(errors.is_empty(), "{text}: {errors:#?}");
    read
}

#[test]
fn every_layer_reads_back_as_itself() {
    for layer in catalog::Layer::ALL {
        for all in [true, false] {
            let text = call_text(layer.entry(), all);
            let drafts = read(&text, |c, errors| read_layers(&[c], errors));
            assert_eq!(drafts[0].kind.catalogued(), *layer, "{text}");
            assert_eq!(drafts[0].kind.entry(), layer.entry(), "{text}");
        }
    }
}

#[test]
fn every_loss_and_optimizer_reads_back_as_itself() {
    for loss in catalog::Loss::ALL {
        for all in [true, false] {
            let text = call_text(loss.entry(), all);
            let read_back = read(&text, |c, errors| read_loss("l", c, errors)).unwrap();
            assert_eq!(read_back.kind.catalogued(), *loss, "{text}");
        }
    }
    for optimizer in catalog::Optimizer::ALL {
        for all in [true, false] {
            let text = call_text(optimizer.entry(), all);
            let kind = read(&text, read_optimizer).unwrap().kind;
            assert_eq!(kind.catalogued(), *optimizer, "{text}");
        }
    }
}

#[test]
fn every_source_and_transform_checks() {
    let span = crate::source::Span::new(0, 0);
    let name = call("d()").name;
    // Data sets for `concat` to join.
    let mut earlier = Table::default();
    for part in ["a", "b"] {
        let mut errors = Vec::new();
        let mnist = [call("mnist(split = \"train\")")];
        let ident = call(&format!("{part}()")).name;
        let data = check_data(&ident, &mnist, span, &Tables, &earlier, true, &mut errors);
        earlier.insert("data", &ident, data.unwrap(), &mut errors);
        assert!(errors.is_empty(), "{errors:#?}");
    }
    for source in catalog::Source::ALL {
        for all in [true, false] {
            let text = match source {
                catalog::Source::Concat => "concat(a, b)".to_string(),
                // Classes name a classification's targets: not with the last task.
                catalog::Source::Csv => call_text(source.entry(), all)
                    .replace("task = regression", "task = classification"),
                _ => call_text(source.entry(), all),
            };
            let mut errors = Vec::new();
            check_data(
                &name,
                &[call(&text), call("batch(2)")],
                span,
                &Tables,
                &earlier,
                false,
                &mut errors,
            );
            assert!(errors.is_empty(), "{text}: {errors:#?}");
        }
    }
    for transform in catalog::Transform::ALL {
        let mut pipeline = vec![call("mnist(split = \"train\")")];
        let text = match transform {
            catalog::Transform::Reshape => "reshape(784)".to_string(),
            _ => call_text(transform.entry(), true),
        };
        pipeline.push(call(&text));
        if *transform != catalog::Transform::Batch {
            pipeline.push(call("batch(2)"));
        }
        let mut errors = Vec::new();
        check_data(
            &name,
            &pipeline,
            span,
            &Tables,
            &Table::default(),
            false,
            &mut errors,
        );
        assert!(errors.is_empty(), "{text}: {errors:#?}");
    }
}

#[test]
fn every_function_checks_with_each_arity_it_takes() {
    for function in catalog::Function::ALL {
        let e = function.entry();
        for arity in e.required()..=e.params.len() {
            let args = vec!["0.5"; arity].join(", ");
            let text = format!(
                "experiment t {{ seed = 1 }}
data train = mnist(split = \"train\") | batch(2)
model m {{ flatten()  dense(units = 10) }}
loss l = sparse_categorical_crossentropy(from_logits = true)
optimizer o = sgd()
train {{ model = m  data = train  loss = l  optimizer = o  epochs = 1 }}
on epoch_start {{ lr = {}({args}) }}
",
                e.name
            );
            let file = crate::syntax::parse_file(&text).unwrap();
            let exp = crate::check::check(&file).unwrap_or_else(|e| panic!("{text}: {e:#?}"));
            let super::super::plan::Action::SetLr {
                value: ScalarExpr::Call(f, _),
                ..
            } = &exp.hooks.epoch_start[0]
            else {
                panic!("{:?}", exp.hooks.epoch_start);
            };
            assert_eq!(f.catalogued(), *function);
        }
    }
}

/// The defaults the catalogue declares are the values check reads for a call without them.
#[test]
fn left_out_parameters_take_the_catalogues_defaults() {
    let layer = |text: &str| {
        read(text, |c, errors| read_layers(&[c], errors))[0]
            .kind
            .clone()
    };
    assert_eq!(
        layer("dense(units = 3)"),
        LayerKind::Dense(Dense {
            units: 3,
            activation: Activation::Linear,
            use_bias: true,
            weights: Weights::default(),
        })
    );
    assert_eq!(
        layer("dense(3, leaky_relu)"),
        LayerKind::Dense(Dense {
            units: 3,
            activation: Activation::LeakyRelu { alpha: 0.2 },
            use_bias: true,
            weights: Weights::default(),
        })
    );
    let LayerKind::Pool2d(Pool2d {
        size,
        stride,
        padding,
        ..
    }) = layer("maxpool2d(3)")
    else {
        panic!()
    };
    assert_eq!((size, stride, padding), ((3, 3), (3, 3), Padding::Valid));
    let LayerKind::Conv2d(Conv2d {
        stride, padding, ..
    }) = layer("conv2d(8, 3)")
    else {
        panic!()
    };
    assert_eq!((stride, padding), ((1, 1), Padding::Valid));
    assert_eq!(
        layer("leaky_relu()"),
        LayerKind::Activation(ActivationLayer {
            activation: Activation::LeakyRelu { alpha: 0.3 }
        })
    );
    assert_eq!(
        read("sgd()", read_optimizer).map(|o| (o.kind, o.lr)),
        Some((
            OptimizerKind::Sgd {
                momentum: 0.0,
                nesterov: false,
                weight_decay: 0.0
            },
            0.01
        ))
    );
    assert_eq!(
        read("adamw()", read_optimizer).map(|o| (o.kind, o.lr)),
        Some((
            OptimizerKind::AdamW {
                beta1: 0.9,
                beta2: 0.999,
                epsilon: 1e-7,
                weight_decay: 0.004
            },
            1e-3
        ))
    );
    assert_eq!(
        read("rmsprop()", read_optimizer).map(|o| (o.kind, o.lr)),
        Some((
            OptimizerKind::RmsProp {
                rho: 0.9,
                momentum: 0.0,
                epsilon: 1e-7
            },
            1e-3
        ))
    );
    let mut errors = Vec::new();
    let name = call("d()").name;
    let span = crate::source::Span::new(0, 0);
    let data = check_data(
        &name,
        &[call("mnist(split = \"test\")"), call("batch(8)")],
        span,
        &Tables,
        &Table::default(),
        false,
        &mut errors,
    )
    .unwrap();
    assert_eq!(data.source, DataSource::Mnist { train: false });
    assert_eq!(
        (data.batch, data.scaling.scale[0], data.shuffle),
        (8, 1.0, None)
    );
}

#[test]
fn slots_count_the_buffers_an_update_keeps() {
    let sgd = |momentum| OptimizerKind::Sgd {
        momentum,
        nesterov: false,
        weight_decay: 0.0,
    };
    assert_eq!(sgd(0.0).slots(), 0);
    assert_eq!(sgd(0.9).slots(), 1);
    let adam = OptimizerKind::Adam {
        beta1: 0.9,
        beta2: 0.999,
        epsilon: 1e-7,
        weight_decay: 0.0,
    };
    assert_eq!(adam.slots(), 2);
    let adadelta = OptimizerKind::Adadelta {
        rho: 0.9,
        epsilon: 1e-6,
    };
    assert_eq!(
        adadelta.slot_names(),
        ["accumulated_grad", "accumulated_delta_var"]
    );
}
