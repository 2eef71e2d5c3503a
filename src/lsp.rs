//! `expr lsp`: a language server on standard input and output, for editors. It answers
//! from the same pipeline as `expr check` (parse, check, the files beside the document),
//! so a diagnostic in the editor is the one `expr check` prints, with its range and code.
//!
//! Semantic tokens colour keywords, calls, parameters, names, numbers, strings and comments.
//!
//! Documents are synchronised whole (each change sends the full text) and analysed on
//! every change: checking a file takes well under the 50 ms an editor can wait
//! (BENCHMARKS.md). A request the server cannot answer gets an error response, never a
//! crash: each handler runs under `catch_unwind`, so even a bug in one leaves the server up.

mod analysis;
mod features;
mod position;
mod tokens;

use std::collections::HashMap;
use std::error::Error;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, Notification as _,
    PublishDiagnostics,
};
use lsp_types::request::{
    DocumentSymbolRequest, Formatting, GotoDefinition, HoverRequest, Request as _,
    SemanticTokensFullRequest,
};
use lsp_types::{
    CompletionOptions, DocumentSymbolResponse, GotoDefinitionResponse, OneOf,
    PublishDiagnosticsParams, ServerCapabilities, TextDocumentSyncCapability, TextDocumentSyncKind,
    Url,
};

pub use analysis::Analysis;
pub use features::keywords;

type Failure = Box<dyn Error + Sync + Send>;

/// Serves one client on standard input and output until it says `exit`.
///
/// # Errors
/// When the client's messages cannot be read or answered (a closed pipe, a message that is
/// not JSON-RPC).
pub fn serve() -> Result<(), Failure> {
    let (connection, io_threads) = Connection::stdio();
    let capabilities = ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        hover_provider: Some(lsp_types::HoverProviderCapability::Simple(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec!["(".into(), ",".into()]),
            ..CompletionOptions::default()
        }),
        definition_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        document_formatting_provider: Some(OneOf::Left(true)),
        semantic_tokens_provider: Some(
            lsp_types::SemanticTokensOptions {
                legend: tokens::legend(),
                full: Some(lsp_types::SemanticTokensFullOptions::Bool(true)),
                ..lsp_types::SemanticTokensOptions::default()
            }
            .into(),
        ),
        ..ServerCapabilities::default()
    };
    let initialize = serde_json::json!({
        "capabilities": capabilities,
        "serverInfo": { "name": "expr", "version": env!("CARGO_PKG_VERSION") },
    });
    connection.initialize_finish(connection.initialize_start()?.0, initialize)?;
    let mut server = Server {
        documents: HashMap::new(),
    };
    for message in &connection.receiver {
        match message {
            Message::Request(request) => {
                if connection.handle_shutdown(&request)? {
                    break;
                }
                let response = server.answer(request);
                connection.sender.send(Message::Response(response))?;
            }
            Message::Notification(note) => {
                if let Some(published) = server.notice(note) {
                    connection.sender.send(Message::Notification(published))?;
                }
            }
            Message::Response(_) => {}
        }
    }
    drop(connection);
    io_threads.join()?;
    Ok(())
}

/// The open documents, each analysed.
struct Server {
    documents: HashMap<Url, Analysis>,
}

impl Server {
    /// A request's response: its answer, or an error saying why there is none.
    fn answer(&mut self, request: Request) -> Response {
        let id = request.id.clone();
        match catch_unwind(AssertUnwindSafe(|| self.dispatch(request))) {
            Ok(Ok(value)) => Response::new_ok(id, value),
            Ok(Err((code, message))) => Response::new_err(id, code as i32, message),
            Err(_) => Response::new_err(
                id,
                ErrorCode::InternalError as i32,
                "expr lsp: this request failed inside the server; please report it".into(),
            ),
        }
    }

    fn dispatch(&mut self, request: Request) -> Result<serde_json::Value, (ErrorCode, String)> {
        let bad = |e: serde_json::Error| (ErrorCode::InvalidParams, e.to_string());
        let json = |v: Result<serde_json::Value, serde_json::Error>| {
            v.map_err(|e| (ErrorCode::InternalError, e.to_string()))
        };
        match request.method.as_str() {
            HoverRequest::METHOD => {
                let p: lsp_types::HoverParams =
                    serde_json::from_value(request.params).map_err(bad)?;
                let at = p.text_document_position_params;
                let hover = self
                    .document(&at.text_document.uri)
                    .and_then(|a| features::hover(a, at.position));
                json(serde_json::to_value(hover))
            }
            lsp_types::request::Completion::METHOD => {
                let p: lsp_types::CompletionParams =
                    serde_json::from_value(request.params).map_err(bad)?;
                let at = p.text_document_position;
                let items = self
                    .document(&at.text_document.uri)
                    .map(|a| features::completion(a, at.position))
                    .unwrap_or_default();
                json(serde_json::to_value(items))
            }
            GotoDefinition::METHOD => {
                let p: lsp_types::GotoDefinitionParams =
                    serde_json::from_value(request.params).map_err(bad)?;
                let at = p.text_document_position_params;
                let uri = at.text_document.uri;
                let found = self
                    .document(&uri)
                    .and_then(|a| features::definition(a, &uri, at.position))
                    .map(GotoDefinitionResponse::Scalar);
                json(serde_json::to_value(found))
            }
            DocumentSymbolRequest::METHOD => {
                let p: lsp_types::DocumentSymbolParams =
                    serde_json::from_value(request.params).map_err(bad)?;
                let symbols = self
                    .document(&p.text_document.uri)
                    .map(features::symbols)
                    .unwrap_or_default();
                json(serde_json::to_value(DocumentSymbolResponse::Nested(
                    symbols,
                )))
            }
            Formatting::METHOD => {
                let p: lsp_types::DocumentFormattingParams =
                    serde_json::from_value(request.params).map_err(bad)?;
                let edits = self
                    .document(&p.text_document.uri)
                    .map(features::formatting)
                    .unwrap_or_default();
                json(serde_json::to_value(edits))
            }
            SemanticTokensFullRequest::METHOD => {
                let p: lsp_types::SemanticTokensParams =
                    serde_json::from_value(request.params).map_err(bad)?;
                let data = self
                    .document(&p.text_document.uri)
                    .map(|a| tokens::tokens(&a.text, &features::keywords()))
                    .unwrap_or_default();
                json(serde_json::to_value(lsp_types::SemanticTokens {
                    result_id: None,
                    data,
                }))
            }
            other => Err((
                ErrorCode::MethodNotFound,
                format!("expr lsp does not answer `{other}`"),
            )),
        }
    }

    fn document(&self, uri: &Url) -> Option<&Analysis> {
        self.documents.get(uri)
    }

    /// Takes a notification; a change to a document gives its diagnostics to publish.
    fn notice(&mut self, note: Notification) -> Option<Notification> {
        let outcome = catch_unwind(AssertUnwindSafe(|| self.take_notice(note)));
        outcome.ok().flatten()
    }

    fn take_notice(&mut self, note: Notification) -> Option<Notification> {
        let (uri, version, text) = match note.method.as_str() {
            DidOpenTextDocument::METHOD => {
                let p: lsp_types::DidOpenTextDocumentParams =
                    serde_json::from_value(note.params).ok()?;
                let d = p.text_document;
                (d.uri, d.version, d.text)
            }
            DidChangeTextDocument::METHOD => {
                let p: lsp_types::DidChangeTextDocumentParams =
                    serde_json::from_value(note.params).ok()?;
                // Full synchronisation: the last change holds the whole text.
                let text = p.content_changes.into_iter().last()?.text;
                (p.text_document.uri, p.text_document.version, text)
            }
            DidCloseTextDocument::METHOD => {
                let p: lsp_types::DidCloseTextDocumentParams =
                    serde_json::from_value(note.params).ok()?;
                self.documents.remove(&p.text_document.uri);
                return Some(publish(p.text_document.uri, Vec::new(), None));
            }
            _ => return None,
        };
        let analysis = Analysis::of(text, &uri, &base_folder(&uri));
        let diagnostics = analysis.diagnostics.clone();
        self.documents.insert(uri.clone(), analysis);
        Some(publish(uri, diagnostics, Some(version)))
    }
}

fn publish(
    uri: Url,
    diagnostics: Vec<lsp_types::Diagnostic>,
    version: Option<i32>,
) -> Notification {
    Notification::new(
        PublishDiagnostics::METHOD.to_string(),
        PublishDiagnosticsParams {
            uri,
            diagnostics,
            version,
        },
    )
}

/// The folder the document's relative data paths are read from: its own, for a file; the
/// current folder for an unsaved buffer.
fn base_folder(uri: &Url) -> PathBuf {
    match uri.to_file_path() {
        Ok(path) => crate::frontend::base_folder(&path),
        Err(()) => std::env::current_dir().unwrap_or_default(),
    }
}
