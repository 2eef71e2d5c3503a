//! Rendering diagnostics: miette's graphical reports with the source attached,
//! coloured on a terminal, plain and fixed-width for tests and pipes.
//!
//! The file is a stranger's text: what miette is shown of it (`snippet::Shown`) has its
//! control characters escaped and its long lines clipped, and so do the messages, labels
//! and help, which may quote the file.

mod snippet;

use std::io::IsTerminal;

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan};

pub use snippet::escape;
use snippet::Shown;

use crate::source::{Source, Span};

/// Renders one diagnostic against its source file.
pub fn render(diagnostic: &dyn Diagnostic, source: Option<&Source>, colour: bool) -> String {
    let theme = if colour {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_links(false);
    let mut out = String::new();
    let result = match source {
        Some(source) => {
            let spans: Vec<Span> = diagnostic
                .labels()
                .into_iter()
                .flatten()
                .map(|l| Span::new(l.offset(), l.offset() + l.len()))
                .collect();
            let shown = Shown::new(
                &source.path.display().to_string(),
                source.text.clone(),
                &spans,
            );
            let with_source = WithSource {
                inner: diagnostic,
                source: Some(&shown),
                causes: causes(diagnostic),
            };
            handler.render_report(&mut out, &with_source)
        }
        None => handler.render_report(
            &mut out,
            &WithSource {
                inner: diagnostic,
                source: None,
                causes: causes(diagnostic),
            },
        ),
    };
    if result.is_err() {
        // Rendering into a String cannot fail short of a bug in miette; fall back to the title.
        out = format!("error: {}\n", escape(&diagnostic.to_string()));
    }
    out
}

/// Whether stderr is a terminal that wants colour.
pub fn stderr_colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// A diagnostic seen through a source file: miette asks the diagnostic for
/// its source code, and ours carry spans only. Its labels are moved to the shown text,
/// and every string it gives miette is escaped.
struct WithSource<'a> {
    inner: &'a dyn Diagnostic,
    source: Option<&'a Shown>,
    /// The inner error's causes (`No space left on device`), escaped.
    causes: Option<Box<Cause>>,
}

/// One cause in the chain under a diagnostic, its message escaped like the rest: an I/O
/// error can quote a path, and a path can hold anything.
#[derive(Debug)]
struct Cause {
    message: String,
    next: Option<Box<Cause>>,
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.next.as_deref().map(|c| c as _)
    }
}

/// The causes of `e`, outermost first (a short chain: each is one wrapped error).
fn causes(e: &dyn std::error::Error) -> Option<Box<Cause>> {
    let cause = e.source()?;
    Some(Box::new(Cause {
        message: escape(&cause.to_string()).into_owned(),
        next: causes(cause),
    }))
}

impl std::fmt::Debug for WithSource<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.inner, f)
    }
}

impl std::fmt::Display for WithSource<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&escape(&self.inner.to_string()))
    }
}

impl std::error::Error for WithSource<'_> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.causes.as_deref().map(|c| c as _)
    }
}

impl Diagnostic for WithSource<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        self.inner.code()
    }
    fn severity(&self) -> Option<miette::Severity> {
        self.inner.severity()
    }
    fn help<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        let help = self.inner.help()?.to_string();
        Some(Box::new(escape(&help).into_owned()))
    }
    fn url<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        self.inner.url()
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.map(|s| s as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let shown = self.source;
        let labels = self.inner.labels()?.map(move |l| {
            let text = l.label().map(|t| escape(t).into_owned());
            let span = shown.map_or(*l.inner(), |s| s.span(*l.inner()));
            if l.primary() {
                LabeledSpan::new_primary_with_span(text, span)
            } else {
                LabeledSpan::new_with_span(text, span)
            }
        });
        Some(Box::new(labels))
    }
    fn related<'b>(&'b self) -> Option<Box<dyn Iterator<Item = &'b dyn Diagnostic> + 'b>> {
        self.inner.related()
    }
    fn diagnostic_source(&self) -> Option<&dyn Diagnostic> {
        self.inner.diagnostic_source()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error, miette::Diagnostic)]
    #[error("failed to write `out`")]
    #[diagnostic(code(test::write))]
    struct WriteFailed {
        #[source]
        cause: std::io::Error,
    }

    #[test]
    fn the_cause_chain_is_shown_and_escaped() {
        let e = WriteFailed {
            cause: std::io::Error::other("No space left on device \u{1b}]0;x\u{7}"),
        };
        let shown = render(&e, None, false);
        assert!(shown.contains("No space left on device"), "{shown}");
        assert!(shown.contains("\\u{1b}]0;x\\u{7}"), "{shown}");
        assert!(!shown.contains('\u{1b}'), "{shown}");
        let source = Source::new("a.exp", "x = 1\n");
        let shown = render(&e, Some(&source), false);
        assert!(shown.contains("No space left on device"), "{shown}");
    }
}
