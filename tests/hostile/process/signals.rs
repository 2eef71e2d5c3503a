//! Signals around a run: SIGHUP (a closed terminal, a dropped ssh session) stops a run as
//! SIGTERM does, with a checkpoint and an `interrupted` record that `--resume` finishes; an
//! interrupt while the data is read or downloaded ends the run within a second, saying that
//! nothing was written yet.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use expr::record::schema::Status;

use crate::common;

/// The reliability tests' long run (`dense_classifier`, a checkpoint every 10 steps).
fn experiment(dir: &Path) -> PathBuf {
    common::survive_experiment(dir)
}

fn run_dirs(runs: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(runs.join("survive"))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default()
}

fn has_checkpoint(runs: &Path) -> bool {
    run_dirs(runs)
        .iter()
        .any(|d| !expr::run::checkpoint::list(d).is_empty())
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_mins(1);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn kill(child: &Child, signal: libc::c_int) {
    // SAFETY: sends a signal to our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
}

/// Waits for `child`, failing if it takes longer than `limit`.
fn wait_within(mut child: Child, limit: Duration) -> (Output, Duration) {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            child.kill().unwrap();
            panic!("still running {limit:?} after the signal");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    (child.wait_with_output().unwrap(), start.elapsed())
}

/// The record says SIGHUP and `--resume` finishes the run.
fn interrupted_by_sighup_and_resumable(runs: &Path) {
    let dirs = run_dirs(runs);
    assert_eq!(dirs.len(), 1);
    let record = expr::record::load(&dirs[0].join(expr::record::RECORD_FILE)).unwrap();
    assert_eq!(
        record.status,
        Status::Interrupted {
            signal: "SIGHUP".into()
        }
    );
    assert!(!expr::run::checkpoint::list(&dirs[0]).is_empty());
    let resumed = Command::new(common::expr_bin())
        .args(["run", "--no-progress", "--resume"])
        .arg(&dirs[0])
        .output()
        .unwrap();
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let record = expr::record::load(&dirs[0].join(expr::record::RECORD_FILE)).unwrap();
    assert_eq!(record.status, Status::Completed);
}

#[test]
#[cfg_attr(debug_assertions, ignore = "timing-dependent: needs a release build")]
fn sighup_mid_run_checkpoints_marks_the_record_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path());
    let runs = dir.path().join("runs");
    let child = Command::new(common::expr_bin())
        .args(["run", "--no-progress", "--runs-dir"])
        .arg(&runs)
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("a checkpoint", || has_checkpoint(&runs));
    kill(&child, libc::SIGHUP);
    let (out, _) = wait_within(child, Duration::from_secs(20));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted by SIGHUP at epoch"),
        "{stderr}"
    );
    interrupted_by_sighup_and_resumable(&runs);
}

/// A pseudo-terminal whose controlling process is the child: closing the master hangs it
/// up, as closing a terminal window or losing an ssh connection does.
struct Pty {
    master: libc::c_int,
    slave: PathBuf,
}

impl Pty {
    fn open() -> Pty {
        // SAFETY: plain libc calls; every result is checked.
        unsafe {
            // Close-on-exec: a child holding the master would keep the terminal from hanging up.
            let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
            assert!(master >= 0);
            assert_eq!(libc::grantpt(master), 0);
            assert_eq!(libc::unlockpt(master), 0);
            let name = libc::ptsname(master);
            assert!(!name.is_null());
            let slave = std::ffi::CStr::from_ptr(name).to_str().unwrap().into();
            Pty { master, slave }
        }
    }
}

#[test]
#[cfg_attr(debug_assertions, ignore = "timing-dependent: needs a release build")]
fn a_terminal_that_hangs_up_mid_run_leaves_a_resumable_run_not_a_crash() {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path());
    let runs = dir.path().join("runs");
    let pty = Pty::open();
    let slave = std::ffi::CString::new(pty.slave.to_str().unwrap()).unwrap();
    let mut cmd = Command::new(common::expr_bin());
    cmd.args(["run", "--runs-dir"]).arg(&runs).arg(&file);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            // A session of its own, with the terminal as its controlling terminal and as
            // its stdout and stderr (so the progress bar and notices write to it).
            libc::setsid();
            let fd = libc::open(slave.as_ptr(), libc::O_RDWR);
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::ioctl(fd, libc::TIOCSCTTY, 0);
            libc::dup2(fd, 1);
            libc::dup2(fd, 2);
            Ok(())
        });
    }
    let child = cmd.stdin(Stdio::null()).spawn().unwrap();
    // Drain the terminal as we wait, so that the run never blocks on a full buffer; from
    // this thread, so that closing the master below is the last reference to it.
    let master = pty.master;
    // SAFETY: fcntl and read on a descriptor we opened, into a buffer we own.
    unsafe { libc::fcntl(master, libc::F_SETFL, libc::O_NONBLOCK) };
    let mut buf = [0u8; 4096];
    wait_for("a checkpoint", || {
        while unsafe { libc::read(master, buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
        has_checkpoint(&runs)
    });
    // SAFETY: closes the descriptor we opened; the kernel sends SIGHUP to the session.
    unsafe { libc::close(master) };
    let (out, _) = wait_within(child, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(130), "{out:?}");
    interrupted_by_sighup_and_resumable(&runs);
}

/// An IDX image file of `n` 28x28 images, gzipped: decoding it takes a second or more.
fn large_gzip_set(dir: &Path, n: u32) -> PathBuf {
    use flate2::write::GzEncoder;
    let images = dir.join("big-images.gz");
    let file = std::fs::File::create(&images).unwrap();
    let mut gz = GzEncoder::new(std::io::BufWriter::new(file), flate2::Compression::fast());
    for v in [2051u32, n, 28, 28] {
        gz.write_all(&v.to_be_bytes()).unwrap();
    }
    // Small-alphabet noise: compresses about 4:1 but decodes byte by byte.
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let block: Vec<u8> = (0..1 << 16)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 4) as u8
        })
        .collect();
    let mut left = u64::from(n) * 784;
    while left > 0 {
        let k = left.min(block.len() as u64) as usize;
        gz.write_all(&block[..k]).unwrap();
        left -= k as u64;
    }
    gz.finish().unwrap().flush().unwrap();
    let mut labels: Vec<u8> = [2049u32, n].iter().flat_map(|v| v.to_be_bytes()).collect();
    labels.extend((0..n).map(|i| (i % 10) as u8));
    std::fs::write(dir.join("big-labels"), labels).unwrap();
    let exp = dir.join("big.exp");
    let labels = dir.join("big-labels");
    let (images, labels) = (images.display(), labels.display());
    std::fs::write(
        &exp,
        format!("experiment survive {{\n  seed = 1\n}}\n\
         data train = idx(images = \"{images}\", labels = \"{labels}\", shape = (28, 28), classes = 10)\n  | batch(32)\n\
         model net {{\n  flatten()\n  dense(units = 10)\n}}\n\
         loss xent = sparse_categorical_crossentropy(from_logits = true)\n\
         optimizer opt = sgd(lr = 0.01)\n\
         train {{\n  model = net\n  data = train\n  loss = xent\n  optimizer = opt\n  epochs = 1\n}}\n"),
    )
    .unwrap();
    exp
}

fn interrupted_while_loading(signal: libc::c_int, name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let exp = large_gzip_set(dir.path(), 400_000);
    let runs = dir.path().join("runs");
    let child = Command::new(common::expr_bin())
        .args(["run", "--no-progress", "--runs-dir"])
        .arg(&runs)
        .arg(&exp)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    kill(&child, signal);
    let (out, took) = wait_within(child, Duration::from_secs(5));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains(&format!("interrupted by {name} while reading `"))
            && stderr.contains("big-images.gz`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("no checkpoint of this run exists"),
        "{stderr}"
    );
    assert!(
        took < Duration::from_secs(1),
        "took {took:?} after the signal"
    );
    assert!(run_dirs(&runs).is_empty(), "nothing is written");
}

#[test]
#[cfg_attr(debug_assertions, ignore = "timing-dependent: needs a release build")]
fn sigterm_while_a_large_idx_file_decodes_stops_within_a_second() {
    interrupted_while_loading(libc::SIGTERM, "SIGTERM");
}

#[test]
#[cfg_attr(debug_assertions, ignore = "timing-dependent: needs a release build")]
fn ctrl_c_while_a_large_idx_file_decodes_stops_within_a_second() {
    interrupted_while_loading(libc::SIGINT, "SIGINT");
}

#[test]
#[cfg_attr(debug_assertions, ignore = "timing-dependent: needs a release build")]
fn sighup_while_a_large_idx_file_decodes_stops_within_a_second() {
    interrupted_while_loading(libc::SIGHUP, "SIGHUP");
}

/// A mirror that sends the headers of a large file, then nothing.
fn stalling_mirror() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 2 {
                    line.clear();
                }
                let head = "HTTP/1.1 200 OK\r\nContent-Length: 9912422\r\n\r\n";
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&[0x1f, 0x8b]);
                std::thread::sleep(Duration::from_mins(2));
            });
        }
    });
    base
}

#[test]
#[cfg_attr(debug_assertions, ignore = "timing-dependent: needs a release build")]
fn sigterm_during_a_stalled_download_stops_at_once_and_leaves_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let base = stalling_mirror();
    let child = Command::new(common::expr_bin())
        .args(["run", "--no-progress", "--runs-dir"])
        .arg(dir.path().join("runs"))
        .arg(std::fs::canonicalize("experiments/mnist.exp").unwrap())
        .env_remove("EXPR_DATA")
        .env("XDG_CACHE_HOME", dir.path())
        .env("EXPR_MNIST_MIRROR", &base)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let cache = dir.path().join("expr/datasets/mnist");
    wait_for("the partial download", || {
        std::fs::read_dir(&cache).is_ok_and(|mut d| d.next().is_some())
    });
    std::thread::sleep(Duration::from_millis(300));
    kill(&child, libc::SIGTERM);
    let (out, took) = wait_within(child, Duration::from_secs(5));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "interrupted by SIGTERM while downloading `{base}/train-images-idx3-ubyte.gz`"
        )),
        "{stderr}"
    );
    assert!(
        took < Duration::from_secs(1),
        "took {took:?} after the signal"
    );
    let left: Vec<_> = std::fs::read_dir(&cache).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}
