//! Syntax: the pest grammar (grammar/expr.pest) and the AST it is turned into.

pub mod ast;
pub mod error;
pub mod limits;
pub mod parser;

pub use error::SyntaxError;
pub use parser::{parse_expr_at, parse_file};
