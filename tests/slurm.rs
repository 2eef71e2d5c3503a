//! `expr sweep --slurm` on a real one-node Slurm cluster started on this machine
//! (`tests/slurm/start.sh`: munged, slurmctld, slurmd; `.ci/run` installs them with apt).
//! A 4-point sweep runs as a job array and leaves four completed run records; a task that
//! `scontrol requeue` stops mid-run is started again by Slurm and resumes from its
//! checkpoint to the bits of an uninterrupted run. Without Slurm's daemons the test says so
//! and passes: the fake-`sbatch` tests in tests/sweep.rs still cover the script and requeue.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A cluster started for this test, stopped when dropped.
struct Cluster {
    dir: tempfile::TempDir,
    conf: PathBuf,
}

impl Cluster {
    /// The cluster, or why it cannot start.
    fn start() -> Result<Cluster, String> {
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slurm/start.sh");
        let out = Command::new("sh")
            .arg(script)
            .arg(dir.path())
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            let cluster = Cluster {
                conf: PathBuf::new(),
                dir,
            };
            drop(cluster);
            return Err(format!("{said}{}", String::from_utf8_lossy(&out.stderr)));
        }
        let conf = dir.path().join("slurm.conf");
        Ok(Cluster { dir, conf })
    }

    /// A command with the cluster's configuration and Slurm's programs on PATH.
    fn command(&self, program: &str, cwd: &Path) -> Command {
        let mut c = Command::new(program);
        let path = std::env::var("PATH").unwrap_or_default();
        c.current_dir(cwd)
            .env("SLURM_CONF", &self.conf)
            .env("PATH", format!("{path}:/usr/sbin:/usr/bin"));
        c
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let stop = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slurm/stop.sh");
        let _ = Command::new("sh").arg(stop).arg(self.dir.path()).status();
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// The only sweep of `experiment` under `dir/runs`, read.
fn sweep(dir: &Path, experiment: &str) -> (PathBuf, expr::sweep::record::SweepRecord) {
    let sweeps = dir.join("runs").join(experiment).join("sweeps");
    let found = std::fs::read_dir(sweeps)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let record = expr::sweep::record::load(&found).unwrap();
    (found, record)
}

fn run_dirs(sweep_dir: &Path, record: &expr::sweep::record::SweepRecord) -> Vec<PathBuf> {
    record
        .points
        .iter()
        .map(|p| expr::sweep::record::SweepRecord::run_dir(sweep_dir, p))
        .collect()
}

/// Waits (up to `limit`) until `done`, printing the cluster's view on a timeout.
fn wait(cluster: &Cluster, dir: &Path, limit: Duration, what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    let deadline = start + limit;
    while !done() {
        if Instant::now() > deadline {
            let queue = cluster.command("squeue", dir).output().unwrap();
            let logs = std::fs::read_dir(cluster.dir.path())
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "log"))
                .map(|p| std::fs::read_to_string(p).unwrap_or_default())
                .collect::<String>();
            panic!("timed out waiting for {what}\n{}\n{logs}", text(&queue));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("{what}: {:.1} s", start.elapsed().as_secs_f64());
}

#[test]
fn a_sweep_runs_as_a_job_array_and_a_requeued_task_resumes_bit_identical() {
    let cluster = match Cluster::start() {
        Ok(c) => c,
        Err(why) => {
            eprintln!("SKIPPED: slurmctld cannot start on this machine, so Slurm is not tested for real:\n{why}");
            return;
        }
    };
    let work = tempfile::tempdir().unwrap();
    let d = work.path();

    // Four points of the small experiment, one epoch each.
    std::fs::write(d.join("small.exp"), common::mlp_experiment(d, false, "")).unwrap();
    let expr = common::expr_bin();
    let out = ok(cluster
        .command(expr, d)
        .args([
            "sweep",
            "small.exp",
            "--grid",
            "experiment.seed=1..4",
            "--epochs",
            "1",
            "--slurm",
        ])
        .output()
        .unwrap());
    assert!(out.contains("submitted job array"), "{out}");
    let (small_dir, small) = sweep(d, "small");
    let runs = run_dirs(&small_dir, &small);
    wait(
        &cluster,
        d,
        Duration::from_mins(3),
        "four completed runs",
        || runs.iter().all(|r| expr::sweep::record::completed(r)),
    );
    for (run, seed) in runs.iter().zip(1..) {
        let record = expr::record::load(run).unwrap();
        assert_eq!(record.seed, seed);
        assert_eq!(record.threads, 1, "one CPU per task");
    }
    let status = ok(cluster
        .command(expr, d)
        .args(["sweep", "--status", &small.id])
        .output()
        .unwrap());
    assert!(status.contains("4 completed"), "{status}");

    // One point of the long experiment, requeued while it runs.
    common::survive_experiment(d);
    ok(cluster
        .command(expr, d)
        .args(["sweep", "survive.exp", "--grid", "opt.lr=3e-4", "--slurm"])
        .output()
        .unwrap());
    let (long_dir, long) = sweep(d, "survive");
    let job = long.slurm.clone().unwrap().job_id;
    let run = run_dirs(&long_dir, &long).remove(0);
    wait(&cluster, d, Duration::from_mins(3), "a checkpoint", || {
        !expr::run::checkpoint::list(&run).is_empty()
    });
    ok(cluster
        .command("scontrol", d)
        .args(["requeue", &format!("{job}_1")])
        .output()
        .unwrap());
    let requeued = Instant::now();
    wait(
        &cluster,
        d,
        Duration::from_mins(1),
        "the run to stop",
        || expr::record::load(&run).is_ok_and(|r| r.status.label() == "interrupted"),
    );
    // Slurm starts a requeued job two minutes later at the earliest; the test lets it start
    // now, once the job is pending again (the update is refused before). Not in the same
    // second as the requeue, though: slurmd refuses a launch whose credential was made in
    // the second the old one was revoked (`cred->ctime <= j->revoked`, in whole seconds),
    // and the task then ends failed instead of running ("Job credential revoked").
    wait(
        &cluster,
        d,
        Duration::from_mins(1),
        "the task to be pending again",
        || {
            let queue = cluster
                .command("squeue", d)
                .args(["--noheader", "--array", "--jobs", &job, "--format=%T %r"])
                .output()
                .unwrap();
            String::from_utf8_lossy(&queue.stdout).contains("PENDING BeginTime")
        },
    );
    std::thread::sleep(Duration::from_secs(3).saturating_sub(requeued.elapsed()));
    wait(
        &cluster,
        d,
        Duration::from_mins(1),
        "its start time to be now",
        || {
            cluster
                .command("scontrol", d)
                .args(["update", &format!("JobId={job}_1"), "StartTime=now"])
                .output()
                .is_ok_and(|o| o.status.success())
        },
    );
    wait(
        &cluster,
        d,
        Duration::from_mins(5),
        "the requeued run to complete",
        || expr::sweep::record::completed(&run),
    );
    let resumed = expr::record::load(&run).unwrap();

    let clean = tempfile::tempdir().unwrap();
    common::survive_experiment(clean.path());
    ok(Command::new(expr)
        .current_dir(clean.path())
        .args([
            "run",
            "survive.exp",
            "--set",
            "opt.lr=3e-4",
            "--threads",
            "1",
            "--no-progress",
        ])
        .output()
        .unwrap());
    let (whole, _) = expr::record::find_all(&clean.path().join("runs")).remove(0);
    let whole = expr::record::load(&whole).unwrap();
    assert_eq!(resumed.weights_sha256, whole.weights_sha256);
    assert_eq!(resumed.history, whole.history);
    let log = std::fs::read_dir(&long_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("slurm-")
        })
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect::<String>();
    assert!(
        log.contains("resuming") || log.contains("resum"),
        "the second start resumed:\n{log}"
    );
}
