-- Per-buffer state from the server's `promptTokens/status` notifications + the statusline text.
local M = {}

---@class prompt_tokens.Status
---@field uri string
---@field version integer?
---@field state "counting"|"ready"|"error"
---@field encoding string?
---@field budget integer?
---@field tokens {text: integer, references: integer, total: integer}?
---@field pendingReferences integer?

---@type table<integer, prompt_tokens.Status>
M.by_buf = {}

--- warningRatio used for the statusline level (kept in sync by setup()/set_settings())
M.warning_ratio = 0.8

M.format = {
  counting = '⟳ ',
  warning = '⚠ ',
  exceeded = '✗ ',
  error = 'tokens: error',
  pending = '⟳ counting…',
}

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

--- whole percent, rounded half up (7012 of 8192 -> 86)
function M.percent(total, budget)
  if null(budget) or budget <= 0 then
    return nil
  end
  return math.floor(total * 100 / budget + 0.5)
end

--- "ok" | "warning" | "exceeded"
function M.level(total, budget, ratio)
  if null(budget) or budget <= 0 then
    return 'ok'
  end
  if total > budget then
    return 'exceeded'
  end
  if total >= (ratio or M.warning_ratio) * budget then
    return 'warning'
  end
  return 'ok'
end

--- "1,234 / 8,192 tokens (15%)" or "1,234 tokens"
function M.total_text(tokens, budget)
  local pct = M.percent(tokens.total, budget)
  if not pct then
    return M.int(tokens.total) .. ' tokens'
  end
  return string.format('%s / %s tokens (%d%%)', M.int(tokens.total), M.int(budget), pct)
end

function M.on_status(err, result, ctx)
  if err or type(result) ~= 'table' or type(result.uri) ~= 'string' then
    return
  end
  local ok, bufnr = pcall(vim.uri_to_bufnr, result.uri)
  if not ok then
    return
  end
  local prev = M.by_buf[bufnr]
  -- a first "counting" notification carries zeros and budget 0: keep the last numbers, if any
  local no_numbers = null(result.tokens)
    or (result.state == 'counting' and (null(result.budget) or result.budget <= 0))
  if no_numbers then
    result.tokens = prev and prev.tokens or nil
    result.budget = prev and prev.budget or nil
  end
  if null(result.budget) or result.budget <= 0 then
    result.budget = nil
  end
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
  local text
  if s.state == 'error' then
    text = M.format.error
  elseif not s.tokens then
    text = M.format.pending
  else
    local lvl = M.level(s.tokens.total, s.budget)
    local prefix = s.state == 'counting' and M.format.counting
      or (lvl ~= 'ok' and M.format[lvl])
      or ''
    text = prefix .. M.total_text(s.tokens, s.budget)
  end
  if opts.escape then
    text = text:gsub('%%', '%%%%')
  end
  return text
end

vim.api.nvim_create_autocmd('BufWipeout', {
  group = vim.api.nvim_create_augroup('prompt_tokens.status', { clear = true }),
  callback = function(a)
    M.by_buf[a.buf] = nil
  end,
})

return M
