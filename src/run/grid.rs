//! Drawing `grid(...)` actions: tensor expressions evaluated in inference mode
//! and tiled into a PNG. Grids never touch the training's random streams: their
//! noise comes from a stream of their own, the same at every epoch, so that the
//! grids of successive epochs show the same latent points.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::check::plan::Action;
use crate::data::Batch;
use crate::lower::{streams, Engine, Host};
use crate::output::confine::in_run_dir;
use crate::output::{image_grid, OutputResult};

/// A step's first batch of an epoch, with the values the step bound for it.
pub struct Kept {
    pub batch: Batch,
    pub values: HashMap<String, Host>,
}

/// The pixels of a `grid` action: `count` images per tensor (or `rows` when
/// given), tensor after tensor. `None` when the step it reads has not run yet.
pub struct Images {
    pub pixels: Vec<f32>,
    /// Images per tensor.
    pub rows: usize,
    pub tensors: usize,
    pub tile: (usize, usize),
}

/// Evaluates a `grid` action's tensors; `noise_seed` seeds its noise.
#[allow(clippy::implicit_hasher)] // the loop's own map, always with std's hasher
pub fn images(
    engine: &Engine,
    action: &Action,
    kept: &HashMap<usize, Kept>,
    rows: Option<usize>,
    noise_seed: u64,
) -> Option<Images> {
    let Action::Grid {
        exprs,
        step,
        x,
        y,
        count,
        tile,
        ..
    } = action
    else {
        return None;
    };
    let count = rows.unwrap_or(*count);
    let empty = Batch {
        x: Vec::new(),
        shape: vec![count],
        labels: Vec::new(),
        dense_y: None,
    };
    let (batch, values) = match step {
        Some(s) => {
            let k = kept.get(s)?;
            (&k.batch, Some(k.values.clone()))
        }
        None => (&empty, None),
    };
    let rows = count.min(batch.shape[0]);
    let (h, w) = *tile;
    let mut pixels = Vec::with_capacity(exprs.len() * rows * h * w);
    for v in engine.evaluate(exprs, batch, (x, y), values, noise_seed) {
        pixels.extend_from_slice(&v.data[..rows * h * w]);
    }
    Some(Images {
        pixels,
        rows,
        tensors: exprs.len(),
        tile: *tile,
    })
}

/// Draws a `grid` action into `dir`; `epoch` is 1-based. Returns the file written,
/// or `None` when the step it reads has not run yet this epoch.
#[allow(clippy::implicit_hasher)] // the loop's own map, always with std's hasher
pub fn draw(
    engine: &Engine,
    action: &Action,
    kept: &HashMap<usize, Kept>,
    epoch: usize,
    dir: &Path,
) -> OutputResult<Option<PathBuf>> {
    let Action::Grid { path, .. } = action else {
        return Ok(None);
    };
    let seed = engine.experiment().seed.wrapping_add(streams::GRID);
    let Some(im) = images(engine, action, kept, None, seed) else {
        return Ok(None);
    };
    let cols = if im.tensors == 1 {
        (im.rows as f64).sqrt().ceil() as usize
    } else {
        im.rows
    };
    // Inside the run directory, with missing folders made (`output::confine`).
    let target = in_run_dir(dir, &path.replace("{epoch}", &epoch.to_string()))?;
    let (h, w) = im.tile;
    image_grid(&target, &im.pixels, im.tensors * im.rows, h, w, cols.max(1))?;
    Ok(Some(target))
}
