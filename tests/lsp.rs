//! `expr lsp` spoken to over JSON-RPC, as an editor does: diagnostics on open and change
//! (the findings of `expr check`, with their ranges and codes), hover, completion, go to
//! definition, the outline, formatting, and a server that stays up whatever the documents
//! hold (every fuzz-corpus file and mutants of each).
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion
#![allow(clippy::needless_pass_by_value)] // messages are built with `json!` at each call

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{json, Value};

struct Client {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next_id: i64,
    /// Notifications received while waiting for responses.
    notes: Vec<Value>,
}

impl Client {
    fn start() -> Client {
        let mut child = Command::new(common::expr_bin())
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut client = Client {
            child,
            stdin,
            stdout,
            next_id: 0,
            notes: Vec::new(),
        };
        let init = client.request("initialize", json!({ "capabilities": {} }));
        assert_eq!(init["serverInfo"]["name"], "expr", "{init}");
        client.notify("initialized", json!({}));
        client
    }

    fn send(&mut self, message: &Value) {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    fn receive(&mut self) -> Value {
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            assert!(
                self.stdout.read_line(&mut line).unwrap() > 0,
                "the server closed its output"
            );
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(n) = line.strip_prefix("Content-Length: ") {
                length = n.parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        self.stdout.read_exact(&mut body).unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    /// The response's `result`; an error response fails the test.
    fn request(&mut self, method: &str, params: Value) -> Value {
        let response = self.request_raw(method, params);
        assert!(response.get("error").is_none(), "{method}: {response}");
        response["result"].clone()
    }

    fn request_raw(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        loop {
            let message = self.receive();
            if message["id"] == id {
                return message;
            }
            self.notes.push(message);
        }
    }

    /// The diagnostics published for `uri` after the last open or change: the server
    /// publishes them before it answers the next request.
    fn diagnostics(&mut self, uri: &str) -> Vec<Value> {
        self.request(
            "textDocument/documentSymbol",
            json!({ "textDocument": { "uri": uri } }),
        );
        let published = self
            .notes
            .iter()
            .rev()
            .find(|n| n["method"] == "textDocument/publishDiagnostics" && n["params"]["uri"] == uri)
            .expect("diagnostics published");
        published["params"]["diagnostics"]
            .as_array()
            .unwrap()
            .clone()
    }

    fn open(&mut self, uri: &str, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": uri, "languageId": "exp", "version": 1, "text": text } }),
        );
    }

    fn change(&mut self, uri: &str, version: i32, text: &str) {
        self.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": uri, "version": version }, "contentChanges": [{ "text": text }] }),
        );
    }

    fn at(&mut self, method: &str, uri: &str, (line, character): (u32, u32)) -> Value {
        self.request(
            method,
            json!({ "textDocument": { "uri": uri }, "position": { "line": line, "character": character } }),
        )
    }

    /// `shutdown` and `exit`: the server ends with status 0.
    fn stop(mut self) {
        assert_eq!(self.request("shutdown", Value::Null), Value::Null);
        self.notify("exit", Value::Null);
        assert!(self.child.wait().unwrap().success());
    }
}

const CLASSIFIER: &str = "experiment t {
  seed = 1
}

data train = mnist(split = \"train\") | scale(1 / 255) | batch(32)

model net {
  flatten()
  dense(units = 128, activation = relu)
  dense(units = 10)
}

loss xent = sparse_categorical_crossentropy(from_logits = true)

optimizer opt = adam(lr = 1e-3)

train {
  model = net
  data = train
  loss = xent
  optimizer = opt
  epochs = 1
}

metrics {
  train_accuracy = sparse_categorical_accuracy(y, logits) on train
}
";

/// The labels of completion items.
fn labels_of(items: &Value) -> Vec<&str> {
    let items = items.as_array().unwrap();
    items.iter().map(|i| i["label"].as_str().unwrap()).collect()
}

/// The position of the `n`th (from 0) occurrence of `needle`, plus `ahead` columns.
fn find(text: &str, needle: &str, n: usize, ahead: u32) -> (u32, u32) {
    let offset = text.match_indices(needle).nth(n).unwrap().0;
    let line = text[..offset].matches('\n').count();
    let column = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1);
    (
        u32::try_from(line).unwrap(),
        u32::try_from(column).unwrap() + ahead,
    )
}

#[test]
fn diagnostics_follow_the_document_with_expr_checks_codes_and_ranges() {
    let mut c = Client::start();
    let uri = "file:///nowhere/t.exp";
    c.open(uri, CLASSIFIER);
    assert_eq!(c.diagnostics(uri), Vec::<Value>::new());
    // An unknown optimizer: `expr check`'s finding, on the name.
    let broken = CLASSIFIER.replace("adam(lr", "adamm(lr");
    c.change(uri, 2, &broken);
    let found = c.diagnostics(uri);
    let d = &found[0];
    assert_eq!(d["code"], "expr::check::unknown_name", "{d}");
    let message = d["message"].as_str().unwrap();
    assert!(message.contains("did you mean `adam`?"), "{d}");
    // As `expr check` prints them: the same findings, in the same order.
    let file = tempfile::NamedTempFile::with_suffix(".exp").unwrap();
    std::fs::write(file.path(), &broken).unwrap();
    let check = common::expr_in(
        file.path().parent().unwrap(),
        &["check", file.path().to_str().unwrap()],
    );
    let printed = common::stderr(&check);
    for d in &found {
        let title = d["message"].as_str().unwrap().lines().next().unwrap();
        assert!(printed.contains(title), "{title} in {printed}");
    }
    assert_eq!(
        printed.matches("expr::check::").count(),
        found.len(),
        "{printed}"
    );
    let (line, column) = find(&broken, "adamm", 0, 0);
    assert_eq!(
        d["range"]["start"],
        json!({ "line": line, "character": column })
    );
    assert_eq!(
        d["range"]["end"],
        json!({ "line": line, "character": column + 5 })
    );
    // A syntax error.
    c.change(uri, 3, "model net {\n  dense(units = )\n}\n");
    let found = c.diagnostics(uri);
    assert_eq!(found[0]["code"], "expr::syntax", "{found:?}");
    assert_eq!(found[0]["range"]["start"]["line"], 1);
    c.change(uri, 4, CLASSIFIER);
    assert_eq!(c.diagnostics(uri), Vec::<Value>::new());
    c.stop();
}

#[test]
fn hover_completion_definition_outline_and_formatting() {
    let mut c = Client::start();
    let uri = "file:///nowhere/t.exp";
    c.open(uri, CLASSIFIER);
    // A layer: its output shape and parameters, as the summary counts them.
    let hover = c.at(
        "textDocument/hover",
        uri,
        find(CLASSIFIER, "dense(units = 128", 0, 2),
    );
    let text = hover["contents"]["value"].as_str().unwrap();
    assert!(
        text.contains("(None, 128)") && text.contains("100,480 parameters"),
        "{text}"
    );
    // A declared name: its declaration.
    let hover = c.at("textDocument/hover", uri, find(CLASSIFIER, "opt\n", 0, 1));
    let text = hover["contents"]["value"].as_str().unwrap();
    assert!(text.contains("optimizer `opt`, line 15"), "{text}");
    // A catalogue name: its signature and line of the guide.
    let hover = c.at("textDocument/hover", uri, find(CLASSIFIER, "adam(", 0, 1));
    let text = hover["contents"]["value"].as_str().unwrap();
    assert!(text.contains("adam(lr = 0.001"), "{text}");

    // Completion: names everywhere, a call's parameters inside it.
    let items = c.at("textDocument/completion", uri, (6, 0));
    let labels = labels_of(&items);
    for name in ["conv2d", "adam", "mnist", "batch", "net", "xent", "metrics"] {
        assert!(labels.contains(&name), "{name} in {labels:?}");
    }
    let items = c.at(
        "textDocument/completion",
        uri,
        find(CLASSIFIER, "units = 10)", 0, 0),
    );
    let labels = labels_of(&items);
    assert!(
        labels.contains(&"units") && labels.contains(&"kernel_init"),
        "{labels:?}"
    );
    assert!(!labels.contains(&"conv2d"), "{labels:?}");

    // Definition: `net` in `train` goes to the model's name.
    let found = c.at(
        "textDocument/definition",
        uri,
        find(CLASSIFIER, "model = net", 0, 9),
    );
    assert_eq!(found["uri"], uri);
    assert_eq!(
        found["range"]["start"],
        json!({ "line": 6, "character": 6 })
    );

    // The outline.
    let symbols = c.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": uri } }),
    );
    let names: Vec<&str> = symbols
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "experiment t",
            "data train",
            "model net",
            "loss xent",
            "optimizer opt",
            "train",
            "metrics"
        ]
    );
    assert_eq!(symbols[6]["children"][0]["name"], "train_accuracy");

    // Formatting: the canonical text as one edit; none when it is canonical already.
    let format = |c: &mut Client| {
        c.request(
            "textDocument/formatting",
            json!({ "textDocument": { "uri": uri }, "options": { "tabSize": 2, "insertSpaces": true } }),
        )
    };
    assert_eq!(format(&mut c), json!([]));
    c.change(uri, 2, &CLASSIFIER.replace("  seed = 1", "seed=1"));
    let edits = format(&mut c);
    assert_eq!(edits[0]["newText"], CLASSIFIER, "{edits}");
    // Semantic tokens: `experiment` first, a keyword (type 0 of the legend); `t` a name.
    let tokens = c.request(
        "textDocument/semanticTokens/full",
        json!({ "textDocument": { "uri": uri } }),
    );
    let data = tokens["data"].as_array().unwrap();
    assert_eq!(
        data[..5],
        [json!(0), json!(0), json!(10), json!(0), json!(0)]
    );
    assert_eq!(
        data[5..10],
        [json!(0), json!(11), json!(1), json!(3), json!(0)]
    );
    // An unknown method is an error response, and the server goes on.
    let unknown = c.request_raw("textDocument/rename", json!({}));
    assert_eq!(unknown["error"]["code"], -32601, "{unknown}");
    c.stop();
}

/// Every fuzz-corpus file and every mutant the fuzz test runs (`tests/fuzz.rs`: the same
/// 3,000, deep nesting and 20,000-character lines among them), each sent as a change, with
/// a hover, a completion and a definition asked at three places of each, the outline,
/// the semantic tokens and formatting: every request is answered without an error, and the
/// server stays up to the end.
#[test]
fn the_server_answers_whatever_the_documents_hold() {
    use common::mutants::{mutants, seeds, CI_COUNT, CI_SEED};
    let mut c = Client::start();
    let uri = "file:///nowhere/fuzz.exp";
    c.open(uri, "");
    let texts = seeds().into_iter().chain(mutants(CI_SEED, CI_COUNT));
    for (version, text) in (2..).zip(texts) {
        c.change(uri, version, &text);
        let lines = u32::try_from(text.lines().count()).unwrap();
        for (line, character) in [(0, 0), (lines / 2, 3), (lines + 5, 99)] {
            for method in [
                "textDocument/hover",
                "textDocument/completion",
                "textDocument/definition",
            ] {
                let response = c.request_raw(
                    method,
                    json!({ "textDocument": { "uri": uri }, "position": { "line": line, "character": character } }),
                );
                assert!(
                    response.get("error").is_none(),
                    "{method} on {text:?}: {response}"
                );
            }
        }
        for method in [
            "textDocument/documentSymbol",
            "textDocument/semanticTokens/full",
        ] {
            c.request(method, json!({ "textDocument": { "uri": uri } }));
        }
        c.request(
            "textDocument/formatting",
            json!({ "textDocument": { "uri": uri }, "options": { "tabSize": 2, "insertSpaces": true } }),
        );
    }
    c.stop();
}

/// Neovim's built-in LSP client (headless) opens an experiment with an error through
/// `expr lsp`: it receives the diagnostic and a hover. Skips, saying so, without `nvim`
/// (`.ci/run` installs Debian's `neovim`).
#[test]
fn neovim_receives_diagnostics_and_a_hover() {
    if Command::new("nvim").arg("--version").output().is_err() {
        println!("SKIPPED: no `nvim` on PATH (Debian: apt-get install neovim)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.exp");
    let text = CLASSIFIER.replace("adam(lr", "adamm(lr");
    std::fs::write(&file, &text).unwrap();
    let out = dir.path().join("nvim.out");
    let (line, column) = find(&text, "dense(units = 10)", 0, 1);
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/editors/nvim_lsp.lua");
    let status = Command::new("nvim")
        .args(["--headless", "--clean", "-u", "NONE", "-c"])
        .arg(format!("luafile {}", script.display()))
        .env("EXPR_BIN", common::expr_bin())
        .env("EXPR_LSP_FILE", &file)
        .env("EXPR_LSP_OUT", &out)
        .env("EXPR_LSP_LINE", line.to_string())
        .env("EXPR_LSP_COLUMN", column.to_string())
        .env("XDG_STATE_HOME", dir.path())
        .env("XDG_DATA_HOME", dir.path())
        .stdin(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let got = std::fs::read_to_string(&out).unwrap();
    let (optimizer_line, _) = find(&text, "adamm", 0, 0);
    assert!(
        got.contains(&format!(
            "diagnostic expr::check::unknown_name line {optimizer_line}"
        )),
        "{got}"
    );
    // The file does not check, so the hover is the catalogue's (a layer's shape needs a plan).
    assert!(
        got.contains("hover ```exp dense(units, activation = linear"),
        "{got}"
    );
}
