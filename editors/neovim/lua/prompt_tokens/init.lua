-- prompt-tokens for Neovim 0.11+: live LLM token counts in prompt files.
--
--   require("prompt_tokens").setup({
--     cmd = { "prompt-tokens", "lsp" },          -- optional
--     filetypes = { "markdown", "text", "prompt", "jinja" }, -- optional
--     settings = { model = "gpt-4o", budget = 16000 },        -- the promptTokens.* settings
--     inlay_hints = true,                          -- enable inlay hints in attached buffers
--   })
--   vim.o.statusline = "%f %= %{v:lua.require'prompt_tokens'.statusline()} "
--   :PromptTokens stats | jobs | clearCache
local status = require('prompt_tokens.status')

local M = {}

M.name = 'prompt_tokens'

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

--- Filetypes for prompt files that Neovim does not know.
function M.register_filetypes()
  vim.filetype.add({
    extension = { prompt = 'prompt', prompty = 'prompt', j2 = 'jinja' },
  })
  -- `prompt` buffers are highlighted as Markdown
  pcall(vim.treesitter.language.register, 'markdown', 'prompt')
end

--- nil or 0 -> the current buffer
local function resolve_buf(bufnr)
  return (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
end

---@param bufnr integer?
---@return vim.lsp.Client?
function M.client(bufnr)
  bufnr = resolve_buf(bufnr)
  return vim.lsp.get_clients({ bufnr = bufnr, name = M.name })[1]
end

local function notify(msg, level)
  vim.notify(msg, level or vim.log.levels.INFO, { title = 'prompt-tokens' })
end

--- Run a server command (workspace/executeCommand); cb(err, result).
function M.exec(command, arguments, bufnr, cb)
  bufnr = resolve_buf(bufnr)
  local client = M.client(bufnr) or vim.lsp.get_clients({ name = M.name })[1]
  if not client then
    notify('no prompt-tokens server attached to this buffer (:checkhealth vim.lsp)', vim.log.levels.WARN)
    return
  end
  client:request('workspace/executeCommand', { command = command, arguments = arguments or {} }, function(err, result)
    if err then
      notify(command .. ' failed: ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
    end
    if cb then
      cb(err, result)
    end
  end, bufnr)
end

--- Lines describing promptTokens.documentStats' answer.
function M.format_stats(stats, name)
  local lines = {}
  local t = stats.tokens
  local budget = stats.budget ~= vim.NIL and stats.budget or nil
  lines[#lines + 1] = 'Prompt tokens — ' .. (name or stats.uri)
  if type(t) == 'table' then
    local lvl = status.level(t.total, budget)
    lines[#lines + 1] = string.format(
      'total %s = text %s + references %s%s%s',
      status.total_text(t, budget),
      status.int(t.text),
      status.int(t.references),
      stats.encoding and ('  [' .. stats.encoding .. ']') or '',
      lvl == 'exceeded' and '  ✗ over budget' or (lvl == 'warning' and '  ⚠ near budget' or '')
    )
  else
    lines[#lines + 1] = 'state: ' .. tostring(stats.state)
  end
  local refs = type(stats.references) == 'table' and stats.references or {}
  lines[#lines + 1] = string.format('references (%d):', #refs)
  for _, r in ipairs(refs) do
    local n = (r.tokens ~= nil and r.tokens ~= vim.NIL) and ('+' .. status.int(r.tokens)) or '…'
    local err = (r.status ~= 'ok' and r.error ~= nil and r.error ~= vim.NIL) and ('  ⚠ ' .. tostring(r.error))
      or (r.status ~= 'ok' and ('  ⚠ ' .. tostring(r.status)) or '')
    lines[#lines + 1] = string.format('  %8s  %-8s %s%s', n, tostring(r.kind), tostring(r.target), err)
  end
  local secs = type(stats.sections) == 'table' and stats.sections or {}
  if #secs > 0 then
    lines[#lines + 1] = string.format('sections (%d):', #secs)
    for _, s in ipairs(secs) do
      local title = s.title or s.heading or s.name or ''
      if title == vim.NIL then
        title = ''
      end
      local tk = (s.tokens ~= nil and s.tokens ~= vim.NIL) and status.int(s.tokens) or '?'
      local line = (type(s.line) == 'number') and (' (line ' .. (s.line + 1) .. ')') or ''
      lines[#lines + 1] = string.format('  %8s  %s%s', tk, tostring(title), line)
    end
  end
  return lines
end

--- :PromptTokens stats — per-reference counts of a buffer; cb(lines) when given, else vim.notify.
function M.stats(bufnr, cb)
  bufnr = resolve_buf(bufnr)
  M.exec('promptTokens.documentStats', { vim.uri_from_bufnr(bufnr) }, bufnr, function(err, result)
    if err or type(result) ~= 'table' then
      return
    end
    local lines = M.format_stats(result, vim.fn.fnamemodify(vim.api.nvim_buf_get_name(bufnr), ':~:.'))
    if cb then
      cb(lines, result)
    else
      notify(table.concat(lines, '\n'))
    end
  end)
end

--- Run a buffer-independent server command: cb(result) when given, else notify(describe(result)).
local function run_command(command, cb, describe)
  M.exec(command, {}, nil, function(err, result)
    if err then
      return
    end
    if cb then
      cb(result)
    else
      notify(describe(result))
    end
  end)
end

--- :PromptTokens jobs — queue/worker state and cache figures.
function M.jobs(cb)
  run_command('promptTokens.jobs', cb, function(result)
    return 'jobs: ' .. vim.inspect(result)
  end)
end

--- :PromptTokens clearCache
function M.clear_cache(cb)
  run_command('promptTokens.clearCache', cb, function(result)
    local n = type(result) == 'table' and result.cleared or nil
    return 'cache cleared' .. (type(n) == 'number' and (' (' .. status.int(n) .. (n == 1 and ' entry)' or ' entries)')) or '')
  end)
end

M.subcommands = {
  stats = function()
    M.stats()
  end,
  jobs = function()
    M.jobs()
  end,
  clearCache = function()
    M.clear_cache()
  end,
}

function M.create_user_command()
  vim.api.nvim_create_user_command('PromptTokens', function(a)
    local sub = a.fargs[1] or 'stats'
    local fn = M.subcommands[sub]
    if not fn then
      notify('unknown subcommand ' .. sub .. ' (stats, jobs, clearCache)', vim.log.levels.ERROR)
      return
    end
    fn()
  end, {
    nargs = '?',
    desc = 'prompt-tokens: stats | jobs | clearCache',
    complete = function(lead)
      return vim.tbl_filter(function(s)
        return s:find(lead, 1, true) == 1
      end, vim.tbl_keys(M.subcommands))
    end,
  })
end

--- Turn inlay hints on in buffers the server attaches to (unless vim.g.prompt_tokens_inlay_hints == false).
function M.create_autocmds()
  local group = vim.api.nvim_create_augroup('prompt_tokens', { clear = true })
  vim.api.nvim_create_autocmd('LspAttach', {
    group = group,
    callback = function(a)
      local client = vim.lsp.get_client_by_id(a.data.client_id)
      if not client or client.name ~= M.name then
        return
      end
      if vim.g.prompt_tokens_inlay_hints ~= false and vim.lsp.inlay_hint then
        vim.lsp.inlay_hint.enable(true, { bufnr = a.buf })
      end
    end,
  })
  vim.api.nvim_create_autocmd('FileType', {
    group = group,
    pattern = 'prompt',
    callback = function(a)
      if vim.bo[a.buf].syntax == '' or vim.bo[a.buf].syntax == 'prompt' then
        vim.bo[a.buf].syntax = 'markdown'
      end
    end,
  })
end

--- Change settings of the running server(s) (and of servers started later).
---@param settings table promptTokens.* keys, e.g. { budget = 4000 }
function M.set_settings(settings)
  local merged
  for _, client in ipairs(vim.lsp.get_clients({ name = M.name })) do
    local cur = client.settings.promptTokens
    cur = (type(cur) == 'table' and cur ~= vim.NIL) and cur or {}
    merged = normalize(vim.tbl_deep_extend('force', cur, settings), '')
    client.settings.promptTokens = merged
    client:notify('workspace/didChangeConfiguration', { settings = { promptTokens = merged } })
  end
  vim.lsp.config(M.name, { settings = { promptTokens = normalize(settings, '') } })
  if type(settings.warningRatio) == 'number' then
    status.warning_ratio = settings.warningRatio
  end
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
  M.register_filetypes()
  M.create_user_command()
  M.create_autocmds()
  vim.g.prompt_tokens_inlay_hints = opts.inlay_hints ~= false
  local settings = normalize(opts.settings or {}, '')
  if type(settings) == 'table' and type(settings.warningRatio) == 'number' then
    status.warning_ratio = settings.warningRatio
  end
  local cfg = {
    settings = { promptTokens = settings },
    init_options = settings,
  }
  cfg.cmd = opts.cmd
  cfg.filetypes = opts.filetypes
  cfg.root_markers = opts.root_markers
  cfg.on_attach = opts.on_attach
  cfg.capabilities = opts.capabilities
  vim.lsp.config(M.name, cfg)
  if opts.enable ~= false then
    vim.lsp.enable(M.name)
  end
end

--- Statusline component: "1,234 / 8,192 tokens (15%)", "⚠ …" near the budget, "✗ …" over it,
--- "⟳ …" while counting. Pass { escape = true } where '%' must be doubled (lualine, %!).
---@param opts? {buf?: integer, escape?: boolean}
function M.statusline(opts)
  return status.statusline(opts)
end

--- Last status of a buffer: {state, encoding, budget, tokens = {text, references, total}, ...}
function M.status(bufnr)
  return status.get(bufnr)
end

return M
