-- Unit checks of editors/neovim without a server: statusline and stats formatting (the server's
-- verdict, percent and exactness only displayed), settings encoding, filetypes of every agent
-- file kind, one place of registration, the health check's helpers.
--   nvim --headless --clean --cmd 'set rtp^=editors/neovim' -c 'luafile tests/editors/nvim_unit.lua'
-- Environment: PT_UNIT_FILE (a buffer name), PT_KINDS (JSON: kind -> example path).
-- Prints UNIT OK and exits 0, else the failed check and exits 1.
local ok, err = xpcall(function()
  local s = require('prompt_tokens.status')
  local pt = require('prompt_tokens')
  local function eq(a, b, what)
    assert(a == b, (what and (what .. ': ') or '') .. vim.inspect(a) .. ' ~= ' .. vim.inspect(b))
  end

  -- numbers and the status text --------------------------------------------------------------
  eq(s.int(0), '0'); eq(s.int(999), '999'); eq(s.int(1234), '1,234'); eq(s.int(1234567), '1,234,567')
  local t = { text = 1000, references = 234, total = 1234 }
  eq(s.total_text(t, { budget = 8192, percent = 15 }), '1,234 / 8,192 tokens (15%)')
  eq(s.total_text(t, { budget = 8192, percent = 12 }), '1,234 / 8,192 tokens (12%)', 'the server rounds')
  eq(s.total_text(t, { budget = 8192 }), '1,234 / 8,192 tokens', 'no percent sent: none shown')
  eq(s.total_text(t, { budget = 8192, percent = vim.NIL }), '1,234 / 8,192 tokens')
  eq(s.total_text(t, { budget = vim.NIL }), '1,234 tokens')
  eq(s.total_text(t, { budget = 8192, percent = 15, exact = false }), '≈ 1,234 / 8,192 tokens (15%)')
  eq(s.verdict({ status = 'warning' }), 'warning'); eq(s.verdict({ status = 'nearly' }), nil); eq(s.verdict({}), nil)

  local buf = vim.api.nvim_get_current_buf()
  vim.api.nvim_buf_set_name(buf, assert(vim.env.PT_UNIT_FILE))
  local uri = vim.uri_from_bufnr(buf)
  local function status(p)
    s.on_status(nil, vim.tbl_extend('force', { uri = uri }, p), {})
    return pt.statusline({ buf = buf })
  end
  local zeros = { state = 'counting', budget = 0, tokens = { text = 0, references = 0, total = 0 } }
  eq(pt.statusline({ buf = buf }), '')
  eq(status(zeros), '⟳ counting…')
  local ready = { state = 'ready', budget = 8192, tokens = t, status = 'ok', percent = 15 }
  eq(status(ready), '1,234 / 8,192 tokens (15%)')
  eq(pt.statusline({ buf = buf, escape = true }), '1,234 / 8,192 tokens (15%%)')
  eq(status(zeros), '⟳ 1,234 / 8,192 tokens (15%)', 'counting keeps the last numbers')
  -- the verdict is the server's: 1,234 of 8,192 warns when its settings say so
  eq(status(vim.tbl_extend('force', ready, { status = 'warning' })), '⚠ 1,234 / 8,192 tokens (15%)')
  eq(status(vim.tbl_extend('force', ready, { status = 'exceeded', percent = 101 })), '✗ 1,234 / 8,192 tokens (101%)')
  eq(status(zeros), '⟳ 1,234 / 8,192 tokens (101%)', 'the kept numbers keep their percent')
  eq(s.get(buf).status, 'exceeded')
  -- 150 of 100 tokens but no verdict (an older server): counts only, no ✗, no percent
  eq(status({ state = 'ready', budget = 100, tokens = { text = 150, references = 0, total = 150 } }), '150 / 100 tokens')
  eq(status(vim.tbl_extend('force', ready, { exact = false, method = 'chars/4', status = 'warning' })),
    '⚠ ≈ 1,234 / 8,192 tokens (15%)')
  eq(status(vim.tbl_extend('force', ready, { exact = true })), '1,234 / 8,192 tokens (15%)')
  eq(status({ state = 'error' }), 'tokens: error')

  -- :PromptTokens stats lines ----------------------------------------------------------------
  local stats = {
    uri = uri, state = 'ready', encoding = 'cl100k_base', budget = 100, status = 'exceeded', percent = 120,
    tokens = { text = 90, references = 30, total = 120 },
    references = { { kind = 'file', target = 'a.md', tokens = 30, status = 'ok', error = vim.NIL },
                   { kind = 'url', target = 'https://x.invalid', tokens = vim.NIL, status = 'error', error = 'fetch failed' } },
    sections = { { line = 3, title = 'Task', tokens = 12 } },
  }
  local lines = pt.format_stats(stats, 'p.prompt')
  eq(lines[2], 'total 120 / 100 tokens (120%) = text 90 + references 30  [cl100k_base]  ✗ over budget')
  assert(lines[4]:find('+30', 1, true) and lines[4]:find('a.md', 1, true), lines[4])
  assert(lines[5]:find('fetch failed', 1, true), lines[5])
  assert(lines[7]:find('Task (line 4)', 1, true), lines[7])
  local old = vim.tbl_extend('force', stats, { status = vim.NIL, percent = vim.NIL })
  eq(pt.format_stats(old, 'p.prompt')[2], 'total 120 / 100 tokens = text 90 + references 30  [cl100k_base]')
  local est = pt.format_stats(vim.tbl_extend('force', stats, { exact = false, method = 'chars/4', status = 'ok' }), 'p')
  eq(est[2], 'total ≈ 120 / 100 tokens (120%) = text ≈ 90 + references ≈ 30  [cl100k_base]  (estimate: chars/4)')
  assert(est[4]:find('≈ +30', 1, true), est[4])

  -- settings: empty tables are JSON objects, except the list settings --------------------------
  local norm = pt._normalize({ variables = {}, http = { headers = {} } }, '')
  eq(vim.json.encode(norm.variables), '{}'); eq(vim.json.encode(norm.http.headers), '[]')
  eq(vim.json.encode(pt._normalize({}, '')), '{}')

  -- every agent file kind gets a filetype the server is started for -------------------------
  local fts = vim.lsp.config.prompt_tokens.filetypes
  for kind, path in pairs(vim.json.decode(assert(vim.env.PT_KINDS))) do
    local ft = vim.filetype.match({ filename = '/home/me/ws/' .. path })
    assert(ft and vim.tbl_contains(fts, ft), kind .. ' (' .. path .. '): filetype ' .. tostring(ft))
  end
  eq(vim.filetype.match({ filename = 'x.prompt' }), 'prompt')
  eq(vim.filetype.match({ filename = 'x.prompty' }), 'prompt')
  eq(vim.filetype.match({ filename = 'x.j2' }), 'jinja')
  eq(vim.filetype.match({ filename = '/w/.cursor/rules/x.mdc' }), 'markdown')
  eq(vim.filetype.match({ filename = '/w/.cursor/rules/x.py' }), 'python', 'Neovim knows better')
  eq(vim.lsp.config.prompt_tokens.cmd[1], 'prompt-tokens')

  -- registered in one place, once (plugin/ did it at startup; setup() again replaces it) ------
  local function ours()
    local by_event = {}
    for _, a in ipairs(vim.api.nvim_get_autocmds({ group = 'prompt_tokens' })) do
      by_event[a.event] = (by_event[a.event] or 0) + 1
    end
    return by_event
  end
  eq(vim.fn.exists(':PromptTokens'), 2)
  local before = vim.inspect(ours())
  eq(before, vim.inspect({ BufWipeout = 1, FileType = 1, LspAttach = 1 }))
  pt.setup({ enable = false })
  eq(vim.inspect(ours()), before, 'setup() registers nothing twice')
  eq(pcall(vim.api.nvim_get_autocmds, { group = 'prompt_tokens.status' }), false, 'status.lua registers nothing itself')
  vim.api.nvim_buf_delete(buf, { force = true })
  eq(s.by_buf[buf], nil, 'a wiped-out buffer forgets its status')

  -- the health check's CLI -------------------------------------------------------------------
  local h = require('prompt_tokens.health')
  eq(vim.inspect(h.cli_of({ 'prompt-tokens', 'lsp' })), vim.inspect({ 'prompt-tokens' }))
  eq(vim.inspect(h.cli_of({ 'py', '-m', 'prompt_tokens', 'lsp', '--tcp' })), vim.inspect({ 'py', '-m', 'prompt_tokens' }))
  eq(h.cli_of({ 'my-wrapper' }), nil)
  eq(h.cli_of({ 'lsp' }), nil)
end, debug.traceback)
if ok then
  io.stdout:write('UNIT OK\n')
  vim.cmd('qa!')
else
  io.stdout:write('UNIT FAILED: ' .. tostring(err) .. '\n')
  vim.cmd('cquit 1')
end
