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

local TIMEOUT = tonumber(vim.env.PT_TIMEOUT_MS or '') or 15000
local CMD = vim.json.decode(vim.env.PT_CMD)
local SETTINGS = vim.json.decode(vim.env.PT_SETTINGS)
local EXPECT = vim.json.decode(vim.env.PT_EXPECT)
local result = { steps = {}, ok = false, nvim = tostring(vim.version()) }

local here = vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2))
local H = dofile(here .. '/nvim_harness.lua')({
  result = result,
  result_path = vim.env.PT_RESULT,
  step_ms = TIMEOUT,
  hard_ms = TIMEOUT * 8,
  name_width = 34,
})
local step, hints, has_label, diags = H.step, H.hints, H.has_hint, H.diags

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

H.run_at_startup(run)
