-- Headless Neovim end-to-end check of editors/neovim, loaded the way a user's init.lua would.
--   nvim --headless --clean -u tests/editors/nvim_plugin_test.lua
-- Driven by tests/editors/test_neovim_plugin.py. Environment:
--   PT_PLUGIN_DIR   editors/neovim           PT_SERVER_CMD  JSON array (server command)
--   PT_MODE         "setup" (require("prompt_tokens").setup{...}) | "plain" (vim.lsp.enable only)
--   PT_EXPECT       JSON: expected texts       PT_RESULT      result JSON path
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
local uv = vim.uv or vim.loop
local t0 = uv.hrtime()
local function ms()
  return math.floor((uv.hrtime() - t0) / 1e6)
end
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

local function write()
  local f = assert(io.open(RESULT, 'w'))
  f:write(vim.json.encode(result))
  f:close()
end

local function finish(code)
  result.exit_code = code
  result.elapsed_ms = ms()
  result.messages = messages
  pcall(write)
  pcall(function()
    local cs = vim.lsp.get_clients()
    for _, c in ipairs(cs) do
      c:stop()
    end
    vim.wait(3000, function()
      for _, c in ipairs(cs) do
        if not c:is_stopped() then
          return false
        end
      end
      return true
    end, 50)
  end)
  if code == 0 then
    vim.cmd('qall!')
  else
    vim.cmd('cquit ' .. code)
  end
end

local hard = uv.new_timer()
hard:start(STEP * 12, 0, vim.schedule_wrap(function()
  result.error = 'hard timeout'
  pcall(write)
  os.exit(3)
end))

local function label_text(label)
  if type(label) == 'string' then
    return label
  end
  local parts = {}
  for _, p in ipairs(label) do
    parts[#parts + 1] = p.value
  end
  return table.concat(parts)
end

local function hints(buf)
  local out = {}
  for _, h in ipairs(vim.lsp.inlay_hint.get({ bufnr = buf })) do
    out[#out + 1] = {
      line = h.inlay_hint.position.line,
      character = h.inlay_hint.position.character,
      label = vim.trim(label_text(h.inlay_hint.label)),
    }
  end
  table.sort(out, function(a, b)
    return a.line < b.line or (a.line == b.line and a.character < b.character)
  end)
  return out
end

local function has_hint(buf, line, label)
  for _, h in ipairs(hints(buf)) do
    if h.line == line and h.label == label then
      return true
    end
  end
  return false
end

local function diags(buf)
  local out = {}
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    out[#out + 1] = { lnum = d.lnum, severity = d.severity, message = d.message, source = d.source, code = d.code }
  end
  return out
end

local function rendered_statusline(win)
  return vim.api.nvim_eval_statusline(vim.o.statusline, { winid = win or vim.api.nvim_get_current_win() }).str
end

local failed = false
local function step(name, pred, snapshot)
  local s = ms()
  local ok = vim.wait(STEP, pred, 20)
  local rec = { name = name, ok = ok, ms = ms() - s }
  if snapshot then
    rec.data = snapshot()
  end
  table.insert(result.steps, rec)
  if not ok then
    failed = true
  end
  io.stderr:write(string.format('[%6d ms] %-44s %s\n', ms(), name, ok and 'ok' or 'FAILED'))
  return ok
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
