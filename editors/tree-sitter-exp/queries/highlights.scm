; Highlighting for .exp files: the same classes as `expr lsp`'s semantic tokens.

[
  "experiment" "data" "model" "block" "loss" "optimizer" "metrics" "train" "step" "on"
  "before" "after" "sweep" "for" "every" "steps" "update" "minimizing" "log" "return"
  "repeat" "grid" "uniform"
] @keyword

(boolean) @boolean
(number) @number
(index_at) @number
(sweep_range) @number
(string) @string
(comment) @comment

(call function: (ident) @function.call)
(named_arg name: (ident) @variable.parameter)
(setting name: (ident) @property)
(metric name: (ident) @variable)

(experiment_decl name: (ident) @module)
(data_decl name: (ident) @variable)
(model_decl name: (ident) @type)
(graph_model_decl name: (ident) @type)
(block_decl name: (ident) @type)
(loss_decl name: (ident) @function)
(optimizer_decl name: (ident) @variable)

["=" "|" "+" "-" "*" "/" "**" ":"] @operator
["(" ")" "{" "}" "[" "]"] @punctuation.bracket
["," "."] @punctuation.delimiter
