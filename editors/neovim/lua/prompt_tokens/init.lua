-- prompt-tokens for Neovim 0.11+: live LLM token counts in prompt files.
--
--   require("prompt_tokens").setup({
--     cmd = { "prompt-tokens", "lsp" },          -- optional
--     filetypes = { "markdown", "text", "prompt", "jinja" }, -- optional
--     settings = { model = "gpt-4o", budget = 16000 },        -- the promptTokens.* settings
--     inlay_hints = true,                          -- enable inlay hints in attached buffers
--   })
--   vim.o.statusline = "%f %= %{v:lua.require'prompt_tokens'.statusline()} "
--   :PromptTokens stats | jobs | clearCache      :checkhealth prompt_tokens
local commands = require('prompt_tokens.commands')
local status = require('prompt_tokens.status')

local M = {}

M.name = commands.name

--- setting keys whose value is a JSON array (every other empty table is sent as an object)
local LIST_KEYS = {
  ['references.enabled'] = true,
  ['http.cache'] = true,
  ['http.blockedNetworks'] = true,
  ['http.headers'] = true,
}

--- Deep copy where empty tables become JSON objects ({}), not arrays ([]), except for list keys.
local function normalize(value, path)
  if type(value) ~= 'table' or value == vim.NIL then
    return value
  end
  if vim.islist(value) and (next(value) ~= nil or LIST_KEYS[path]) then
    local out = {}
    for i, v in ipairs(value) do
      out[i] = normalize(v, path .. '[]')
    end
    return out
  end
  if next(value) == nil then
    return vim.empty_dict()
  end
  local out = {}
  for k, v in pairs(value) do
    out[k] = normalize(v, path == '' and tostring(k) or (path .. '.' .. tostring(k)))
  end
  return out
end
M._normalize = normalize

--- Filetypes, `:PromptTokens` and the autocommands (all registrations live in prompt_tokens.register).
M.register = require('prompt_tokens.register').register

M.client = commands.client
M.exec = commands.exec
M.format_stats = commands.format_stats
M.stats = commands.stats
M.jobs = commands.jobs
M.clear_cache = commands.clear_cache

--- Change settings of the running server(s) (and of servers started later).
---@param settings table promptTokens.* keys, e.g. { budget = 4000 }
function M.set_settings(settings)
  for _, client in ipairs(vim.lsp.get_clients({ name = M.name })) do
    local cur = client.settings.promptTokens
    cur = (type(cur) == 'table' and cur ~= vim.NIL) and cur or {}
    local merged = normalize(vim.tbl_deep_extend('force', cur, settings), '')
    client.settings.promptTokens = merged
    client:notify('workspace/didChangeConfiguration', { settings = { promptTokens = merged } })
  end
  vim.lsp.config(M.name, { settings = { promptTokens = normalize(settings, '') } })
end

---@class prompt_tokens.Opts
---@field cmd string[]? server command (default {"prompt-tokens", "lsp"})
---@field filetypes string[]? (default markdown, text, prompt, jinja)
---@field root_markers string[]?
---@field settings table? promptTokens.* settings (sent as init_options and settings)
---@field inlay_hints boolean? default true
---@field enable boolean? call vim.lsp.enable (default true)
---@field on_attach fun(client: vim.lsp.Client, bufnr: integer)?
---@field capabilities table?

---@param opts prompt_tokens.Opts?
function M.setup(opts)
  opts = opts or {}
  M.register()
  vim.g.prompt_tokens_inlay_hints = opts.inlay_hints ~= false
  local settings = normalize(opts.settings or {}, '')
  vim.lsp.config(M.name, {
    settings = { promptTokens = settings },
    init_options = settings,
    cmd = opts.cmd,
    filetypes = opts.filetypes,
    root_markers = opts.root_markers,
    on_attach = opts.on_attach,
    capabilities = opts.capabilities,
  })
  if opts.enable ~= false then
    vim.lsp.enable(M.name)
  end
end

--- Statusline component: "1,234 / 8,192 tokens (15%)", "⚠ …" near the budget, "✗ …" over it
--- (the server's verdict), "≈ " before an estimate, "⟳ …" while counting. Pass { escape = true }
--- where '%' must be doubled (lualine, %!).
---@param opts? {buf?: integer, escape?: boolean}
function M.statusline(opts)
  return status.statusline(opts)
end

--- Last status of a buffer: {state, encoding, budget, tokens = {text, references, total}, status, percent, ...}
function M.status(bufnr)
  return status.get(bufnr)
end

return M
