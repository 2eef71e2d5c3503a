//! The text of a file as diagnostics show it. Before issue 20: a diagnostic past column
//! 65,535 panicked inside miette (exit 101); escape sequences from the file reached the
//! terminal; a UTF-8 byte order mark was a syntax error; invalid UTF-8 was reported with
//! no line or column.

use super::{code, expr, stderr, write, BASE};

/// `BASE` with `seed = 42` followed on its line by `tail`.
fn after_seed(tail: &str) -> String {
    BASE.replacen("seed = 42", &format!("seed = 42{tail}"), 1)
}

/// Asserts a short report with no line longer than a terminal's few hundred columns.
fn assert_clipped(err: &str) {
    assert!(err.len() < 5_000, "{err}");
    let widest = err.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    assert!(widest < 400, "a line of {widest} characters");
}

#[test]
fn errors_at_the_end_of_a_100k_line_are_reported_with_their_column() {
    let dir = tempfile::tempdir().unwrap();
    let pad = " ".repeat(100_000);
    // The column is the file's: `  seed = 42` is 11 characters, then the padding.
    let col = 11 + 100_000 + 1;
    let cases = [
        ("check.exp", after_seed(&format!("{pad}bogus = 1")), "check"),
        ("syntax.exp", after_seed(&format!("{pad}@")), "check"),
        ("fmt.exp", after_seed(&format!("{pad}@")), "fmt"),
        ("diff.exp", after_seed(&format!("{pad}@")), "diff"),
        // Multi-byte characters before the error: the window cuts on a character boundary.
        (
            "wide.exp",
            after_seed(&format!(" // {}\n  @", "é".repeat(70_000))),
            "check",
        ),
    ];
    for (name, text, command) in cases {
        let path = write(dir.path(), name, &text);
        let path = path.to_str().unwrap();
        let out = match command {
            "diff" => expr(dir.path(), &["diff", path, path]),
            other => expr(dir.path(), &[other, path]),
        };
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{name}: {err}");
        assert_clipped(&err);
        if name != "wide.exp" {
            assert!(err.contains(&format!("{name}:6:{col}]")), "{name}: {err}");
        }
    }
}

#[test]
fn a_long_line_around_the_error_line_is_clipped_too() {
    let dir = tempfile::tempdir().unwrap();
    // The error is on a short line; the lines shown around it are 100k characters.
    let long = format!("// {}", "x".repeat(100_000));
    let text = after_seed(&format!("\n{long}\n  bogus = 1\n{long}"));
    let path = write(dir.path(), "around.exp", text);
    let out = expr(dir.path(), &["check", path.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{err}");
    assert_clipped(&err);
    assert!(err.contains("around.exp:8:3]"), "{err}");
    assert!(err.contains("bogus"), "{err}");
}

#[test]
fn escape_sequences_from_the_file_never_reach_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let set_title = "\u{1b}]0;pwned\u{7}";
    let cases = [
        // In the snippet and in the label quoting the bad token.
        ("token.exp", after_seed(&format!(" {set_title} x"))),
        // In a string the error message quotes (`unknown split`).
        (
            "string.exp",
            BASE.replacen("split = \"train\"", &format!("split = \"{set_title}\""), 1),
        ),
        // In a comment on the line of an error.
        (
            "comment.exp",
            after_seed(&format!(" bogus = 1 // {set_title}\u{1b}[2J")),
        ),
        // Bidirectional overrides, which reorder what the terminal shows.
        ("bidi.exp", after_seed(" \u{202e}bogus\u{2066} = 1")),
        // C1 control characters (CSI as one character).
        ("c1.exp", after_seed(" \u{9b}31m = 1")),
    ];
    for (name, text) in cases {
        let path = write(dir.path(), name, &text);
        let out = expr(dir.path(), &["check", path.to_str().unwrap()]);
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{name}: {err}");
        for c in ['\u{1b}', '\u{7}', '\u{9b}', '\u{202e}', '\u{2066}'] {
            assert!(!err.contains(c), "{name}: raw {c:?} in:\n{err}");
        }
        assert!(err.contains("\\u{"), "{name}: the escapes are shown: {err}");
    }
}

#[test]
fn a_byte_order_mark_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let bom = |text: &str| [b"\xef\xbb\xbf".as_slice(), text.as_bytes()].concat();
    let clean = write(dir.path(), "clean.exp", bom(BASE));
    let out = expr(dir.path(), &["check", "-q", clean.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // Positions after it are the same as without it.
    let bad = write(dir.path(), "bad.exp", bom(&after_seed(" bogus = 1")));
    let out = expr(dir.path(), &["check", bad.to_str().unwrap()]);
    assert!(stderr(&out).contains("bad.exp:6:13]"), "{}", stderr(&out));
    // `expr diff` reads it as the same experiment; `expr fmt` drops the mark.
    let plain = write(dir.path(), "plain.exp", BASE);
    let out = expr(
        dir.path(),
        &["diff", plain.to_str().unwrap(), clean.to_str().unwrap()],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = expr(dir.path(), &["fmt", clean.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let formatted = std::fs::read(&clean).unwrap();
    assert!(!formatted.starts_with(b"\xef\xbb\xbf"));
    assert!(expr::syntax::parse_file(std::str::from_utf8(&formatted).unwrap()).is_ok());
}

#[test]
fn invalid_utf8_is_reported_at_its_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, Vec<u8>, &str); 3] = [
        // Latin-1 `é` in a comment: line 6, after `  seed = 42 // caf`.
        (
            "latin1.exp",
            after_seed(" // caf\u{0}")
                .replace('\u{0}', "\u{fffd}")
                .into_bytes(),
            "latin1.exp:6:19]",
        ),
        // A lone continuation byte on the first line.
        (
            "first.exp",
            b"\x80experiment x {}\n".to_vec(),
            "first.exp:1:1]",
        ),
        // A truncated sequence at the very end.
        ("end.exp", [BASE.as_bytes(), b"\xe2\x82"].concat(), ":1]"),
    ];
    for (name, mut bytes, place) in cases {
        if name == "latin1.exp" {
            // Make the U+FFFD placeholder one invalid byte, 0xE9.
            let at = bytes
                .windows(3)
                .position(|w| w == "\u{fffd}".as_bytes())
                .unwrap();
            bytes.splice(at..at + 3, [0xe9]);
        }
        let path = write(dir.path(), name, &bytes);
        let out = expr(dir.path(), &["check", path.to_str().unwrap()]);
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{name}: {err}");
        assert!(err.contains("UTF-8"), "{name}: {err}");
        assert!(err.contains(place), "{name}: {err}");
    }
}
