-- :checkhealth prompt_tokens — is the server there, which version, can it count (its encoding
-- data), where does it cache, and is it running. Every check runs the server's own CLI (the
-- server command without its `lsp` argument) with a timeout, so a broken install is reported,
-- never hangs the check.
local M = {}

local NAME = 'prompt_tokens'
local TIMEOUT_MS = 15000
local SAMPLE = 'hello world'

local health = vim.health

--- The CLI part of the server command: everything before its `lsp` argument
--- ({ "prompt-tokens", "lsp" } -> { "prompt-tokens" }; { "python", "-m", "prompt_tokens", "lsp" } ->
--- { "python", "-m", "prompt_tokens" }); nil when the command has no `lsp` argument.
function M.cli_of(cmd)
  for i, arg in ipairs(cmd) do
    if arg == 'lsp' then
      return i > 1 and vim.list_slice(cmd, 1, i - 1) or nil
    end
  end
  return nil
end

--- Runs argv (stdin text optional): { code, stdout, stderr } — code 124 after the timeout,
--- nil and the reason when it cannot be started at all.
function M.run(argv, stdin)
  local ok, proc = pcall(vim.system, argv, { text = true, stdin = stdin })
  if not ok then
    return nil, tostring(proc)
  end
  local r = proc:wait(TIMEOUT_MS)
  return { code = r.code, stdout = r.stdout or '', stderr = r.stderr or '' }
end

local function last_line(s)
  return vim.trim(s or ''):match('[^\n]*$') or ''
end

local function cmdline(argv)
  return table.concat(vim.tbl_map(function(a)
    return a:find('[%s\'"]') and vim.fn.shellescape(a) or a
  end, argv), ' ')
end

local function settings()
  local cfg = vim.lsp.config[NAME] or {}
  local s = cfg.settings and cfg.settings.promptTokens
  return type(s) == 'table' and s or {}
end

local function check_neovim()
  health.start('prompt_tokens: Neovim')
  if vim.fn.has('nvim-0.11') == 1 then
    health.ok('Neovim ' .. tostring(vim.version()) .. ' (vim.lsp.config / vim.lsp.enable)')
  else
    health.error('Neovim ' .. tostring(vim.version()) .. ' is too old', { 'Neovim 0.11 or newer is needed' })
  end
end

--- The server command, found or not; returns the command when it can be run.
local function check_command()
  health.start('prompt_tokens: server command')
  local cfg = vim.lsp.config[NAME]
  if not cfg then
    health.error('no vim.lsp.config("prompt_tokens")', { 'put editors/neovim on \'runtimepath\'' })
    return nil
  end
  local cmd = cfg.cmd
  if type(cmd) ~= 'table' or type(cmd[1]) ~= 'string' then
    health.info('the server command is a function: it cannot be checked here')
    return nil
  end
  local exe = vim.fn.exepath(cmd[1])
  if exe == '' then
    health.error('`' .. cmd[1] .. '` not found (server command: `' .. cmdline(cmd) .. '`)', {
      'install the server: pipx install prompt-tokens (or pip install prompt-tokens)',
      'or point setup({ cmd = { "/path/to/prompt-tokens", "lsp" } }) at it',
    })
    return nil
  end
  health.ok('server command: `' .. cmdline(cmd) .. '` (' .. exe .. ')')
  local enabled = vim.lsp.is_enabled and vim.lsp.is_enabled(NAME)
  if enabled == false then
    health.warn('not enabled: the server is not started for any buffer', {
      'require("prompt_tokens").setup({}) or vim.lsp.enable("prompt_tokens")',
    })
  end
  return cmd
end

local function check_version(cli)
  local r, why = M.run(vim.list_extend(vim.deepcopy(cli), { '--version' }))
  if r and r.code == 0 and vim.trim(r.stdout) ~= '' then
    health.ok('version: ' .. vim.trim(r.stdout))
  else
    health.warn('version unavailable: ' .. (why or last_line(r.stderr ~= '' and r.stderr or r.stdout) or ''))
  end
end

--- Counts a sample with the configured model or encoding: proves the tokenizer data is there.
local function check_encoding(cli)
  local s = settings()
  local which = type(s.model) == 'string' and s.model ~= '' and { '--model', s.model }
    or { '--encoding', type(s.encoding) == 'string' and s.encoding or 'cl100k_base' }
  local argv = vim.list_extend(vim.deepcopy(cli), { 'count', '--no-cache', '--json' })
  vim.list_extend(argv, which)
  table.insert(argv, '-')
  local r, why = M.run(argv, SAMPLE)
  local ok, data = pcall(vim.json.decode, r and r.stdout or '')
  local file = ok and type(data) == 'table' and type(data.files) == 'table' and data.files[1] or nil
  if r and r.code == 0 and type(file) == 'table' and type(file.tokens) == 'table' then
    local msg = string.format('%s %s: counts (%q = %s tokens, encoding %s)', which[1]:sub(3), which[2], SAMPLE,
      tostring(file.tokens.total), tostring(file.encoding))
    if vim.trim(r.stderr) ~= '' then -- e.g. an unknown model: counted with the default encoding
      health.warn(msg .. ': ' .. last_line(r.stderr))
    else
      health.ok(msg)
    end
  else
    health.error(string.format('%s %s: cannot count: %s', which[1]:sub(3), which[2],
      why or last_line(r.stderr ~= '' and r.stderr or r.stdout)), { 'reinstall the server: pip install -U prompt-tokens' })
  end
end

local function check_cache(cli)
  local path = (settings().cache or {}).path
  if path == vim.NIL or path == ':memory:' then
    health.info('cache: in memory only (settings cache.path = ' .. (path == vim.NIL and 'null' or '":memory:"') .. ')')
    return
  end
  if type(path) == 'string' and path ~= '' then
    health.info('cache: ' .. path .. ' (settings cache.path)')
    return
  end
  local r, why = M.run(vim.list_extend(vim.deepcopy(cli), { 'cache', 'stats' }))
  local ok, data = pcall(vim.json.decode, r and r.stdout or '')
  if not (r and r.code == 0 and ok and type(data) == 'table') then
    health.warn('cache: unknown: ' .. (why or last_line(r.stderr)))
  elseif data.persistent == false then
    health.warn('cache: memory only: ' .. tostring(data.disabled_reason ~= vim.NIL and data.disabled_reason or data.path))
  else
    health.ok('cache: ' .. tostring(data.path))
  end
end

local function check_clients()
  local clients = vim.lsp.get_clients({ name = NAME })
  if #clients == 0 then
    health.info('no prompt_tokens client running (one starts when a prompt file is opened)')
  end
  for _, c in ipairs(clients) do
    local info = c.server_info or {}
    health.ok(string.format('running: %s %s (client %d, root %s, %d buffer(s))', tostring(info.name or '?'),
      tostring(info.version or ''), c.id, tostring(c.root_dir or 'none'), vim.tbl_count(c.attached_buffers or {})))
  end
end

function M.check()
  check_neovim()
  local cmd = check_command()
  health.start('prompt_tokens: server')
  local cli = cmd and M.cli_of(cmd)
  if cmd and not cli then
    health.info('version unavailable: the server command has no `lsp` argument, so the CLI is unknown')
  elseif cli then
    check_version(cli)
    check_encoding(cli)
    check_cache(cli)
  end
  check_clients()
end

return M
