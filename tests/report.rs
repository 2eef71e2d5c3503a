//! `expr report RUN...` over real recorded runs: a page that loads nothing from elsewhere,
//! with the escaped experiment text, a data series per run, the grids embedded, the same
//! bytes for the same runs, and clear errors for what is not a run.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use common::{expr_in as expr, succeeded as ok};

/// The JSON the page's script draws from.
fn data(html: &str) -> serde_json::Value {
    let start = html.find("id=\"expr-data\">").unwrap() + "id=\"expr-data\">".len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).unwrap()
}

#[test]
fn one_run_and_two_overlaid_make_self_contained_pages() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let runs = common::two_runs_with_grids(d);
    let (a, b) = (runs[0].to_str().unwrap(), runs[1].to_str().unwrap());

    let printed = ok(&expr(d, &["report", a, "--out", "one.html"]));
    assert_eq!(printed, "report: one.html\n");
    let one = std::fs::read_to_string(d.join("one.html")).unwrap();
    // Nothing is loaded from elsewhere, and the policy forbids it.
    for banned in ["<script src", "<link", "src=\"http", "href=\"http", "url("] {
        assert!(!one.contains(banned), "{banned}");
    }
    assert!(!one.contains("https://") && !one.contains("http://www.w3.org/1999"));
    let external: Vec<&str> = one
        .match_indices("http")
        .map(|(i, _)| &one[i..(i + 30).min(one.len())])
        .collect();
    assert!(
        external
            .iter()
            .all(|s| s.starts_with("http://www.w3.org/2000/svg") || s.starts_with("http-equiv")),
        "{external:?}"
    );
    assert!(one.contains("default-src 'none'"));
    // The experiment text, escaped.
    assert!(
        one.contains("// &lt;b&gt;&quot;tags&quot; &amp; &#39;quotes&#39;&lt;/b&gt;"),
        "escaped comment"
    );
    assert!(!one.contains("<b>\"tags\""));
    // Provenance from run.yaml.
    let record = expr::record::load(&runs[0]).unwrap();
    assert!(one.contains(&format!("<th>seed</th><td>{}</td>", record.seed)));
    assert!(one.contains(&format!("<th>started</th><td>{}</td>", record.started)));
    assert!(one.contains(record.source.sha256.as_deref().unwrap()));
    assert!(one.contains(record.weights_sha256.as_deref().unwrap()));
    // One series per metric for the one run, with the recorded numbers.
    let json = data(&one);
    assert_eq!(json["runs"].as_array().unwrap().len(), 1);
    let metrics = json["metrics"].as_array().unwrap();
    assert_eq!(metrics.len(), record.metrics.len());
    assert_eq!(metrics[0]["name"], record.metrics[0]);
    let series: Vec<f64> = serde_json::from_value(metrics[0]["series"][0].clone()).unwrap();
    assert_eq!(series, record.history[&record.metrics[0]]);
    assert_eq!(one.matches("class=\"plot\"").count(), record.metrics.len());
    // The grid, embedded: the PNG's own bytes, base64.
    let png = std::fs::read(runs[0].join("samples.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    assert_eq!(
        one.matches("src=\"data:image/png;base64,iVBORw0KGgo")
            .count(),
        1
    );

    // Two runs overlaid: a series per run per metric, and the same bytes twice.
    ok(&expr(d, &["report", a, b, "--out", "two.html"]));
    let two = std::fs::read_to_string(d.join("two.html")).unwrap();
    let json = data(&two);
    let labels: Vec<&str> = json["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["r1", "r2"]);
    for m in json["metrics"].as_array().unwrap() {
        let s = m["series"].as_array().unwrap();
        assert_eq!(s.len(), 2);
        assert!(s.iter().all(|v| v.as_array().unwrap().len() == 2), "{m}");
        assert_ne!(s[0], s[1], "the learning rates differ: {m}");
    }
    assert_eq!(two.matches("src=\"data:image/png;base64,").count(), 2);
    assert!(two.contains("opt.lr=1e-4"));
    ok(&expr(d, &["report", a, b, "--out", "again.html"]));
    assert_eq!(std::fs::read(d.join("again.html")).unwrap(), two.as_bytes());

    // `--metric` picks curves, in its order; `run.yaml` works as well as the directory.
    let yaml = runs[1].join("run.yaml");
    ok(&expr(
        d,
        &[
            "report",
            yaml.to_str().unwrap(),
            "--metric",
            "test_accuracy",
            "--metric",
            "train_loss",
            "--out",
            "picked.html",
        ],
    ));
    let picked = data(&std::fs::read_to_string(d.join("picked.html")).unwrap());
    let names: Vec<&str> = picked["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["test_accuracy", "train_loss"]);
}

#[test]
fn what_is_not_a_readable_run_is_an_error_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("empty")).unwrap();
    std::fs::create_dir(d.join("broken")).unwrap();
    std::fs::write(d.join("broken/run.yaml"), "format: [not a record\n").unwrap();
    std::fs::write(d.join("notes.txt"), "hello").unwrap();
    let cases: [(&[&str], &str); 5] = [
        (&["report", "empty"], "`empty` is not a run directory"),
        (&["report", "missing"], "`missing` is not a run directory"),
        (
            &["report", "notes.txt"],
            "`notes.txt` is not a run directory",
        ),
        (&["report", "broken"], "is not a valid run record"),
        (&["report"], "required"),
    ];
    for (args, message) in cases {
        let out = expr(d, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(!d.join("report.html").exists(), "{args:?} wrote a page");
    }
}

#[test]
fn an_unknown_metric_and_a_grid_outside_the_run_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let runs = common::two_runs_with_grids(d);
    let a = runs[0].to_str().unwrap();
    let out = expr(d, &["report", a, "--metric", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no run has a metric `nope`"), "{stderr}");
    assert!(stderr.contains("`test_accuracy`"), "{stderr}");

    // A record edited to point a grid outside its run directory: shown as refused, not read.
    std::fs::write(d.join("secret.png"), b"\x89PNG\r\n\x1a\nsecret").unwrap();
    let yaml = runs[0].join("run.yaml");
    let text = std::fs::read_to_string(&yaml).unwrap();
    assert!(text.contains("path: samples.png"), "{text}");
    std::fs::write(
        &yaml,
        text.replace("path: samples.png", "path: ../../../secret.png"),
    )
    .unwrap();
    ok(&expr(d, &["report", a, "--out", "edited.html"]));
    let html = std::fs::read_to_string(d.join("edited.html")).unwrap();
    assert!(html.contains("not shown: its path leaves the run directory"));
    assert!(!html.contains("data:image/png"));
}

#[test]
fn report_is_ours_with_help_an_example_completions_and_the_manual() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for args in [&["report", "--help"][..], &["help", "report"][..]] {
        let help = ok(&expr(d, args));
        assert!(help.contains("Usage: expr report"), "{help}");
        assert!(help.contains("Examples:\n  expr report runs/"), "{help}");
        assert!(
            help.contains("--metric <NAME>") && help.contains("--out"),
            "{help}"
        );
    }
    let commands = ok(&expr(d, &["--help"]));
    assert!(commands.contains("report "), "{commands}");
    assert!(ok(&expr(d, &["man"])).contains("report"));
    assert!(ok(&expr(d, &["completions", "bash"])).contains("report"));
    assert!(expr::cli::SUBCOMMANDS.contains(&"report"));
    // Still coreutils' when the second word is an operator.
    let out = expr(d, &["report", "=", "report"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1\n");
}
