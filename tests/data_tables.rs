//! `csv(...)` tables end to end: the shipped experiments train on the shipped CSV files
//! (`experiments/data/`), the regression against a least-squares fit the test computes on
//! the same split, and bad tables stop `expr check` with a diagnostic naming file and cell.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use expr::data::{Examples, Inputs, Targets};

fn experiment_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("experiments")
        .join(name)
}

/// The experiment at `path`, checked with its data paths resolved, and its data sets.
fn load(path: &Path) -> (expr::check::Experiment, Vec<Arc<Examples>>) {
    let loaded = expr::overrides::load_file(path, &[]).unwrap_or_else(|_| panic!("loads"));
    let examples = expr::run::examples::load(&loaded.experiment).unwrap();
    (loaded.experiment, examples)
}

/// Runs `exp` in a temporary folder, kept as long as the first value lives.
fn run(exp: expr::check::Experiment) -> (tempfile::TempDir, expr::run::RunResult) {
    let dir = tempfile::tempdir().unwrap();
    let mut out = |_: &str| {};
    let result = expr::run::run(
        &Arc::new(exp),
        &dir.path().join("runs"),
        &expr::run::RunOptions::default(),
        &mut out,
    )
    .unwrap();
    (dir, result)
}

fn inputs(e: &Examples) -> &ndarray::Array2<f32> {
    match &e.inputs {
        Inputs::F32(a) => a,
        Inputs::U8(_) | Inputs::Files(_) | Inputs::Mapped(_) => panic!("a table's inputs are f32"),
    }
}

/// Least squares with an intercept, solved from the normal equations by Gaussian
/// elimination with partial pivoting, in f64: the weights, intercept last.
#[allow(clippy::needless_range_loop)] // matrix indices read as the algebra is written
fn least_squares(x: &ndarray::Array2<f32>, y: &[f32]) -> Vec<f64> {
    let (n, k) = (x.nrows(), x.ncols() + 1);
    let row = |i: usize| -> Vec<f64> {
        let mut r: Vec<f64> = x.row(i).iter().map(|&v| f64::from(v)).collect();
        r.push(1.0);
        r
    };
    let mut a = vec![vec![0.0f64; k + 1]; k];
    for i in 0..n {
        let r = row(i);
        for p in 0..k {
            for q in 0..k {
                a[p][q] += r[p] * r[q];
            }
            a[p][k] += r[p] * f64::from(y[i]);
        }
    }
    for col in 0..k {
        let pivot = (col..k)
            .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
            .unwrap();
        a.swap(col, pivot);
        for r in 0..k {
            if r != col {
                let f = a[r][col] / a[col][col];
                for c in col..=k {
                    a[r][c] -= f * a[col][c];
                }
            }
        }
    }
    (0..k).map(|i| a[i][k] / a[i][i]).collect()
}

#[test]
fn the_regression_experiment_does_as_well_as_a_linear_fit_on_the_same_split() {
    let (exp, examples) = load(&experiment_path("regression.exp"));
    let (train, test) = (&examples[0], &examples[1]);
    assert_eq!((train.len(), test.len()), (354, 88), "442 rows split 80/20");
    let targets = |e: &Examples| match &e.targets {
        Targets::Values(v) => v.column(0).to_vec(),
        Targets::Classes(_) | Targets::Tokens(_) => panic!("regression targets are values"),
    };
    // The training part is standardized by its own statistics: mean 0, deviation 1.
    for column in inputs(train).columns() {
        let n = column.len() as f64;
        let mean = column.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = column
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n;
        assert!(
            mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-4,
            "{mean} {var}"
        );
    }
    let w = least_squares(inputs(train), &targets(train));
    let y = targets(test);
    let predictions: Vec<f64> = (0..test.len())
        .map(|i| {
            let row = inputs(test).row(i);
            row.iter()
                .zip(&w)
                .map(|(&x, w)| f64::from(x) * w)
                .sum::<f64>()
                + w[w.len() - 1]
        })
        .collect();
    let n = y.len() as f64;
    let mean = y.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let ss_res: f64 = y
        .iter()
        .zip(&predictions)
        .map(|(&t, p)| (f64::from(t) - p).powi(2))
        .sum();
    let ss_tot: f64 = y.iter().map(|&t| (f64::from(t) - mean).powi(2)).sum();
    let (linear_rmse, linear_r2) = ((ss_res / n).sqrt(), 1.0 - ss_res / ss_tot);

    let (_dir, result) = run(exp);
    let last = |name: &str| *common::metric(&result, name).last().unwrap();
    let (rmse, r2) = (last("test_rmse"), last("test_r2"));
    println!("held-out RMSE {rmse:.2}, R² {r2:.4}; least squares: RMSE {linear_rmse:.2}, R² {linear_r2:.4}");
    assert!(r2 > linear_r2 - 0.05, "R² {r2} against {linear_r2}");
    assert!(
        rmse < linear_rmse * 1.05,
        "RMSE {rmse} against {linear_rmse}"
    );
}

#[test]
fn the_tabular_experiment_classifies_held_out_rows() {
    let (exp, examples) = load(&experiment_path("tabular.exp"));
    assert_eq!(examples[0].element_shape, [30]);
    assert_eq!((examples[0].len(), examples[1].len()), (455, 114));
    // `benign` and `malignant` sorted: 357 benign rows are class 0 in the whole table.
    let benign = |e: &Examples| {
        e.targets
            .classes()
            .unwrap()
            .iter()
            .filter(|&&c| c == 0)
            .count()
    };
    assert_eq!(benign(&examples[0]) + benign(&examples[1]), 357);
    let (_dir, result) = run(exp);
    // The record keeps the class names and the training part's statistics, for both sets.
    let encoding = &result.record.encoding;
    assert_eq!(encoding["train"].classes, ["benign", "malignant"]);
    assert_eq!(encoding["train"].columns.len(), 30);
    let stats = encoding["train"].standardized.as_ref().unwrap();
    assert_eq!(encoding["test"].standardized.as_ref(), Some(stats));
    assert!(
        (stats.mean[0] - 14.1).abs() < 0.3,
        "mean radius {}",
        stats.mean[0]
    );
    // The model file carries the same statistics, for inference without the training data.
    let (_, metadata) = expr::output::load_tensors(&result.dir.join("mlp.safetensors")).unwrap();
    // JSON lists of shortest round-trip numbers, read back exactly (as Python's `json`
    // does; serde_json's default parser can miss the last bit).
    let list = |key: &str| -> Vec<f64> {
        let inner = metadata[key].trim_start_matches('[').trim_end_matches(']');
        inner.split(',').map(|v| v.parse().unwrap()).collect()
    };
    assert_eq!(
        (list("input_mean"), list("input_std")),
        (stats.mean.clone(), stats.std.clone())
    );
    let yaml = std::fs::read_to_string(result.dir.join("run.yaml")).unwrap();
    assert!(
        yaml.contains("encoding:") && yaml.contains("malignant"),
        "{yaml}"
    );
    let accuracy = *common::metric(&result, "test_accuracy").last().unwrap();
    println!("held-out accuracy {accuracy:.4}");
    assert!(accuracy > 0.95, "{accuracy}");
}

/// `expr check` on an experiment reading `table` (written as `t.csv`) with `args`.
fn check_table(table: &str, args: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.csv"), table).unwrap();
    let text = format!(
        "experiment t {{ seed = 1 }}
data train = csv(\"t.csv\", target = \"y\"{args}) | batch(2)
model m {{ dense(units = 2) }}
loss l = sparse_categorical_crossentropy(from_logits = true)
optimizer o = sgd()
train {{ model = m  data = train  loss = l  optimizer = o  epochs = 1 }}
"
    );
    std::fs::write(dir.path().join("t.exp"), text).unwrap();
    let out = common::expr_in(dir.path(), &["check", "t.exp"]);
    (out.status.code().unwrap(), common::stderr(&out))
}

#[test]
fn bad_tables_are_diagnostics_on_the_path_naming_file_and_cell() {
    let cases = [
        (
            "a,y\n1,0\n2\n",
            "",
            "line 3: this row has 1 cells, the header 2",
        ),
        (
            "a,y\n1,0\n2x,1\n",
            "",
            "line 3, column 1 (`a`): `2x` is not a number",
        ),
        (
            "a,y\n1,0\n,1\n",
            "",
            "line 3, column 1 (`a`): missing value in a feature",
        ),
        ("a,y\n1,0\nNaN,1\n", "", "missing value in a feature"),
        ("a,y\n1,0\n1e999,1\n", "", "`1e999` is infinite"),
        (
            "a,y\n1,0\n2,7.5\n",
            "",
            "the class `7.5` is not a whole number",
        ),
        ("a,y\n1,0\n", ", features = \"b\"", "there is no column `b`"),
        ("", "", "is empty"),
        ("a,y\n\u{0}\u{ff}", "", "t.csv"),
        (
            "a,y\n1,cat\n2,dog\n",
            ", classes = (\"cat\", \"dog\", \"cat\")",
            "class `cat` is declared twice",
        ),
        (
            "a,y\n1,0.5\n2,1.5\n",
            ", task = regression, classes = (\"low\", \"high\")",
            "a regression has no classes",
        ),
        (
            "a,y\n1,cat\n2,cow\n",
            ", classes = (\"cat\", \"dog\")",
            "line 3, column 2 (`y`): the class `cow` is not one of",
        ),
    ];
    for (table, args, want) in cases {
        let (code, err) = check_table(table, args);
        assert_eq!(code, 2, "{table:?}: {err}");
        assert!(err.contains(want), "{table:?}: {err}");
        assert!(err.contains("t.csv") && err.contains("t.exp:2:"), "{err}");
    }
    let (code, err) = check_table("a,y\n1,0\n2,1\n", "");
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_missing_table_is_a_diagnostic_and_policies_fill_or_drop() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("t.exp"),
        "experiment t { seed = 1 }
data train = csv(\"nowhere.csv\", target = \"y\") | batch(2)
model m { dense(units = 2) }
loss l = sparse_categorical_crossentropy(from_logits = true)
optimizer o = sgd()
train { model = m  data = train  loss = l  optimizer = o  epochs = 1 }
",
    )
    .unwrap();
    let out = common::expr_in(dir.path(), &["check", "t.exp"]);
    let err = common::stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("cannot find the CSV file") && err.contains("nowhere.csv"),
        "{err}"
    );

    for policy in ["mean", "zero", "drop"] {
        let (code, err) = check_table("a,y\n1,0\n,1\n3,1\n", &format!(", missing = {policy}"));
        assert_eq!(code, 0, "{policy}: {err}");
    }
}

#[test]
fn given_classes_label_separate_train_and_test_files_alike() {
    let dir = tempfile::tempdir().unwrap();
    // Sorted per file, `dog` would be class 1 in training and 2 in the test file.
    std::fs::write(dir.path().join("train.csv"), "x,y\n1,cat\n2,dog\n3,cat\n").unwrap();
    std::fs::write(dir.path().join("test.csv"), "x,y\n4,dog\n5,bird\n").unwrap();
    let text = "experiment t { seed = 1 }
data train = csv(\"train.csv\", target = \"y\", classes = (\"cat\", \"dog\", \"bird\")) | batch(2)
data test = csv(\"test.csv\", target = \"y\", classes = (\"cat\", \"dog\", \"bird\")) | batch(2)
data both = concat(train, test) | batch(2)
model m { dense(units = 3) }
loss l = sparse_categorical_crossentropy(from_logits = true)
optimizer o = sgd()
train { model = m  data = train  validate = test  loss = l  optimizer = o  epochs = 1 }
";
    let path = dir.path().join("t.exp");
    std::fs::write(&path, text).unwrap();
    let (exp, examples) = load(&path);
    let classes = |i: usize| match &examples[i].targets {
        Targets::Classes(c) => c.to_vec(),
        Targets::Values(_) | Targets::Tokens(_) => panic!("classes"),
    };
    let at = |name: &str| exp.datasets.iter().position(|d| d.name == name).unwrap();
    assert_eq!(classes(at("train")), [0, 1, 0]);
    assert_eq!(classes(at("test")), [1, 2]);
    // One encoding, so the files can be joined.
    assert_eq!(classes(at("both")), [0, 1, 0, 1, 2]);
    assert_eq!(
        examples[at("both")].encoding.classes,
        ["cat", "dog", "bird"]
    );
    // Without `classes`, the two files encode their classes differently, and `concat`
    // refuses to join them.
    let sorted = text
        .replace(", classes = (\"cat\", \"dog\", \"bird\")", "")
        .replace("units = 3", "units = 2");
    std::fs::write(&path, &sorted).unwrap();
    let loaded = expr::overrides::load_file(&path, &[]).unwrap_or_else(|_| panic!("loads"));
    let err = expr::run::examples::load(&loaded.experiment).unwrap_err();
    assert!(err.to_string().contains("class names"), "{err}");
    // A value the list lacks stops `expr check`, naming the file, the line and the value.
    std::fs::write(dir.path().join("test.csv"), "x,y\n4,dog\n5,cow\n").unwrap();
    let out = common::expr_in(dir.path(), &["check", "t.exp"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the list is gone: {}",
        common::stderr(&out)
    );
    std::fs::write(&path, text).unwrap();
    let out = common::expr_in(dir.path(), &["check", "t.exp"]);
    let err = common::stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("test.csv"), "{err}");
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains("`cow`"), "{err}");
}
