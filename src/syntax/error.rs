//! Syntax errors: pest's error turned into a diagnostic that names what was
//! expected in words a user knows, with a label on the offending place.

use miette::Diagnostic;
use pest::error::{ErrorVariant, InputLocation};
use thiserror::Error;

use super::parser::Rule;
use crate::source::Span;

#[derive(Debug, Error, Diagnostic, Clone, PartialEq)]
#[error("syntax error: expected {expected}")]
#[diagnostic(code(expr::syntax::unexpected))]
pub struct SyntaxError {
    pub expected: String,
    #[label("{found}")]
    pub span: Span,
    pub found: String,
    #[help]
    pub help: Option<String>,
}

impl SyntaxError {
    pub(crate) fn from_pest(err: &pest::error::Error<Rule>) -> Self {
        let start = match err.location {
            InputLocation::Pos(p) => p,
            InputLocation::Span((s, _)) => s,
        };
        let tokens: Vec<String> = err
            .parse_attempts()
            .map(|a| {
                a.expected_tokens()
                    .into_iter()
                    // Display gives the literal for string tokens.
                    .map(|t| t.to_string())
                    // Brackets and separators; operators are summed up as "an operator".
                    .filter(|t| matches!(t.as_str(), "(" | ")" | "{" | "}" | "," | "=" | "|"))
                    .map(|t| format!("`{t}`"))
                    .collect()
            })
            .unwrap_or_default();
        let expected = match &err.variant {
            ErrorVariant::ParsingError { positives, .. } => describe(positives, &tokens),
            ErrorVariant::CustomError { message } => message.clone(),
        };
        let line = err.line();
        let rest = line
            .get(err.line_col_of_start().saturating_sub(1)..)
            .unwrap_or("");
        let token: String = rest
            .chars()
            .take_while(|c| !c.is_whitespace())
            .take(20)
            .collect();
        let (found, len) = if token.is_empty() {
            ("unexpected end of line".to_string(), 0)
        } else {
            (format!("unexpected `{token}`"), token.len())
        };
        let help = help_for(&expected, &token);
        SyntaxError {
            expected,
            span: Span::new(start, start + len),
            found,
            help,
        }
    }

    pub(crate) fn shift(&mut self, offset: usize) {
        self.span.start += offset;
        self.span.end += offset;
    }
}

trait LineColStart {
    fn line_col_of_start(&self) -> usize;
}

impl LineColStart for pest::error::Error<Rule> {
    fn line_col_of_start(&self) -> usize {
        match self.line_col {
            pest::error::LineColLocation::Pos((_, c))
            | pest::error::LineColLocation::Span((_, c), _) => c,
        }
    }
}

fn describe(rules: &[Rule], tokens: &[String]) -> String {
    let mut names: Vec<&str> = rules.iter().map(|r| rule_name(*r)).collect();
    // Punctuation the grammar expected here, e.g. `,` or `)`.
    names.extend(
        tokens
            .iter()
            .map(String::as_str)
            .filter(|t| !t.trim_matches('`').chars().all(char::is_alphabetic)),
    );
    if names.iter().any(|n| n.starts_with("a declaration")) {
        names.retain(|n| n.starts_with("a declaration"));
    }
    names.sort_unstable();
    names.dedup();
    match names.as_slice() {
        [] => "something else".to_string(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn rule_name(rule: Rule) -> &'static str {
    match rule {
        Rule::EOI => "end of file",
        Rule::experiment_decl
        | Rule::data_decl
        | Rule::model_decl
        | Rule::loss_decl
        | Rule::optimizer_decl
        | Rule::metrics_decl
        | Rule::train_decl
        | Rule::step_decl
        | Rule::hook_decl
        | Rule::before_decl
        | Rule::after_decl
        | Rule::sweep_decl
        | Rule::kw_sweep
        | Rule::kw_experiment
        | Rule::kw_data
        | Rule::kw_model
        | Rule::kw_loss
        | Rule::kw_optimizer
        | Rule::kw_metrics
        | Rule::kw_train
        | Rule::kw_step
        | Rule::kw_before
        | Rule::kw_after
        | Rule::graph_model_decl
        | Rule::block_decl
        | Rule::kw_block => "a declaration (`experiment`, `data`, `model`, `loss`, `optimizer`, `metrics`, `train`, `step`, `on`, `before`, `after`)",
        Rule::kw_on => "`on`",
        Rule::kw_for => "`for`",
        Rule::kw_every => "`every`",
        Rule::kw_steps => "`steps`",
        Rule::kw_minimizing => "`minimizing`",
        Rule::ident | Rule::path => "a name",
        // A repeat is a group of calls: where one fits, so does a call.
        Rule::call | Rule::repeat_layers | Rule::kw_repeat => "a call like `dense(64)`",
        Rule::graph_assign | Rule::graph_return | Rule::kw_return => "`name = value` or `return`",
        Rule::graph_expr | Rule::graph_sum | Rule::graph_product => "a value",
        Rule::graph_inputs => "the inputs, like `(x)`",
        Rule::graph_body | Rule::layer_body => "`{`",
        Rule::block_params | Rule::block_param => "the block's parameters",
        Rule::number => "a number",
        Rule::string | Rule::string_inner => "a string",
        Rule::expr | Rule::sum | Rule::product | Rule::power | Rule::unary | Rule::postfix => {
            "an expression"
        }
        Rule::tuple => "a tuple",
        Rule::arg | Rule::named_arg => "an argument",
        // `t[...]` follows a value as an operator does.
        Rule::add_op | Rule::mul_op | Rule::pow_op | Rule::index => "an operator",
        Rule::setting => "a setting `name = value`",
        Rule::sweep_grid | Rule::sweep_uniform | Rule::kw_grid | Rule::kw_uniform => {
            "`grid PATH = (V1, V2)`, `uniform PATH = LOW : HIGH` or a setting"
        }
        Rule::sweep_range | Rule::sweep_int | Rule::sweep_values => {
            "the values, like `(1e-3, 3e-4)` or `1..5`"
        }
        Rule::sweep_scale => "`log` or `int`",
        Rule::metric => "a metric `name = expression on data`",
        Rule::update_stmt | Rule::assign_stmt | Rule::unpack_stmt | Rule::log_stmt | Rule::call_stmt | Rule::kw_update | Rule::kw_log => {
            "a statement"
        }
        Rule::event | Rule::every_steps => "an event (`step`, `epoch_start`, `epoch_end`, `every N steps`)",
        _ => "something else",
    }
}

/// The keywords that start a declaration (`block` aside: it is named in its own messages).
pub(crate) const DECLS: &[&str] = &[
    "experiment",
    "data",
    "model",
    "loss",
    "optimizer",
    "metrics",
    "train",
    "step",
    "on",
    "before",
    "after",
    "sweep",
];

fn help_for(expected: &str, token: &str) -> Option<String> {
    if token.starts_with('#') {
        return Some("comments start with `//`".to_string());
    }
    if token.starts_with('\'') {
        return Some("strings use double quotes: \"...\"".to_string());
    }
    let word: String = token
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    if expected.contains("declaration") {
        if let Some(best) = crate::suggest::did_you_mean(&word, DECLS) {
            return Some(format!("did you mean `{best}`?"));
        }
        return Some(
            "each top-level item starts with a keyword, e.g. `model name { ... }`".to_string(),
        );
    }
    None
}
