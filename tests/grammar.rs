//! The grammar (`grammar/expr.pest`) on its own: the pairs pest gives for the main
//! rules, before `src/syntax/parser.rs` turns them into an AST.
//!
//! `parses_to!` pins whole trees with their spans. Spans of a non-atomic rule that ends
//! in a `?` or `*` include the whitespace after it (pest skips whitespace before trying
//! the repetition and keeps it when the repetition matches nothing): `expr(22, 24)` for
//! the `1 ` of `seed = 1 }`. The AST takes its spans from tokens, which never do.
//!
//! Longer inputs are compared as `tree` strings, where the one-child chain of the
//! expression rules (`expr → sum → product → power → unary → postfix`) collapses to the
//! pair that matters, so that what is left is the structure precedence gives.

use expr::syntax::parser::{ExprParser, Rule};
use pest::iterators::Pair;
use pest::{consumes_to, parses_to, Parser};

/// The pairs `rule` makes of `input`, as `rule(child child)` with leaves as
/// `rule"text"`; an expression rule or an `arg` with a single child shows as that child.
fn tree(rule: Rule, input: &str) -> String {
    let pairs = ExprParser::parse(rule, input).unwrap_or_else(|e| panic!("{input:?}:\n{e}"));
    pairs.map(|p| show(&p)).collect::<Vec<_>>().join(" ")
}

fn show(pair: &Pair<'_, Rule>) -> String {
    let rule = pair.as_rule();
    let children: Vec<Pair<'_, Rule>> = pair.clone().into_inner().collect();
    let chain = matches!(
        rule,
        Rule::expr
            | Rule::sum
            | Rule::product
            | Rule::power
            | Rule::unary
            | Rule::postfix
            | Rule::arg
            | Rule::graph_expr
            | Rule::graph_sum
            | Rule::graph_product
    );
    match children.len() {
        1 if chain => show(&children[0]),
        0 => format!("{rule:?}{:?}", pair.as_str()),
        _ => {
            let inner: Vec<String> = children.iter().map(show).collect();
            format!("{rule:?}({})", inner.join(" "))
        }
    }
}

fn fails(rule: Rule, input: &str) -> bool {
    ExprParser::parse(rule, input).is_err()
}

#[test]
fn a_file_is_its_declarations_then_the_end() {
    parses_to! {
        parser: ExprParser,
        input: "experiment t { seed = 1 }\n// done\n",
        rule: Rule::file,
        tokens: [
            file(0, 34, [
                experiment_decl(0, 25, [
                    kw_experiment(0, 10),
                    ident(11, 12),
                    settings(13, 25, [
                        setting(15, 24, [
                            ident(15, 19),
                            expr(22, 24, [sum(22, 24, [product(22, 24, [power(22, 24, [
                                unary(22, 24, [postfix(22, 24, [number(22, 23)])])
                            ])])])])
                        ])
                    ])
                ]),
                EOI(34, 34)
            ])
        ]
    };
}

#[test]
fn the_tutorial_file_has_one_pair_per_declaration() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/experiments/mnist.exp");
    let text = std::fs::read_to_string(path).expect("reads");
    let file = ExprParser::parse(Rule::file, &text)
        .expect("parses")
        .next()
        .expect("a file pair");
    let rules: Vec<Rule> = file.into_inner().map(|p| p.as_rule()).collect();
    assert_eq!(
        rules,
        [
            Rule::experiment_decl,
            Rule::data_decl,
            Rule::data_decl,
            Rule::model_decl,
            Rule::loss_decl,
            Rule::optimizer_decl,
            Rule::train_decl,
            Rule::metrics_decl,
            Rule::hook_decl,
            Rule::after_decl,
            Rule::EOI,
        ]
    );
}

#[test]
fn a_data_pipeline_is_a_source_then_transforms() {
    assert_eq!(
        tree(
            Rule::data_decl,
            "data train = mnist(split = \"train\") | batch(64)"
        ),
        "data_decl(kw_data\"data\" ident\"train\" pipeline(\
         call(ident\"mnist\" named_arg(ident\"split\" string(string_inner\"train\"))) \
         call(ident\"batch\" number\"64\")))"
    );
}

#[test]
fn a_model_is_its_layer_calls_in_order() {
    parses_to! {
        parser: ExprParser,
        input: "model net {\n  flatten()\n  dense(10)\n}",
        rule: Rule::model_decl,
        tokens: [
            model_decl(0, 37, [
                kw_model(0, 5),
                ident(6, 9),
                call(14, 23, [ident(14, 21)]),
                call(26, 35, [
                    ident(26, 31),
                    arg(32, 34, [expr(32, 34, [sum(32, 34, [product(32, 34, [power(32, 34, [
                        unary(32, 34, [postfix(32, 34, [number(32, 34)])])
                    ])])])])])
                ])
            ])
        ]
    };
}

#[test]
fn an_optimizer_names_the_models_it_trains() {
    assert_eq!(
        tree(
            Rule::optimizer_decl,
            "optimizer opt = adam(lr = 1e-3) for g, d"
        ),
        "optimizer_decl(kw_optimizer\"optimizer\" ident\"opt\" \
         call(ident\"adam\" named_arg(ident\"lr\" number\"1e-3\")) \
         kw_for\"for\" ident_list(ident\"g\" ident\"d\"))"
    );
}

#[test]
fn a_step_names_its_data_set_and_batch_and_updates_an_optimizer() {
    parses_to! {
        parser: ExprParser,
        input: "step on train (x, y) {\n  update opt minimizing loss\n}",
        rule: Rule::step_decl,
        tokens: [
            step_decl(0, 53, [
                kw_step(0, 4),
                kw_on(5, 7),
                ident(8, 13),
                ident(15, 16),
                ident(18, 19),
                block(21, 53, [
                    update_stmt(25, 52, [
                        kw_update(25, 31),
                        ident(32, 35),
                        kw_minimizing(36, 46),
                        expr(47, 52, [sum(47, 52, [product(47, 52, [power(47, 52, [
                            unary(47, 52, [postfix(47, 52, [ident(47, 51)])])
                        ])])])])
                    ])
                ])
            ])
        ]
    };
}

#[test]
fn statements_are_assignments_to_paths_logs_and_calls() {
    assert_eq!(
        tree(
            Rule::block,
            "{ logits = net(x, training = true)  opt.lr = 0.1  log \"hi\"  clip(norm = 1) }"
        ),
        "block(\
         assign_stmt(path(ident\"logits\") call(ident\"net\" ident\"x\" \
         named_arg(ident\"training\" boolean\"true\"))) \
         assign_stmt(path(ident\"opt\" ident\"lr\") number\"0.1\") \
         log_stmt(kw_log\"log\" string(string_inner\"hi\")) \
         call_stmt(call(ident\"clip\" named_arg(ident\"norm\" number\"1\"))))"
    );
    // A path is one token: no space around its dots.
    assert!(fails(Rule::block, "{ opt . lr = 0.1 }"));
}

#[test]
fn a_hook_logs_a_format_string_as_written() {
    parses_to! {
        parser: ExprParser,
        input: "on epoch_end { log \"loss {train_loss:.4f}\" }",
        rule: Rule::hook_decl,
        tokens: [
            hook_decl(0, 44, [
                kw_on(0, 2),
                event(3, 12, [ident(3, 12)]),
                block(13, 44, [
                    log_stmt(15, 42, [
                        kw_log(15, 18),
                        string(19, 42, [string_inner(20, 41)])
                    ])
                ])
            ])
        ]
    };
}

#[test]
fn a_hook_can_run_every_n_steps() {
    parses_to! {
        parser: ExprParser,
        input: "on every 10 steps { clip() }",
        rule: Rule::hook_decl,
        tokens: [
            hook_decl(0, 28, [
                kw_on(0, 2),
                event(3, 17, [
                    every_steps(3, 17, [kw_every(3, 8), number(9, 11), kw_steps(12, 17)])
                ]),
                block(18, 28, [call_stmt(20, 26, [call(20, 26, [ident(20, 24)])])])
            ])
        ]
    };
}

#[test]
fn an_every_block_in_a_step_reuses_every_steps_and_every_stays_a_name() {
    assert_eq!(
        tree(Rule::block, "{ every 5 steps { update g minimizing l } }"),
        "block(every_stmt(every_steps(kw_every\"every\" number\"5\" kw_steps\"steps\") \
         block(update_stmt(kw_update\"update\" ident\"g\" kw_minimizing\"minimizing\" \
         ident\"l\"))))"
    );
    assert_eq!(
        tree(Rule::block, "{ every = 5 }"),
        "block(assign_stmt(path(ident\"every\") number\"5\"))"
    );
}

#[test]
fn keywords_are_whole_words_and_otherwise_names() {
    assert_eq!(
        tree(Rule::hook_decl, "on everything {}"),
        "hook_decl(kw_on\"on\" event(ident\"everything\") block\"{}\")"
    );
    assert_eq!(
        tree(Rule::metric, "train = mean(loss) on train"),
        "metric(ident\"train\" call(ident\"mean\" ident\"loss\") kw_on\"on\" ident\"train\")"
    );
}

#[test]
fn scalar_expressions_follow_precedence() {
    assert_eq!(
        tree(Rule::expr, "1 + 2 * 3 ** -x"),
        "sum(number\"1\" add_op\"+\" product(number\"2\" mul_op\"*\" \
         power(number\"3\" pow_op\"**\" unary(neg_op\"-\" ident\"x\"))))"
    );
    // `+ -`, `* /` and `**` repeat flat: the parser folds the first two to the left and
    // `**` to the right, so that no chain makes pest recurse.
    assert_eq!(
        tree(Rule::expr, "a - b + c"),
        "sum(ident\"a\" add_op\"-\" ident\"b\" add_op\"+\" ident\"c\")"
    );
    assert_eq!(
        tree(Rule::expr, "2 ** 3 ** 2"),
        "power(number\"2\" pow_op\"**\" number\"3\" pow_op\"**\" number\"2\")"
    );
    // A minus binds tighter than `**`.
    assert_eq!(
        tree(Rule::expr, "-2 ** 2"),
        "power(unary(neg_op\"-\" number\"2\") pow_op\"**\" number\"2\")"
    );
    assert_eq!(
        tree(Rule::expr, "1e-3 * 0.95 ** epoch"),
        "product(number\"1e-3\" mul_op\"*\" power(number\"0.95\" pow_op\"**\" ident\"epoch\"))"
    );
    assert_eq!(
        tree(Rule::expr, "(a + b).lr / 2"),
        "product(postfix(tuple(sum(ident\"a\" add_op\"+\" ident\"b\")) ident\"lr\") \
         mul_op\"/\" number\"2\")"
    );
}

#[test]
fn parentheses_are_tuples_to_the_grammar() {
    // `(1 + 2)` is a `tuple` pair with one item and no comma: the parser makes it grouping.
    assert_eq!(tree(Rule::expr, "(3, 3)"), "tuple(number\"3\" number\"3\")");
    assert_eq!(tree(Rule::expr, "(3,)"), "tuple(number\"3\")");
    assert_eq!(
        tree(Rule::expr, "(1 + 2)"),
        "tuple(sum(number\"1\" add_op\"+\" number\"2\"))"
    );
}

#[test]
fn literals_end_at_a_word_boundary() {
    assert_eq!(tree(Rule::expr, "3."), "number\"3.\"");
    assert_eq!(tree(Rule::expr, "2.5E+4"), "number\"2.5E+4\"");
    assert_eq!(tree(Rule::expr, "true"), "boolean\"true\"");
    assert_eq!(tree(Rule::expr, "trueish"), "ident\"trueish\"");
    assert_eq!(
        tree(Rule::expr, r#""a \"b\"""#),
        r#"string(string_inner"a \\\"b\\\"")"#
    );
    assert!(fails(Rule::lone_expr, "3abc"));
    assert!(fails(Rule::lone_expr, ".5"));
    assert!(fails(Rule::lone_expr, "\"two\nlines\""));
}

#[test]
fn a_format_hole_is_one_expression_and_nothing_else() {
    assert_eq!(
        tree(Rule::lone_expr, "epoch + 1"),
        "lone_expr(sum(ident\"epoch\" add_op\"+\" number\"1\") EOI\"\")"
    );
    assert!(fails(Rule::lone_expr, "epoch 1"));
    assert!(fails(Rule::lone_expr, "1 +"));
}

#[test]
fn settings_and_arguments_are_separated_as_documented() {
    // Settings by whitespace only; arguments by commas, with an optional trailing one.
    assert!(fails(Rule::settings, "{ seed = 1, threads = 2 }"));
    assert_eq!(
        tree(Rule::settings, "{ seed = 1 threads = 2 }"),
        "settings(setting(ident\"seed\" number\"1\") setting(ident\"threads\" number\"2\"))"
    );
    assert_eq!(
        tree(Rule::call, "dense(10, activation = relu,)"),
        "call(ident\"dense\" number\"10\" named_arg(ident\"activation\" ident\"relu\"))"
    );
    assert!(fails(Rule::call, "f(a == b)"));
}

#[test]
fn a_graph_model_names_its_inputs_values_and_outputs() {
    assert_eq!(
        tree(
            Rule::graph_model_decl,
            "model critic (image, label) {\n  a = image | flatten() | dense(64)\n  h = (a + label) * a | relu()\n  return concat(a, h) | dense(1), a\n}"
        ),
        "graph_model_decl(kw_model\"model\" ident\"critic\" graph_inputs(ident\"image\" ident\"label\") \
         graph_body(graph_assign(ident\"a\" graph_expr(ident\"image\" call(ident\"flatten\") \
         call(ident\"dense\" number\"64\"))) graph_assign(ident\"h\" graph_expr(graph_product(\
         graph_sum(ident\"a\" ident\"label\") ident\"a\") call(ident\"relu\"))) \
         graph_return(kw_return\"return\" graph_expr(call(ident\"concat\" ident\"a\" ident\"h\") \
         call(ident\"dense\" number\"1\")) ident\"a\")))"
    );
}

#[test]
fn a_block_has_parameters_then_a_graph_or_layers() {
    assert_eq!(
        tree(
            Rule::block_decl,
            "block residual(filters, stride = 1) (x) { return x + x }"
        ),
        "block_decl(kw_block\"block\" ident\"residual\" block_params(block_param(ident\"filters\") \
         block_param(ident\"stride\" number\"1\")) graph_inputs(ident\"x\") \
         graph_body(graph_return(kw_return\"return\" graph_sum(ident\"x\" ident\"x\"))))"
    );
    assert_eq!(
        tree(Rule::block_decl, "block conv_relu(filters) { conv2d(filters) relu() }"),
        "block_decl(kw_block\"block\" ident\"conv_relu\" block_params(block_param(ident\"filters\")) \
         layer_body(call(ident\"conv2d\" ident\"filters\") call(ident\"relu\")))"
    );
}

#[test]
fn a_stack_repeats_calls_and_a_step_unpacks_outputs() {
    assert_eq!(
        tree(
            Rule::model_decl,
            "model m { repeat 2 { dense(8) } repeat(1) }"
        ),
        "model_decl(kw_model\"model\" ident\"m\" repeat_layers(kw_repeat\"repeat\" number\"2\" \
         call(ident\"dense\" number\"8\")) call(ident\"repeat\" number\"1\"))"
    );
    assert_eq!(
        tree(Rule::unpack_stmt, "a, b = encoder(x)"),
        "unpack_stmt(ident\"a\" ident\"b\" call(ident\"encoder\" ident\"x\"))"
    );
    // `return` and `repeat` are whole words: `returned` is a name.
    assert!(fails(Rule::graph_return, "returned x"));
    assert!(fails(Rule::repeat_layers, "repeat { dense(8) }"));
}
