//! Memory bounds: a model whose parameters, optimizer slots, gradients and
//! activations would not fit in this machine's memory is refused before
//! anything is allocated, with the estimate.

use super::error::CheckError;
use super::plan::Experiment;

/// Bytes a training step needs, roughly: per parameter the value, its
/// gradient, the host copy and two optimizer slots; per activation value the
/// forward value and its gradient, plus the scratch of the largest layer.
pub fn estimate_bytes(exp: &Experiment) -> u128 {
    let mut total: u128 = 0;
    for (i, model) in exp.models.iter().enumerate() {
        let params = model.parameter_count() as u128;
        total += params * 4 * 5;
        let batch = exp
            .steps
            .iter()
            .filter(|s| s.all_stmts().iter().any(|st| mentions_model(st, i)))
            .map(|s| exp.datasets[s.data].batch as u128)
            .max()
            .unwrap_or(1);
        let activations: u128 = model
            .layers
            .iter()
            .map(|l| l.output_shape.iter().map(|&d| d as u128).product::<u128>())
            .sum();
        let largest_input = model
            .layers
            .iter()
            .map(|l| l.input_shape.iter().map(|&d| d as u128).product::<u128>() * kernel_area(l))
            .max()
            .unwrap_or(0);
        total += batch * (activations * 4 * 2 + largest_input * 4);
    }
    total
}

fn kernel_area(layer: &super::plan::Layer) -> u128 {
    layer.kind.scratch_factor() as u128
}

fn mentions_model(stmt: &super::plan::StepStmt, model: usize) -> bool {
    use super::plan::{StepStmt, TensorExpr};
    match stmt {
        StepStmt::ClipWeights { model: m, .. } => *m == model,
        other => other.expr().is_some_and(|e| {
            e.any(&|e| matches!(e, TensorExpr::CallModel { model: m, .. } if *m == model))
        }),
    }
}

/// This machine's memory, from /proc/meminfo; `None` where that is not readable.
pub fn machine_memory() -> Option<u128> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u128 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

pub fn check_fits(exp: &Experiment, limit: Option<u128>, errors: &mut Vec<CheckError>) {
    let Some(limit) = limit else { return };
    let need = estimate_bytes(exp);
    if need > limit {
        let span = exp.models.first().map_or_else(Default::default, |m| m.span);
        errors.push(
            CheckError::invalid(
                format!(
                    "training needs about {} of memory, this machine has {}",
                    gib(need),
                    gib(limit)
                ),
                "this model is too large".into(),
                span,
            )
            .with_help("use fewer or smaller layers, or a smaller `batch(...)`"),
        );
    }
}

fn gib(bytes: u128) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u128 << 30) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp(text: &str) -> Experiment {
        let file = crate::syntax::parse_file(text).unwrap();
        crate::check::check(&file).unwrap()
    }

    const HUGE: &str = r#"experiment big { seed = 1 }
data train = mnist(split = "train") | batch(64)
model m {
  flatten()
  dense(units = 1000000)
  dense(units = 100000)
  dense(units = 10)
}
loss l = sparse_categorical_crossentropy(from_logits = true)
optimizer o = adam()
train { model = m  data = train  loss = l  optimizer = o  epochs = 1 }
"#;

    #[test]
    fn the_tutorial_model_is_small() {
        let text = std::fs::read_to_string("experiments/mnist.exp").unwrap();
        let need = estimate_bytes(&exp(&text));
        assert!(need > 7_000_000 && need < 200 << 20, "{need}");
    }

    #[test]
    fn a_model_beyond_memory_is_refused_with_the_estimate() {
        let file = crate::syntax::parse_file(HUGE).unwrap();
        // 10^11 parameters: about 2 TB with slots.
        let errors = crate::check::check(&file).expect_err("refused");
        assert!(
            errors[0].title.starts_with("training needs about"),
            "{errors:?}"
        );
        let mut errors = Vec::new();
        check_fits(
            &exp(r#"experiment s { seed = 1 }
data train = mnist(split = "train") | batch(64)
model m {
  flatten()
  dense(units = 10)
}
loss l = sparse_categorical_crossentropy(from_logits = true)
optimizer o = adam()
train { model = m  data = train  loss = l  optimizer = o  epochs = 1 }
"#),
            Some(1 << 40),
            &mut errors,
        );
        assert!(errors.is_empty());
    }
}
