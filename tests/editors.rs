//! The editor files in `editors/`: VS Code's manifest contributes `.exp` files and starts
//! `expr lsp`, and its TextMate grammar is valid JSON that names every keyword the language
//! server knows (so the two colour the same words as keywords).
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

use std::path::Path;

use serde_json::Value;

fn json(path: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_textmate_grammar_names_every_keyword() {
    let grammar = json("editors/vscode/syntaxes/exp.tmLanguage.json");
    assert_eq!(grammar["scopeName"], "source.exp");
    let pattern = grammar["repository"]["keyword"]["match"].as_str().unwrap();
    let listed: Vec<&str> = pattern
        .trim_start_matches("\\b(")
        .trim_end_matches(")\\b")
        .split('|')
        .collect();
    assert_eq!(listed, expr::lsp::keywords());
    for include in grammar["patterns"].as_array().unwrap() {
        let name = include["include"].as_str().unwrap().trim_start_matches('#');
        assert!(
            grammar["repository"][name].is_object(),
            "#{name} is defined"
        );
    }
}

#[test]
fn the_vscode_manifest_contributes_exp_files_and_starts_expr_lsp() {
    let manifest = json("editors/vscode/package.json");
    let language = &manifest["contributes"]["languages"][0];
    assert_eq!(language["id"], "exp");
    assert_eq!(language["extensions"][0], ".exp");
    let grammar = &manifest["contributes"]["grammars"][0];
    assert_eq!(grammar["scopeName"], "source.exp");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("editors/vscode");
    for file in [
        grammar["path"].as_str().unwrap(),
        language["configuration"].as_str().unwrap(),
        manifest["main"].as_str().unwrap(),
    ] {
        assert!(root.join(file).is_file(), "{file}");
    }
    json("editors/vscode/language-configuration.json");
    let extension = std::fs::read_to_string(root.join("extension.js")).unwrap();
    assert!(extension.contains("args: [\"lsp\"]"), "{extension}");
}

/// The keywords the server and the editors colour are the grammar's: its `kw_*` rules, and
/// the literals `true` and `false`.
#[test]
fn the_keywords_are_the_grammars() {
    let pest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("grammar/expr.pest"))
            .unwrap();
    let mut from_grammar: Vec<&str> = pest
        .lines()
        .filter_map(|l| l.strip_prefix("kw_"))
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    from_grammar.extend(["true", "false"]);
    from_grammar.sort_unstable();
    let mut ours = expr::lsp::keywords();
    ours.sort_unstable();
    assert_eq!(ours, from_grammar);
}
