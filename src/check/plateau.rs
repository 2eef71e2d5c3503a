//! `reduce_on_plateau(monitor, factor = 0.1, patience = 10, ...)` in a learning rate's
//! expression: Keras' `ReduceLROnPlateau` as a value. It starts at `initial` (1: a factor)
//! and, after each epoch whose `monitor` has not improved for `patience` epochs, is
//! multiplied by `factor` (not below `min_lr`); the loop updates it once per epoch, after
//! the metrics, before `on epoch_end`. As a value rather than a callback it composes with
//! the schedules and belongs to the optimizer whose rate reads it:
//! `d_opt.lr = warmup(2e-4, 500) * reduce_on_plateau(test_loss, 0.5, 2)`. Each call is a
//! rule of its own, with its own state in the checkpoints.

use super::args::Args;
use super::error::CheckError;
use super::hooks::HookCx;
use super::plan::{Plateau, ScalarExpr};
use super::stopping::{higher_is_better, monitored};
use crate::syntax::ast::Call;

/// Keras' parameters in its order, then the value before any reduction.
const PARAMS: &[&str] = &[
    "monitor",
    "factor",
    "patience",
    "mode",
    "min_delta",
    "cooldown",
    "min_lr",
    "initial",
];

impl HookCx<'_, '_> {
    /// Reads a `reduce_on_plateau(...)` call: the rule, as the value it gives.
    pub(super) fn plateau(&self, call: &Call, errors: &mut Vec<CheckError>) -> Option<ScalarExpr> {
        let a = Args::read(call, PARAMS, errors);
        let monitor = a
            .required("monitor", errors)
            .and_then(|e| monitored(e, self.metrics, self.cx, errors));
        // Keras refuses a factor of 1 or more: the rate would never come down.
        let factor = a.fraction("factor", 0.1, (0.0, 1.0), errors);
        let patience = a.count("patience", 10, 0, errors);
        let mode = a.choice("mode", &["min", "max", "auto"], errors);
        let min_delta = a.positive("min_delta", 1e-4, false, errors);
        let cooldown = a.count("cooldown", 0, 0, errors);
        let min_lr = a.positive("min_lr", 0.0, false, errors);
        let initial = a.positive("initial", 1.0, true, errors);
        let metric = monitor?;
        let maximize = match mode.map(|(m, _)| m) {
            Some("max") => true,
            Some("min") => false,
            _ => higher_is_better(&self.metrics[metric]),
        };
        let mut rules = self.plateaus.borrow_mut();
        rules.push(Plateau {
            metric,
            maximize,
            factor,
            patience,
            min_delta,
            cooldown,
            min_lr,
            initial,
        });
        Some(ScalarExpr::Plateau(rules.len() - 1))
    }
}
