//! Deep expressions. Before issue 20, `expr check` accepted a learning rate of 20,000
//! `+ 0` terms or 100,000 minus signs, and `expr fmt`, `expr diff` and git's diff driver
//! then overflowed the stack (abort, exit 134). Now the parser refuses any expression
//! nested past `MAX_EXPR_DEPTH` with a diagnostic, and everything up to the limit goes
//! through every stage on a 2 MiB stack.

use expr::syntax::limits::MAX_EXPR_DEPTH;

use super::{code, expr, on_small_stack, stderr, with_lr, write, BASE};

/// Files past the limit, each a different way to nest.
fn too_deep() -> Vec<(&'static str, String)> {
    let hook = |value: String| format!("{BASE}\non epoch_start {{\n  opt.lr = {value}\n}}\n");
    vec![
        ("sum", with_lr(&format!("1e-3{}", " + 0".repeat(20_000)))),
        ("minus", with_lr(&format!("{}1e-3", "-".repeat(100_000)))),
        (
            "spaced_minus",
            with_lr(&format!("{}1e-3", "- ".repeat(50_000))),
        ),
        ("product", hook(format!("1e-3{}", " * 1".repeat(20_000)))),
        ("power", with_lr(&format!("1{}", " ** 1".repeat(100_000)))),
        ("fields", hook(format!("opt{}", ".lr".repeat(100_000)))),
        (
            "parens",
            with_lr(&format!("{}1e-3{}", "(".repeat(10_000), ")".repeat(10_000))),
        ),
        (
            "calls",
            hook(format!("{}0{}", "exp(".repeat(10_000), ")".repeat(10_000))),
        ),
        (
            // 60 brackets (under their own limit of 64), each with 10 signs: 660 levels.
            "brackets_and_signs",
            with_lr(&format!("{}1{}", "(----------".repeat(60), ")".repeat(60))),
        ),
        (
            // Log holes are parsed by `check`; to fmt and diff they are text.
            "log_hole",
            format!(
                "{BASE}\non epoch_end {{\n  log \"{{1{}}}\"\n}}\n",
                " + 1".repeat(20_000)
            ),
        ),
    ]
}

#[test]
fn every_command_reports_a_too_deep_expression_and_none_crashes() {
    let dir = tempfile::tempdir().unwrap();
    let base = write(dir.path(), "base.exp", BASE);
    let base = base.to_str().unwrap();
    for (name, text) in too_deep() {
        let file = format!("{name}.exp");
        write(dir.path(), &file, &text);
        let runs: Vec<(&str, Vec<&str>, i32)> = if name == "log_hole" {
            vec![("check", vec!["check", &file], 2)]
        } else {
            vec![
                ("check", vec!["check", &file], 2),
                ("fmt", vec!["fmt", "--check", &file], 2),
                ("fmt (rewrite)", vec!["fmt", &file], 2),
                ("diff", vec!["diff", base, &file], 2),
                ("diff of two", vec!["diff", &file, &file], 2),
                // git's external diff driver: path old-file hex mode new-file hex mode.
                (
                    "git driver",
                    vec!["diff", "x.exp", base, "0", "100644", &file, "0", "100644"],
                    2,
                ),
                // git's textconv shows a file that does not parse as it is.
                ("textconv", vec!["diff", "--textconv", &file], 0),
            ]
        };
        for (what, args, expected) in runs {
            let out = expr(dir.path(), &args);
            assert_eq!(
                code(&out),
                expected,
                "{name}: {what}: {}",
                &stderr(&out)[..stderr(&out).len().min(2000)]
            );
            if expected == 2 {
                let err = stderr(&out);
                assert!(err.contains("nested"), "{name}: {what}: {err}");
                assert!(err.len() < 5_000, "{name}: {what}: a short report");
            }
        }
        // The file is left as it was.
        assert_eq!(
            std::fs::read_to_string(dir.path().join(&file)).unwrap(),
            text
        );
    }
}

#[test]
fn the_diagnostic_points_at_the_operator_that_crosses_the_limit() {
    let text = with_lr(&format!("1e-3{}", " + 0".repeat(20_000)));
    let err = expr::syntax::parse_file(&text).unwrap_err();
    // `adam(lr = ` puts the chain one level down: operator number LIMIT is one too many.
    let chain = text.find("1e-3 + 0").unwrap();
    let at = chain + "1e-3".len() + (MAX_EXPR_DEPTH - 1) * " + 0".len() + 1;
    assert_eq!((err.span.start, err.span.end), (at, at + 1));
    assert!(err.expected.contains(&MAX_EXPR_DEPTH.to_string()));
}

/// Expressions exactly at the limit, one per way to nest.
fn at_the_limit() -> Vec<(&'static str, String)> {
    // An argument of a top-level call is one level down; a chain of n adds n.
    let n = MAX_EXPR_DEPTH - 1;
    vec![
        ("sum", with_lr(&format!("1e-3{}", " + 0".repeat(n)))),
        // An even number of signs keeps the rate positive.
        ("minus", with_lr(&format!("{}1e-3", "-".repeat(n - 1)))),
        ("power", with_lr(&format!("1{}", " ** 1".repeat(n)))),
        ("product", with_lr(&format!("1e-3{}", " / 1".repeat(n)))),
        (
            "hook",
            format!(
                "{BASE}\non epoch_start {{\n  opt.lr = 1e-3{}\n}}\n",
                " * 1".repeat(n)
            ),
        ),
    ]
}

#[test]
fn expressions_at_the_limit_go_through_every_stage_on_a_small_stack() {
    for (name, text) in at_the_limit() {
        on_small_stack(move || {
            let file = expr::syntax::parse_file(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            let exp = expr::check::check(&file).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            // The evaluator: a hook's learning rate.
            for action in &exp.hooks.epoch_start {
                if let expr::check::plan::Action::SetLr { value, .. } = action {
                    let state = expr::run::scalar::LoopState {
                        epoch: 0,
                        epochs: 1,
                        global_step: 0,
                        steps_per_epoch: 1,
                        lrs: &[1e-3],
                        metrics: &|_| 0.0,
                        plateaus: &[],
                    };
                    let lr = expr::run::scalar::eval(value, &state);
                    assert!((lr - 1e-3).abs() < 1e-12, "{name}: {lr}");
                }
            }
            let formatted = expr::fmt::format_source(&text).unwrap();
            let again = expr::syntax::parse_file(&formatted).unwrap();
            assert_eq!(
                expr::fmt::tree_shape(&again),
                expr::fmt::tree_shape(&file),
                "{name}"
            );
            let diff = expr::diff::diff_texts(("a", BASE), ("b", &text), expr::diff::Format::Text);
            assert!(diff.is_ok(), "{name}");
            let _ = expr::diff::textconv("b", &text);
        });
    }
}

#[test]
fn one_level_past_the_limit_is_refused_for_each_way_to_nest() {
    let n = MAX_EXPR_DEPTH;
    for text in [
        with_lr(&format!("1e-3{}", " + 0".repeat(n))),
        with_lr(&format!("{}1e-3", "-".repeat(n))),
        with_lr(&format!("1{}", " ** 1".repeat(n))),
        with_lr(&format!("opt{}", ".lr".repeat(n))),
    ] {
        let err = expr::syntax::parse_file(&text).unwrap_err();
        assert!(err.expected.contains("nested at most"), "{err:?}");
    }
}
