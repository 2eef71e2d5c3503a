//! `expr sweep` through the command line: points checked before anything runs, the sweep
//! record, points run side by side, Ctrl-C and SIGTERM, continuing, `expr runs --sweep`,
//! and Slurm's side (the job array script, the requeue before a time limit) with fake
//! `sbatch`, `squeue` and `scontrol` on PATH.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::expr_in as expr;

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "{}", text(out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The small MLP experiment (`experiment small`) in `dir/small.exp`.
fn small(dir: &Path) {
    std::fs::write(
        dir.join("small.exp"),
        common::mlp_experiment(dir, false, ""),
    )
    .unwrap();
}

/// The only sweep directory of `experiment` under `dir/runs`.
fn sweep_dir(dir: &Path, experiment: &str) -> PathBuf {
    let sweeps = dir.join("runs").join(experiment).join("sweeps");
    let mut found: Vec<PathBuf> = std::fs::read_dir(sweeps)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    found.remove(0)
}

fn load(sweep: &Path) -> expr::sweep::record::SweepRecord {
    expr::sweep::record::load(sweep).unwrap()
}

fn run_dir(sweep: &Path, index: usize) -> PathBuf {
    let record = load(sweep);
    expr::sweep::record::SweepRecord::run_dir(sweep, record.point(index).unwrap())
}

fn record(run: &Path) -> expr::record::RunRecord {
    expr::record::load(run).unwrap()
}

const GRID: &[&str] = &[
    "sweep",
    "small.exp",
    "--grid",
    "opt.lr=1e-2,1e-3",
    "--grid",
    "experiment.seed=1..2",
    "--epochs",
    "1",
    "--jobs",
    "2",
];

#[test]
fn a_grid_sweep_runs_every_point_records_it_and_continues_without_rerunning() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    small(d);
    let out = ok(&expr(d, GRID));
    assert!(out.contains(": 4 points of `small`"), "{out}");
    assert!(out.contains("4 of 4 points completed"), "{out}");
    let sweep = sweep_dir(d, "small");
    let rec = load(&sweep);
    assert_eq!(rec.swept, ["opt.lr", "experiment.seed"], "not `--epochs`");
    let overrides: Vec<String> = rec.points.iter().map(|p| p.overrides.join(" ")).collect();
    assert_eq!(
        overrides,
        [
            "opt.lr=1e-2 experiment.seed=1 train.epochs=1",
            "opt.lr=1e-2 experiment.seed=2 train.epochs=1",
            "opt.lr=1e-3 experiment.seed=1 train.epochs=1",
            "opt.lr=1e-3 experiment.seed=2 train.epochs=1",
        ]
    );
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    for p in &rec.points {
        assert_eq!(p.state, "completed");
        let run = record(&run_dir(&sweep, p.index));
        assert_eq!(run.id, p.run, "the run directory is named by the sweep");
        assert_eq!(run.overrides, p.overrides);
        assert_eq!(run.threads, (cores / 2).max(1), "cores / --jobs threads");
        assert!(sweep.join(format!("point-{}.log", p.index)).is_file());
    }
    assert_eq!(record(&run_dir(&sweep, 2)).seed, 2);

    // A point is the run `expr run --set` makes: the same bits.
    let threads = (cores / 2).max(1).to_string();
    ok(&expr(
        d,
        &[
            "run",
            "small.exp",
            "--set",
            "opt.lr=1e-3",
            "--set",
            "experiment.seed=2",
            "--epochs",
            "1",
            "--threads",
            &threads,
            "--runs-dir",
            "alone",
        ],
    ));
    let (alone_dir, _) = expr::record::find_all(&d.join("alone")).remove(0);
    let point = record(&run_dir(&sweep, 4));
    assert_eq!(record(&alone_dir).weights_sha256, point.weights_sha256);
    assert_eq!(record(&alone_dir).final_metrics, point.final_metrics);

    // The same command again: the same sweep, nothing run twice.
    let again = ok(&expr(d, GRID));
    assert!(
        again.contains("continuing: 4 completed, 0 to run"),
        "{again}"
    );
    assert!(!again.contains("started"), "{again}");
    assert_eq!(expr::record::find_all(&d.join("runs")).len(), 4);
    assert_eq!(
        record(&run_dir(&sweep, 4)).weights_sha256,
        point.weights_sha256
    );

    // `expr runs` lists the points among the runs, and `--sweep` tabulates them.
    let table = ok(&expr(d, &["runs", "--sweep", &rec.id]));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 5, "{table}");
    for column in [
        "point",
        "opt.lr",
        "experiment.seed",
        "train_loss",
        "test_accuracy",
        "state",
        "run",
    ] {
        assert!(lines[0].contains(column), "{table}");
    }
    let accuracy = format!("{:.4}", point.final_metrics["test_accuracy"]);
    assert!(
        lines[4].starts_with("4 ") && lines[4].contains("1e-3") && lines[4].contains(&accuracy),
        "{table}"
    );
    assert!(
        lines[1..].iter().all(|l| l.contains("completed")),
        "{table}"
    );
    let missing = expr(d, &["runs", "--sweep", "nope"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing).contains(&rec.id),
        "names the sweeps there: {}",
        text(&missing)
    );
    compare_ranks_the_points_and_plots_the_metric_by_each_swept_value(d, &sweep);
}

/// `expr compare --sweep` on the finished 4-point sweep: the points ranked by the metric,
/// the mean per swept value, and the plots.
fn compare_ranks_the_points_and_plots_the_metric_by_each_swept_value(d: &Path, sweep: &Path) {
    let rec = load(sweep);
    let finals: Vec<f64> = (1..=4)
        .map(|i| record(&run_dir(sweep, i)).final_metrics["test_accuracy"])
        .collect();
    let out = ok(&expr(
        d,
        &["compare", "--sweep", &rec.id, "--metric", "test_accuracy"],
    ));
    assert!(out.contains("test_accuracy (higher is better"), "{out}");
    // Ranked best first: the table's metric column is in descending order.
    let ranked: Vec<f64> = out
        .lines()
        .skip_while(|l| !l.starts_with("rank"))
        .skip(1)
        .take(4)
        .map(|l| l.split_whitespace().nth(4).unwrap().parse().unwrap())
        .collect();
    assert_eq!(ranked.len(), 4, "{out}");
    assert!(ranked.windows(2).all(|w| w[0] >= w[1]), "{out}");
    let best = finals.iter().copied().fold(f64::MIN, f64::max);
    assert_eq!(ranked[0], format!("{best:.4}").parse::<f64>().unwrap());
    // Points 1 and 2 are lr 1e-2, points 3 and 4 lr 1e-3.
    for (lr, points) in [("1e-2", &finals[..2]), ("1e-3", &finals[2..])] {
        let mean = format!("{:.4}", f64::midpoint(points[0], points[1]));
        assert!(
            out.lines().any(|l| l.trim_start().starts_with(lr)
                && l.contains(&mean)
                && l.contains("(2 points)")),
            "mean {mean} for {lr}: {out}"
        );
    }
    let compare = sweep.join("compare");
    for file in [
        "test_accuracy_by_opt.lr.png",
        "test_accuracy_by_experiment.seed.png",
        "test_accuracy_curves.png",
    ] {
        assert!(
            out.contains(&format!("/{}/compare/{file}\n", rec.id)),
            "{out}"
        );
        let png = png::Decoder::new(std::fs::File::open(compare.join(file)).unwrap());
        let info = png.read_info().unwrap();
        assert_eq!((info.info().width, info.info().height), (960, 600));
    }
    // The default metric is the first of held-out data; `--out` puts the plots elsewhere.
    let out = ok(&expr(d, &["compare", "--sweep", &rec.id, "--out", "plots"]));
    assert!(out.contains("test_loss (lower is better"), "{out}");
    assert!(d.join("plots/test_loss_by_opt.lr.png").is_file());
    let unknown = expr(d, &["compare", "--sweep", &rec.id, "--metric", "accuracy"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        text(&unknown).contains("`test_accuracy`"),
        "{}",
        text(&unknown)
    );
    let mixed = expr(d, &["compare", "--sweep", &rec.id, "runs/small/x"]);
    assert_eq!(mixed.status.code(), Some(2), "{}", text(&mixed));
}

#[test]
fn a_bad_value_in_any_point_is_reported_with_the_point_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    small(d);
    let out = expr(
        d,
        &[
            "sweep",
            "small.exp",
            "--grid",
            "experiment.seed=1..3",
            "--grid",
            "opt.lr=1e-3,-1",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("error in point 2 (experiment.seed=1 opt.lr=-1), point 4 (experiment.seed=2 opt.lr=-1), point 6 (experiment.seed=3 opt.lr=-1) of 6:"),
        "{err}"
    );
    assert!(
        err.contains("--set opt.lr="),
        "the override is labelled: {err}"
    );
    assert!(
        err.contains("3 of 6 points are wrong: nothing ran"),
        "{err}"
    );
    assert!(!d.join("runs").exists(), "nothing was created");

    let unknown = expr(d, &["sweep", "small.exp", "--grid", "opt.rl=1,2"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        text(&unknown).contains("no override path `opt.rl`"),
        "{}",
        text(&unknown)
    );

    let range = expr(d, &["sweep", "small.exp", "--grid", "experiment.seed=3..1"]);
    assert_eq!(range.status.code(), Some(2));
    assert!(
        text(&range).contains("the range `3..1` is empty"),
        "{}",
        text(&range)
    );
    let log = expr(
        d,
        &[
            "sweep",
            "small.exp",
            "--random",
            "2",
            "--uniform",
            "opt.lr=0:1:log",
        ],
    );
    assert_eq!(log.status.code(), Some(2));
    assert!(
        text(&log).contains("a log-uniform range must lie above 0"),
        "{}",
        text(&log)
    );
}

#[test]
fn random_points_are_drawn_from_the_seed_and_listed_by_dry_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    small(d);
    let args = |seed: &'static str| {
        vec![
            "sweep",
            "small.exp",
            "--random",
            "3",
            "--uniform",
            "opt.lr=1e-4:1e-2:log",
            "--seed",
            seed,
            "--dry-run",
        ]
    };
    let a = ok(&expr(d, &args("5")));
    assert_eq!(a.lines().filter(|l| l.contains("point ")).count(), 3, "{a}");
    assert_eq!(
        a,
        ok(&expr(d, &args("5"))).replace("continuing: 0 completed, 3 to run\n", "")
    );
    let b = ok(&expr(d, &args("6")));
    assert_ne!(
        a.lines().nth(1),
        b.lines().nth(1),
        "another seed draws other points"
    );
    assert!(
        expr::record::find_all(&d.join("runs")).is_empty(),
        "a dry run runs nothing"
    );
}

/// Waits until the run in `run` has written a checkpoint.
fn wait_for_checkpoint(run: &Path, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_mins(1);
    while expr::run::checkpoint::list(run).is_empty() {
        assert!(
            Instant::now() < deadline,
            "no checkpoint in {}",
            run.display()
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "ended before a checkpoint"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn kill(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

const SURVIVE: &[&str] = &[
    "sweep",
    "survive.exp",
    "--grid",
    "opt.lr=1e-3,3e-4",
    "--jobs",
    "2",
];

#[test]
#[cfg_attr(debug_assertions, ignore = "timing-dependent: needs a release build")]
fn sigterm_stops_every_point_checkpointed_and_the_same_command_finishes_them_bit_identical() {
    stop_and_continue(&["TERM"], "interrupted");
}

#[test]
#[cfg_attr(debug_assertions, ignore = "timing-dependent: needs a release build")]
fn a_second_ctrl_c_kills_the_points_and_the_same_command_still_finishes_them_bit_identical() {
    // Killed, a run's record still says `running`; it resumes from its last checkpoint.
    stop_and_continue(&["INT", "INT"], "running");
}

/// Starts the two-point survive sweep, sends `signals` to `expr sweep` once both points have
/// checkpointed, expects each point's record in `state` (or `interrupted`), then gives the
/// same command again and compares the runs with an uninterrupted sweep's.
fn stop_and_continue(signals: &[&str], state: &str) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::survive_experiment(d);
    let mut child = Command::new(common::expr_bin())
        .current_dir(d)
        .args(SURVIVE)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_mins(1);
    let written = || {
        std::fs::read_dir(d.join("runs/survive/sweeps"))
            .is_ok_and(|mut e| e.any(|e| e.unwrap().path().join("sweep.yaml").is_file()))
    };
    while !written() {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    let sweep = sweep_dir(d, "survive");
    wait_for_checkpoint(&run_dir(&sweep, 1), &mut child);
    wait_for_checkpoint(&run_dir(&sweep, 2), &mut child);
    for signal in signals {
        kill(&child, signal);
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert!(
        text(&out).contains("the same `expr sweep` command continues"),
        "{}",
        text(&out)
    );
    for p in load(&sweep).points {
        assert!(
            p.state == state || p.state == "interrupted",
            "{}: {}",
            p.state,
            text(&out)
        );
        let run = record(&run_dir(&sweep, p.index));
        assert!(run.epochs_done() < 4);
    }

    let again = ok(&expr(d, SURVIVE));
    assert!(
        again.contains("continuing: 0 completed, 2 to run"),
        "{again}"
    );
    assert!(
        again.contains("point 1/2 resumed") && again.contains("point 2/2 resumed"),
        "{again}"
    );

    // The same sweep never interrupted, elsewhere: the same bits.
    let clean = tempfile::tempdir().unwrap();
    common::survive_experiment(clean.path());
    ok(&expr(clean.path(), SURVIVE));
    let clean_sweep = sweep_dir(clean.path(), "survive");
    for index in [1, 2] {
        let resumed = record(&run_dir(&sweep, index));
        let whole = record(&run_dir(&clean_sweep, index));
        assert_eq!(resumed.status, expr::record::Status::Completed);
        assert_eq!(
            resumed.weights_sha256, whole.weights_sha256,
            "point {index}"
        );
        assert_eq!(resumed.history, whole.history, "point {index}");
    }
}

/// A folder of fake Slurm commands that log their arguments to `calls`.
fn fake_slurm(dir: &Path) -> PathBuf {
    let bin = dir.join("fake-slurm");
    std::fs::create_dir_all(&bin).unwrap();
    let calls = dir.join("calls");
    for (name, reply) in [
        ("sbatch", "echo 4242"),
        ("scontrol", "true"),
        (
            "squeue",
            "echo '4242_2 RUNNING'; echo '4242_[3-4%2] PENDING'",
        ),
    ] {
        let path = bin.join(name);
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\necho \"{name} $*\" >> '{}'\n{reply}\n",
                calls.display()
            ),
        )
        .unwrap();
        let mut perms = std::fs::metadata(&path).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&path, perms).unwrap();
    }
    bin
}

fn with_path(command: &mut Command, bin: &Path) {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![bin.to_path_buf()];
    dirs.extend(std::env::split_paths(&path));
    command.env("PATH", std::env::join_paths(dirs).unwrap());
}

#[test]
fn slurm_gets_one_job_array_script_and_status_reads_squeue() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    small(d);
    let bin = fake_slurm(d);
    let mut command = Command::new(common::expr_bin());
    command.current_dir(d).args([
        "sweep",
        "small.exp",
        "--grid",
        "experiment.seed=1..4",
        "--slurm",
        "--partition",
        "cpu",
        "--time",
        "1:00:00",
        "--cpus-per-task",
        "4",
        "--mem",
        "2G",
        "--array-limit",
        "2",
        "--sbatch=--account=ml",
        "--sbatch",
        "#SBATCH --qos=low",
    ]);
    with_path(&mut command, &bin);
    let out = ok(&command.output().unwrap());
    assert!(out.contains("submitted job array 4242 (4 tasks)"), "{out}");
    let sweep = sweep_dir(d, "small");
    let script = std::fs::read_to_string(sweep.join("sweep.sbatch")).unwrap();
    let calls = std::fs::read_to_string(d.join("calls")).unwrap();
    assert_eq!(
        calls.trim(),
        format!(
            "sbatch --parsable {}",
            Path::new("runs/small/sweeps")
                .join(load(&sweep).id)
                .join("sweep.sbatch")
                .display()
        )
    );
    let abs = std::fs::canonicalize(&sweep).unwrap();
    let workdir = std::fs::canonicalize(d).unwrap();
    let rec = load(&sweep);
    let expected = format!(
        "#!/bin/bash
# expr sweep {id} of `small`: one array task per point.
#SBATCH --job-name=expr-small-{id}
#SBATCH --array=1-4%2
#SBATCH --output={abs}/slurm-%A_%a.out
#SBATCH --open-mode=append
#SBATCH --requeue
#SBATCH --signal=B:USR1@90
#SBATCH --partition=cpu
#SBATCH --time=1:00:00
#SBATCH --cpus-per-task=4
#SBATCH --mem=2G
#SBATCH --account=ml
#SBATCH --qos=low

cd {workdir} || exit 1
exec {exe} sweep --task {abs} \"$SLURM_ARRAY_TASK_ID\" --threads \"${{SLURM_CPUS_PER_TASK:-1}}\"
",
        id = rec.id,
        abs = abs.display(),
        workdir = workdir.display(),
        exe = common::expr_bin(),
    );
    assert_eq!(script, expected);
    assert_eq!(rec.slurm.as_ref().unwrap().job_id, "4242");

    let mut status = Command::new(common::expr_bin());
    status.current_dir(d).args(["sweep", "--status", &rec.id]);
    with_path(&mut status, &bin);
    let shown = ok(&status.output().unwrap());
    assert!(shown.contains("Slurm job array 4242"), "{shown}");
    assert!(
        shown.contains("point 2: experiment.seed=2 pending [slurm: RUNNING]"),
        "{shown}"
    );
    assert!(
        shown.contains("point 4: experiment.seed=4 pending [slurm: PENDING]"),
        "{shown}"
    );
    assert!(shown.contains("4 pending"), "{shown}");
}

#[test]
#[cfg_attr(debug_assertions, ignore = "timing-dependent: needs a release build")]
fn a_task_warned_of_its_time_limit_checkpoints_requeues_and_resumes_bit_identical() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::survive_experiment(d);
    let bin = fake_slurm(d);
    let args = [
        "sweep",
        "survive.exp",
        "--grid",
        "opt.lr=1e-3,3e-4",
        "--slurm",
    ];
    let mut submit = Command::new(common::expr_bin());
    submit.current_dir(d).args(args);
    with_path(&mut submit, &bin);
    ok(&submit.output().unwrap());
    let sweep = sweep_dir(d, "survive");
    let task = |bin: &Path| {
        let mut c = Command::new(common::expr_bin());
        c.current_dir(d)
            .args(["sweep", "--task"])
            .arg(&sweep)
            .args(["2", "--threads", "2"])
            .env("SLURM_ARRAY_JOB_ID", "4242")
            .env("SLURM_ARRAY_TASK_ID", "2")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        with_path(&mut c, bin);
        c
    };
    let mut first = task(&bin).spawn().unwrap();
    wait_for_checkpoint(&run_dir(&sweep, 2), &mut first);
    kill(&first, "USR1"); // what `--signal=B:USR1@90` sends
    let out = first.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert!(text(&out).contains("requeued 4242_2"), "{}", text(&out));
    let calls = std::fs::read_to_string(d.join("calls")).unwrap();
    assert!(
        calls.lines().any(|l| l == "scontrol requeue 4242_2"),
        "{calls}"
    );
    let run = record(&run_dir(&sweep, 2));
    assert_eq!(run.status.label(), "interrupted");
    assert!(!expr::run::checkpoint::list(&run_dir(&sweep, 2)).is_empty());

    // The requeued task starts again and resumes.
    let out = task(&bin).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let resumed = record(&run_dir(&sweep, 2));
    assert_eq!(resumed.status, expr::record::Status::Completed);
    let again = task(&bin).output().unwrap();
    assert!(
        text(&again).contains("completed before: nothing to run"),
        "{}",
        text(&again)
    );

    // The same point never interrupted.
    let clean = tempfile::tempdir().unwrap();
    common::survive_experiment(clean.path());
    ok(&expr(
        clean.path(),
        &[
            "run",
            "survive.exp",
            "--set",
            "opt.lr=3e-4",
            "--threads",
            "2",
            "--no-progress",
        ],
    ));
    let (whole_dir, _) = expr::record::find_all(&clean.path().join("runs")).remove(0);
    let whole = record(&whole_dir);
    assert_eq!(resumed.weights_sha256, whole.weights_sha256);
    assert_eq!(resumed.history, whole.history);
}

#[test]
fn another_file_or_grid_is_another_sweep_and_run_ids_stay_plain_names() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    small(d);
    let dry = [
        "sweep",
        "small.exp",
        "--grid",
        "experiment.seed=1,2",
        "--dry-run",
    ];
    let first = ok(&expr(d, &dry));
    assert!(ok(&expr(d, &dry)).contains("continuing"), "the same sweep");
    let mut file = std::fs::read_to_string(d.join("small.exp")).unwrap();
    file.push_str("// edited\n");
    std::fs::write(d.join("small.exp"), file).unwrap();
    let edited = ok(&expr(d, &dry));
    assert!(!edited.contains("continuing"), "{edited}");
    assert_ne!(first.lines().next(), edited.lines().next());
    let other = ok(&expr(
        d,
        &[
            "sweep",
            "small.exp",
            "--grid",
            "experiment.seed=1,3",
            "--dry-run",
        ],
    ));
    assert!(!other.contains("continuing"), "{other}");
    assert_eq!(
        std::fs::read_dir(d.join("runs/small/sweeps"))
            .unwrap()
            .count(),
        3
    );

    let escape = expr(d, &["run", "small.exp", "--run-id", "../elsewhere"]);
    assert_eq!(escape.status.code(), Some(2), "{}", text(&escape));
    assert!(
        text(&escape).contains("a run id is letters, digits"),
        "{}",
        text(&escape)
    );
}

/// The `sweep { }` block of `small.exp`: the same space as `BLOCK_FLAGS`.
const BLOCK: &str = "
sweep {
  grid opt.lr = (1e-2, 1e-3)
  grid experiment.seed = 1..2
  uniform train.batch = 16 : 64 int
  random = 2
  seed = 3
  epochs = 1
}
";

const BLOCK_FLAGS: &[&str] = &[
    "--grid",
    "opt.lr=1e-2,1e-3",
    "--grid",
    "experiment.seed=1..2",
    "--uniform",
    "train.batch=16:64:int",
    "--random",
    "2",
    "--seed",
    "3",
    "--epochs",
    "1",
];

/// The `point N: ...` lines of a dry run, and the sweep id from its first line.
fn dry_points(out: &str) -> (String, Vec<String>) {
    let id = out.split_whitespace().nth(1).unwrap().trim_end_matches(':');
    let points = out
        .lines()
        .filter(|l| l.trim_start().starts_with("point "))
        .map(|l| l.rsplit_once(" (").unwrap().0.to_string())
        .collect();
    (id.to_string(), points)
}

#[test]
fn a_sweep_block_gives_the_same_points_and_id_as_the_equivalent_flags() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("small.exp"), common::mlp_experiment(d, false, BLOCK)).unwrap();
    let from_block = ok(&expr(d, &["sweep", "small.exp", "--dry-run"]));
    let (id, points) = dry_points(&from_block);
    assert_eq!(points.len(), 8, "{from_block}");
    assert!(
        points[0].contains("opt.lr=1e-2 experiment.seed=1 train.batch=")
            && points[0].ends_with("train.epochs=1"),
        "{from_block}"
    );
    let mut args = vec!["sweep", "small.exp", "--dry-run"];
    args.extend(BLOCK_FLAGS);
    let from_flags = ok(&expr(d, &args));
    assert_eq!(dry_points(&from_flags), (id.clone(), points.clone()));
    // A flag of a path the block sweeps replaces the block's line, in its place.
    let other = ok(&expr(
        d,
        &[
            "sweep",
            "small.exp",
            "--grid",
            "experiment.seed=7..9",
            "--dry-run",
        ],
    ));
    let (other_id, other_points) = dry_points(&other);
    assert_ne!(other_id, id);
    assert_eq!(other_points.len(), 12, "{other}");
    assert!(
        other_points[0].contains("opt.lr=1e-2 experiment.seed=7 "),
        "{other}"
    );
    // `expr run` trains the file as written: the block is not a point.
    let check = expr(d, &["check", "small.exp"]);
    assert!(check.status.success(), "{}", text(&check));
}

/// A value of the block that breaks the experiment is `expr check`'s diagnostic, on the
/// value in the block, before any `expr sweep`; good values check clean.
#[test]
fn a_bad_value_in_the_sweep_block_is_a_check_diagnostic_on_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let block = "sweep {\n  grid opt.lr = (1e-3, -1)\n  grid experiment.seed = 1..3\n}";
    std::fs::write(d.join("small.exp"), common::mlp_experiment(d, false, block)).unwrap();
    let out = expr(d, &["check", "small.exp"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("`opt.lr = -1` in the sweep"), "{said}");
    assert!(said.contains("this value"), "{said}");
    let good = "sweep {\n  grid opt.lr = (1e-3, 3e-4)\n  grid experiment.seed = 1..3\n}";
    std::fs::write(d.join("small.exp"), common::mlp_experiment(d, false, good)).unwrap();
    ok(&expr(d, &["check", "small.exp"]));
}
