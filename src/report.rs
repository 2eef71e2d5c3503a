//! Rendering diagnostics: miette's graphical reports with the source attached,
//! coloured on a terminal, plain and fixed-width for tests and pipes.

use std::io::IsTerminal;

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};

use crate::source::Source;

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
            let named = source.named();
            let with_source = WithSource {
                inner: diagnostic,
                source: &named,
            };
            handler.render_report(&mut out, &with_source)
        }
        None => handler.render_report(&mut out, diagnostic),
    };
    if result.is_err() {
        // Rendering into a String cannot fail short of a bug in miette; fall back to the title.
        out = format!("error: {diagnostic}\n");
    }
    out
}

/// Whether stderr is a terminal that wants colour.
pub fn stderr_colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// A diagnostic seen through a source file: miette asks the diagnostic for
/// its source code, and ours carry spans only.
struct WithSource<'a> {
    inner: &'a dyn Diagnostic,
    source: &'a dyn miette::SourceCode,
}

impl std::fmt::Debug for WithSource<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.inner, f)
    }
}

impl std::fmt::Display for WithSource<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self.inner, f)
    }
}

impl std::error::Error for WithSource<'_> {}

impl Diagnostic for WithSource<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        self.inner.code()
    }
    fn severity(&self) -> Option<miette::Severity> {
        self.inner.severity()
    }
    fn help<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        self.inner.help()
    }
    fn url<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        self.inner.url()
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(self.source)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        self.inner.labels()
    }
    fn related<'b>(&'b self) -> Option<Box<dyn Iterator<Item = &'b dyn Diagnostic> + 'b>> {
        self.inner.related()
    }
    fn diagnostic_source(&self) -> Option<&dyn Diagnostic> {
        self.inner.diagnostic_source()
    }
}
