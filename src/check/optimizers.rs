//! Losses and optimizers: the calls of `loss` and `optimizer` declarations,
//! read against their catalogue entries into the plan's kinds. Both are one
//! `match` from the catalogue's variant to the plan's, with the values the
//! entry's parameters (and Keras' defaults) give.

use super::call::CallArgs;
use super::error::CheckError;
use super::plan::{ClassWeight, Loss, LossKind, OptimizerKind, Reduction};
use crate::catalog::{self, Catalogued};
use crate::syntax::ast::Call;

/// A loss declaration: its kind, reduction and class weights (the entry says which
/// losses take which).
pub(super) fn read_loss(name: &str, call: &Call, errors: &mut Vec<CheckError>) -> Option<Loss> {
    let callee = call.name.name.as_str();
    let Some(loss) = catalog::Loss::named(callee) else {
        let known = catalog::Loss::names();
        errors.push(CheckError::unknown("loss", callee, call.name.span, &known));
        return None;
    };
    let args = CallArgs::read(call, loss.entry(), errors);
    let kind = match loss {
        catalog::Loss::SparseCategoricalCrossentropy => LossKind::SparseCategoricalCrossentropy {
            from_logits: args.boolean("from_logits", errors),
            label_smoothing: args.number("label_smoothing", errors),
        },
        catalog::Loss::CategoricalCrossentropy => LossKind::CategoricalCrossentropy {
            from_logits: args.boolean("from_logits", errors),
            label_smoothing: args.number("label_smoothing", errors),
        },
        catalog::Loss::BinaryCrossentropy => LossKind::BinaryCrossentropy {
            from_logits: args.boolean("from_logits", errors),
            label_smoothing: args.number("label_smoothing", errors),
        },
        catalog::Loss::MeanSquaredError => LossKind::MeanSquaredError,
        catalog::Loss::MeanAbsoluteError => LossKind::MeanAbsoluteError,
        catalog::Loss::Huber => LossKind::Huber {
            delta: args.number("delta", errors),
        },
        catalog::Loss::Nll => LossKind::Nll,
        catalog::Loss::KlDivergence => LossKind::KlDivergence,
        catalog::Loss::CosineSimilarity => LossKind::CosineSimilarity,
        catalog::Loss::Hinge => LossKind::Hinge,
        catalog::Loss::SquaredHinge => LossKind::SquaredHinge,
        catalog::Loss::LogCosh => LossKind::LogCosh,
        catalog::Loss::Poisson => LossKind::Poisson,
    };
    let reduction = match args.name("reduction", errors) {
        "sum" => Reduction::Sum,
        _ => Reduction::Mean,
    };
    let class_weight = loss
        .entry()
        .param("class_weight")
        .and_then(|_| args.weights("class_weight", errors))
        .map(|(values, span)| ClassWeight { values, span });
    Some(Loss {
        name: name.to_string(),
        kind,
        reduction,
        class_weight,
    })
}

/// What an optimizer's call sets: its kind, learning rate and gradient accumulation.
pub(super) struct OptimizerCall {
    pub kind: OptimizerKind,
    pub lr: f64,
    pub accumulate: usize,
}

/// Optimizers, with Keras' defaults (the catalogue's).
pub(super) fn read_optimizer(call: &Call, errors: &mut Vec<CheckError>) -> Option<OptimizerCall> {
    let name = call.name.name.as_str();
    let Some(optimizer) = catalog::Optimizer::named(name) else {
        let known = catalog::Optimizer::names();
        errors.push(CheckError::unknown(
            "optimizer",
            name,
            call.name.span,
            &known,
        ));
        return None;
    };
    let args = CallArgs::read(call, optimizer.entry(), errors);
    let lr = args.number("lr", errors);
    let accumulate = args.count("accumulate", errors);
    let kind = match optimizer {
        catalog::Optimizer::Sgd => OptimizerKind::Sgd {
            momentum: args.number("momentum", errors),
            nesterov: args.boolean("nesterov", errors),
            weight_decay: args.number("weight_decay", errors),
        },
        catalog::Optimizer::Adam => OptimizerKind::Adam {
            beta1: args.number("beta1", errors),
            beta2: args.number("beta2", errors),
            epsilon: args.number("epsilon", errors),
            weight_decay: args.number("weight_decay", errors),
        },
        catalog::Optimizer::AdamW => OptimizerKind::AdamW {
            beta1: args.number("beta1", errors),
            beta2: args.number("beta2", errors),
            epsilon: args.number("epsilon", errors),
            weight_decay: args.number("weight_decay", errors),
        },
        catalog::Optimizer::RmsProp => OptimizerKind::RmsProp {
            rho: args.number("rho", errors),
            momentum: args.number("momentum", errors),
            epsilon: args.number("epsilon", errors),
        },
        catalog::Optimizer::Adadelta => OptimizerKind::Adadelta {
            rho: args.number("rho", errors),
            epsilon: args.number("epsilon", errors),
        },
        catalog::Optimizer::Adagrad => OptimizerKind::Adagrad {
            initial_accumulator_value: args.number("initial_accumulator_value", errors),
            epsilon: args.number("epsilon", errors),
        },
        catalog::Optimizer::Nadam => OptimizerKind::Nadam {
            beta1: args.number("beta1", errors),
            beta2: args.number("beta2", errors),
            epsilon: args.number("epsilon", errors),
        },
        catalog::Optimizer::Adamax => OptimizerKind::Adamax {
            beta1: args.number("beta1", errors),
            beta2: args.number("beta2", errors),
            epsilon: args.number("epsilon", errors),
        },
        catalog::Optimizer::Lion => OptimizerKind::Lion {
            beta1: lion_beta1(&args, errors),
            beta2: args.number("beta2", errors),
        },
    };
    Some(OptimizerCall {
        kind,
        lr,
        accumulate,
    })
}

/// Lion's `beta1` in (0, 1): at 0 the update is the gradient's sign alone (`SignSGD`), which
/// Keras refuses too.
fn lion_beta1(args: &CallArgs<'_>, errors: &mut Vec<CheckError>) -> f64 {
    let beta1 = args.number("beta1", errors);
    let Some(given) = args.get("beta1").filter(|_| beta1 <= 0.0) else {
        return beta1;
    };
    let span = given.span;
    errors.push(
        CheckError::out_of_range("beta1", beta1, "in (0, 1)", span)
            .with_help("Lion with `beta1 = 0` is SignSGD; write e.g. `beta1 = 0.9`"),
    );
    0.9
}
