//! `gan_score RUN_DIR CLASSIFIER.safetensors`: scores the generator of a
//! finished `experiments/gan.exp` run with the classifier `experiments/mnist.exp`
//! saved. Exit code 0 when the samples pass (mean top-class probability >= 0.85
//! and every class >= 3% of the samples), 1 when not, 2 on bad input.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

#[derive(Parser)]
struct Args {
    /// The GAN run's directory (holds `generator.safetensors`).
    run_dir: PathBuf,
    /// The classifier's weights, as `save(classifier, ...)` wrote them.
    classifier: PathBuf,
    #[arg(long, default_value = "experiments/gan.exp")]
    gan: PathBuf,
    #[arg(long, default_value = "experiments/mnist.exp")]
    classifier_exp: PathBuf,
    #[arg(long, default_value_t = 1000)]
    samples: usize,
    #[arg(long, default_value_t = 2024)]
    seed: u64,
}

fn experiment(path: &std::path::Path) -> Result<Arc<expr::check::Experiment>, String> {
    let text = expr::source::read_text(path, expr::source::EXPERIMENT_LIMIT)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let file = expr::syntax::parse_file(&text)
        .map_err(|_| format!("{}: does not parse", path.display()))?;
    let exp =
        expr::check::check(&file).map_err(|_| format!("{}: does not check", path.display()))?;
    Ok(Arc::new(exp))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = experiment(&args.gan).and_then(|gan| {
        let classifier = experiment(&args.classifier_exp)?;
        expr::run::score::score(
            &gan,
            &args.run_dir,
            &classifier,
            &args.classifier,
            args.samples,
            args.seed,
        )
    });
    let score = match result {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    println!("samples: {}", score.samples);
    println!(
        "mean top-class probability: {:.4} (bar 0.85)",
        score.mean_top
    );
    let coverage: Vec<String> = score
        .coverage
        .iter()
        .enumerate()
        .map(|(c, f)| format!("{c}: {:.1}%", f * 100.0))
        .collect();
    println!("class coverage: {} (bar 3% each)", coverage.join(", "));
    let pass = score.mean_top >= 0.85 && score.coverage.iter().all(|&f| f >= 0.03);
    println!("{}", if pass { "PASS" } else { "FAIL" });
    if pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
