//! Any text: parsing, checking, formatting and `expr diff` (both sides, and git's textconv)
//! must not panic or overflow the stack, and formatting must keep the meaning and be
//! idempotent. Diagnostics are rendered too, as `expr check` would print them.
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run parse_check_fmt fuzz/corpus/parse_check_fmt`
//! (from the repository root; seeds are the case files).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // `expr diff` and the textconv driver take any text, parsed or not.
    let _ = expr::diff::textconv("a.exp", text);
    let _ = expr::diff::diff_texts(("a", text), ("b", text), expr::diff::Format::Text);
    let source = expr::source::Source::new("a.exp", text);
    let file = match expr::syntax::parse_file(&source.text) {
        Ok(file) => file,
        Err(e) => {
            let _ = expr::report::render(&e, Some(&source), false);
            return;
        }
    };
    if let Err(errors) = expr::check::check(&file) {
        for e in &errors {
            let _ = expr::report::render(e, Some(&source), false);
        }
    }
    let once = expr::fmt::format_source(text).expect("formatting a parsed file");
    let reparsed = expr::syntax::parse_file(&once).expect("the formatted file parses");
    assert_eq!(
        expr::fmt::tree_shape(&reparsed),
        expr::fmt::tree_shape(&file),
        "fmt keeps the meaning"
    );
    let twice = expr::fmt::format_source(&once).expect("the formatted file parses");
    assert_eq!(once, twice, "fmt is idempotent");
});
