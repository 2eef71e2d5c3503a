/**
 * A tree-sitter grammar for expr's `.exp` experiments, for editors' highlighting and
 * structure without the language server (Neovim, Helix, Zed). It follows
 * `grammar/expr.pest` rule by rule and keeps its names; the pest grammar stays the one
 * the interpreter parses with. `tests/tree_sitter.rs` parses every experiment and every
 * valid test case with it and requires a tree without errors.
 *
 * Keywords are contextual, as in pest: `word` makes each keyword a word that is a keyword
 * only where the grammar expects one, so a data set may be called `train`.
 */

const commaSep1 = (rule) => seq(rule, repeat(seq(',', rule)));

module.exports = grammar({
  name: 'exp',

  word: ($) => $.ident,

  extras: ($) => [/\s/, $.comment],

  rules: {
    file: ($) => repeat($._decl),

    _decl: ($) =>
      choice(
        $.experiment_decl,
        $.data_decl,
        $.graph_model_decl,
        $.model_decl,
        $.block_decl,
        $.loss_decl,
        $.optimizer_decl,
        $.metrics_decl,
        $.train_decl,
        $.step_decl,
        $.hook_decl,
        $.before_decl,
        $.after_decl,
        $.sweep_decl,
      ),

    experiment_decl: ($) => seq('experiment', field('name', $.ident), $.settings),

    data_decl: ($) => seq('data', field('name', $.ident), '=', $.pipeline),
    pipeline: ($) => seq($.call, repeat(seq('|', $.call))),

    model_decl: ($) => seq('model', field('name', $.ident), '{', repeat($._layer_item), '}'),
    _layer_item: ($) => choice($.repeat_layers, $.call),
    repeat_layers: ($) => seq('repeat', $.number, '{', repeat($._layer_item), '}'),

    graph_model_decl: ($) =>
      seq('model', field('name', $.ident), $.graph_inputs, $.graph_body),
    graph_inputs: ($) => seq('(', commaSep1($.ident), optional(','), ')'),
    graph_body: ($) => seq('{', repeat($._graph_stmt), '}'),
    _graph_stmt: ($) => choice($.graph_return, $.graph_assign),
    graph_assign: ($) => seq(commaSep1(field('name', $.ident)), '=', $._graph_value),
    graph_return: ($) => prec.right(seq('return', commaSep1($._graph_value))),
    _graph_value: ($) =>
      choice($.graph_pipe, $.graph_add, $.graph_mul, $.call, $.ident, $.graph_paren),
    graph_pipe: ($) => prec.left(1, seq($._graph_value, '|', $.call)),
    graph_add: ($) => prec.left(2, seq($._graph_value, '+', $._graph_value)),
    graph_mul: ($) => prec.left(3, seq($._graph_value, '*', $._graph_value)),
    graph_paren: ($) => seq('(', $._graph_value, ')'),

    block_decl: ($) =>
      seq(
        'block',
        field('name', $.ident),
        $.block_params,
        choice(seq($.graph_inputs, $.graph_body), $.layer_body),
      ),
    block_params: ($) => seq('(', optional(seq(commaSep1($.block_param), optional(','))), ')'),
    block_param: ($) => seq($.ident, optional(seq('=', $._expr))),
    layer_body: ($) => seq('{', repeat($._layer_item), '}'),

    loss_decl: ($) => seq('loss', field('name', $.ident), '=', $.call),

    optimizer_decl: ($) =>
      seq('optimizer', field('name', $.ident), '=', $.call, optional(seq('for', $.ident_list))),
    ident_list: ($) => commaSep1($.ident),

    metrics_decl: ($) => seq('metrics', '{', repeat($.metric), '}'),
    metric: ($) => seq(field('name', $.ident), '=', $._expr, 'on', $.ident),

    train_decl: ($) => seq('train', $.settings),

    step_decl: ($) =>
      seq('step', 'on', $.ident, '(', $.ident, ',', $.ident, ')', $.block),
    block: ($) => seq('{', repeat($._stmt), '}'),

    hook_decl: ($) => seq('on', $.event, $.block),
    event: ($) => choice($.every_steps, $.call, $.ident),
    every_steps: ($) => seq('every', $.number, 'steps'),

    before_decl: ($) => seq('before', $.block),
    after_decl: ($) => seq('after', $.block),

    sweep_decl: ($) => seq('sweep', '{', repeat($._sweep_item), '}'),
    _sweep_item: ($) => choice($.sweep_grid, $.sweep_uniform, $.setting),
    sweep_grid: ($) => seq('grid', $.path, '=', choice($.sweep_range, $.sweep_values)),
    sweep_range: ($) => token(seq(/-?[0-9]+/, '..', /-?[0-9]+/)),
    sweep_values: ($) => seq('(', optional(seq(commaSep1($._expr), optional(','))), ')'),
    sweep_uniform: ($) =>
      seq('uniform', $.path, '=', $._expr, ':', $._expr, optional($.sweep_scale)),
    sweep_scale: ($) => choice('log', 'int'),

    _stmt: ($) =>
      choice(
        $.every_stmt,
        $.update_stmt,
        $.unpack_stmt,
        $.assign_stmt,
        $.log_stmt,
        $.call_stmt,
      ),
    every_stmt: ($) => seq($.every_steps, $.block),
    unpack_stmt: ($) => seq($.ident, repeat1(seq(',', $.ident)), '=', $._expr),
    update_stmt: ($) => seq('update', $.ident, 'minimizing', $._expr),
    assign_stmt: ($) => seq($.path, '=', $._expr),
    log_stmt: ($) => seq('log', $.string),
    call_stmt: ($) => $.call,

    settings: ($) => seq('{', repeat($.setting), '}'),
    setting: ($) => seq(field('name', $.ident), '=', $._expr),

    _expr: ($) =>
      choice(
        $.binary,
        $.unary,
        $.field,
        $.index,
        $.call,
        $.number,
        $.string,
        $.boolean,
        $.tuple,
        $.ident,
      ),
    binary: ($) =>
      choice(
        prec.left(1, seq($._expr, field('operator', choice('+', '-')), $._expr)),
        prec.left(2, seq($._expr, field('operator', choice('*', '/')), $._expr)),
        prec.right(3, seq($._expr, field('operator', '**'), $._expr)),
      ),
    unary: ($) => prec(4, seq('-', $._expr)),
    field: ($) => prec(5, seq($._expr, '.', $.ident)),
    index: ($) =>
      prec(5, seq($._expr, '[', commaSep1($._index_item), optional(','), ']')),
    _index_item: ($) => choice($.index_range, $.index_at),
    index_range: ($) => seq(optional($.index_at), ':', optional($.index_at)),
    index_at: ($) => /-?[0-9]+/,
    tuple: ($) => seq('(', commaSep1($._expr), optional(','), ')'),
    call: ($) =>
      seq(
        field('function', $.ident),
        '(',
        optional(seq(commaSep1($._arg), optional(','))),
        ')',
      ),
    _arg: ($) => choice($.named_arg, $._expr),
    named_arg: ($) => seq(field('name', $.ident), '=', $._expr),

    path: ($) => seq($.ident, repeat(seq('.', $.ident))),
    boolean: ($) => choice('true', 'false'),
    number: ($) => /[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?/,
    string: ($) => token(seq('"', repeat(choice(/[^"\\\n]/, /\\./)), '"')),
    ident: ($) => /[A-Za-z_][A-Za-z0-9_]*/,
    // To the end of the line; a lone carriage return ends it too, as pest's NEWLINE does.
    comment: ($) => token(seq('//', /[^\r\n]*/)),
  },
});
