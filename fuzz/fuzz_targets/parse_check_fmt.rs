//! Any text: parsing, checking and formatting must not panic or overflow the
//! stack, and formatting must keep the meaning and be idempotent.
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run parse_check_fmt fuzz/corpus/parse_check_fmt`
//! (from the repository root; seeds are the case files).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(file) = expr::syntax::parse_file(text) else {
        return;
    };
    let _ = expr::check::check(&file);
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
