-- Per-buffer state from the server's `promptTokens/status` notifications + the statusline text.
-- The server decides the budget verdict (`status`) and the rounded `percent` with the document's
-- effective settings; this module only displays them (an older server that omits them gets the
-- counts without a verdict or percent). `exact == false` marks an estimate: `≈` before numbers.
local M = {}

---@class prompt_tokens.Status
---@field uri string
---@field version integer?
---@field state "counting"|"ready"|"error"
---@field encoding string?
---@field budget integer?
---@field tokens {text: integer, references: integer, total: integer}?
---@field pendingReferences integer?
---@field status "ok"|"warning"|"exceeded"? the server's verdict
---@field percent integer? whole percent of the budget, as the server rounded it
---@field exact boolean? false: an estimate
---@field method string? how an estimate was made

---@type table<integer, prompt_tokens.Status>
M.by_buf = {}

M.format = {
  counting = '⟳ ',
  warning = '⚠ ',
  exceeded = '✗ ',
  estimate = '≈ ',
  error = 'tokens: error',
  pending = '⟳ counting…',
}

local VERDICTS = { ok = true, warning = true, exceeded = true }

local function null(v)
  return v == nil or v == vim.NIL
end

--- 1234567 -> "1,234,567"
function M.int(n)
  if type(n) ~= 'number' then
    return tostring(n)
  end
  local s = tostring(math.floor(math.abs(n)))
  local out = s:reverse():gsub('(%d%d%d)', '%1,'):reverse():gsub('^,', '')
  return (n < 0 and '-' or '') .. out
end

--- The server's verdict "ok" | "warning" | "exceeded", or nil when it sent none.
function M.verdict(s)
  return (type(s) == 'table' and VERDICTS[s.status]) and s.status or nil
end

--- The server's percent, or nil when it sent none (shown as is: rounding is the server's job).
function M.percent(s)
  return (type(s) == 'table' and type(s.percent) == 'number') and s.percent or nil
end

--- "≈ " for an estimate, else "".
function M.approx(s)
  return (type(s) == 'table' and s.exact == false) and M.format.estimate or ''
end

--- "1,234 / 8,192 tokens (15%)", "1,234 / 8,192 tokens" (no percent sent) or "1,234 tokens" (no budget);
--- s: the status (or documentStats) table, for its budget, percent and exactness.
function M.total_text(tokens, s)
  local total = M.approx(s) .. M.int(tokens.total)
  local budget = s.budget
  if null(budget) or budget <= 0 then
    return total .. ' tokens'
  end
  local pct = M.percent(s)
  if not pct then
    return string.format('%s / %s tokens', total, M.int(budget))
  end
  return string.format('%s / %s tokens (%s%%)', total, M.int(budget), tostring(pct))
end

--- A first "counting" notification carries zeros and budget 0: no numbers yet.
local function has_numbers(s)
  return s ~= nil
    and not null(s.tokens)
    and not (s.state == 'counting' and (null(s.budget) or s.budget <= 0))
end

local KEPT = { 'tokens', 'budget', 'status', 'percent', 'exact', 'method' }

--- The status kept for a buffer: while a new count has no numbers, the last ones (and the
--- server's verdict on them) stay — or none, when there were none.
function M.merge(prev, next)
  if not has_numbers(next) then
    for _, k in ipairs(KEPT) do
      next[k] = prev and prev[k] or nil
    end
  end
  if null(next.budget) or next.budget <= 0 then
    next.budget = nil
  end
  return next
end

function M.on_status(err, result, ctx)
  if err or type(result) ~= 'table' or type(result.uri) ~= 'string' then
    return
  end
  local ok, bufnr = pcall(vim.uri_to_bufnr, result.uri)
  if not ok then
    return
  end
  result = M.merge(M.by_buf[bufnr], result)
  result.client_id = ctx and ctx.client_id
  M.by_buf[bufnr] = result
  vim.schedule(function()
    if vim.api.nvim_buf_is_valid(bufnr) then
      pcall(vim.api.nvim_exec_autocmds, 'User', {
        pattern = 'PromptTokensStatus',
        modeline = false,
        data = { buf = bufnr, status = result },
      })
    end
    pcall(vim.cmd.redrawstatus)
  end)
end

function M.get(bufnr)
  if bufnr == nil or bufnr == 0 then
    bufnr = vim.api.nvim_get_current_buf()
  end
  return M.by_buf[bufnr]
end

--- A wiped-out buffer's status goes with it.
function M.forget(bufnr)
  M.by_buf[bufnr] = nil
end

--- The statusline text of one status table.
function M.text(s)
  if s.state == 'error' then
    return M.format.error
  end
  if not s.tokens then
    return M.format.pending
  end
  local verdict = M.verdict(s)
  local prefix = s.state == 'counting' and M.format.counting
    or ((verdict == 'warning' or verdict == 'exceeded') and M.format[verdict])
    or ''
  return prefix .. M.total_text(s.tokens, s)
end

--- Statusline text of a buffer ("" when the server has said nothing about it).
---@param opts? {buf?: integer, escape?: boolean}
function M.statusline(opts)
  opts = opts or {}
  local bufnr = opts.buf
  if bufnr == nil then
    local win = vim.g.statusline_winid
    bufnr = (win and vim.api.nvim_win_is_valid(win)) and vim.api.nvim_win_get_buf(win)
      or vim.api.nvim_get_current_buf()
  end
  local s = M.by_buf[bufnr]
  if not s then
    return ''
  end
  local text = M.text(s)
  if opts.escape then
    text = text:gsub('%%', '%%%%')
  end
  return text
end

return M
