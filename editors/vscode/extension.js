// Starts `expr lsp` for .exp files: every feature comes from the server (docs/editors.md).
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const command = vscode.workspace.getConfiguration("expr").get("path", "expr");
  client = new LanguageClient(
    "expr",
    "expr",
    { command, args: ["lsp"] },
    { documentSelector: [{ scheme: "file", language: "exp" }] }
  );
  context.subscriptions.push({ dispose: () => client && client.stop() });
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
