-- The one place where the plugin registers anything with Neovim: filetypes, `:PromptTokens`
-- and its autocommands (one augroup). Idempotent: plugin/prompt_tokens.lua and setup() both
-- call it, and a second call replaces the first.
local M = {}

local NAME = 'prompt_tokens'

local function user_command()
  vim.api.nvim_create_user_command('PromptTokens', function(a)
    require('prompt_tokens.commands').run(a.fargs[1])
  end, {
    nargs = '?',
    desc = 'prompt-tokens: stats | jobs | clearCache',
    complete = function(lead)
      return require('prompt_tokens.commands').complete(lead)
    end,
  })
end

local function autocmds()
  local group = vim.api.nvim_create_augroup(NAME, { clear = true })
  -- inlay hints on in buffers the server attaches to (unless vim.g.prompt_tokens_inlay_hints == false)
  vim.api.nvim_create_autocmd('LspAttach', {
    group = group,
    callback = function(a)
      local client = vim.lsp.get_client_by_id(a.data.client_id)
      if not client or client.name ~= NAME then
        return
      end
      if vim.g.prompt_tokens_inlay_hints ~= false and vim.lsp.inlay_hint then
        vim.lsp.inlay_hint.enable(true, { bufnr = a.buf })
      end
    end,
  })
  -- `prompt` buffers (dotprompt, Prompty) get Markdown syntax when nothing else sets one
  vim.api.nvim_create_autocmd('FileType', {
    group = group,
    pattern = 'prompt',
    callback = function(a)
      if vim.bo[a.buf].syntax == '' or vim.bo[a.buf].syntax == 'prompt' then
        vim.bo[a.buf].syntax = 'markdown'
      end
    end,
  })
  vim.api.nvim_create_autocmd('BufWipeout', {
    group = group,
    callback = function(a)
      require('prompt_tokens.status').forget(a.buf)
    end,
  })
end

function M.register()
  require('prompt_tokens.filetypes').register()
  user_command()
  autocmds()
end

return M
