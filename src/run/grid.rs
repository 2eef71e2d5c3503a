//! Drawing `grid(...)` actions: tensor expressions evaluated in inference mode
//! and tiled into a PNG. Grids never touch the training's random streams: their
//! noise comes from a stream of their own, the same at every epoch, so that the
//! grids of successive epochs show the same latent points.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use dfdx::prelude::*;

use super::engine::{streams, Engine};
use super::eval::{host, Host, Scope, StepState};
use super::step::Batch;
use crate::check::plan::{Action, TensorExpr};
use crate::output::{image_grid, OutputResult};

/// A step's first batch of an epoch, with the values the step bound for it.
pub struct Kept {
    pub batch: Batch,
    pub values: HashMap<String, Host>,
}

/// Draws a `grid` action into `dir`; `epoch` is 1-based. Returns the file written,
/// or `None` when the step it reads has not run yet this epoch.
pub fn draw(
    engine: &Engine,
    action: &Action,
    kept: &HashMap<usize, Kept>,
    epoch: usize,
    dir: &Path,
) -> OutputResult<Option<PathBuf>> {
    let Action::Grid {
        exprs,
        step,
        x,
        y,
        count,
        tile,
        path,
    } = action
    else {
        return Ok(None);
    };
    let empty = Batch {
        x: Vec::new(),
        shape: vec![*count],
        labels: Vec::new(),
        one_hot: None,
    };
    let (batch, values) = match step {
        Some(s) => match kept.get(s) {
            Some(k) => (&k.batch, k.values.clone()),
            None => return Ok(None),
        },
        None => (&empty, HashMap::new()),
    };
    let rows = (*count).min(batch.shape[0]);
    let defs: HashMap<String, TensorExpr> = HashMap::new();
    let mut state = StepState {
        snapshots: values,
        ..StepState::default()
    };
    let mut scope = Scope::<NoneTape> {
        engine,
        batch,
        x,
        y,
        defs: &defs,
        watched: &[],
        state: &mut state,
        memo: HashMap::new(),
        frozen: step.is_some(),
        fixed_noise: Some(engine.exp.seed.wrapping_add(streams::GRID)),
    };
    let (h, w) = *tile;
    let mut pixels = Vec::with_capacity(exprs.len() * rows * h * w);
    for e in exprs {
        let v = host(&scope.eval(e, false));
        pixels.extend_from_slice(&v.data[..rows * h * w]);
    }
    let cols = if exprs.len() == 1 {
        (rows as f64).sqrt().ceil() as usize
    } else {
        rows
    };
    let target = dir.join(path.replace("{epoch}", &epoch.to_string()));
    if let Some(parent) = target.parent() {
        // A missing folder is made; a failure shows up as the write's error.
        let _ = std::fs::create_dir_all(parent);
    }
    image_grid(&target, &pixels, exprs.len() * rows, h, w, cols.max(1))?;
    Ok(Some(target))
}
