//! `expr report`'s page in a real browser: headless Chromium loads it from a file, with the
//! network out of reach, runs its script, and the DOM it dumps must show every plot drawn
//! (`data-plot-drawn`, a curve per run) and no script error (`data-errors`, counted by the
//! page's own `error` listener and `console.error`). A screenshot is kept under
//! `target/tmp/report_browser/` for a person to look at. Without `chromium` on `PATH` the
//! test says so and passes: CI installs it (`.ci/run`).
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser"].iter().find_map(|name| {
        let found = Command::new(name)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        found.then(|| PathBuf::from(name))
    })
}

/// Runs headless Chromium on `page` with `extra` arguments, killing it after two minutes.
fn headless(browser: &Path, profile: &Path, page: &Path, extra: &[&str]) -> Output {
    let child = Command::new(browser)
        .args([
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
            "--disable-extensions",
            "--disable-dev-shm-usage",
            "--allow-file-access-from-files",
            // Nothing outside the file may load: any request fails instead of waiting.
            "--proxy-server=127.0.0.1:9",
            "--window-size=1280,2400",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let id = child.id();
    let started = Instant::now();
    let watchdog = std::thread::spawn(move || {
        while started.elapsed() < Duration::from_mins(2) {
            std::thread::sleep(Duration::from_millis(200));
            // Signal 0: is it still there?
            if unsafe { libc::kill(id.cast_signed(), 0) } != 0 {
                return;
            }
        }
        unsafe { libc::kill(id.cast_signed(), libc::SIGKILL) };
    });
    let out = child.wait_with_output().expect("chromium runs");
    watchdog.join().unwrap();
    out
}

#[test]
fn the_page_draws_its_plots_without_errors_in_headless_chromium() {
    let Some(browser) = chromium() else {
        println!("skipped: no `chromium` on PATH (apt-get install chromium) to load the report in");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let runs = common::two_runs_with_grids(d);
    let page = d.join("report.html");
    let out = Command::new(common::expr_bin())
        .current_dir(d)
        .arg("report")
        .args(&runs)
        .args(["--out", page.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let record = expr::record::load(&runs[0]).unwrap();
    let metrics = record.metrics.len();

    let dom = headless(&browser, &d.join("profile"), &page, &["--dump-dom"]);
    let html = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.status.success() && html.contains("</html>"),
        "chromium failed: {}\n{html}",
        String::from_utf8_lossy(&dom.stderr)
    );
    assert!(html.contains("data-errors=\"0\""), "script errors:\n{html}");
    assert_eq!(
        html.matches("data-plot-drawn=\"true\"").count(),
        metrics,
        "every plot drawn:\n{html}"
    );
    assert!(html.contains(&format!("data-plots-drawn=\"{metrics}\"")));
    // A line per run in every plot, with a non-empty path.
    assert_eq!(
        html.matches("class=\"curve\"").count(),
        2 * metrics,
        "{html}"
    );
    assert!(!html.contains("class=\"curve\" d=\"\""), "{html}");
    assert_eq!(html.matches("<svg").count(), metrics);

    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report_browser");
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join("report.png");
    let _ = std::fs::remove_file(&shot);
    let taken = headless(
        &browser,
        &d.join("profile"),
        &page,
        &[&format!("--screenshot={}", shot.display())],
    );
    let png = std::fs::read(&shot).unwrap_or_else(|e| {
        panic!(
            "no screenshot ({e}): {}",
            String::from_utf8_lossy(&taken.stderr)
        )
    });
    assert_eq!(&png[1..4], b"PNG");
    std::fs::copy(&page, shots.join("report.html")).unwrap();
    println!("screenshot: {}", shot.display());
}
