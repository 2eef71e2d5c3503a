//! Every ```exp block in docs/language.md checks clean; every ```exp fragment
//! block parses; both are in `expr fmt`'s canonical form.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

use std::path::Path;

/// `(info string, code)` of each fenced block whose info starts with `exp`.
fn exp_blocks(markdown: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in markdown.lines() {
        match (&mut current, line.strip_prefix("```")) {
            (None, Some(info)) if info.trim().starts_with("exp") => {
                current = Some((info.trim().to_string(), String::new()));
            }
            (Some(_), Some("")) => blocks.extend(current.take()),
            (Some((_, code)), _) => {
                code.push_str(line);
                code.push('\n');
            }
            _ => {}
        }
    }
    blocks
}

#[test]
fn every_example_in_the_language_guide_parses_and_checks() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/language.md");
    let markdown = std::fs::read_to_string(path).unwrap();
    let blocks = exp_blocks(&markdown);
    assert!(blocks.len() >= 9, "only {} blocks", blocks.len());
    for (i, (info, code)) in blocks.iter().enumerate() {
        let file = expr::syntax::parse_file(code)
            .unwrap_or_else(|e| panic!("block {i} does not parse: {e}\n{code}"));
        match info.as_str() {
            "exp" => {
                if let Err(errors) = expr::check::check(&file) {
                    panic!("block {i} does not check: {errors:#?}\n{code}");
                }
            }
            "exp fragment" => {}
            other => panic!("block {i}: unknown info string `{other}`"),
        }
        let formatted = expr::fmt::format_source(code).unwrap();
        assert_eq!(&formatted, code, "block {i} is not in canonical form");
    }
}

/// The README's tour: every block parses and is in canonical form, and the
/// blocks quoted from `experiments/mnist.exp` still match it.
#[test]
fn the_readme_tour_parses_and_quotes_mnist_exp_faithfully() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let markdown = std::fs::read_to_string(root.join("README.md")).unwrap();
    let mnist = std::fs::read_to_string(root.join("experiments/mnist.exp")).unwrap();
    let blocks = exp_blocks(&markdown);
    assert!(blocks.len() >= 6, "only {} blocks", blocks.len());
    let mut quoted = 0;
    for (i, (_, code)) in blocks.iter().enumerate() {
        expr::syntax::parse_file(code)
            .unwrap_or_else(|e| panic!("README block {i} does not parse: {e}\n{code}"));
        let formatted = expr::fmt::format_source(code).unwrap();
        assert_eq!(
            &formatted, code,
            "README block {i} is not in canonical form"
        );
        // A block that starts like a declaration of mnist.exp must quote it whole.
        let first = code.lines().next().unwrap_or_default();
        if mnist.lines().any(|l| l == first) {
            assert!(
                mnist.contains(code.as_str()),
                "README block {i} differs from mnist.exp:\n{code}"
            );
            quoted += 1;
        }
    }
    assert!(quoted >= 4, "only {quoted} blocks quote mnist.exp");
}

/// The guide's tables of layers, activations, losses, optimizers, functions, sources and
/// transforms are the catalogue's, rendered. `EXPR_UPDATE_DOCS=1` rewrites them.
#[test]
fn the_language_guides_tables_are_the_catalogues() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/language.md");
    let markdown = std::fs::read_to_string(&path).unwrap();
    for name in expr::catalog::docs::TABLES {
        let marker = format!("<!-- catalog: {name} -->");
        assert_eq!(
            markdown.matches(&marker).count(),
            1,
            "docs/language.md needs `{marker}` once"
        );
    }
    let fresh = expr::catalog::docs::splice(&markdown).unwrap();
    if std::env::var_os("EXPR_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &fresh).unwrap();
    } else {
        assert!(
            fresh == markdown,
            "docs/language.md's tables differ from the catalogue: run \
             `EXPR_UPDATE_DOCS=1 cargo test --test docs` and review the diff"
        );
    }
}

/// The `.rs` files under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The test names a fault table cites: backticked `snake_case` words of four or more parts
/// (`a_flipped_byte_in_tensor_data_fails_the_digest_and_resume_falls_back`), the last part
/// of a `module::path`; names abbreviated with `…` and error codes are left out.
fn cited_tests(markdown: &str) -> Vec<String> {
    let mut names = Vec::new();
    for (i, quoted) in markdown.split('`').enumerate() {
        // Error codes (`expr::output::not_a_regular_file`) are not tests.
        if i % 2 == 0 || quoted.contains('…') || quoted.starts_with("expr::") {
            continue;
        }
        let name = quoted.rsplit("::").next().unwrap_or(quoted);
        let is_name = name.split('_').count() >= 4
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && name.starts_with(|c: char| c.is_ascii_lowercase());
        if is_name && !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
    names
}

#[test]
fn every_test_the_fault_tables_cite_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    rust_files(&root.join("tests"), &mut files);
    let code: String = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    for doc in ["docs/security.md", "docs/reliability.md"] {
        let markdown = std::fs::read_to_string(root.join(doc)).unwrap();
        let cited = cited_tests(&markdown);
        assert!(cited.len() >= 20, "{doc}: only {} names found", cited.len());
        let missing: Vec<&String> = cited
            .iter()
            .filter(|name| !code.contains(&format!("fn {name}(")))
            .collect();
        assert!(
            missing.is_empty(),
            "{doc} cites tests that do not exist: {missing:?}"
        );
    }
}
