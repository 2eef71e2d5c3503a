-- Neovim's own LSP client against `expr lsp`: open an experiment, wait for its diagnostics,
-- ask for a hover, and write what came back to $EXPR_LSP_OUT (tests/lsp.rs reads it).
-- Written for Neovim 0.7 (Debian 12's) and later: `vim.lsp.start_client` and
-- `buf_attach_client` rather than 0.8's `vim.lsp.start`. Every wait has a deadline.
local file = os.getenv("EXPR_LSP_FILE")
local out = io.open(os.getenv("EXPR_LSP_OUT"), "w")
local line = tonumber(os.getenv("EXPR_LSP_LINE"))
local column = tonumber(os.getenv("EXPR_LSP_COLUMN"))

vim.cmd("edit " .. file)
local buf = vim.api.nvim_get_current_buf()
local diagnostics = nil
vim.lsp.handlers["textDocument/publishDiagnostics"] = function(_, result)
  diagnostics = result.diagnostics
end
local id = vim.lsp.start_client({
  name = "expr",
  cmd = { os.getenv("EXPR_BIN"), "lsp" },
  root_dir = vim.fn.fnamemodify(file, ":p:h"),
})
vim.lsp.buf_attach_client(buf, id)
if not vim.wait(30000, function() return diagnostics ~= nil end, 20) then
  out:write("no diagnostics\n")
else
  out:write("diagnostics " .. #diagnostics .. "\n")
  for _, d in ipairs(diagnostics) do
    out:write("diagnostic " .. d.code .. " line " .. d.range.start.line .. "\n")
  end
end

local client = vim.lsp.get_client_by_id(id)
local hover = nil
client.request("textDocument/hover", {
  textDocument = { uri = vim.uri_from_bufnr(buf) },
  position = { line = line, character = column },
}, function(_, result) hover = result or false end, buf)
if vim.wait(30000, function() return hover ~= nil end, 20) and hover then
  out:write("hover " .. hover.contents.value:gsub("\n", " ") .. "\n")
else
  out:write("no hover\n")
end
out:close()
client.stop()
vim.cmd("qall!")
