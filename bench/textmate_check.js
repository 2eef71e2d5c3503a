// Tokenizes every experiments/*.exp with VS Code's own TextMate engine (vscode-textmate and
// vscode-oniguruma, as the editor runs them) and editors/vscode's grammar: the grammar loads,
// every line tokenizes, and the keywords, calls and comments get their scopes.
//
//   npm install vscode-textmate vscode-oniguruma && node bench/textmate_check.js
const fs = require("fs");
const path = require("path");
const vsctm = require("vscode-textmate");
const oniguruma = require("vscode-oniguruma");

const root = process.env.ROOT || path.join(__dirname, "..");
const wasm = fs.readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm")).buffer;
const onigLib = oniguruma.loadWASM(wasm).then(() => ({
  createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
  createOnigString: (s) => new oniguruma.OnigString(s),
}));
const registry = new vsctm.Registry({
  onigLib,
  loadGrammar: async () =>
    vsctm.parseRawGrammar(
      fs.readFileSync(path.join(root, "editors/vscode/syntaxes/exp.tmLanguage.json"), "utf8"),
      "exp.tmLanguage.json"
    ),
});

registry.loadGrammar("source.exp").then((grammar) => {
  const counts = {};
  const dir = path.join(root, "experiments");
  const files = fs.readdirSync(dir).filter((f) => f.endsWith(".exp")).sort();
  for (const file of files) {
    let state = vsctm.INITIAL;
    for (const line of fs.readFileSync(path.join(dir, file), "utf8").split("\n")) {
      const r = grammar.tokenizeLine(line, state);
      for (const t of r.tokens) {
        const scope = t.scopes[t.scopes.length - 1];
        counts[scope] = (counts[scope] || 0) + 1;
      }
      state = r.ruleStack;
    }
  }
  console.log(`${files.length} experiments tokenized`);
  for (const [scope, n] of Object.entries(counts).sort()) console.log(`  ${scope}: ${n}`);
  for (const needed of ["keyword.control.exp", "entity.name.function.exp", "comment.line.double-slash.exp", "variable.parameter.exp", "constant.numeric.exp", "string.quoted.double.exp"]) {
    if (!counts[needed]) { console.error(`no token scoped ${needed}`); process.exit(1); }
  }
});
