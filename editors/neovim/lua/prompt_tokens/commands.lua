-- The server's commands (SPEC `workspace/executeCommand`: promptTokens.documentStats, .jobs,
-- .clearCache) behind `:PromptTokens stats | jobs | clearCache`.
local status = require('prompt_tokens.status')

local M = {}

M.name = 'prompt_tokens'

--- nil or 0 -> the current buffer
local function resolve_buf(bufnr)
  return (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
end
M.resolve_buf = resolve_buf

---@param bufnr integer?
---@return vim.lsp.Client?
function M.client(bufnr)
  return vim.lsp.get_clients({ bufnr = resolve_buf(bufnr), name = M.name })[1]
end

local function notify(msg, level)
  vim.notify(msg, level or vim.log.levels.INFO, { title = 'prompt-tokens' })
end

--- Run a server command (workspace/executeCommand); cb(err, result).
function M.exec(command, arguments, bufnr, cb)
  bufnr = resolve_buf(bufnr)
  local client = M.client(bufnr) or vim.lsp.get_clients({ name = M.name })[1]
  if not client then
    notify('no prompt-tokens server attached to this buffer (:checkhealth prompt_tokens)', vim.log.levels.WARN)
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

local VERDICT_NOTE = { exceeded = '  ✗ over budget', warning = '  ⚠ near budget' }

local function total_line(stats, t)
  local a = status.approx(stats)
  local estimate = stats.exact == false
      and ('  (estimate' .. (type(stats.method) == 'string' and (': ' .. stats.method) or '') .. ')')
    or ''
  return string.format(
    'total %s = text %s + references %s%s%s%s',
    status.total_text(t, stats),
    a .. status.int(t.text),
    a .. status.int(t.references),
    type(stats.encoding) == 'string' and ('  [' .. stats.encoding .. ']') or '',
    VERDICT_NOTE[status.verdict(stats) or ''] or '',
    estimate
  )
end

local function reference_line(r, a)
  local n = (r.tokens ~= nil and r.tokens ~= vim.NIL) and (a .. '+' .. status.int(r.tokens)) or '…'
  local err = (r.status ~= 'ok' and r.error ~= nil and r.error ~= vim.NIL) and ('  ⚠ ' .. tostring(r.error))
    or (r.status ~= 'ok' and ('  ⚠ ' .. tostring(r.status)) or '')
  return string.format('  %8s  %-8s %s%s', n, tostring(r.kind), tostring(r.target), err)
end

local function section_line(s, a)
  local title = s.title or s.heading or s.name or ''
  if title == vim.NIL then
    title = ''
  end
  local tk = (s.tokens ~= nil and s.tokens ~= vim.NIL) and (a .. status.int(s.tokens)) or '?'
  local line = (type(s.line) == 'number') and (' (line ' .. (s.line + 1) .. ')') or ''
  return string.format('  %8s  %s%s', tk, tostring(title), line)
end

--- Lines describing promptTokens.documentStats' answer (the server's verdict, never recomputed).
function M.format_stats(stats, name)
  local lines = { 'Prompt tokens — ' .. (name or stats.uri) }
  local a = status.approx(stats)
  if type(stats.tokens) == 'table' then
    lines[#lines + 1] = total_line(stats, stats.tokens)
  else
    lines[#lines + 1] = 'state: ' .. tostring(stats.state)
  end
  local refs = type(stats.references) == 'table' and stats.references or {}
  lines[#lines + 1] = string.format('references (%d):', #refs)
  for _, r in ipairs(refs) do
    lines[#lines + 1] = reference_line(r, a)
  end
  local secs = type(stats.sections) == 'table' and stats.sections or {}
  if #secs > 0 then
    lines[#lines + 1] = string.format('sections (%d):', #secs)
    for _, sec in ipairs(secs) do
      lines[#lines + 1] = section_line(sec, a)
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

--- :PromptTokens {sub}
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

function M.run(sub)
  local fn = M.subcommands[sub or 'stats']
  if not fn then
    notify('unknown subcommand ' .. sub .. ' (stats, jobs, clearCache)', vim.log.levels.ERROR)
    return
  end
  fn()
end

function M.complete(lead)
  return vim.tbl_filter(function(s)
    return s:find(lead, 1, true) == 1
  end, vim.tbl_keys(M.subcommands))
end

return M
