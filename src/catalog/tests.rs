//! What every entry must satisfy for the readers to rely on it.

use super::*;

#[test]
fn every_name_and_alias_means_one_entry() {
    let mut seen: Vec<&str> = Vec::new();
    for e in entries() {
        for name in std::iter::once(&e.name).chain(e.aliases) {
            assert!(!seen.contains(name), "`{name}` is in the catalogue twice");
            seen.push(name);
        }
    }
}

#[test]
fn lookups_find_each_entry_by_its_names() {
    for e in entries() {
        for name in std::iter::once(&e.name).chain(e.aliases) {
            let found = match e.kind {
                Kind::Layer => Layer::named(name).map(Layer::entry),
                Kind::Activation => Activation::named(name).map(Activation::entry),
                Kind::Loss => Loss::named(name).map(Loss::entry),
                Kind::Optimizer => Optimizer::named(name).map(Optimizer::entry),
                Kind::Schedule | Kind::Function => Function::named(name).map(Function::entry),
                Kind::Source => Source::named(name).map(Source::entry),
                Kind::Transform => Transform::named(name).map(Transform::entry),
                Kind::Initializer => Initializer::named(name).map(Initializer::entry),
                Kind::Regularizer => Regularizer::named(name).map(Regularizer::entry),
            };
            assert_eq!(found, Some(e), "`{name}`");
        }
    }
}

#[test]
fn every_activation_but_linear_is_a_layer() {
    for a in Activation::ALL {
        let is_layer = Layer::named(a.entry().name) == Some(Layer::of(a.entry()));
        assert_eq!(is_layer, *a != Activation::Linear, "{a:?}");
    }
    assert!(Layer::named("linear").is_none());
}

#[test]
fn layers_have_a_summary_name_and_a_keras_class() {
    for l in Layer::ALL {
        let e = l.entry();
        assert!(e.class_name.is_some(), "`{}` has no class", e.name);
        assert!(!e.base_name.is_empty(), "`{}` has no base name", e.name);
    }
    assert_eq!(layer_base("maxpool2d"), "max_pooling2d");
    assert_eq!(layer_base("leaky_relu"), "activation");
    assert_eq!(layer_base("unknown"), "unknown");
}

#[test]
fn everything_but_a_layer_is_named_as_written() {
    for e in entries().filter(|e| !matches!(e.kind, Kind::Layer | Kind::Activation)) {
        assert_eq!(e.base_name, e.name);
    }
}

/// Getters in `check` read each default as the value of its type; arities read the
/// required parameters as the first ones.
#[test]
fn defaults_fit_their_types_and_required_parameters_come_first() {
    for e in entries() {
        let required = e.required();
        assert!(
            e.params[..required].iter().all(Param::is_required),
            "`{}`: a required parameter after an optional one",
            e.name
        );
        for (i, p) in e.params.iter().enumerate() {
            let what = format!("`{}`'s `{}`", e.name, p.name);
            let value = match p.default {
                Default::Required(v) | Default::Is(v) => v,
                Default::Derived(_) => continue,
                Default::SameAs(other) => {
                    let earlier = &e.params[..i];
                    assert!(
                        earlier.iter().any(|q| q.name == other && q.ty == p.ty),
                        "{what}"
                    );
                    continue;
                }
            };
            let fits = match (p.ty, value) {
                (Type::Count { min }, Value::Count(n)) => n >= min,
                (Type::Pair, Value::Pair(a, b)) => a >= 1 && b >= 1,
                (
                    Type::Number | Type::Scalar | Type::Channels { positive: false },
                    Value::Number(v),
                ) => v.is_finite(),
                (Type::Positive | Type::Channels { positive: true }, Value::Number(v)) => v > 0.0,
                (Type::NonNegative, Value::Number(v)) => v >= 0.0,
                (Type::Fraction, Value::Number(v)) => (0.0..1.0).contains(&v),
                (Type::Bool, Value::Bool(_))
                | (
                    Type::Text(&[])
                    | Type::Texts
                    | Type::DataName
                    | Type::ValueName
                    | Type::ValueNames,
                    Value::Text(_),
                ) => true,
                (Type::Activation, Value::Name(n)) => Activation::named(n).is_some(),
                (Type::Initializer, Value::Name(n)) => Initializer::named(n).is_some(),
                (Type::Regularizer | Type::Numbers, Value::Name(n)) => n == "none",
                (Type::Name(names), Value::Name(n)) | (Type::Text(names), Value::Text(n)) => {
                    names.contains(&n)
                }
                _ => false,
            };
            assert!(fits, "{what}: {:?} does not fit {:?}", p.default, p.ty);
        }
    }
}

#[test]
fn declarations_find_their_calls_parameters() {
    assert_eq!(
        call_params("rmsprop"),
        ["lr", "rho", "momentum", "epsilon", "accumulate"]
    );
    assert_eq!(call_params("maxpool2d"), ["pool", "stride", "padding"]);
    assert_eq!(call_params("mean_squared_error"), ["reduction"]);
    assert_eq!(call_params("idx"), ["images", "labels", "shape", "classes"]);
    // Functions are not declared: their arguments are positional expressions.
    assert!(call_params("warmup").is_empty());
    assert!(callable("linear").is_none());
}

#[test]
fn docs_lines_leave_table_cells_whole() {
    for e in entries() {
        assert!(
            !e.doc.contains('|'),
            "`{}`: a `|` would split its table row",
            e.name
        );
    }
}

#[test]
fn the_docs_render_every_table_and_keep_other_text() {
    for name in docs::TABLES {
        let table = docs::table(name).unwrap();
        assert!(table.starts_with("| "), "{name}: {table}");
    }
    let text = "a\n<!-- catalog: losses -->\nold\n<!-- end catalog -->\nb\n";
    let fresh = docs::splice(text).unwrap();
    assert!(
        fresh.starts_with("a\n<!-- catalog: losses -->\n| loss |"),
        "{fresh}"
    );
    assert!(fresh.contains("| `mae` (or `mean_absolute_error`) | `reduction = mean` (mean \\| sum) | `MeanAbsoluteError` | the mean of `abs(target - prediction)` |\n"), "{fresh}");
    assert!(fresh.ends_with("|\n<!-- end catalog -->\nb\n"), "{fresh}");
    assert!(docs::splice("<!-- catalog: nothing -->\n").is_err());
    assert!(docs::splice("<!-- catalog: losses -->\n").is_err());
}
