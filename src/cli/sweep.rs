//! `expr sweep FILE --grid PATH=V1,V2 ...`: checks every point, then runs them here
//! (`--jobs N`) or submits them as a Slurm job array (`--slurm`); `expr sweep --status ID`
//! and, for Slurm's tasks, `expr sweep --task SWEEP_DIR INDEX`. See `crate::sweep`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::frontend::FrontendError;
use crate::overrides::{LoadError, Override};
use crate::report;
use crate::sweep::block::BlockSweep;
use crate::sweep::record::{self, SweepRecord};
use crate::sweep::slurm::{self, SlurmOptions};
use crate::sweep::space::{self, Space};
use crate::sweep::{local, prepare, task, Described, PrepareError};

#[derive(clap::Args, Debug, Clone)]
pub struct SweepArgs {
    /// The experiment file.
    #[arg(required_unless_present_any = ["task", "status"])]
    pub file: Option<PathBuf>,
    /// Every value of a path, combined with the other grids: `--grid opt.lr=1e-3,3e-4`,
    /// `--grid experiment.seed=1..5` (each whole number, both ends included); repeatable.
    #[arg(long, value_name = "PATH=VALUES")]
    pub grid: Vec<String>,
    /// Draw N points at random, from the `--uniform` ranges (and each with every grid value).
    #[arg(long, value_name = "N")]
    pub random: Option<usize>,
    /// A range to draw from: `opt.lr=1e-4:1e-2:log`, `train.batch=16:128:int`; repeatable.
    #[arg(long, value_name = "PATH=LOW:HIGH[:log|:int]")]
    pub uniform: Vec<String>,
    /// The seed of the `--random` draws (the same seed draws the same points; default: the
    /// block's `seed`, else 0).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Train each point for this many epochs (the same as `--grid train.epochs=N`).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Points run side by side on this machine, each with cores / N threads (default: the
    /// block's `jobs`, else 1).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Threads of each point's run (default: the file's `threads`, else cores / `--jobs`;
    /// with `--slurm`, the task's CPUs).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Where run directories go: DIR/<experiment>/<run-id>/, the sweep in DIR/<experiment>/sweeps/<id>/.
    #[arg(long, default_value = "runs")]
    pub runs_dir: PathBuf,
    /// Check every point and list them; run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Submit the points as one Slurm job array instead of running them here.
    #[arg(long)]
    pub slurm: bool,
    /// Slurm partition (`#SBATCH --partition`).
    #[arg(long, requires = "slurm")]
    pub partition: Option<String>,
    /// Each task's time limit (`#SBATCH --time`, e.g. `2:00:00`); a task near it checkpoints
    /// and requeues itself.
    #[arg(long, requires = "slurm")]
    pub time: Option<String>,
    /// CPUs per task, which are its run's threads (`#SBATCH --cpus-per-task`, default 1).
    #[arg(long, requires = "slurm")]
    pub cpus_per_task: Option<usize>,
    /// Memory per task (`#SBATCH --mem`, e.g. `4G`).
    #[arg(long, requires = "slurm")]
    pub mem: Option<String>,
    /// At most this many tasks at once (`#SBATCH --array=...%N`).
    #[arg(long, requires = "slurm")]
    pub array_limit: Option<usize>,
    /// A further `#SBATCH` line, e.g. `--sbatch=--account=ml`; repeatable.
    #[arg(
        long,
        value_name = "LINE",
        requires = "slurm",
        allow_hyphen_values = true
    )]
    pub sbatch: Vec<String>,
    /// What the sweep's points are doing: `expr sweep --status ID` (the id, or its directory).
    #[arg(long, value_name = "ID", conflicts_with_all = ["file", "task"])]
    pub status: Option<String>,
    /// Run one point of a sweep (what Slurm's array tasks run): `--task SWEEP_DIR INDEX`.
    #[arg(long, num_args = 2, value_names = ["SWEEP_DIR", "INDEX"], conflicts_with = "file")]
    pub task: Option<Vec<String>>,
}

/// Exit codes: 0 when every point completed (or was submitted), 1 when a run failed or a
/// file cannot be read, 2 when a point or an argument is wrong, 130 when interrupted.
pub fn main(args: &SweepArgs) -> ExitCode {
    if let Some(id) = &args.status {
        return status(args, id);
    }
    if let Some(task) = &args.task {
        return run_task(task, args.threads);
    }
    let file = args.file.clone().unwrap_or_default();
    let block = block_of(&file);
    let (points, described) = match points(args, &block) {
        Ok(p) => p,
        Err(failure) => {
            eprint!("{}", failure.render(report::stderr_colour()));
            return ExitCode::from(2);
        }
    };
    let prepared = match prepare(&file, &points, described, &args.runs_dir) {
        Ok(p) => p,
        Err(PrepareError::Points(bad)) => return print_bad_points(&file, &bad, points.len()),
        Err(PrepareError::Record(e)) => {
            super::print_error(&e);
            return ExitCode::from(1);
        }
    };
    let mut sweep = prepared.record;
    let dir = prepared.dir;
    let done = sweep
        .points
        .iter()
        .filter(|p| p.state == "completed")
        .count();
    println!(
        "sweep {}: {} points of `{}` ({})",
        sweep.id,
        sweep.points.len(),
        sweep.experiment,
        dir.join(record::SWEEP_FILE).display()
    );
    if prepared.continued {
        println!(
            "continuing: {done} completed, {} to run",
            sweep.points.len() - done
        );
    }
    if args.dry_run {
        for p in &sweep.points {
            println!(
                "  point {}: {} ({})",
                p.index,
                p.overrides.join(" "),
                p.state
            );
        }
        return ExitCode::SUCCESS;
    }
    if args.slurm {
        return submit(args, &mut sweep, &dir);
    }
    let jobs = usize::from(args.jobs.or(block.jobs).unwrap_or(1));
    let threads = args.threads.or(prepared.file_threads).unwrap_or_else(|| {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        (cores / jobs).max(1)
    });
    let mut print = |line: &str| {
        let mut stdout = std::io::stdout();
        let _ = writeln!(stdout, "{line}");
        let _ = stdout.flush();
    };
    let outcome = match local::run(&mut sweep, &dir, jobs, Some(threads), &mut print) {
        Ok(o) => o,
        Err(e) => {
            super::print_error(&e);
            return ExitCode::from(1);
        }
    };
    println!(
        "sweep {}: {} of {} points completed{}; `expr runs --sweep {}` tabulates them",
        sweep.id,
        outcome.completed.len(),
        sweep.points.len(),
        if outcome.failed.is_empty() {
            String::new()
        } else {
            format!(", points {} failed", list(&outcome.failed))
        },
        sweep.id
    );
    if outcome.interrupted {
        eprintln!("interrupted: the same `expr sweep` command continues the sweep");
        ExitCode::from(130)
    } else if outcome.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The file's `sweep { }` block, or an empty one when it has none or does not parse or
/// check (checking every point then reports why).
fn block_of(file: &Path) -> BlockSweep {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|text| crate::syntax::parse_file(&text).ok())
        .and_then(|ast| crate::sweep::block::lower(&ast).ok().flatten())
        .unwrap_or_default()
}

/// The points the arguments and the file's block describe, and the arguments as the record
/// keeps them. A `--grid` or `--uniform` of a path the block sweeps replaces the block's
/// line, in its place; one of another path comes after the block's lines; `--random`,
/// `--seed`, `--epochs` replace the block's settings.
fn points(
    args: &SweepArgs,
    block: &BlockSweep,
) -> Result<(space::Points, Described), Box<space::SpaceFailure>> {
    let seed = args.seed.or(block.seed).unwrap_or(0);
    let random = args.random.or(block.random);
    let epochs = args.epochs.or(block.epochs);
    let mut space = Space {
        draws: random.unwrap_or(0),
        seed,
        ..Space::default()
    };
    // (axis, its argument, whether it is still the block's)
    let mut grid: Vec<(space::Axis, String, bool)> = block
        .grid
        .iter()
        .map(|a| {
            (
                a.clone(),
                format!("{}={}", a.path, a.values.join(",")),
                true,
            )
        })
        .collect();
    for g in &args.grid {
        let axis = space::parse_grid(g)?;
        match grid.iter_mut().find(|(a, _, b)| *b && a.path == axis.path) {
            Some(slot) => *slot = (axis, g.clone(), false),
            None => grid.push((axis, g.clone(), false)),
        }
    }
    let mut uniform: Vec<(space::Uniform, String, bool)> = block
        .uniform
        .iter()
        .map(|u| (u.clone(), uniform_arg(u), true))
        .collect();
    for arg in &args.uniform {
        let u = space::parse_uniform(arg)?;
        match uniform.iter_mut().find(|(v, _, b)| *b && v.path == u.path) {
            Some(slot) => *slot = (u, arg.clone(), false),
            None => uniform.push((u, arg.clone(), false)),
        }
    }
    let mut given: Vec<(&'static str, String)> = Vec::new();
    for (axis, arg, _) in grid {
        space.grid.push(axis);
        given.push(("grid", arg));
    }
    for (u, arg, _) in uniform {
        space.uniform.push(u);
        given.push(("uniform", arg));
    }
    let mut points = space.points(&given)?;
    let swept = (space.grid.iter().map(|a| a.path.clone()))
        .chain(space.uniform.iter().map(|u| u.path.clone()))
        .collect();
    if let Some(epochs) = epochs {
        for p in &mut points {
            p.push(Override {
                path: "train.epochs".into(),
                value: epochs.max(1).to_string(),
            });
        }
    }
    let mut described: Vec<String> = given.iter().map(|(f, a)| format!("--{f} {a}")).collect();
    if let Some(n) = random {
        described.push(format!("--random {n} --seed {seed}"));
    }
    if let Some(e) = epochs {
        described.push(format!("--epochs {e}"));
    }
    Ok((
        points,
        Described {
            space: described,
            swept,
        },
    ))
}

/// A block's uniform line as the `--uniform` argument that says the same.
fn uniform_arg(u: &space::Uniform) -> String {
    let scale = match u.scale {
        space::Scale::Linear => "",
        space::Scale::Log => ":log",
        space::Scale::Int => ":int",
    };
    format!("{}={}:{}{scale}", u.path, u.low, u.high)
}

/// A distinct error, with the points (index, overrides) that have it.
type Shown<'a> = (String, Vec<(usize, &'a [Override])>);

/// Prints each distinct error once, naming the points it is in; exit code 2 (1 when the
/// file cannot be read).
fn print_bad_points(
    file: &Path,
    bad: &[(usize, Vec<Override>, LoadError)],
    total: usize,
) -> ExitCode {
    let colour = report::stderr_colour();
    let mut shown: Vec<Shown> = Vec::new();
    for (index, overrides, error) in bad {
        let text = match error {
            LoadError::Frontend(e) => {
                if let FrontendError::Read(io) = &**e {
                    eprintln!("error: cannot read `{}`: {io}", file.display());
                    return ExitCode::from(1);
                }
                e.diagnostics()
                    .iter()
                    .map(|(d, src)| report::render(*d, *src, colour))
                    .collect::<String>()
            }
            LoadError::Override(f) => f.render(colour),
        };
        match shown.iter_mut().find(|(t, _)| *t == text) {
            Some((_, points)) => points.push((*index, overrides)),
            None => shown.push((text, vec![(*index, overrides)])),
        }
    }
    for (text, points) in &shown {
        let named: Vec<String> = points
            .iter()
            .take(3)
            .map(|(i, o)| {
                let set: Vec<String> = o.iter().map(ToString::to_string).collect();
                format!("point {i} ({})", set.join(" "))
            })
            .collect();
        let more = if points.len() > 3 {
            format!(" and {} more", points.len() - 3)
        } else {
            String::new()
        };
        eprintln!("error in {}{more} of {total}:", named.join(", "));
        eprint!("{text}");
    }
    eprintln!("{} of {total} points are wrong: nothing ran", bad.len());
    ExitCode::from(2)
}

fn list(indices: &[usize]) -> String {
    indices
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `--slurm`: writes the job array script for the points not completed and submits it.
fn submit(args: &SweepArgs, sweep: &mut SweepRecord, dir: &Path) -> ExitCode {
    let todo: Vec<usize> = sweep
        .points
        .iter()
        .filter(|p| p.state != "completed")
        .map(|p| p.index)
        .collect();
    if todo.is_empty() {
        println!("every point completed: nothing to submit");
        return ExitCode::SUCCESS;
    }
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let options = SlurmOptions {
        partition: args.partition.clone(),
        time: args.time.clone(),
        cpus_per_task: args.cpus_per_task.or(args.threads),
        mem: args.mem.clone(),
        array_limit: args.array_limit,
        extra: args.sbatch.clone(),
    };
    let text = slurm::script(
        &sweep.id,
        &sweep.experiment,
        &absolute(dir),
        &absolute(Path::new(".")),
        &local::expr_binary(),
        &todo,
        &options,
    );
    let script = dir.join(slurm::SCRIPT);
    let written = crate::output::atomic::write_atomic(&script, |w| w.write_all(text.as_bytes()));
    if let Err(e) = written {
        super::print_error(&e);
        return ExitCode::from(1);
    }
    match slurm::submit(&script) {
        Ok(job_id) => {
            println!(
                "submitted job array {job_id} ({} tasks): {}",
                todo.len(),
                script.display()
            );
            println!("`expr sweep --status {}` follows it", sweep.id);
            sweep.slurm = Some(record::SlurmJob {
                job_id,
                script: slurm::SCRIPT.into(),
            });
            match sweep.save(dir) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    super::print_error(&e);
                    ExitCode::from(1)
                }
            }
        }
        Err(e) => {
            super::print_error(&e);
            ExitCode::from(1)
        }
    }
}

/// `--task SWEEP_DIR INDEX`: the run's exit code (0 when it had completed before).
fn run_task(task: &[String], threads: Option<usize>) -> ExitCode {
    let [dir, index] = task else {
        unreachable!("clap takes two values");
    };
    let Ok(index) = index.parse::<usize>() else {
        eprintln!("error: `--task {dir} {index}`: the point's index is a whole number from 1");
        return ExitCode::from(2);
    };
    let mut print = |line: &str| eprintln!("{line}");
    match task::run(Path::new(dir), index, threads, &mut print) {
        Ok(task::TaskEnd::AlreadyDone) => {
            eprintln!("point {index} completed before: nothing to run");
            ExitCode::SUCCESS
        }
        Ok(task::TaskEnd::Busy) => {
            eprintln!("error: point {index}'s run directory is in use by another process");
            ExitCode::from(1)
        }
        Ok(task::TaskEnd::Ran { code, .. }) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            super::print_error(&e);
            ExitCode::from(2)
        }
    }
}

/// `--status ID`: each point's state from its run record, and Slurm's where it was submitted.
fn status(args: &SweepArgs, id: &str) -> ExitCode {
    let loaded =
        record::find(&args.runs_dir, id).and_then(|dir| record::load(&dir).map(|s| (dir, s)));
    let (dir, mut sweep) = match loaded {
        Ok(found) => found,
        Err(e) => {
            super::print_error(&e);
            return ExitCode::from(2);
        }
    };
    sweep.refresh_states(&dir);
    let mut queued = Vec::new();
    if let Some(job) = &sweep.slurm {
        match slurm::queue_states(&job.job_id) {
            Ok(states) => queued = states,
            Err(e) => super::print_error(&e),
        }
        println!("sweep {}: Slurm job array {}", sweep.id, job.job_id);
    } else {
        println!("sweep {}: run here", sweep.id);
    }
    let mut counts: Vec<(String, usize)> = Vec::new();
    for p in &sweep.points {
        let slurm_state = queued
            .iter()
            .find(|(i, _)| *i == p.index)
            .map(|(_, s)| format!(" [slurm: {s}]"))
            .unwrap_or_default();
        println!(
            "  point {}: {} {}{slurm_state}",
            p.index,
            p.overrides.join(" "),
            p.state
        );
        match counts.iter_mut().find(|(s, _)| *s == p.state) {
            Some((_, n)) => *n += 1,
            None => counts.push((p.state.clone(), 1)),
        }
    }
    let summary: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    println!("{}", summary.join(", "));
    ExitCode::SUCCESS
}

/// `expr runs --sweep ID`: the sweep's table; exit code 2 when there is no such sweep.
pub fn runs_table(runs_dir: &Path, id: &str) -> ExitCode {
    match record::find(runs_dir, id).and_then(|dir| record::load(&dir).map(|s| (dir, s))) {
        Ok((dir, sweep)) => {
            print!("{}", crate::sweep::table::table(&sweep, &dir));
            ExitCode::SUCCESS
        }
        Err(e) => {
            super::print_error(&e);
            ExitCode::from(2)
        }
    }
}
