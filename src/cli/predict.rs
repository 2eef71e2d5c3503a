//! `expr predict FILE --model PATH`: a model's predicted class and probabilities per
//! example of a data set (CSV), or per image file (printed).

use std::fmt::Write as _; // write! into a String, which cannot fail: hence `let _ =`
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use crate::run::evaluate::loaded_engine;
use crate::run::predict::{data_set, on_data, on_images, Prediction, Probabilities};

pub const PREDICT_EXAMPLES: &str = "Examples:
  expr predict experiments/mnist.exp --model runs/mnist/<id>/classifier.safetensors --to predictions.csv
  expr predict experiments/mnist.exp --model classifier.safetensors --data train --probabilities none
  expr predict experiments/mnist.exp --model classifier.safetensors digit.png other.png";

#[derive(clap::Args, Debug, Clone)]
pub struct PredictArgs {
    /// The experiment file.
    pub file: PathBuf,
    /// Image files (PNG, JPEG, BMP, GIF) to classify instead of a data set; each must have
    /// the model's input size.
    pub images: Vec<PathBuf>,
    /// The weights: `PATH.safetensors`, `NAME=PATH`, or a run directory; the first one
    /// given is the model that predicts.
    #[arg(long = "model", value_name = "[NAME=]PATH", required = true)]
    pub models: Vec<String>,
    /// The data set to predict (default: the evaluation data, `validate = DATA`); its
    /// scalings apply to image files too.
    #[arg(long, value_name = "NAME")]
    pub data: Option<String>,
    /// Write the CSV here instead of standard output.
    #[arg(long, value_name = "FILE.csv")]
    pub to: Option<PathBuf>,
    /// How outputs become probabilities: `auto` reads the loss (`from_logits = true`:
    /// softmax, or sigmoid for one output).
    #[arg(long, value_enum, default_value = "auto")]
    pub probabilities: Probabilities,
    /// How many of the highest probabilities to print per image.
    #[arg(long, default_value_t = 3)]
    pub top: usize,
    /// Change a value without editing the file, e.g. `--set test.batch=500`; repeatable.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,
    /// Worker threads (default: the file's `threads`, else every core).
    #[arg(long, value_parser = super::run::threads_arg)]
    pub threads: Option<usize>,
}

/// Exit codes: 0 with the predictions written, 2 when the file, a weights file, the data
/// or an image is wrong, 1 when the output cannot be written.
pub fn main(args: &PredictArgs) -> ExitCode {
    let exp = match super::eval::load(&args.file, &args.set) {
        Ok(exp) => Arc::new(exp),
        Err(code) => return code,
    };
    let files = match super::eval::weights(&exp, &args.models) {
        Ok(files) => files,
        Err(code) => return code,
    };
    let Some(&(m, _)) = files.first() else {
        return ExitCode::from(2);
    };
    let d = match data_set(&exp, args.data.as_deref()) {
        Ok(d) => d,
        Err(e) => return bad(&e),
    };
    if let Err(e) = crate::lower::start_threads(
        args.threads.or(exp.threads).unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        }),
        false,
    ) {
        eprintln!("error: cannot start the worker threads: {e}");
        return ExitCode::from(1);
    }
    let engine = match loaded_engine(&exp, &files) {
        Ok(engine) => engine,
        Err(e) => return super::eval::failed(&e),
    };
    if !args.images.is_empty() {
        let paths: Vec<&Path> = args.images.iter().map(PathBuf::as_path).collect();
        return match on_images(&engine, m, &exp.datasets[d], &paths, args.probabilities) {
            Ok(predictions) => {
                for (path, p) in paths.iter().zip(&predictions) {
                    println!("{}", image_line(path, p, args.top));
                }
                ExitCode::SUCCESS
            }
            Err(e) => bad(&e),
        };
    }
    let examples = match crate::run::examples::load(&exp) {
        Ok(examples) => examples,
        Err(e) => return super::eval::failed(&e),
    };
    let predictions = match on_data(&engine, m, d, &examples[d], args.probabilities) {
        Ok(p) => p,
        Err(e) => return bad(&e),
    };
    let text = csv(&predictions);
    match &args.to {
        Some(path) => {
            if let Err(e) = std::fs::write(path, text) {
                eprintln!("error: cannot write `{}`: {e}", path.display());
                return ExitCode::from(1);
            }
            eprintln!(
                "{} predictions of `{}` on `{}` written to {}",
                predictions.len(),
                exp.models[m].name,
                exp.datasets[d].name,
                path.display()
            );
        }
        None => print!("{text}"),
    }
    ExitCode::SUCCESS
}

fn bad(e: &crate::run::predict::PredictError) -> ExitCode {
    super::print_error(e);
    ExitCode::from(2)
}

/// `index,label,predicted,p0,...`: one row per example, probabilities with 6 decimals
/// (the label column only where the data has class labels).
fn csv(predictions: &[Prediction]) -> String {
    let labelled = predictions.iter().any(|p| p.label.is_some());
    let width = predictions.first().map_or(0, |p| p.probabilities.len());
    let mut out = String::from("index");
    if labelled {
        out.push_str(",label");
    }
    out.push_str(",predicted");
    for k in 0..width {
        let _ = write!(out, ",p{k}");
    }
    out.push('\n');
    for (i, p) in predictions.iter().enumerate() {
        let _ = write!(out, "{i}");
        if labelled {
            let _ = write!(out, ",{}", p.label.map_or(String::new(), |l| l.to_string()));
        }
        let _ = write!(out, ",{}", p.class);
        for v in &p.probabilities {
            let _ = write!(out, ",{v:.6}");
        }
        out.push('\n');
    }
    out
}

/// `digit.png: 7 (0.9731); 1: 0.0140, 9: 0.0052`: the class, then the top probabilities.
fn image_line(path: &Path, p: &Prediction, top: usize) -> String {
    let mut ranked: Vec<(usize, f32)> = p.probabilities.iter().copied().enumerate().collect();
    // Highest first; equal ones by class, so the line is the same on every run.
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut line = format!("{}: {}", path.display(), p.class);
    let shown: Vec<String> = ranked
        .iter()
        .take(top.max(1))
        .map(|(k, v)| format!("{k}: {v:.4}"))
        .collect();
    let _ = write!(line, " ({})", shown.join(", "));
    line
}
