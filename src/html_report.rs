//! `expr report RUN...`: one self-contained HTML page about recorded runs — the experiment
//! text, the parameters, the provenance, the metric curves (drawn by a small embedded script,
//! interactive, runs overlaid) and the sample grids (embedded PNGs). The page loads nothing:
//! no script, style, font or image comes from elsewhere, and its Content-Security-Policy
//! forbids it, so it opens the same offline, archived or mailed. The same records give the
//! same bytes: nothing of the time the report was made goes into it.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use std::fmt::Write as _; // write! into a String, which cannot fail: hence `let _ =`
use std::path::{Component, Path, PathBuf};

use crate::record::{self, RecordError, RunRecord, RECORD_FILE};

/// The script that draws the curves from the page's JSON.
const PLOT_JS: &str = include_str!("html_report/plot.js");

/// The largest grid image embedded: grids are a few hundred kilobytes at most; anything
/// far larger is not a grid the run drew.
const GRID_LIMIT: u64 = 32 << 20;

/// Line colours, one per run in order (Okabe–Ito, distinguishable with colour blindness).
const COLOURS: &[&str] = &[
    "#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#f0e442",
];

/// What stops a report.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ReportError {
    #[error("`{}` is not a run directory: it has no `{RECORD_FILE}`", path.display())]
    #[diagnostic(
        code(expr::report::not_a_run),
        help("give run directories, e.g. `runs/mnist/<id>` (`expr runs` lists them), or their `run.yaml`")
    )]
    NotARun { path: PathBuf },

    #[error(transparent)]
    #[diagnostic(transparent)]
    Record(#[from] RecordError),

    #[error("no run has a metric `{name}`")]
    #[diagnostic(code(expr::report::unknown_metric), help("the runs' metrics: {known}"))]
    UnknownMetric { name: String, known: String },
}

/// One run as the report reads it: its directory and its record.
pub struct Run {
    pub dir: PathBuf,
    pub record: RunRecord,
}

/// Reads a run directory, or the `run.yaml` in one.
///
/// # Errors
/// [`ReportError::NotARun`] when `path` is neither; the record's own error when it cannot
/// be read or is not a run record.
pub fn load(path: &Path) -> Result<Run, ReportError> {
    let (dir, file) = if path.is_dir() {
        (path.to_path_buf(), path.join(RECORD_FILE))
    } else if path.file_name().is_some_and(|n| n == RECORD_FILE) {
        let dir = path
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        (dir, path.to_path_buf())
    } else {
        return Err(ReportError::NotARun {
            path: path.to_path_buf(),
        });
    };
    if !file.exists() {
        return Err(ReportError::NotARun {
            path: path.to_path_buf(),
        });
    }
    let record = record::load(&file)?;
    Ok(Run { dir, record })
}

/// The metrics to draw: `wanted` if given (each must be some run's), else every run's
/// metrics in declaration order, first run first.
///
/// # Errors
/// [`ReportError::UnknownMetric`] for a wanted metric no run has.
pub fn metrics(runs: &[Run], wanted: &[String]) -> Result<Vec<String>, ReportError> {
    let mut all: Vec<String> = Vec::new();
    for r in runs {
        for m in &r.record.metrics {
            if !all.contains(m) {
                all.push(m.clone());
            }
        }
    }
    if wanted.is_empty() {
        return Ok(all);
    }
    for name in wanted {
        if !all.contains(name) {
            let known: Vec<String> = all.iter().map(|m| format!("`{m}`")).collect();
            return Err(ReportError::UnknownMetric {
                name: name.clone(),
                known: if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                },
            });
        }
    }
    Ok(wanted.to_vec())
}

/// The page, for `runs` (named `r1`, `r2`, ... in order) and the curves of `metrics`.
pub fn page(runs: &[Run], metrics: &[String]) -> String {
    let title = match runs {
        [one] => format!("{} {}", one.record.experiment, one.record.id),
        _ => {
            let mut names: Vec<&str> = runs.iter().map(|r| r.record.experiment.as_str()).collect();
            names.dedup();
            format!("{} ({} runs)", names.join(", "), runs.len())
        }
    };
    let mut out = String::new();
    out.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\" data-errors=\"0\">\n<head>\n<meta charset=\"utf-8\">\n",
    );
    // Nothing may be fetched: inline script and style, and images from `data:` only.
    out.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:\">\n",
    );
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(out, "<title>expr report: {}</title>", escape(&title));
    // Counts script errors into the page itself, where a test (or a reader) can see them.
    out.push_str(
        "<script>(function(){var n=0;function seen(){n+=1;\
         document.documentElement.setAttribute('data-errors',String(n));}\
         window.addEventListener('error',seen);\
         window.addEventListener('unhandledrejection',seen);\
         var e=console.error;console.error=function(){seen();return e.apply(console,arguments);};\
         })();</script>\n",
    );
    out.push_str(STYLE);
    out.push_str("</head>\n<body>\n");
    let _ = writeln!(out, "<h1>{}</h1>", escape(&title));
    runs_table(&mut out, runs);
    curves(&mut out, runs, metrics);
    finals(&mut out, runs, metrics);
    for (i, run) in runs.iter().enumerate() {
        run_section(&mut out, i, run);
    }
    out.push_str("<script>\n");
    out.push_str(PLOT_JS);
    out.push_str("</script>\n</body>\n</html>\n");
    out
}

const STYLE: &str = "<style>
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:72em;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.25em;border-bottom:1px solid #ccc}h3{font-size:1.05em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.2em .6em;text-align:left;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums}
pre{background:#f6f6f6;padding:.8em;overflow:auto;font-size:.9em}
.plots{display:flex;flex-wrap:wrap;gap:1.5em}
.plot{position:relative}.plot h3{margin:.3em 0}
.plot svg{font:11px system-ui,sans-serif;max-width:100%;height:auto}
.plot .frame{fill:none;stroke:#999}.plot .grid{stroke:#eee}.plot .cursor{stroke:#888;stroke-dasharray:3 3}
.plot .curve{fill:none;stroke-width:2}
.tip{position:absolute;background:#fff;border:1px solid #999;padding:.3em .5em;white-space:pre;font-size:12px;pointer-events:none}
.legend{list-style:none;padding:0;margin:.2em 0;font-size:.9em}.legend li{display:inline-block;margin-right:1em}
.swatch{display:inline-block;width:1.2em;height:.3em;margin-right:.3em;vertical-align:middle}
.grids img{image-rendering:pixelated;border:1px solid #ccc;max-width:100%}
.dirty{color:#b00}
</style>
";

/// `&`, `<`, `>`, `\"` and `'` as entities: safe inside elements and quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn label(i: usize) -> String {
    format!("r{}", i + 1)
}

fn colour(i: usize) -> &'static str {
    COLOURS[i % COLOURS.len()]
}

fn runs_table(out: &mut String, runs: &[Run]) {
    out.push_str("<h2>Runs</h2>\n<table id=\"runs\">\n<tr><th></th><th>experiment</th><th>run</th><th>status</th><th>commit</th><th>overrides</th></tr>\n");
    for (i, run) in runs.iter().enumerate() {
        let r = &run.record;
        let _ = writeln!(
            out,
            "<tr><td><span class=\"swatch\" style=\"background:{}\"></span><a href=\"#{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            colour(i),
            label(i),
            label(i),
            escape(&r.experiment),
            escape(&r.id),
            escape(&status(r)),
            commit(r),
            escape(&r.overrides.join(" ")),
        );
    }
    out.push_str("</table>\n");
}

fn status(r: &RunRecord) -> String {
    match &r.status {
        record::Status::Completed => "completed".into(),
        record::Status::Failed { error } => format!("failed: {error}"),
        record::Status::Interrupted { signal } => format!("interrupted ({signal})"),
        record::Status::Running => format!(
            "running or killed ({}/{} epochs)",
            r.epochs_done(),
            r.epochs
        ),
    }
}

fn commit(r: &RunRecord) -> String {
    r.git.as_ref().map_or("-".into(), |g| {
        if g.dirty {
            format!(
                "{} <span class=\"dirty\">(uncommitted changes)</span>",
                escape(&g.commit)
            )
        } else {
            escape(&g.commit)
        }
    })
}

/// A placeholder per metric, and the numbers as JSON for the script. `<` is written as
/// `\u003c` so that no text in the data can end the script element.
fn curves(out: &mut String, runs: &[Run], metrics: &[String]) {
    out.push_str("<h2>Curves</h2>\n");
    if metrics.is_empty() {
        out.push_str("<p>No metrics were recorded.</p>\n");
    }
    out.push_str("<div class=\"plots\">\n");
    for (i, m) in metrics.iter().enumerate() {
        let _ = writeln!(
            out,
            "<div class=\"plot\" data-metric=\"{i}\"><h3>{}</h3></div>",
            escape(m)
        );
    }
    out.push_str("</div>\n");
    let data = serde_json::json!({
        "runs": runs.iter().enumerate().map(|(i, r)| serde_json::json!({
            "label": label(i),
            "name": format!("{} {}", r.record.experiment, r.record.id),
            "color": colour(i),
        })).collect::<Vec<_>>(),
        "metrics": metrics.iter().map(|m| serde_json::json!({
            "name": m,
            // NaN and infinities become null: a gap in the line.
            "series": runs.iter().map(|r| r.record.history.get(m)).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    let json = data.to_string().replace('<', "\\u003c");
    let _ = writeln!(
        out,
        "<script type=\"application/json\" id=\"expr-data\">{json}</script>"
    );
}

fn finals(out: &mut String, runs: &[Run], metrics: &[String]) {
    if metrics.is_empty() {
        return;
    }
    out.push_str("<h2>Final metrics</h2>\n<table id=\"final\">\n<tr><th>metric</th>");
    for i in 0..runs.len() {
        let _ = write!(out, "<th>{}</th>", label(i));
    }
    out.push_str("</tr>\n");
    for m in metrics {
        let _ = write!(out, "<tr><td>{}</td>", escape(m));
        for r in runs {
            let cell = r
                .record
                .final_metrics
                .get(m)
                .map_or_else(|| "-".to_string(), |v| format!("{v}"));
            let _ = write!(out, "<td class=\"num\">{cell}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// Rows of `<th>name</th><td>value</td>`, values escaped; `None` rows left out.
fn fields(out: &mut String, rows: &[(&str, Option<String>)]) {
    out.push_str("<table>\n");
    for (name, value) in rows {
        if let Some(v) = value {
            let _ = writeln!(
                out,
                "<tr><th>{}</th><td>{}</td></tr>",
                escape(name),
                escape(v)
            );
        }
    }
    out.push_str("</table>\n");
}

fn run_section(out: &mut String, i: usize, run: &Run) {
    let r = &run.record;
    let _ = writeln!(
        out,
        "<section class=\"run\" id=\"{}\">\n<h2>{}: {} {}</h2>",
        label(i),
        label(i),
        escape(&r.experiment),
        escape(&r.id)
    );
    out.push_str("<h3>Parameters</h3>\n");
    fields(
        out,
        &[
            ("seed", Some(r.seed.to_string())),
            ("epochs", Some(r.epochs.to_string())),
            ("epochs run", Some(r.epochs_done().to_string())),
            ("threads", Some(r.threads.to_string())),
            (
                "overrides",
                (!r.overrides.is_empty()).then(|| r.overrides.join(" ")),
            ),
            ("evaluation only", r.evaluation_only.then(|| "yes".into())),
            (
                "stopped",
                r.stopped.as_ref().map(|s| {
                    let mut line = format!("{} at epoch {}", s.reason, s.epoch);
                    if let Some(step) = s.step {
                        let _ = write!(line, ", step {step}");
                    }
                    if let Some(w) = &s.watched {
                        let _ = write!(
                            line,
                            " (best {} = {} at epoch {}{})",
                            w.monitor,
                            w.best,
                            w.best_epoch,
                            if w.restored_best { ", restored" } else { "" }
                        );
                    }
                    line
                }),
            ),
        ],
    );
    out.push_str("<h3>Provenance</h3>\n");
    let seconds: f64 = r.epoch_seconds.iter().map(|e| e.train + e.eval).sum();
    fields(
        out,
        &[
            ("status", Some(status(r))),
            ("started", Some(r.started.clone())),
            ("ended", r.ended.clone()),
            (
                "epoch time",
                (!r.epoch_seconds.is_empty()).then(|| format!("{seconds:.2} s")),
            ),
            (
                "git commit",
                r.git.as_ref().map(|g| {
                    format!(
                        "{}{}",
                        g.commit,
                        if g.dirty {
                            " (uncommitted changes)"
                        } else {
                            ""
                        }
                    )
                }),
            ),
            ("experiment file", r.source.path.clone()),
            ("file sha256", r.source.sha256.clone()),
            ("resolved sha256", r.source.resolved_sha256.clone()),
            ("weights sha256", r.weights_sha256.clone()),
            ("rerun of", r.rerun_of.clone()),
            ("kernels", r.kernels.clone()),
            (
                "versions",
                Some(format!(
                    "expr {}, dfdx {}",
                    r.versions.expr, r.versions.dfdx
                )),
            ),
            (
                "machine",
                Some(format!(
                    "{} ({} {}, {} CPUs)",
                    r.machine.hostname, r.machine.os, r.machine.arch, r.machine.cpus
                )),
            ),
            ("working directory", r.workdir.clone()),
            ("run directory", Some(run.dir.display().to_string())),
        ],
    );
    if !r.data.is_empty() {
        out.push_str(
            "<h3>Data files</h3>\n<table>\n<tr><th>data</th><th>path</th><th>sha256</th></tr>\n",
        );
        for d in &r.data {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&d.data),
                escape(&d.path),
                escape(&d.sha256)
            );
        }
        out.push_str("</table>\n");
    }
    out.push_str("<h3>Experiment</h3>\n");
    match &r.source.resolved {
        Some(text) => {
            let _ = writeln!(out, "<pre class=\"experiment\">{}</pre>", escape(text));
        }
        None => out.push_str("<p>The record holds no experiment text.</p>\n"),
    }
    if !r.log.is_empty() {
        out.push_str("<h3>Log</h3>\n");
        let _ = writeln!(
            out,
            "<pre class=\"log\">{}</pre>",
            escape(&r.log.join("\n"))
        );
    }
    grids(out, run);
    samples(out, run);
    out.push_str("</section>\n");
}

/// The run's `grid` artifacts as embedded PNGs; one that cannot be shown says why.
fn grids(out: &mut String, run: &Run) {
    let grids: Vec<_> = run
        .record
        .artifacts
        .iter()
        .filter(|a| a.kind == "grid")
        .collect();
    if grids.is_empty() {
        return;
    }
    out.push_str("<h3>Grids</h3>\n<div class=\"grids\">\n");
    for a in grids {
        let _ = write!(out, "<figure><figcaption>{}</figcaption>", escape(&a.path));
        match grid_png(&run.dir, &a.path, a.written) {
            Ok(png) => {
                let _ = write!(
                    out,
                    "<img alt=\"{}\" src=\"data:image/png;base64,{}\">",
                    escape(&a.path),
                    STANDARD.encode(&png)
                );
            }
            Err(why) => {
                let _ = write!(out, "<p>not shown: {}</p>", escape(&why));
            }
        }
        out.push_str("</figure>\n");
    }
    out.push_str("</div>\n");
}

/// The run's `sample` artifacts (text a language model wrote) as preformatted text.
fn samples(out: &mut String, run: &Run) {
    let samples: Vec<_> = run
        .record
        .artifacts
        .iter()
        .filter(|a| a.kind == "sample")
        .collect();
    if samples.is_empty() {
        return;
    }
    out.push_str("<h3>Samples</h3>\n");
    for a in samples {
        let _ = write!(out, "<figure><figcaption>{}</figcaption>", escape(&a.path));
        match artifact_bytes(&run.dir, &a.path, a.written).map(String::from_utf8) {
            Ok(Ok(text)) => {
                let _ = write!(out, "<pre class=\"log\">{}</pre>", escape(&text));
            }
            Ok(Err(_)) => out.push_str("<p>not shown: it is not UTF-8 text</p>"),
            Err(why) => {
                let _ = write!(out, "<p>not shown: {}</p>", escape(&why));
            }
        }
        out.push_str("</figure>\n");
    }
}

/// An artifact's bytes, inside the run directory (the record is a file anyone may have
/// edited, so a path leaving the directory is refused, not read).
fn artifact_bytes(dir: &Path, relative: &str, written: bool) -> Result<Vec<u8>, String> {
    if !written {
        return Err("the run failed to write it".into());
    }
    let rel = Path::new(relative);
    if rel.as_os_str().is_empty() || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err("its path leaves the run directory".into());
    }
    crate::files::read_regular(&dir.join(rel), GRID_LIMIT).map_err(|e| e.to_string())
}

/// A grid's bytes: a PNG inside the run directory.
fn grid_png(dir: &Path, relative: &str, written: bool) -> Result<Vec<u8>, String> {
    let bytes = artifact_bytes(dir, relative, written)?;
    if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Err("it is not a PNG file".into());
    }
    Ok(bytes)
}
