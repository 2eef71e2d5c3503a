//! What the evaluator's tests share: an engine from an experiment's text, its step's
//! definitions, and a scope that evaluates them on a batch as a step does.

use std::sync::Arc;

use super::*;

/// The engine of an experiment written out in full; a test's text always checks.
pub(super) fn engine_of(text: &str) -> Engine {
    let file = crate::syntax::parse_file(text).expect("parses");
    let exp = crate::check::check(&file).unwrap_or_else(|e| panic!("{text}: {e:?}"));
    Engine::new(Arc::new(exp))
}

/// The names the first step binds, with their definitions.
pub(super) fn step_defs(engine: &Engine) -> HashMap<String, TensorExpr> {
    engine.exp.steps[0]
        .stmts
        .iter()
        .filter_map(|s| match s {
            crate::check::plan::StepStmt::Let { name, value } => {
                Some((name.clone(), value.clone()))
            }
            _ => None,
        })
        .collect()
}

/// A training scope of the first step on `batch`, its noise from the device, or from
/// `fixed_noise` where given.
pub(super) fn scope<'a, T: StepTape>(
    engine: &'a Engine,
    batch: &'a Batch,
    defs: &'a HashMap<String, TensorExpr>,
    state: &'a mut StepState,
    fixed_noise: Option<u64>,
) -> Scope<'a, T> {
    Scope {
        engine,
        batch,
        x: "x",
        y: "y",
        defs,
        watched: &[],
        state,
        memo: HashMap::new(),
        frozen: false,
        settled: false,
        fixed_noise,
        param_grads: None,
        logits: HashMap::new(),
    }
}
