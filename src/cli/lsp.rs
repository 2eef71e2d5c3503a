//! `expr lsp`: the language server, for editors (see `crate::lsp`, docs/editors.md).

use std::process::ExitCode;

pub const LSP_EXAMPLES: &str = "Examples:
  expr lsp        # started by an editor, which speaks LSP on its standard input and output
  Neovim:  vim.lsp.start({ name = 'expr', cmd = { 'expr', 'lsp' } })
  Helix:   [language-server.expr] command = \"expr\", args = [\"lsp\"]
  docs/editors.md has each editor's setup.";

/// Exit codes: 0 after the client's `exit`, 1 when the connection breaks.
pub fn main() -> ExitCode {
    match crate::lsp::serve() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("expr lsp: {e}");
            ExitCode::from(1)
        }
    }
}
