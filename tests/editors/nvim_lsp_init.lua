-- Headless Neovim as the client of the bare prompt-tokens server (built-in LSP client, no plugin).
--
--   nvim --headless --clean -u tests/editors/nvim_lsp_init.lua
--
-- Environment (set by tests/editors/test_neovim.py):
--   PT_CMD       JSON array: the server command
--   PT_FILE      the prompt file to open
--   PT_SETTINGS  JSON object: the promptTokens settings answered to workspace/configuration
--   PT_EXPECT    JSON object: labels/messages to wait for (computed with plain tiktoken)
--   PT_RESULT    where to write the JSON result
--   PT_TIMEOUT_MS per-step timeout (default 15000)
-- Exit status: 0 all steps passed, 1 a step failed, 2 Lua error, 3 hard timeout.

local uv = vim.uv or vim.loop
local t0 = uv.hrtime()
local function ms() return math.floor((uv.hrtime() - t0) / 1e6) end

local TIMEOUT = tonumber(vim.env.PT_TIMEOUT_MS or '') or 15000
local CMD = vim.json.decode(vim.env.PT_CMD)
local SETTINGS = vim.json.decode(vim.env.PT_SETTINGS)
local EXPECT = vim.json.decode(vim.env.PT_EXPECT)
local result = { steps = {}, ok = false, nvim = tostring(vim.version()) }

local function write_result()
  local f = assert(io.open(vim.env.PT_RESULT, 'w'))
  f:write(vim.json.encode(result))
  f:close()
end

local hard = uv.new_timer()
hard:start(TIMEOUT * 8, 0, vim.schedule_wrap(function()
  result.error = 'hard timeout'
  pcall(write_result)
  os.exit(3)
end))

local function label_text(label)
  if type(label) == 'string' then return label end
  local parts = {}
  for _, p in ipairs(label) do parts[#parts + 1] = p.value end
  return table.concat(parts)
end

local function hints(buf)
  local out = {}
  for _, h in ipairs(vim.lsp.inlay_hint.get({ bufnr = buf })) do
    out[#out + 1] = {
      line = h.inlay_hint.position.line,
      character = h.inlay_hint.position.character,
      label = label_text(h.inlay_hint.label),
    }
  end
  table.sort(out, function(a, b)
    if a.line ~= b.line then return a.line < b.line end
    return a.character < b.character
  end)
  return out
end

local function has_label(buf, line, label)
  for _, h in ipairs(hints(buf)) do
    if h.line == line and h.label == label then return true end
  end
  return false
end

local function diags(buf)
  local out = {}
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    out[#out + 1] = { lnum = d.lnum, severity = d.severity, message = d.message, code = d.code, source = d.source }
  end
  return out
end

local failed = false
local function step(name, pred, snapshot)
  local s = ms()
  local ok = vim.wait(TIMEOUT, pred, 20)
  local rec = { name = name, ok = ok, ms = ms() - s }
  if snapshot then rec.data = snapshot() end
  table.insert(result.steps, rec)
  if not ok then failed = true end
  io.stderr:write(string.format('[%6d ms] %-34s %s\n', ms(), name, ok and 'ok' or 'FAILED'))
  return ok
end

local function run()
  vim.lsp.config('prompt_tokens_test', {
    cmd = CMD,
    filetypes = { 'markdown' },
    root_markers = { '.git' },
    settings = { promptTokens = SETTINGS },
  })
  vim.lsp.enable('prompt_tokens_test')
  vim.cmd.edit(vim.fn.fnameescape(vim.env.PT_FILE))
  local buf = vim.api.nvim_get_current_buf()
  if vim.bo[buf].filetype ~= 'markdown' then vim.bo[buf].filetype = 'markdown' end

  if not step('attach', function()
    local c = vim.lsp.get_clients({ bufnr = buf, name = 'prompt_tokens_test' })[1]
    return c ~= nil and c.initialized == true
  end) then return end
  local client = vim.lsp.get_clients({ bufnr = buf, name = 'prompt_tokens_test' })[1]
  result.position_encoding = client.offset_encoding

  vim.lsp.inlay_hint.enable(true, { bufnr = buf })
  step('total hint', function() return has_label(buf, 0, EXPECT.total) end, function() return hints(buf) end)
  step('reference hint', function() return has_label(buf, EXPECT.ref_line, EXPECT.ref) end,
    function() return hints(buf) end)
  step('budget warning', function()
    local d = vim.diagnostic.get(buf)
    return #d == 1 and d[1].code == 'budget-warning' and d[1].severity == vim.diagnostic.severity.WARN
      and d[1].message == EXPECT.warning_message
  end, function() return diags(buf) end)

  -- an edit (incremental sync): append the extra text at the end of the last line
  local last = vim.api.nvim_buf_line_count(buf) - 1
  local len = #vim.api.nvim_buf_get_lines(buf, last, last + 1, false)[1]
  vim.api.nvim_buf_set_text(buf, last, len, last, len, { EXPECT.extra })
  step('total hint after edit', function() return has_label(buf, 0, EXPECT.total_after) end,
    function() return hints(buf) end)
  step('budget error', function()
    for _, d in ipairs(vim.diagnostic.get(buf)) do
      if d.code == 'budget-exceeded' and d.severity == vim.diagnostic.severity.ERROR
        and d.message == EXPECT.budget_message and d.lnum == 0 and d.source == 'prompt-tokens' then
        return true
      end
    end
    return false
  end, function() return diags(buf) end)
end

local function finish(code)
  result.exit_code = code
  pcall(write_result)
  pcall(function()
    local clients = vim.lsp.get_clients()
    for _, c in ipairs(clients) do c:stop() end
    vim.wait(3000, function()
      for _, c in ipairs(clients) do
        if not c:is_stopped() then return false end
      end
      return true
    end, 50)
  end)
  if code == 0 then vim.cmd('qall!') else vim.cmd('cquit ' .. code) end
end

vim.api.nvim_create_autocmd('VimEnter', {
  once = true,
  callback = function()
    vim.schedule(function()
      local ok, err = xpcall(run, debug.traceback)
      if not ok then
        result.error = tostring(err)
        io.stderr:write('ERROR: ' .. tostring(err) .. '\n')
        finish(2)
        return
      end
      result.ok = not failed
      finish(failed and 1 or 0)
    end)
  end,
})
