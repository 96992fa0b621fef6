-- Shared by the headless Neovim test scripts (nvim_lsp_init.lua, nvim_plugin_test.lua):
--   local H = dofile(<this file>)({ result = {...}, result_path = ..., step_ms = ..., hard_ms = ...,
--                                   name_width = 34, on_finish = function(result) end })
-- Steps wait (vim.wait) for a predicate, record {name, ok, ms, data} in result.steps and log to stderr;
-- H.run_at_startup(run) runs `run` after VimEnter, writes result and exits:
-- 0 every step ok, 1 a step failed, 2 Lua error, 3 hard timeout.
return function(o)
  local uv = vim.uv or vim.loop
  local t0 = uv.hrtime()
  local result = o.result
  local H = { failed = false }

  function H.ms()
    return math.floor((uv.hrtime() - t0) / 1e6)
  end

  local function write()
    local f = assert(io.open(o.result_path, 'w'))
    f:write(vim.json.encode(result))
    f:close()
  end

  local hard = uv.new_timer()
  hard:start(o.hard_ms, 0, vim.schedule_wrap(function()
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

  --- inlay hints of buf as {line, character, label}, in document order
  function H.hints(buf)
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

  function H.has_hint(buf, line, label)
    for _, h in ipairs(H.hints(buf)) do
      if h.line == line and h.label == label then
        return true
      end
    end
    return false
  end

  function H.diags(buf)
    local out = {}
    for _, d in ipairs(vim.diagnostic.get(buf)) do
      out[#out + 1] = { lnum = d.lnum, severity = d.severity, message = d.message, source = d.source, code = d.code }
    end
    return out
  end

  local fmt = '[%6d ms] %-' .. (o.name_width or 34) .. 's %s\n'
  function H.step(name, pred, snapshot)
    local s = H.ms()
    local ok = vim.wait(o.step_ms, pred, 20)
    local rec = { name = name, ok = ok, ms = H.ms() - s }
    if snapshot then
      rec.data = snapshot()
    end
    table.insert(result.steps, rec)
    if not ok then
      H.failed = true
    end
    io.stderr:write(string.format(fmt, H.ms(), name, ok and 'ok' or 'FAILED'))
    return ok
  end

  local function finish(code)
    result.exit_code = code
    if o.on_finish then
      o.on_finish(result)
    end
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

  function H.run_at_startup(run)
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
          result.ok = not H.failed
          finish(H.failed and 1 or 0)
        end)
      end,
    })
  end

  return H
end
