-- Headless Neovim end-to-end check of editors/neovim, loaded the way a user's init.lua would.
--   nvim --headless --clean -u tests/editors/nvim_plugin_test.lua
-- Driven by tests/editors/test_neovim_plugin.py. Environment:
--   PT_PLUGIN_DIR   editors/neovim           PT_SERVER_CMD  JSON array (server command)
--   PT_MODE         "setup" (require("prompt_tokens").setup{...}) | "plain" (vim.lsp.enable only)
--   PT_EXPECT       JSON: expected texts (normal, over, rule)   PT_RESULT  result JSON path
--   PT_TIMEOUT_MS   per step (default 15000)
-- Exit: 0 ok, 1 a check failed, 2 Lua error, 3 hard timeout.

-- ---- the user's part -----------------------------------------------------------------------
vim.opt.rtp:prepend(assert(vim.env.PT_PLUGIN_DIR))
local CMD = vim.json.decode(assert(vim.env.PT_SERVER_CMD))
local MODE = vim.env.PT_MODE or 'setup'
if MODE == 'setup' then
  require('prompt_tokens').setup({
    cmd = CMD,
    settings = { cache = { path = ':memory:' }, variables = {} },
  })
else
  -- plain Neovim 0.11: lsp/prompt_tokens.lua from 'runtimepath', only the command overridden
  vim.lsp.config('prompt_tokens', { cmd = CMD })
  vim.lsp.enable('prompt_tokens')
end
vim.o.statusline = "%f %= %{v:lua.require'prompt_tokens'.statusline()} "
vim.o.laststatus = 2

-- ---- the test harness --------------------------------------------------------------------
local STEP = tonumber(vim.env.PT_TIMEOUT_MS or '') or 15000
local EXPECT = vim.json.decode(assert(vim.env.PT_EXPECT))
local RESULT = assert(vim.env.PT_RESULT)
local result = { mode = MODE, nvim = tostring(vim.version()), steps = {}, ok = false }

local messages = {}
local orig_notify = vim.notify
vim.notify = function(msg, level, o)
  messages[#messages + 1] = { msg = tostring(msg), level = level }
  return orig_notify(msg, level, o)
end

local here = vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2))
local H
H = dofile(here .. '/nvim_harness.lua')({
  result = result,
  result_path = RESULT,
  step_ms = STEP,
  hard_ms = STEP * 12,
  name_width = 44,
  on_finish = function(r)
    r.elapsed_ms = H.ms()
    r.messages = messages
  end,
})
local step, hints, has_hint, diags = H.step, H.hints, H.has_hint, H.diags

local function rendered_statusline(win)
  return vim.api.nvim_eval_statusline(vim.o.statusline, { winid = win or vim.api.nvim_get_current_win() }).str
end

local function messages_since(n, needles)
  for i = n + 1, #messages do
    local all = true
    for _, w in ipairs(needles) do
      if not messages[i].msg:find(w, 1, true) then
        all = false
        break
      end
    end
    if all then
      return messages[i].msg
    end
  end
  return nil
end

local function run()
  local N, O = EXPECT.normal, EXPECT.over
  vim.cmd.edit(vim.fn.fnameescape(EXPECT.workdir .. '/' .. N.file))
  local buf = vim.api.nvim_get_current_buf()
  result.filetype = vim.bo[buf].filetype

  if not step('attach (filetype ' .. vim.bo[buf].filetype .. ')', function()
    local c = vim.lsp.get_clients({ bufnr = buf, name = 'prompt_tokens' })[1]
    return c ~= nil and c.initialized == true
  end) then
    return
  end
  local client = vim.lsp.get_clients({ bufnr = buf, name = 'prompt_tokens' })[1]
  result.server_info = client.server_info
  result.inlay_hints_enabled = vim.lsp.inlay_hint.is_enabled({ bufnr = buf })

  step('total inlay hint on line 1', function()
    return has_hint(buf, 0, N.totalHint)
  end, function()
    return hints(buf)
  end)
  step('reference inlay hint', function()
    return has_hint(buf, N.refLine, N.refHint)
  end, function()
    return hints(buf)
  end)
  step('statusline', function()
    return require('prompt_tokens').statusline() == N.statusline
      and rendered_statusline():find(N.statusline, 1, true) ~= nil
  end, function()
    return { component = require('prompt_tokens').statusline(), rendered = rendered_statusline() }
  end)

  local n0 = #messages
  vim.cmd('PromptTokens stats')
  step(':PromptTokens stats', function()
    return messages_since(n0, N.statsContains) ~= nil
  end, function()
    return messages_since(n0, {}) or vim.list_slice(messages, n0 + 1)
  end)

  if MODE == 'plain' then
    return
  end

  n0 = #messages
  vim.cmd('PromptTokens jobs')
  step(':PromptTokens jobs', function()
    return messages_since(n0, { 'jobs:' }) ~= nil
  end, function()
    return messages_since(n0, {})
  end)

  -- over budget --------------------------------------------------------------------------
  vim.cmd.edit(vim.fn.fnameescape(EXPECT.workdir .. '/' .. O.file))
  local obuf = vim.api.nvim_get_current_buf()
  step('budget-exceeded Error diagnostic', function()
    for _, d in ipairs(vim.diagnostic.get(obuf)) do
      if d.source == 'prompt-tokens' and d.severity == vim.diagnostic.severity.ERROR and d.lnum == 0
        and d.message == O.message and d.code == 'budget-exceeded' then
        return true
      end
    end
    return false
  end, function()
    return diags(obuf)
  end)
  step('over-budget statusline', function()
    return require('prompt_tokens').statusline() == O.statusline
  end, function()
    return require('prompt_tokens').statusline()
  end)

  -- live edit ----------------------------------------------------------------------------
  vim.cmd.buffer(buf)
  vim.api.nvim_buf_set_lines(buf, -1, -1, false, { N.typed })
  step('live edit: total hint updates', function()
    return has_hint(buf, 0, N.totalHintAfter)
  end, function()
    return hints(buf)
  end)
  step('live edit: statusline updates', function()
    return require('prompt_tokens').statusline() == N.statuslineAfter
  end, function()
    return require('prompt_tokens').statusline()
  end)

  n0 = #messages
  vim.cmd('PromptTokens clearCache')
  step(':PromptTokens clearCache', function()
    return messages_since(n0, { 'cache cleared' }) ~= nil
  end, function()
    return messages_since(n0, {})
  end)
  result.final_hints = hints(buf)

  -- an agent file kind Neovim does not know by itself ----------------------------------------
  local R = EXPECT.rule
  vim.cmd.edit(vim.fn.fnameescape(EXPECT.workdir .. '/' .. R.file))
  local rbuf = vim.api.nvim_get_current_buf()
  step('attach: Cursor rule (' .. R.file .. ', filetype ' .. vim.bo[rbuf].filetype .. ')', function()
    local c = vim.lsp.get_clients({ bufnr = rbuf, name = 'prompt_tokens' })[1]
    return c ~= nil and c.initialized == true
  end)
  step('Cursor rule statusline', function()
    return require('prompt_tokens').statusline() == R.statusline
  end, function()
    return require('prompt_tokens').statusline()
  end)
end

H.run_at_startup(run)
