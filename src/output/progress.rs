//! The per-epoch progress bar on stderr.
//!
//! Steps run every few milliseconds, so [`Progress::step`] only stores the loss and bumps an
//! atomic counter; indicatif decides (rate-limited, 20 redraws a second) when to format and draw,
//! and our template keys format the loss and rate only then. When stderr is not a terminal (a
//! pipe, a log file, CI) the bar is hidden and a step does nothing at all.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle, TermLike};

const TEMPLATE: &str = "{prefix} [{bar:30}] {pos}/{len} loss {loss} {rate} eta {eta}";

/// A progress bar for one epoch of `total_steps` steps.
#[derive(Debug)]
pub struct Progress {
    /// `None` when hidden: then nothing is tracked, drawn or formatted.
    bar: Option<ProgressBar>,
    /// The latest "loss so far", as `f64` bits, read by the template when it draws.
    loss: Arc<AtomicU64>,
}

impl Progress {
    /// A bar labelled `label` on stderr, hidden when stderr is not a terminal.
    #[must_use]
    pub fn new(label: &str, total_steps: u64) -> Self {
        let target = std::io::stderr()
            .is_terminal()
            .then(|| ProgressDrawTarget::stderr_with_hz(20));
        Self::with_target(label, total_steps, target)
    }

    /// A bar drawn on `terminal` (any [`TermLike`]), for embedding and tests.
    #[must_use]
    pub fn on_terminal(label: &str, total_steps: u64, terminal: Box<dyn TermLike>) -> Self {
        let target = ProgressDrawTarget::term_like_with_hz(terminal, 20);
        Self::with_target(label, total_steps, Some(target))
    }

    /// A bar that draws nothing.
    #[must_use]
    pub fn hidden() -> Self {
        Self::with_target("", 0, None)
    }

    fn with_target(label: &str, total_steps: u64, target: Option<ProgressDrawTarget>) -> Self {
        let loss = Arc::new(AtomicU64::new(f64::NAN.to_bits()));
        let bar = target.map(|target| {
            ProgressBar::with_draw_target(Some(total_steps), target)
                .with_style(style(Arc::clone(&loss)))
                .with_prefix(label.to_owned())
        });
        Self { bar, loss }
    }

    /// Whether the bar draws anything.
    #[must_use]
    pub fn is_visible(&self) -> bool {
        self.bar.is_some()
    }

    /// Records one finished step and the mean loss of the epoch so far.
    pub fn step(&self, loss_so_far: f64) {
        if let Some(bar) = &self.bar {
            self.loss.store(loss_so_far.to_bits(), Ordering::Relaxed);
            bar.inc(1);
        }
    }

    /// Removes the bar from the terminal, so the epoch's summary line prints on a clean line.
    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The bar's style; `loss` and `rate` are our own keys so they are formatted only when drawn.
fn style(loss: Arc<AtomicU64>) -> ProgressStyle {
    let base =
        ProgressStyle::with_template(TEMPLATE).unwrap_or_else(|_| ProgressStyle::default_bar());
    base.progress_chars("=> ")
        .with_key(
            "loss",
            move |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let value = f64::from_bits(loss.load(Ordering::Relaxed));
                // Writing to indicatif's String buffer cannot fail.
                let _ = if state.pos() == 0 {
                    w.write_str("-")
                } else {
                    write!(w, "{value:.4}")
                };
            },
        )
        .with_key(
            "rate",
            |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.1} steps/s", state.per_sec());
            },
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;
    use std::sync::Mutex;

    /// A terminal that records everything written to it.
    #[derive(Debug, Clone, Default)]
    struct Recorder(Arc<Mutex<String>>);

    impl Recorder {
        fn text(&self) -> String {
            self.0.lock().unwrap().clone()
        }
        fn push(&self, s: &str) -> io::Result<()> {
            self.0.lock().unwrap().push_str(s);
            Ok(())
        }
    }

    impl TermLike for Recorder {
        fn width(&self) -> u16 {
            120
        }
        fn move_cursor_up(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> io::Result<()> {
            self.push(s)?;
            self.push("\n")
        }
        fn write_str(&self, s: &str) -> io::Result<()> {
            self.push(s)
        }
        fn clear_line(&self) -> io::Result<()> {
            self.push("<clear>")
        }
        fn flush(&self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn visible_bar_shows_label_steps_and_loss() {
        let terminal = Recorder::default();
        let progress = Progress::on_terminal("epoch 1/3", 10, Box::new(terminal.clone()));
        assert!(progress.is_visible());
        progress.step(0.5);
        let text = terminal.text();
        assert!(text.contains("epoch 1/3"), "{text:?}");
        assert!(text.contains("1/10"), "{text:?}");
        assert!(text.contains("loss 0.5000"), "{text:?}");
        assert!(text.contains("steps/s"), "{text:?}");
        progress.finish();
        assert!(
            terminal.text().ends_with("<clear>"),
            "{:?}",
            terminal.text()
        );
    }

    #[test]
    fn hidden_bar_steps_and_finishes_silently() {
        let progress = Progress::hidden();
        assert!(!progress.is_visible());
        for step in 0..1000 {
            progress.step(f64::from(step));
        }
        progress.finish();
    }

    /// Run by `bar_prints_nothing_when_stderr_is_not_a_terminal` in a child process whose stderr
    /// is a pipe.
    #[test]
    #[ignore = "run as a child process by another test"]
    fn child_steps_a_bar_on_real_stderr() {
        let progress = Progress::new("epoch 1/1", 100);
        assert!(!progress.is_visible());
        for step in 0..100 {
            progress.step(f64::from(step));
        }
        progress.finish();
    }

    #[test]
    fn bar_prints_nothing_when_stderr_is_not_a_terminal() {
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "output::progress::tests::child_steps_a_bar_on_real_stderr",
            ])
            .args(["--ignored", "--test-threads=1"])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "child failed: {stdout}");
        assert!(
            stdout.contains("1 passed"),
            "child did not run the test: {stdout}"
        );
        assert!(
            output.stderr.is_empty(),
            "stderr: {:?}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
